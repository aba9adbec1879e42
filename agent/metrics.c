/* Node metrics and facts read from /proc and /sys under a root prefix; the
 * text parsers they use are in metrics_text.c. */
#include "metrics.h"
#include "metrics_text.h"

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
        return r < 0 ? r : brm_mtext_copy_text(ret, size, buf, strcspn(buf, "\n"), allow_cut);
}

static int parse_temp(const char *text, int64_t *ret_mc)
{
        const char *p = brm_mtext_skip_blank(text);
        bool neg = *p == '-';
        uint64_t v;

        if (neg)
                p++;
        /* Beyond this range the sensor is reporting an error code, not heat. */
        if (brm_mtext_scan_u64(&p, &v) < 0 || !brm_mtext_is_end(*p) || v > (neg ? 273150 : 1000000))
                return -EINVAL;
        *ret_mc = neg ? -(int64_t)v : (int64_t)v;
        return 0;
}

/* get_throttled prints "%x" on current kernels; "0x" is accepted as well. */
static int parse_hex_u32(const char *text, uint32_t *ret)
{
        static const char hex[] = "0123456789abcdefABCDEF";
        const char *p = brm_mtext_skip_blank(text), *h;
        uint64_t v = 0;
        int digits = 0;

        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
                p += 2;
        for (; *p && (h = strchr(hex, *p)); p++, digits++) {
                v = v * 16 + (uint64_t)(h - hex < 16 ? h - hex : h - hex - 6);
                if (v > UINT32_MAX)
                        return -EINVAL;
        }
        if (digits == 0 || !brm_mtext_is_end(*p))
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
                if (strncmp(de->d_name, prefix, plen) != 0 || !brm_mtext_is_digit(*p) ||
                    brm_mtext_scan_u64(&p, &v) < 0 || *p != '\0' || v > UINT_MAX)
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
                if (r < 0 || brm_mtext_scan_u64(&p, &alarm) < 0 || *p)
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

        for (p = brm_mtext_skip_blank(p); n < max && *p && *p != '\n'; p = brm_mtext_skip_blank(p)) {
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
        for (const char *l = text; l && *l; l = brm_mtext_next_line(l)) {
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
                brm_mtext_copy_text(f.arch, sizeof(f.arch), u.machine, strlen(u.machine), true);
        read_value(root, "/proc/device-tree/model", f.model, sizeof(f.model), true);
        /* A serial of zeros (QEMU's raspi3b gives U-Boot one) is none. */
        read_value(root, "/proc/device-tree/serial-number", f.serial, sizeof(f.serial), false);
        if (f.serial[strspn(f.serial, "0")] == '\0' && read_at(root, "/proc/cpuinfo", text, TEXT_MAX, false) >= 0)
                brm_metrics_parse_cpuinfo_serial(text, f.serial, sizeof(f.serial));
        if (f.serial[strspn(f.serial, "0")] == '\0')
                f.serial[0] = '\0';
        read_value(root, "/proc/sys/kernel/osrelease", f.kernel, sizeof(f.kernel), true);
        /* os-release(5): /etc first, /usr/lib as the fallback. */
        if (read_at(root, "/etc/os-release", text, TEXT_MAX, false) >= 0 ||
            read_at(root, "/usr/lib/os-release", text, TEXT_MAX, false) >= 0) {
                brm_metrics_parse_os_release(text, f.os, sizeof(f.os));
                brm_metrics_parse_os_release_field(text, "IMAGE_VERSION", f.os_version, sizeof(f.os_version));
        }
        /* The Bramble image's root slot, named by its boot script. */
        if (read_at(root, "/proc/cmdline", text, TEXT_MAX, true) >= 0) {
                char one[4] = "";
                brm_metrics_parse_cmdline_param(text, "bramble.slot", f.slot, sizeof(f.slot));
                brm_metrics_parse_cmdline_param(text, "bramble.tryboot", one, sizeof(one));
                f.tryboot = strcmp(one, "1") == 0;
        }
        if (read_at(root, "/proc/meminfo", text, TEXT_MAX, false) >= 0)
                brm_metrics_parse_meminfo(text, &f.mem_total, &avail);
        if (read_at(root, "/proc/stat", text, TEXT_MAX, true) >= 0)
                for (const char *l = text; l; l = brm_mtext_next_line(l))
                        f.cpu_count += strncmp(l, "cpu", 3) == 0 && brm_mtext_is_digit(l[3]);
        read_cgroups(root, text, &f);
        free(text);
        *ret = f;
        return 0;
}
