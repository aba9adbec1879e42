#include "util.h"

#include "logrec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t brm_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t brm_mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int brm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Leading decimal digits of s: their value, and where the unit starts. */
static int split_number(const char *s, uint64_t *ret_value, size_t *ret_len)
{
        char num[24];
        size_t n = 0;

        if (!s)
                return -EINVAL;
        while (s[n] >= '0' && s[n] <= '9')
                n++;
        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        memcpy(num, s, n);
        num[n] = '\0';
        if (brm_parse_u64(num, 0, UINT64_MAX, ret_value) < 0)
                return -EINVAL;
        *ret_len = n;
        return 0;
}

int brm_parse_duration_ms(const char *s, uint64_t *ret_ms)
{
        static const struct {
                const char *suffix;
                uint64_t ms;
        } units[] = {
                { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 }, { "", 1000 },
        };
        size_t n;
        uint64_t v;

        if (split_number(s, &v, &n) < 0)
                return -EINVAL;
        for (size_t i = 0; i < BRM_ARRAY_SIZE(units); i++) {
                if (strcmp(s + n, units[i].suffix) != 0)
                        continue;
                if (v > UINT64_MAX / units[i].ms)
                        return -EINVAL;
                *ret_ms = v * units[i].ms;
                return 0;
        }
        return -EINVAL;
}

int brm_parse_hostport(const char *s, char *ret_host, size_t host_size, uint16_t *ret_port)
{
        const char *colon, *host = s;
        size_t hlen;
        uint64_t port;

        if (!s || !*s)
                return -EINVAL;
        if (*s == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':')
                        return -EINVAL;
                host = s + 1;
                hlen = (size_t)(end - host);
                colon = end + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || strchr(s, ':') != colon)
                        return -EINVAL;
                hlen = (size_t)(colon - s);
        }
        if (hlen == 0 || hlen >= host_size)
                return -EINVAL;
        if (brm_parse_u64(colon + 1, 1, 65535, &port) < 0)
                return -EINVAL;
        memcpy(ret_host, host, hlen);
        ret_host[hlen] = '\0';
        *ret_port = (uint16_t)port;
        return 0;
}

bool brm_valid_node_name(const char *s)
{
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

bool brm_valid_container_name(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || strchr("-_.", s[i])))
                        return false;
        return true;
}

