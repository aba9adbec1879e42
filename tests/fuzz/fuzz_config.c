/* Agent config JSON on arbitrary text: either applied whole or refused
 * with a message, never partly applied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct brm_agent_config cfg, before;
        char *s = malloc(size + 1), err[512];

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        brm_agent_config_defaults(&cfg);
        before = cfg;
        err[0] = '\0';
        if (brm_agent_config_parse_json(&cfg, s, err, sizeof(err)) < 0) {
                if (!err[0] || memcmp(&cfg, &before, sizeof(cfg)) != 0)
                        abort();
        }
        free(s);
        return 0;
}
