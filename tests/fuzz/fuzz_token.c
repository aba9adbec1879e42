/* Join-token parser on arbitrary text. A token that parses must format
 * back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), out[BRM_TOKEN_MAX_LEN];
        struct brm_token t;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (brm_token_parse(s, &t) == 0) {
                brm_token_format(&t, out);
                if (strcmp(out, s) != 0)
                        abort();
        } else if (!brm_token_problem(s)) {
                abort(); /* a refusal always says why */
        }
        free(s);
        return 0;
}