int brm_oci_platform_of(const char *machine, char *buf, size_t size)
{
        static const struct {
                const char *machine, *platform;
        } table[] = {
                { "aarch64", "arm64" }, { "arm64", "arm64" },    { "x86_64", "amd64" },
                { "amd64", "amd64" },   { "armv7l", "arm/v7" }, { "armv6l", "arm/v6" },
                { "armv8l", "arm/v7" }, /* a 32-bit userland on a 64-bit core */
        };
        const char *arch = machine;
        int n;

        if (!machine || !machine[0])
                return -EINVAL;
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (strcmp(machine, table[i].machine) == 0)
                        arch = table[i].platform;
        n = snprintf(buf, size, "linux/%s", arch);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int brm_random(void *buf, size_t len)
{
        uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = getrandom(p, len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

void brm_hex(const uint8_t *in, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * len] = '\0';
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int brm_unhex(const char *in, uint8_t *out, size_t len)
{
        for (size_t i = 0; i < 2 * len; i++)
                if (hexval(in[i]) < 0)
                        return -EINVAL;
        if (in[2 * len] != '\0')
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                out[i] = (uint8_t)(hexval(in[2 * i]) << 4 | hexval(in[2 * i + 1]));
        return 0;
}

void brm_format_age(int64_t ms, char *out, size_t size)
{
        int64_t s = ms < 0 ? 0 : ms / 1000;

        if (s < 120)
                snprintf(out, size, "%llds", (long long)s);
        else if (s < 7200)
                snprintf(out, size, "%lldm", (long long)(s / 60));
        else if (s < 172800)
                snprintf(out, size, "%lldh", (long long)(s / 3600));
        else
                snprintf(out, size, "%lldd", (long long)(s / 86400));
}

int brm_memeq_ct(const void *a, const void *b, size_t len)
{
        const volatile uint8_t *x = a, *y = b;
        uint8_t d = 0;

        for (size_t i = 0; i < len; i++)
                d |= x[i] ^ y[i];
        return d;
}

int brm_path(char *out, size_t size, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(out, size, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        return n;
}

int brm_parse_size(const char *s, uint64_t *ret_bytes)
{
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {
                { "", 0 },     { "B", 0 },     { "K", 10 },    { "k", 10 },  { "KB", 10 }, { "Ki", 10 },
                { "KiB", 10 }, { "M", 20 },    { "m", 20 },    { "MB", 20 }, { "Mi", 20 }, { "MiB", 20 },
                { "G", 30 },   { "g", 30 },    { "GB", 30 },   { "Gi", 30 }, { "GiB", 30 }, { "T", 40 },
                { "TB", 40 },  { "Ti", 40 },   { "TiB", 40 },
        };
        size_t n;
        uint64_t v;

        if (split_number(s, &v, &n) < 0)
                return -EINVAL;
        for (size_t i = 0; i < BRM_ARRAY_SIZE(units); i++) {
                if (strcmp(s + n, units[i].suffix) != 0)
                        continue;
                if (v > (UINT64_MAX >> units[i].shift))
                        return -EINVAL;
                *ret_bytes = v << units[i].shift;
                return 0;
        }
        return -EINVAL;
}

int brm_parse_cpus(const char *s, uint32_t *ret_millis)
{
        uint64_t whole = 0, frac = 0;
        unsigned digits = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        while (*p >= '0' && *p <= '9') {
                whole = whole * 10 + (uint64_t)(*p++ - '0');
                if (whole > 1024)
                        return -EINVAL;
        }
        if (p == s && *p != '.')
                return -EINVAL;
        if (*p == '.') {
                p++;
                while (*p >= '0' && *p <= '9') {
                        if (++digits > 3)
                                return -EINVAL;
                        frac = frac * 10 + (uint64_t)(*p++ - '0');
                }
                if (digits == 0)
                        return -EINVAL;
                while (digits++ < 3)
                        frac *= 10;
        }
        if (*p || (whole == 0 && frac == 0) || whole * 1000 + frac > 1024000)
                return -EINVAL;
        *ret_millis = (uint32_t)(whole * 1000 + frac);
        return 0;
}

static int parse_rfc3339(const char *s, int64_t *ret_ns)
{
        unsigned y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0;
        int64_t frac = 0, off = 0, sec;
        const char *p = s;

        if (brm_fixed_digits(p, 4, &y) || p[4] != '-' || brm_fixed_digits(p + 5, 2, &mo) || p[7] != '-' ||
            brm_fixed_digits(p + 8, 2, &d))
                return -EINVAL;
        p += 10;
        if (mo < 1 || mo > 12)
                return -EINVAL;
        if (d < 1 || d > brm_days_in_month(y, mo))
                return -EINVAL;
        if (*p != '\0') {
                if (*p != 'T' && *p != 't' && *p != ' ')
                        return -EINVAL;
                p++;
                if (brm_fixed_digits(p, 2, &h) || p[2] != ':' || brm_fixed_digits(p + 3, 2, &mi) || p[5] != ':' ||
                    brm_fixed_digits(p + 6, 2, &se))
                        return -EINVAL;
                p += 8;
                /* 60 is a leap second (RFC 3339 allows it); it counts as :00 of the next minute. */
                if (h > 23 || mi > 59 || se > 60)
                        return -EINVAL;
                if (*p == '.') {
                        int n = 0;
                        p++;
                        while (*p >= '0' && *p <= '9') {
                                if (++n > 9)
                                        return -EINVAL;
                                frac = frac * 10 + (*p++ - '0');
                        }
                        if (n == 0)
                                return -EINVAL;
                        while (n++ < 9)
                                frac *= 10;
                }
                if (*p == 'Z' || *p == 'z') {
                        p++;
                } else if (*p == '+' || *p == '-') {
                        int sign = *p == '-' ? -1 : 1;
                        p++;
                        if (brm_fixed_digits(p, 2, &oh))
                                return -EINVAL;
                        p += 2;
                        if (*p == ':')
                                p++;
                        if (brm_fixed_digits(p, 2, &om))
                                return -EINVAL;
                        p += 2;
                        if (oh > 23 || om > 59)
                                return -EINVAL;
                        off = sign * (int64_t)(oh * 3600 + om * 60);
                } else {
                        return -EINVAL; /* a time of day needs its zone */
                }
                if (*p != '\0')
                        return -EINVAL;
        }
        /* Years 0000-9999 give seconds far inside int64; only the
         * nanoseconds can overflow (int64 covers 1677-09-21 to 2262-04-11). */
        sec = brm_days_from_civil((int)y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
        if (sec > (INT64_MAX - frac) / 1000000000 || sec < INT64_MIN / 1000000000)
                return -EINVAL;
        *ret_ns = sec * 1000000000 + frac;
        return 0;
}

int brm_parse_since(const char *s, int64_t now_ns, int64_t *ret_ns)
{
        uint64_t ms;

        if (!s || !*s)
                return -EINVAL;
        if (brm_parse_duration_ms(s, &ms) == 0) {
                /* now_ns - ms * 1e6 without overflow. */
                if (ms > (uint64_t)INT64_MAX / 1000000)
                        return -EINVAL;
                int64_t back = (int64_t)ms * 1000000;
                if (now_ns < INT64_MIN + back)
                        return -EINVAL;
                *ret_ns = now_ns - back;
                return 0;
        }
        return parse_rfc3339(s, ret_ns);
}

void brm_heap_trim(void)
{
#ifdef __GLIBC__
        malloc_trim(0);
#endif
}
