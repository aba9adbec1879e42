/* /dev/kmsg record parser on arbitrary bytes (not NUL-terminated). A
 * record that parses must point inside the input, and formatting its
 * fields back must parse to the same values. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* An exact-size copy, so ASan catches any read past the end. */
        char *buf = malloc(size ? size : 1), *again;
        struct brm_kmsg r, r2;
        int n;

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        if (brm_kmsg_parse(buf, size, &r) == 0) {
                if (r.level > 7 || r.msg < buf || r.msg + r.msg_len > buf + size || memchr(r.msg, '\n', r.msg_len))
                        abort();
                again = malloc(r.msg_len + 80);
                if (!again)
                        abort();
                n = snprintf(again, 80, "%u,%" PRIu64 ",%" PRIu64 ",%s;", r.facility << 3 | r.level, r.seq, r.ts_us,
                             r.continuation ? "c" : "-");
                memcpy(again + n, r.msg, r.msg_len);
                if (brm_kmsg_parse(again, (size_t)n + r.msg_len, &r2) != 0 || r2.level != r.level ||
                    r2.facility != r.facility || r2.seq != r.seq || r2.ts_us != r.ts_us ||
                    r2.continuation != r.continuation || r2.msg_len != r.msg_len || memcmp(r2.msg, r.msg, r.msg_len) != 0)
                        abort();
                free(again);
        }
        free(buf);
        return 0;
}
