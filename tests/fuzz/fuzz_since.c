/* --since parser on arbitrary text. A time (not a duration) must not
 * depend on "now", and must survive formatting as the 30-character log
 * timestamp and parsing again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logrec.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), ts[BRM_LOG_TS_LEN + 1];
        int64_t a = 0, b = 0, c = 0;
        uint64_t ms;
        int ra, rb;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        ra = brm_parse_since(s, 1795341600LL * 1000000000, &a);
        rb = brm_parse_since(s, INT64_MIN + 1, &b);
        if (brm_parse_duration_ms(s, &ms) == 0) {
                /* A duration: now minus it, when that fits. */
                if (ra == 0 && a != 1795341600LL * 1000000000 - (int64_t)ms * 1000000)
                        abort();
                if (rb == 0 && ms != 0)
                        abort();
        } else {
                if (ra != rb || (ra == 0 && a != b))
                        abort();
                if (ra == 0) {
                        brm_log_format_ts(a, ts);
                        if (brm_parse_since(ts, 0, &c) != 0 || c != a)
                                abort();
                }
        }
        free(s);
        return 0;
}
