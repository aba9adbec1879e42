/* The /proc text parsers of metrics.h, and the scanning helpers metrics.c
 * shares (metrics_text.h). They never trust their input: numbers are
 * scanned by hand with overflow checks (strtoull would silently saturate
 * and depends on locale for floats), and every output is written only once
 * the whole value is known. Fuzzed by tests/fuzz/fuzz_metrics.c. */
#include "metrics.h"
#include "metrics_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_MAX 512 /* one quoted value of os-release */

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

bool brm_mtext_is_digit(char c)
{
        return c >= '0' && c <= '9';
}

bool brm_mtext_is_end(char c)
{
        return c == '\0' || c == '\n' || is_blank(c);
}

const char *brm_mtext_skip_blank(const char *p)
{
        while (is_blank(*p))
                p++;
        return p;
}

const char *brm_mtext_next_line(const char *p)
{
        const char *nl = strchr(p, '\n');
        return nl ? nl + 1 : NULL;
}

/* Scans an unsigned decimal after optional blanks; *p moves past it. */
int brm_mtext_scan_u64(const char **p, uint64_t *ret)
{
        const char *s = brm_mtext_skip_blank(*p);
        uint64_t v = 0;

        if (!brm_mtext_is_digit(*s))
                return -EINVAL;
        for (; brm_mtext_is_digit(*s); s++) {
                uint64_t d = (uint64_t)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

/* Scans "123.456" as an integer scaled by 10^decimals; digits beyond that are
 * dropped. Used for uptime (ms) and load averages without locale-bound strtod. */
static int scan_fixed(const char **p, unsigned decimals, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v;

        if (brm_mtext_scan_u64(&s, &v) < 0)
                return -EINVAL;
        if (*s == '.')
                s++;
        for (unsigned i = 0; i < decimals; i++) {
                uint64_t d = brm_mtext_is_digit(*s) ? (uint64_t)(*s++ - '0') : 0;
                if (v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        while (brm_mtext_is_digit(*s))
                s++;
        *p = s;
        *ret = v;
        return 0;
}

/* Returns the text after prefix on the first line that starts with it. */
static const char *find_line(const char *text, const char *prefix)
{
        size_t n = strlen(prefix);

        for (const char *l = text; l; l = brm_mtext_next_line(l))
                if (strncmp(l, prefix, n) == 0)
                        return l + n;
        return NULL;
}

/* Copies a value into a C string field. Control characters are refused because
 * these strings end up in protocol messages and logs; a value too long is cut
 * at a UTF-8 character boundary when allow_cut, refused otherwise. */
int brm_mtext_copy_text(char *dst, size_t size, const char *src, size_t len, bool allow_cut)
{
        size_t i;

        while (len > 0 && (is_blank(src[len - 1]) || src[len - 1] == '\r'))
                len--;
        while (len > 0 && is_blank(*src)) {
                src++;
                len--;
        }
        if (len == 0 || size == 0)
                return -EINVAL;
        for (i = 0; i < len; i++)
                if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
                        return -EINVAL;
        if (len >= size) {
                if (!allow_cut)
                        return -EINVAL;
                len = size - 1;
                while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
                        len--;
                if (len == 0)
                        return -EINVAL;
        }
        memcpy(dst, src, len);
        dst[len] = '\0';
        return 0;
}

int brm_metrics_parse_stat(const char *text, struct brm_cpu_times *ret)
{
        /* user nice system idle iowait irq softirq steal; guest time is
         * already part of user, so the guest columns are not read. */
        uint64_t f[8] = { 0 }, busy;
        const char *p;
        unsigned n;

        if (!text || !ret || !(p = find_line(text, "cpu ")))
                return -EINVAL;
        /* Jiffies never come near 2^61, and capping each column there keeps
         * the sums of eight of them from overflowing. */
        for (n = 0; n < 8 && brm_mtext_scan_u64(&p, &f[n]) == 0; n++)
                if (!brm_mtext_is_end(*p) || f[n] > UINT64_MAX / 8)
                        return -EINVAL;
        /* Kernels before 2.6 had only the first four columns. */
        p = brm_mtext_skip_blank(p);
        if (n < 4 || (n < 8 && *p != '\n' && *p != '\0'))
                return -EINVAL;
        busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
        ret->busy = busy;
        ret->total = busy + f[3] + f[4];
        return 0;
}

static int meminfo_field(const char *text, const char *key, uint64_t *ret_bytes)
{
        const char *p = find_line(text, key);
        uint64_t kb;

        if (!p || brm_mtext_scan_u64(&p, &kb) < 0)
                return -EINVAL;
        p = brm_mtext_skip_blank(p);
        if (strncmp(p, "kB", 2) != 0 || !brm_mtext_is_end(p[2]) || kb > UINT64_MAX / 1024)
                return -EINVAL;
        *ret_bytes = kb * 1024;
        return 0;
}

int brm_metrics_parse_meminfo(const char *text, uint64_t *ret_total, uint64_t *ret_available)
{
        uint64_t total, avail;

        if (!text || !ret_total || !ret_available)
                return -EINVAL;
        /* MemAvailable exists since 3.14; free+cached is too wrong to guess. */
        if (meminfo_field(text, "MemTotal:", &total) < 0 ||
            meminfo_field(text, "MemAvailable:", &avail) < 0)
                return -EINVAL;
        *ret_total = total;
        *ret_available = avail;
        return 0;
}

int brm_metrics_parse_loadavg(const char *text, float ret_load[3])
{
        uint64_t v[3];
        const char *p = text;

        if (!text || !ret_load)
                return -EINVAL;
        for (int i = 0; i < 3; i++)
                if (scan_fixed(&p, 3, &v[i]) < 0 || !brm_mtext_is_end(*p))
                        return -EINVAL;
        for (int i = 0; i < 3; i++)
                ret_load[i] = (float)((double)v[i] / 1000.0);
        return 0;
}

int brm_metrics_parse_uptime(const char *text, uint64_t *ret_ms)
{
        const char *p = text;
        uint64_t ms;

        if (!text || !ret_ms || scan_fixed(&p, 3, &ms) < 0 || !brm_mtext_is_end(*p))
                return -EINVAL;
        *ret_ms = ms;
        return 0;
}

int brm_metrics_parse_netdev(const char *text, uint64_t *ret_rx, uint64_t *ret_tx)
{
        uint64_t rx = 0, tx = 0;
        unsigned ifaces = 0;

        if (!text || !ret_rx || !ret_tx)
                return -EINVAL;
        for (const char *l = text; l && *l; l = brm_mtext_next_line(l)) {
                size_t len = strcspn(l, "\n"), name_len;
                const char *p = brm_mtext_skip_blank(l), *colon;
                uint64_t f[16];

                /* The two header lines are the only ones with '|'. */
                if (memchr(l, '|', len) || p == l + len)
                        continue;
                colon = memchr(p, ':', len - (size_t)(p - l));
                name_len = colon ? (size_t)(colon - p) : 0;
                if (name_len == 0 || memchr(p, ' ', name_len) || memchr(p, '\t', name_len))
                        return -EINVAL;
                /* A short line means a truncated read: refuse rather than
                 * report a sum that silently misses an interface. */
                p = colon + 1;
                for (int i = 0; i < 16; i++)
                        if (brm_mtext_scan_u64(&p, &f[i]) < 0 || !brm_mtext_is_end(*p))
                                return -EINVAL;
                ifaces++;
                if (name_len == 2 && memcmp(colon - 2, "lo", 2) == 0)
                        continue;
                if (__builtin_add_overflow(rx, f[0], &rx) || __builtin_add_overflow(tx, f[8], &tx))
                        return -EINVAL;
        }
        if (ifaces == 0)
                return -EINVAL;
        *ret_rx = rx;
        *ret_tx = tx;
        return 0;
}

int brm_metrics_parse_cpuinfo_serial(const char *text, char *ret, size_t size)
{
        if (!text || !ret)
                return -EINVAL;
        for (const char *l = text; l; l = brm_mtext_next_line(l)) {
                const char *p;
                if (strncmp(l, "Serial", 6) != 0)
                        continue;
                p = brm_mtext_skip_blank(l + 6);
                if (*p != ':')
                        continue;
                p++;
                /* A cut serial would name another node: refuse it. */
                return brm_mtext_copy_text(ret, size, p, strcspn(p, "\n"), false);
        }
        return -EINVAL;
}

int brm_metrics_parse_os_release(const char *text, char *ret, size_t size)
{
        return brm_metrics_parse_os_release_field(text, "PRETTY_NAME", ret, size);
}

int brm_metrics_parse_os_release_field(const char *text, const char *key, char *ret, size_t size)
{
        char buf[SMALL_MAX], prefix[64];
        const char *p;
        size_t n = 0;
        char q;

        if (!text || !ret || !key || (size_t)snprintf(prefix, sizeof(prefix), "%s=", key) >= sizeof(prefix) ||
            !(p = find_line(text, prefix)))
                return -EINVAL;
        q = *p;
        if (q != '"' && q != '\'')
                return brm_mtext_copy_text(ret, size, p, strcspn(p, "\n"), true);
        /* Shell quoting as os-release(5) describes: in double quotes a
         * backslash escapes only " \ $ and `. */
        for (p++; *p != q; p++) {
                if (*p == '\0' || *p == '\n' || n == sizeof(buf))
                        return -EINVAL;
                if (q == '"' && *p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                        p++;
                buf[n++] = *p;
        }
        return brm_mtext_copy_text(ret, size, buf, n, true);
}

int brm_metrics_cpu_percent(const struct brm_cpu_times *prev, const struct brm_cpu_times *cur,
                            float *ret_percent)
{
        double pct;

        if (!prev || !cur || !ret_percent || cur->total <= prev->total || cur->busy < prev->busy)
                return -EINVAL;
        pct = 100.0 * (double)(cur->busy - prev->busy) / (double)(cur->total - prev->total);
        *ret_percent = (float)(pct > 100.0 ? 100.0 : pct);
        return 0;
}


int brm_metrics_parse_cmdline_param(const char *text, const char *key, char *ret, size_t size)
{
        size_t klen = key ? strlen(key) : 0;
        const char *p;

        if (!text || !ret || klen == 0)
                return -EINVAL;
        /* Blank-separated words; the last one of a key wins, as for the
         * kernel's own parameters. Quoted values are not used here. */
        const char *found = NULL;
        size_t flen = 0;
        for (p = text; *p;) {
                size_t len;
                while (*p == ' ' || *p == '\t' || *p == '\n')
                        p++;
                len = strcspn(p, " \t\n");
                if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
                        found = p + klen + 1;
                        flen = len - klen - 1;
                }
                p += len;
        }
        if (!found || flen == 0)
                return -EINVAL;
        return brm_mtext_copy_text(ret, size, found, flen, false);
}
