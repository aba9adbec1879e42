/* Node metrics and facts read from /proc and /sys under a root prefix.
 *
 * The text parsers never trust their input: numbers are scanned by hand with
 * overflow checks (strtoull would silently saturate and depends on locale for
 * floats), and every output is written only once the whole value is known. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

/* One buffer per call holds each /proc file in turn. /proc/net/dev grows with
 * every veth of every container and /proc/cpuinfo with the core count, so the
 * room is sized for those; /proc/stat is read partially because the cpu lines
 * come before the long interrupt counters. */
#define TEXT_MAX (256 * 1024)
#define SMALL_MAX 512
#define MAX_ZONES 64

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_end(char c)
{
        return c == '\0' || c == '\n' || is_blank(c);
}

static const char *skip_blank(const char *p)
{
        while (is_blank(*p))
                p++;
        return p;
}

static const char *next_line(const char *p)
{
        const char *nl = strchr(p, '\n');
        return nl ? nl + 1 : NULL;
}

/* Scans an unsigned decimal after optional blanks; *p moves past it. */
static int scan_u64(const char **p, uint64_t *ret)
{
        const char *s = skip_blank(*p);
        uint64_t v = 0;

        if (!is_digit(*s))
                return -EINVAL;
        for (; is_digit(*s); s++) {
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

        if (scan_u64(&s, &v) < 0)
                return -EINVAL;
        if (*s == '.')
                s++;
        for (unsigned i = 0; i < decimals; i++) {
                uint64_t d = is_digit(*s) ? (uint64_t)(*s++ - '0') : 0;
                if (v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        while (is_digit(*s))
                s++;
        *p = s;
        *ret = v;
        return 0;
}

/* Returns the text after prefix on the first line that starts with it. */
static const char *find_line(const char *text, const char *prefix)
{
        size_t n = strlen(prefix);

        for (const char *l = text; l; l = next_line(l))
                if (strncmp(l, prefix, n) == 0)
                        return l + n;
        return NULL;
}

/* Copies a value into a C string field. Control characters are refused because
 * these strings end up in protocol messages and logs; a value too long is cut
 * at a UTF-8 character boundary when allow_cut, refused otherwise. */
static int copy_text(char *dst, size_t size, const char *src, size_t len, bool allow_cut)
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
        for (n = 0; n < 8 && scan_u64(&p, &f[n]) == 0; n++)
                if (!is_end(*p) || f[n] > UINT64_MAX / 8)
                        return -EINVAL;
        /* Kernels before 2.6 had only the first four columns. */
        p = skip_blank(p);
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

        if (!p || scan_u64(&p, &kb) < 0)
                return -EINVAL;
        p = skip_blank(p);
        if (strncmp(p, "kB", 2) != 0 || !is_end(p[2]) || kb > UINT64_MAX / 1024)
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
                if (scan_fixed(&p, 3, &v[i]) < 0 || !is_end(*p))
                        return -EINVAL;
        for (int i = 0; i < 3; i++)
                ret_load[i] = (float)((double)v[i] / 1000.0);
        return 0;
}

int brm_metrics_parse_uptime(const char *text, uint64_t *ret_ms)
{
        const char *p = text;
        uint64_t ms;

        if (!text || !ret_ms || scan_fixed(&p, 3, &ms) < 0 || !is_end(*p))
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
        for (const char *l = text; l && *l; l = next_line(l)) {
                size_t len = strcspn(l, "\n"), name_len;
                const char *p = skip_blank(l), *colon;
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
                        if (scan_u64(&p, &f[i]) < 0 || !is_end(*p))
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
        for (const char *l = text; l; l = next_line(l)) {
                const char *p;
                if (strncmp(l, "Serial", 6) != 0)
                        continue;
                p = skip_blank(l + 6);
                if (*p != ':')
                        continue;
                p++;
                /* A cut serial would name another node: refuse it. */
                return copy_text(ret, size, p, strcspn(p, "\n"), false);
        }
        return -EINVAL;
}

int brm_metrics_parse_os_release(const char *text, char *ret, size_t size)
{
        char buf[SMALL_MAX];
        const char *p;
        size_t n = 0;
        char q;

        if (!text || !ret || !(p = find_line(text, "PRETTY_NAME=")))
                return -EINVAL;
        q = *p;
        if (q != '"' && q != '\'')
                return copy_text(ret, size, p, strcspn(p, "\n"), true);
        /* Shell quoting as os-release(5) describes: in double quotes a
         * backslash escapes only " \ $ and `. */
        for (p++; *p != q; p++) {
                if (*p == '\0' || *p == '\n' || n == sizeof(buf))
                        return -EINVAL;
                if (q == '"' && *p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                        p++;
                buf[n++] = *p;
        }
        return copy_text(ret, size, buf, n, true);
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

/* ---- file access ---- */

static int path_at(char *buf, size_t size, const char *root, const char *rel)
{
        int n;

        if (!root || strcmp(root, "/") == 0)
                root = "";
        n = snprintf(buf, size, "%s%s", root, rel);
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        return 0;
}

/* Reads a whole file into buf as a C string. When the file does not fit it is
 * -EFBIG, unless partial is set for files whose useful part comes first. */
static int read_text(const char *path, char *buf, size_t size, bool partial)
{
        size_t len = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                char extra;
                bool full = len + 1 >= size;
                ssize_t n = full ? read(fd, &extra, 1) : read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        r = -errno;
                else if (n > 0 && full)
                        r = partial ? 0 : -EFBIG;
                else if (n > 0)
                        len += (size_t)n;
                if (n <= 0 || full)
                        break;
        }
        close(fd);
        buf[len] = '\0';
        return r;
}

static int read_at(const char *root, const char *rel, char *buf, size_t size, bool partial)
{
        char path[PATH_MAX];
        int r = path_at(path, sizeof(path), root, rel);
        return r < 0 ? r : read_text(path, buf, size, partial);
}

/* Reads a one-value file (sysfs, device tree) into a field. Device-tree
 * strings carry a trailing NUL, which ends the C string early by itself. */
static int read_value(const char *root, const char *rel, char *ret, size_t size, bool allow_cut)
{
        char buf[SMALL_MAX];
        int r = read_at(root, rel, buf, sizeof(buf), false);
        return r < 0 ? r : copy_text(ret, size, buf, strcspn(buf, "\n"), allow_cut);
}

static int parse_temp(const char *text, int64_t *ret_mc)
{
        const char *p = skip_blank(text);
        bool neg = *p == '-';
        uint64_t v;

        if (neg)
                p++;
        /* Beyond this range the sensor is reporting an error code, not heat. */
        if (scan_u64(&p, &v) < 0 || !is_end(*p) || v > (neg ? 273150 : 1000000))
                return -EINVAL;
        *ret_mc = neg ? -(int64_t)v : (int64_t)v;
        return 0;
}

/* get_throttled prints "%x" on current kernels; "0x" is accepted as well. */
static int parse_hex_u32(const char *text, uint32_t *ret)
{
        static const char hex[] = "0123456789abcdefABCDEF";
        const char *p = skip_blank(text), *h;
        uint64_t v = 0;
        int digits = 0;

        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
                p += 2;
        for (; *p && (h = strchr(hex, *p)); p++, digits++) {
                v = v * 16 + (uint64_t)(h - hex < 16 ? h - hex : h - hex - 6);
                if (v > UINT32_MAX)
                        return -EINVAL;
        }
        if (digits == 0 || !is_end(*p))
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

static int zone_cmp(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
        return (x > y) - (x < y);
}

/* Lists the numeric suffixes of dir entries named prefix<N>, sorted, so the
 * "first" zone or hwmon is the same on every boot regardless of readdir order. */
static int list_indexed(const char *root, const char *dir, const char *prefix, unsigned *idx,
                        size_t max, size_t *ret_n)
{
        char path[PATH_MAX];
        size_t plen = strlen(prefix), n = 0;
        struct dirent *de;
        DIR *d;
        int r = path_at(path, sizeof(path), root, dir);

        if (r < 0)
                return r;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d)) && n < max) {
                const char *p = de->d_name + plen;
                uint64_t v;
                if (strncmp(de->d_name, prefix, plen) != 0 || !is_digit(*p) ||
                    scan_u64(&p, &v) < 0 || *p != '\0' || v > UINT_MAX)
                        continue;
                idx[n++] = (unsigned)v;
        }
        closedir(d);
        qsort(idx, n, sizeof(*idx), zone_cmp);
        *ret_n = n;
        return 0;
}

/* Reads one zone's temperature; with want_cpu only if it is the SoC sensor,
 * which mainline and Raspberry Pi kernels name differently. */
static int zone_temp(const char *root, unsigned zone, bool want_cpu, int64_t *ret_mc)
{
        char rel[64], buf[64];
        int r;

        snprintf(rel, sizeof(rel), "/sys/class/thermal/thermal_zone%u/type", zone);
        r = read_value(root, rel, buf, sizeof(buf), false);
        if (want_cpu && (r < 0 || (strcmp(buf, "cpu-thermal") && strcmp(buf, "cpu_thermal"))))
                return -ENOENT;
        snprintf(rel, sizeof(rel), "/sys/class/thermal/thermal_zone%u/temp", zone);
        r = read_value(root, rel, buf, sizeof(buf), false);
        return r < 0 ? r : parse_temp(buf, ret_mc);
}

static int read_temp(const char *root, float *ret_c)
{
        unsigned zones[MAX_ZONES];
        size_t n;
        int64_t mc;
        int r = list_indexed(root, "/sys/class/thermal", "thermal_zone", zones, MAX_ZONES, &n);

        if (r < 0)
                return r;
        /* The SoC sensor first, else the lowest-numbered readable zone. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n; i++)
                        if (zone_temp(root, zones[i], pass == 0, &mc) >= 0) {
                                *ret_c = (float)((double)mc / 1000.0);
                                return 0;
                        }
        return -ENOENT;
}

static int read_throttle(const char *root, uint32_t *ret)
{
        unsigned mons[MAX_ZONES];
        char buf[64], rel[64];
        size_t n;
        uint64_t alarm;
        int r;

        /* The Raspberry Pi kernel's firmware driver exposes the full flags. */
        r = read_value(root, "/sys/devices/platform/soc/soc:firmware/get_throttled", buf,
                       sizeof(buf), false);
        if (r >= 0 && parse_hex_u32(buf, ret) >= 0)
                return 0;
        /* Mainline has only raspberrypi-hwmon, which knows under-voltage now. */
        r = list_indexed(root, "/sys/class/hwmon", "hwmon", mons, MAX_ZONES, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *p = buf;
                snprintf(rel, sizeof(rel), "/sys/class/hwmon/hwmon%u/name", mons[i]);
                r = read_value(root, rel, buf, sizeof(buf), false);
                if (r < 0 || strcmp(buf, "rpi_volt") != 0)
                        continue;
                snprintf(rel, sizeof(rel), "/sys/class/hwmon/hwmon%u/in0_lcrit_alarm", mons[i]);
                r = read_value(root, rel, buf, sizeof(buf), false);
                if (r < 0 || scan_u64(&p, &alarm) < 0 || *p)
                        continue;
                *ret = alarm ? BRM_THR_UNDER_VOLTAGE : 0;
                return 0;
        }
        return -ENOENT;
}

static void note(int r, int *err)
{
        if (r < 0 && *err == 0)
                *err = r;
}

int brm_metrics_proc_rss(int pid, uint64_t *ret_bytes)
{
        char path[64], buf[128];
        unsigned long long size, resident;
        ssize_t n;
        int fd;

        if (pid > 0)
                snprintf(path, sizeof(path), "/proc/%d/statm", pid);
        else
                snprintf(path, sizeof(path), "/proc/self/statm");
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return n < 0 ? -errno : -EBADMSG;
        buf[n] = '\0';
        /* "size resident shared text lib data dt", in pages; resident is
         * what /proc/PID/status calls VmRSS. */
        if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return -EBADMSG;
        *ret_bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
        return 0;
}

int brm_metrics_cpu_sample(const char *root, struct brm_cpu_times *ret)
{
        struct brm_cpu_times t;
        char *text = malloc(TEXT_MAX);
        int r;

        if (!text)
                return -ENOMEM;
        r = read_at(root, "/proc/stat", text, TEXT_MAX, true);
        if (r >= 0)
                r = brm_metrics_parse_stat(text, &t);
        free(text);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

int brm_metrics_collect(const char *root, const char *disk_path, const struct brm_cpu_times *prev,
                        struct brm_metrics *ret)
{
        struct brm_metrics m = { 0 };
        struct statvfs st;
        bool have_cpu;
        char *text;
        int r, err = 0;

        if (!ret)
                return -EINVAL;
        text = malloc(TEXT_MAX);
        if (!text)
                return -ENOMEM;
        r = read_at(root, "/proc/uptime", text, TEXT_MAX, false);
        if (r >= 0 && (r = brm_metrics_parse_uptime(text, &m.uptime_ms)) >= 0)
                m.has |= BRM_M_UPTIME;
        note(r, &err);
        r = read_value(root, "/proc/sys/kernel/random/boot_id", m.boot_id, sizeof(m.boot_id),
                       false);
        if (r >= 0)
                m.has |= BRM_M_BOOT_ID;
        note(r, &err);
        r = read_at(root, "/proc/stat", text, TEXT_MAX, true);
        if (r >= 0)
                r = brm_metrics_parse_stat(text, &m.cpu);
        have_cpu = r >= 0;
        if (have_cpu && prev && brm_metrics_cpu_percent(prev, &m.cpu, &m.cpu_percent) >= 0)
                m.has |= BRM_M_CPU;
        note(r, &err);
        r = read_at(root, "/proc/loadavg", text, TEXT_MAX, false);
        if (r >= 0 && (r = brm_metrics_parse_loadavg(text, m.load)) >= 0)
                m.has |= BRM_M_LOAD;
        note(r, &err);
        r = read_at(root, "/proc/meminfo", text, TEXT_MAX, false);
        if (r >= 0 && (r = brm_metrics_parse_meminfo(text, &m.mem_total, &m.mem_available)) >= 0)
                m.has |= BRM_M_MEM;
        note(r, &err);
        r = read_at(root, "/proc/net/dev", text, TEXT_MAX, false);
        if (r >= 0 && (r = brm_metrics_parse_netdev(text, &m.net_rx, &m.net_tx)) >= 0)
                m.has |= BRM_M_NET;
        note(r, &err);
        free(text);
        if (disk_path && statvfs(disk_path, &st) == 0 &&
            !__builtin_mul_overflow((uint64_t)st.f_blocks, (uint64_t)st.f_frsize, &m.disk_total) &&
            !__builtin_mul_overflow((uint64_t)st.f_bavail, (uint64_t)st.f_frsize, &m.disk_free))
                m.has |= BRM_M_DISK;
        /* Temperature and throttling are missing on most non-Pi hosts; that is
         * not an error worth reporting over the ones above. */
        if (read_temp(root, &m.temp_c) >= 0)
                m.has |= BRM_M_TEMP;
        if (read_throttle(root, &m.throttle_raw) >= 0)
                m.has |= BRM_M_THROTTLE;
        if (m.has == 0 && !have_cpu)
                return err < 0 ? err : -ENOENT;
        *ret = m;
        return 0;
}

/* Splits a line into at most max blank-separated words. */
static size_t split_words(const char *p, const char **word, size_t *len, size_t max)
{
        size_t n = 0;

        for (p = skip_blank(p); n < max && *p && *p != '\n'; p = skip_blank(p)) {
                len[n] = strcspn(p, " \t\n");
                word[n] = p;
                p += len[n++];
        }
        return n;
}

/* Appends a controller name to a space-separated list; names that do not fit
 * are left out whole rather than cut. */
static void append_word(struct brm_node_facts *f, const char *word, size_t len)
{
        char *dst = f->cgroup_controllers;
        size_t used = strlen(dst);

        if (used + len + 1 >= sizeof(f->cgroup_controllers))
                return;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)word[i] < 0x20 || word[i] == 0x7f)
                        return;
        if (used)
                dst[used++] = ' ';
        memcpy(dst + used, word, len);
        dst[used + len] = '\0';
}

static void read_cgroups(const char *root, char *text, struct brm_node_facts *f)
{
        const char *w[32];
        size_t wl[32], n, enabled = 3;
        char path[PATH_MAX];

        /* Only a unified mount at the top means v2: hybrid hosts have an empty
         * cgroup.controllers under /sys/fs/cgroup/unified and run v1. */
        if (path_at(path, sizeof(path), root, "/sys/fs/cgroup/cgroup.controllers") >= 0 &&
            access(path, F_OK) == 0) {
                f->cgroup_version = 2;
                n = read_text(path, text, TEXT_MAX, false) < 0 ? 0 : split_words(text, w, wl, 32);
                for (size_t i = 0; i < n; i++)
                        append_word(f, w[i], wl[i]);
                return;
        }
        if (read_at(root, "/proc/cgroups", text, TEXT_MAX, false) < 0)
                return;
        f->cgroup_version = 1;
        for (const char *l = text; l && *l; l = next_line(l)) {
                n = split_words(l, w, wl, 8);
                /* The header names the columns; find "enabled" by name in case
                 * a kernel reorders or drops the others. */
                if (l[0] == '#') {
                        for (size_t i = 0; i < n; i++)
                                if (wl[i] == 7 && memcmp(w[i], "enabled", 7) == 0)
                                        enabled = i;
                } else if (enabled > 0 && enabled < n && wl[enabled] == 1 && w[enabled][0] == '1') {
                        append_word(f, w[0], wl[0]);
                }
        }
}

int brm_metrics_facts(const char *root, struct brm_node_facts *ret)
{
        struct brm_node_facts f = { 0 };
        struct utsname u;
        uint64_t avail;
        char *text;
        int r;

        if (!ret)
                return -EINVAL;
        text = malloc(TEXT_MAX);
        if (!text)
                return -ENOMEM;
        r = read_value(root, "/proc/sys/kernel/arch", f.arch, sizeof(f.arch), true);
        if (r < 0 && uname(&u) == 0)
                copy_text(f.arch, sizeof(f.arch), u.machine, strlen(u.machine), true);
        read_value(root, "/proc/device-tree/model", f.model, sizeof(f.model), true);
        r = read_value(root, "/proc/device-tree/serial-number", f.serial, sizeof(f.serial), false);
        if (r < 0 && read_at(root, "/proc/cpuinfo", text, TEXT_MAX, false) >= 0)
                brm_metrics_parse_cpuinfo_serial(text, f.serial, sizeof(f.serial));
        read_value(root, "/proc/sys/kernel/osrelease", f.kernel, sizeof(f.kernel), true);
        /* os-release(5): /etc first, /usr/lib as the fallback. */
        if (read_at(root, "/etc/os-release", text, TEXT_MAX, false) >= 0 ||
            read_at(root, "/usr/lib/os-release", text, TEXT_MAX, false) >= 0)
                brm_metrics_parse_os_release(text, f.os, sizeof(f.os));
        if (read_at(root, "/proc/meminfo", text, TEXT_MAX, false) >= 0)
                brm_metrics_parse_meminfo(text, &f.mem_total, &avail);
        if (read_at(root, "/proc/stat", text, TEXT_MAX, true) >= 0)
                for (const char *l = text; l; l = next_line(l))
                        f.cpu_count += strncmp(l, "cpu", 3) == 0 && is_digit(l[3]);
        read_cgroups(root, text, &f);
        free(text);
        *ret = f;
        return 0;
}
