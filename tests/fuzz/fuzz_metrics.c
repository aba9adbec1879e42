/* The /proc and /etc text parsers of agent/metrics.c on arbitrary text.
 * An input's first line names the parser ("stat", "meminfo", "loadavg",
 * "uptime", "netdev", "cpuinfo", "os-release", "wireless" — agent/netif.c's
 * /proc/net/wireless, "cmdline" for bramble.slot=, "image-version" for
 * os-release's IMAGE_VERSION) and the rest is the file;
 * without a known name, the first byte picks one and the whole input is
 * the file. Each parser must return 0 or -EINVAL, leave its outputs alone
 * when it fails, give the same answer twice, and produce sane values: CPU
 * busy time within the total, memory in whole kB, text without control
 * characters that fits its buffer (also a small one). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "netif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { P_STAT, P_MEMINFO, P_LOADAVG, P_UPTIME, P_NETDEV, P_CPUINFO, P_OS_RELEASE, P_WIRELESS, P_CMDLINE, P_IMAGE_VERSION, P_COUNT };

static const char *const names[P_COUNT] = {
        [P_STAT] = "stat",     [P_MEMINFO] = "meminfo", [P_LOADAVG] = "loadavg",       [P_UPTIME] = "uptime",
        [P_NETDEV] = "netdev", [P_CPUINFO] = "cpuinfo", [P_OS_RELEASE] = "os-release", [P_WIRELESS] = "wireless",
        [P_CMDLINE] = "cmdline", [P_IMAGE_VERSION] = "image-version",
};

static void check_rc(int r)
{
        if (r != 0 && r != -EINVAL)
                abort();
}

/* A parsed text: non-empty, fits, no control characters. */
static void check_text(const char *s, size_t size)
{
        size_t n = strnlen(s, size);

        if (n == 0 || n >= size)
                abort();
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        abort();
}

static int parse_slot(const char *text, char *ret, size_t size)
{
        return brm_metrics_parse_cmdline_param(text, "bramble.slot", ret, size);
}

static int parse_image_version(const char *text, char *ret, size_t size)
{
        return brm_metrics_parse_os_release_field(text, "IMAGE_VERSION", ret, size);
}

static void text_parser(int (*parse)(const char *, char *, size_t), const char *text)
{
        char big[256], small[8], again[256];
        int r;

        /* Outputs are filled with a mark that a failure must leave. */
        memset(big, 'M', sizeof(big));
        memset(small, 'M', sizeof(small));
        r = parse(text, big, sizeof(big));
        check_rc(r);
        if (r == 0)
                check_text(big, sizeof(big));
        else
                for (size_t i = 0; i < sizeof(big); i++)
                        if (big[i] != 'M')
                                abort();
        if (parse(text, again, sizeof(again)) != r || (r == 0 && strcmp(big, again) != 0))
                abort();
        r = parse(text, small, sizeof(small));
        check_rc(r);
        if (r == 0)
                check_text(small, sizeof(small));
}

static void run(int which, const char *text)
{
        struct brm_cpu_times cpu = { 7, 7 }, cpu2;
        uint64_t a = 7, b = 7, a2, b2;
        float load[3] = { -1, -1, -1 }, load2[3];
        int r;

        switch (which) {
        case P_STAT:
                r = brm_metrics_parse_stat(text, &cpu);
                check_rc(r);
                if ((r == 0 && cpu.busy > cpu.total) || (r < 0 && (cpu.busy != 7 || cpu.total != 7)))
                        abort();
                if (brm_metrics_parse_stat(text, &cpu2) != r || (r == 0 && memcmp(&cpu, &cpu2, sizeof(cpu)) != 0))
                        abort();
                break;
        case P_MEMINFO:
                r = brm_metrics_parse_meminfo(text, &a, &b);
                check_rc(r);
                if ((r == 0 && (a % 1024 || b % 1024)) || (r < 0 && (a != 7 || b != 7)))
                        abort();
                if (brm_metrics_parse_meminfo(text, &a2, &b2) != r || (r == 0 && (a2 != a || b2 != b)))
                        abort();
                break;
        case P_LOADAVG:
                r = brm_metrics_parse_loadavg(text, load);
                check_rc(r);
                for (int i = 0; i < 3; i++)
                        if ((r == 0 && !(load[i] >= 0)) || (r < 0 && load[i] != -1))
                                abort();
                if (brm_metrics_parse_loadavg(text, load2) != r || (r == 0 && memcmp(load, load2, sizeof(load)) != 0))
                        abort();
                break;
        case P_UPTIME:
                r = brm_metrics_parse_uptime(text, &a);
                check_rc(r);
                if (r < 0 && a != 7)
                        abort();
                if (brm_metrics_parse_uptime(text, &a2) != r || (r == 0 && a2 != a))
                        abort();
                break;
        case P_NETDEV:
                r = brm_metrics_parse_netdev(text, &a, &b);
                check_rc(r);
                if (r < 0 && (a != 7 || b != 7))
                        abort();
                if (brm_metrics_parse_netdev(text, &a2, &b2) != r || (r == 0 && (a2 != a || b2 != b)))
                        abort();
                break;
        case P_CPUINFO:
                text_parser(brm_metrics_parse_cpuinfo_serial, text);
                break;
        case P_OS_RELEASE:
                text_parser(brm_metrics_parse_os_release, text);
                break;
        case P_CMDLINE:
                text_parser(parse_slot, text);
                break;
        case P_IMAGE_VERSION:
                text_parser(parse_image_version, text);
                break;
        case P_WIRELESS: {
                int dbm = 7, dbm2 = 7;
                r = brm_netif_parse_wireless(text, "wlan0", &dbm);
                if (r != 0 && r != -EINVAL && r != -ENOENT)
                        abort();
                if ((r == 0 && (dbm < -120 || dbm >= 0)) || (r < 0 && dbm != 7))
                        abort();
                if (brm_netif_parse_wireless(text, "wlan0", &dbm2) != r || (r == 0 && dbm2 != dbm))
                        abort();
                break;
        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nl = memchr(data, '\n', size);
        size_t skip = 0;
        int which = -1;
        char *text;

        if (size == 0)
                return 0;
        for (int i = 0; nl && i < P_COUNT; i++)
                if ((size_t)(nl - data) == strlen(names[i]) && memcmp(data, names[i], strlen(names[i])) == 0) {
                        which = i;
                        skip = (size_t)(nl - data) + 1;
                }
        if (which < 0)
                which = data[0] % P_COUNT;
        /* An exact-size copy, so ASan catches any read past the end. */
        if (!(text = malloc(size - skip + 1)))
                return 0;
        memcpy(text, data + skip, size - skip);
        text[size - skip] = '\0';
        run(which, text);
        free(text);
        return 0;
}
