/* Tests for agent/metrics.c: exact values from recorded Raspberry Pi and x86
 * trees (argv[1] is the fixtures directory), the parsers against garbage, and
 * a smoke check against the live system. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "metrics.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fixtures;

static const char *fixture(const char *name)
{
        static char path[4096];

        if (snprintf(path, sizeof(path), "%s/%s", fixtures, name) >= (int)sizeof(path))
                CHECK_SKIP("fixture path too long");
        return path;
}

/* Both structs must come back byte-for-byte unchanged after a failed call. */
#define CHECK_UNTOUCHED(obj)                                                                   \
        do {                                                                                   \
                unsigned char sentinel_[sizeof(obj)];                                          \
                memset(sentinel_, 0xa5, sizeof(sentinel_));                                    \
                CHECK(memcmp(&(obj), sentinel_, sizeof(obj)) == 0);                            \
        } while (0)

static const uint32_t pi_has = BRM_M_UPTIME | BRM_M_BOOT_ID | BRM_M_LOAD | BRM_M_MEM | BRM_M_NET |
                               BRM_M_TEMP | BRM_M_THROTTLE;

static void test_rpi4(void)
{
        struct brm_metrics m;
        struct brm_node_facts f;

        CHECK_INT(brm_metrics_collect(fixture("rpi4"), NULL, NULL, &m), ==, 0);
        CHECK_INT(m.has, ==, pi_has);
        CHECK_U64(m.uptime_ms, ==, 183742510);
        CHECK_STR(m.boot_id, "3f1c9a52-7d0e-4b8a-9c61-2e5d8f0a4b17");
        CHECK_U64(m.cpu.busy, ==, 118431);
        CHECK_U64(m.cpu.total, ==, 5740247);
        CHECK_DBL(m.load[0], 0.31, 1e-5);
        CHECK_DBL(m.load[1], 0.22, 1e-5);
        CHECK_DBL(m.load[2], 0.18, 1e-5);
        CHECK_U64(m.mem_total, ==, 3880536ull * 1024);
        CHECK_U64(m.mem_available, ==, 3288412ull * 1024);
        /* eth0 is past 4 GiB received: the sums must be 64-bit. lo is left out. */
        CHECK_U64(m.net_rx, ==, 8123456789ull + 45678);
        CHECK_U64(m.net_tx, ==, 987654321ull + 12345);
        CHECK_DBL(m.temp_c, 48.686, 1e-3);
        /* Mainline kernel: only raspberrypi-hwmon, and it reports no alarm. */
        CHECK_U64(m.throttle_raw, ==, 0);

        CHECK_INT(brm_metrics_facts(fixture("rpi4"), &f), ==, 0);
        CHECK_STR(f.arch, "aarch64");
        CHECK_STR(f.model, "Raspberry Pi 4 Model B Rev 1.4");
        CHECK_STR(f.serial, "10000000abcdef12");
        CHECK_STR(f.kernel, "6.12.38+deb13-arm64");
        CHECK_STR(f.os, "Debian GNU/Linux 13 (trixie)");
        CHECK_U64(f.mem_total, ==, 3880536ull * 1024);
        CHECK_INT(f.cpu_count, ==, 4);
        CHECK_INT(f.cgroup_version, ==, 2);
        CHECK_STR(f.cgroup_controllers, "cpuset cpu io memory pids");
}

static void test_rpi3(void)
{
        struct brm_metrics m;
        struct brm_node_facts f;

        CHECK_INT(brm_metrics_collect(fixture("rpi3"), NULL, NULL, &m), ==, 0);
        CHECK_INT(m.has, ==, pi_has);
        CHECK_U64(m.uptime_ms, ==, 904370);
        CHECK_STR(m.boot_id, "b7e2d1f4-0a3c-4e59-8d26-51c9a7e03f88");
        CHECK_U64(m.cpu.busy, ==, 51738);
        CHECK_U64(m.cpu.total, ==, 343451);
        CHECK_DBL(m.load[0], 2.07, 1e-5);
        CHECK_DBL(m.load[1], 1.46, 1e-5);
        CHECK_DBL(m.load[2], 0.71, 1e-5);
        CHECK_U64(m.mem_total, ==, 948304ull * 1024);
        CHECK_U64(m.mem_available, ==, 612340ull * 1024);
        CHECK_U64(m.net_rx, ==, 23561082);
        CHECK_U64(m.net_tx, ==, 1872934);
        CHECK_DBL(m.temp_c, 55.844, 1e-3);
        /* get_throttled wins over the hwmon alarm, which knows only bit 0. */
        CHECK_U64(m.throttle_raw, ==, 0x50005);
        CHECK_U64(m.throttle_raw, ==,
                  BRM_THR_UNDER_VOLTAGE | BRM_THR_THROTTLED | BRM_THR_UNDER_VOLTAGE_OCCURRED |
                          BRM_THR_THROTTLED_OCCURRED);

        CHECK_INT(brm_metrics_facts(fixture("rpi3"), &f), ==, 0);
        CHECK_STR(f.arch, "aarch64");
        CHECK_STR(f.model, "Raspberry Pi 3 Model B Plus Rev 1.3");
        CHECK_STR(f.serial, "00000000a1b2c3d4");
        CHECK_STR(f.kernel, "5.10.103-v8+");
        CHECK_STR(f.os, "Debian GNU/Linux 10 (buster)");
        CHECK_U64(f.mem_total, ==, 948304ull * 1024);
        CHECK_INT(f.cpu_count, ==, 4);
        /* Hybrid layout (empty unified/cgroup.controllers) is v1; memory is
         * disabled on the Raspberry Pi kernel unless cgroup_enable=memory. */
        CHECK_INT(f.cgroup_version, ==, 1);
        CHECK_STR(f.cgroup_controllers,
                  "cpuset cpu cpuacct blkio devices freezer net_cls perf_event net_prio pids");
}

/* U-Boot on QEMU's raspi3b: the device tree's serial-number is zeros and
 * /proc/cpuinfo has no Serial line: no serial. */
static void test_zero_serial(void)
{
        struct brm_node_facts f;

        CHECK_INT(brm_metrics_facts(fixture("raspi3b-uboot"), &f), ==, 0);
        CHECK_STR(f.model, "Raspberry Pi 3 Model B");
        CHECK_STR(f.serial, "");
}

static void test_x86(void)
{
        struct brm_metrics m;
        struct brm_node_facts f;

        CHECK_INT(brm_metrics_collect(fixture("x86"), NULL, NULL, &m), ==, 0);
        CHECK_INT(m.has, ==, BRM_M_UPTIME | BRM_M_BOOT_ID | BRM_M_LOAD | BRM_M_MEM | BRM_M_NET);
        CHECK_INT(m.has & (BRM_M_TEMP | BRM_M_THROTTLE | BRM_M_CPU | BRM_M_DISK), ==, 0);
        CHECK_U64(m.uptime_ms, ==, 268960);
        /* The guest column (10000) is inside user already and not added. */
        CHECK_U64(m.cpu.busy, ==, 162800);
        CHECK_U64(m.cpu.total, ==, 1065800);
        CHECK_U64(m.mem_total, ==, 16303832ull * 1024);
        CHECK_U64(m.mem_available, ==, 12085400ull * 1024);
        /* veth4f3a2b1 is wider than the %6s column and has no leading blank. */
        CHECK_U64(m.net_rx, ==, 4082117235ull + 1820441 + 2130931);
        CHECK_U64(m.net_tx, ==, 312448901ull + 91834220 + 91836440);

        CHECK_INT(brm_metrics_facts(fixture("x86"), &f), ==, 0);
        CHECK_STR(f.arch, "x86_64");
        CHECK_STR(f.model, "");
        CHECK_STR(f.serial, "");
        CHECK_STR(f.kernel, "6.1.0-37-amd64");
        CHECK_STR(f.os, "Debian GNU/Linux 12 (bookworm)");
        CHECK_INT(f.cpu_count, ==, 2);
        CHECK_INT(f.cgroup_version, ==, 1);
        CHECK_STR(f.cgroup_controllers, "cpuset cpu cpuacct blkio memory devices freezer net_cls "
                                        "perf_event net_prio hugetlb pids");
}

static void test_collect_prev_and_disk(void)
{
        struct brm_cpu_times prev = { .busy = 118431 - 300, .total = 5740247 - 1200 };
        struct brm_metrics m;
        char root[4096];

        CHECK_INT(brm_metrics_collect(fixture("rpi4"), "/", &prev, &m), ==, 0);
        CHECK_INT(m.has, ==, pi_has | BRM_M_CPU | BRM_M_DISK);
        CHECK_DBL(m.cpu_percent, 25.0, 1e-4);
        CHECK(m.disk_total > 0);
        CHECK_U64(m.disk_free, <=, m.disk_total);

        /* Counters that went backwards (a reboot between samples) leave
         * cpu_percent absent rather than wrong. */
        prev.total = 5740247 + 1;
        CHECK_INT(brm_metrics_collect(fixture("rpi4"), "/nonexistent-bramble", &prev, &m), ==, 0);
        CHECK_INT(m.has, ==, pi_has);

        /* A trailing slash on the root is harmless. */
        snprintf(root, sizeof(root), "%s/", fixture("rpi3"));
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_U64(m.throttle_raw, ==, 0x50005);

        /* Nothing at all under root: an error, and ret untouched. */
        memset(&m, 0xa5, sizeof(m));
        CHECK_INT(brm_metrics_collect(fixture("no-such-tree"), NULL, NULL, &m), ==, -ENOENT);
        CHECK_UNTOUCHED(m);
        CHECK_INT(brm_metrics_collect(fixture("rpi4"), NULL, NULL, NULL), ==, -EINVAL);
}

static void test_cpu_percent(void)
{
        struct brm_cpu_times a = { .busy = 1000, .total = 4000 }, b;
        float pct;

        b = (struct brm_cpu_times){ .busy = 1100, .total = 4400 };
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, 0);
        CHECK_DBL(pct, 25.0, 1e-6);
        b = (struct brm_cpu_times){ .busy = 1000, .total = 4400 };
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, 0);
        CHECK_DBL(pct, 0.0, 1e-6);
        b = (struct brm_cpu_times){ .busy = 1400, .total = 4400 };
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, 0);
        CHECK_DBL(pct, 100.0, 1e-6);
        /* Inconsistent counters (busy grew more than total) clamp to 100. */
        b = (struct brm_cpu_times){ .busy = 9000, .total = 4400 };
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, 0);
        CHECK_DBL(pct, 100.0, 1e-6);
        /* Large counters keep their precision in the difference. */
        a = (struct brm_cpu_times){ .busy = UINT64_MAX - 1000, .total = UINT64_MAX - 4000 };
        b = (struct brm_cpu_times){ .busy = UINT64_MAX - 500, .total = UINT64_MAX - 2000 };
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, 0);
        CHECK_DBL(pct, 25.0, 1e-6);

        a = (struct brm_cpu_times){ .busy = 1000, .total = 4000 };
        pct = -1.0f;
        b = (struct brm_cpu_times){ .busy = 1000, .total = 4000 }; /* no time passed */
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, -EINVAL);
        b = (struct brm_cpu_times){ .busy = 1100, .total = 3999 }; /* total went back */
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, -EINVAL);
        b = (struct brm_cpu_times){ .busy = 999, .total = 4400 }; /* busy went back */
        CHECK_INT(brm_metrics_cpu_percent(&a, &b, &pct), ==, -EINVAL);
        CHECK_INT(brm_metrics_cpu_percent(NULL, &b, &pct), ==, -EINVAL);
        CHECK_INT(brm_metrics_cpu_percent(&a, NULL, &pct), ==, -EINVAL);
        CHECK_DBL(pct, -1.0, 0);
}

static void test_parsers_ok(void)
{
        struct brm_cpu_times t;
        uint64_t u, v;
        float load[3];
        char s[64], tiny[8];

        /* Kernels before 2.6 had four columns; the missing ones count as 0. */
        CHECK_INT(brm_metrics_parse_stat("cpu  10 20 30 40\n", &t), ==, 0);
        CHECK_U64(t.busy, ==, 60);
        CHECK_U64(t.total, ==, 100);
        /* The aggregate line need not be first, and cpu0 must not match it. */
        CHECK_INT(brm_metrics_parse_stat("cpu0 9 9 9 9\ncpu  1 2 3 4 5 6 7 8 100 100\n", &t), ==, 0);
        CHECK_U64(t.busy, ==, 1 + 2 + 3 + 6 + 7 + 8);
        CHECK_U64(t.total, ==, 36);
        CHECK_INT(brm_metrics_parse_meminfo("MemAvailable: 2 kB\nMemTotal: 3 kB", &u, &v), ==, 0);
        CHECK_U64(u, ==, 3072);
        CHECK_U64(v, ==, 2048);
        CHECK_INT(brm_metrics_parse_loadavg("12.50 0.05 100.99 1/2 3", load), ==, 0);
        CHECK_DBL(load[0], 12.5, 1e-5);
        CHECK_DBL(load[1], 0.05, 1e-6);
        CHECK_DBL(load[2], 100.99, 1e-4);
        CHECK_INT(brm_metrics_parse_uptime("12 0", &u), ==, 0);
        CHECK_U64(u, ==, 12000);
        CHECK_INT(brm_metrics_parse_uptime("1.23456\n", &u), ==, 0);
        CHECK_U64(u, ==, 1234);
        CHECK_INT(brm_metrics_parse_netdev("    lo: 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0\n", &u, &v), ==, 0);
        CHECK_U64(u, ==, 0);
        CHECK_U64(v, ==, 0);
        CHECK_INT(brm_metrics_parse_cpuinfo_serial("Serial\t\t: 00000000a1b2c3d4  \r\n", s, sizeof(s)), ==, 0);
        CHECK_STR(s, "00000000a1b2c3d4");
        CHECK_INT(brm_metrics_parse_os_release("NAME=x\nPRETTY_NAME=Alpine Linux v3.20\n", s, sizeof(s)),
                  ==, 0);
        CHECK_STR(s, "Alpine Linux v3.20");
        CHECK_INT(brm_metrics_parse_os_release("PRETTY_NAME='Single \\ quoted'\n", s, sizeof(s)), ==,
                  0);
        CHECK_STR(s, "Single \\ quoted");
        CHECK_INT(brm_metrics_parse_os_release("PRETTY_NAME=\"A \\\"b\\\" \\$c \\d\"\n", s, sizeof(s)), ==,
                  0);
        CHECK_STR(s, "A \"b\" $c \\d");
        /* A long name is cut, never in the middle of a UTF-8 character. */
        CHECK_INT(brm_metrics_parse_os_release("PRETTY_NAME=\"Debi\xc3\xa1n 13\"", tiny, sizeof(tiny)), ==,
                  0);
        CHECK_STR(tiny, "Debi\xc3\xa1n");
        CHECK_INT(brm_metrics_parse_os_release("PRETTY_NAME=\"Debian\xc3\xa1\"", tiny, sizeof(tiny)), ==,
                  0);
        CHECK_STR(tiny, "Debian");
        /* The image's version, and the slot its boot script names. */
        CHECK_INT(brm_metrics_parse_os_release_field("PRETTY_NAME=\"Bramble node\"\nIMAGE_VERSION=\"v0.9-12-gab12\"\n",
                                                     "IMAGE_VERSION", s, sizeof(s)), ==, 0);
        CHECK_STR(s, "v0.9-12-gab12");
        CHECK_INT(brm_metrics_parse_os_release_field("IMAGE_ID=bramble\n", "IMAGE_VERSION", s, sizeof(s)), ==, -EINVAL);
        CHECK_INT(brm_metrics_parse_cmdline_param("console=ttyAMA0 root=PARTUUID=b7a3b1e0-03 bramble.slot=b rootwait\n",
                                                  "bramble.slot", s, sizeof(s)), ==, 0);
        CHECK_STR(s, "b");
        CHECK_INT(brm_metrics_parse_cmdline_param("bramble.slot=a xbramble.slot=c bramble.slotx=d bramble.slot=b",
                                                  "bramble.slot", s, sizeof(s)), ==, 0);
        CHECK_STR(s, "b");
        CHECK_INT(brm_metrics_parse_cmdline_param("bramble.slot= quiet", "bramble.slot", s, sizeof(s)), ==, -EINVAL);
        CHECK_INT(brm_metrics_parse_cmdline_param("bramble.slot", "bramble.slot", s, sizeof(s)), ==, -EINVAL);
        CHECK_INT(brm_metrics_parse_cmdline_param("bramble.slot=abcdefghij", "bramble.slot", tiny, 4), ==, -EINVAL);
}

static void test_parsers_garbage(void)
{
        static const char *const common[] = {
                "", "\n", " ", "x", ":", "|", "\n\n\n", "-1", "\xff\xfe", "cpu", "1 2",
        };
        static const char *const stats[] = {
                "cpu 1 2 3\n", "cpu 1 2 3 x\n", "cpu 1 2 3 4x 5\n", "cpu -1 2 3 4\n",
                "cpu 99999999999999999999999 0 0 0\n", "cpu 18446744073709551615 1 1 1\n",
                "cpu1 1 2 3 4\n", "cpux 1 2 3 4\n", "cpu 1 2 3 4 5 6 7 x\n", " cpu 1 2 3 4\n",
        };
        static const char *const meminfo[] = {
                "MemTotal: 100 kB\n", "MemAvailable: 100 kB\n", "MemTotal:\nMemAvailable: 1 kB\n",
                "MemTotal: 1 kB\nMemAvailable: 1\n", "MemTotal: 1 MB\nMemAvailable: 1 kB\n",
                "MemTotal: 18014398509481984 kB\nMemAvailable: 1 kB\n",
                "MemTotal: 99999999999999999999999 kB\nMemAvailable: 1 kB\n",
                "MemTotal: 1 kBx\nMemAvailable: 1 kB\n", "MemTotal: 5 kB\nMemAvail",
        };
        static const char *const loadavg[] = {
                "0.5 0.4", "0.5 0.4 ", "1e9 1 1", "-1 0 0", "nan nan nan", "inf 1 1", ".5 1 1",
                "99999999999999999999 0 0", "18446744073709551.616 1 1", "1,5 1 1", "0.1 0.2 0.3x",
        };
        static const char *const uptime[] = {
                "abc", "-5.0 1", ".5 1", "18446744073709551.616 0", "99999999999999999999",
                "12x 3", "1e3 0",
        };
        static const char *const netdev[] = {
                "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n",
                "  eth0: 1 2 3\n", "  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
                "  : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
                "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n  wlan0: 1 2 3 4",
                "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n",
                ("  eth0: 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                 "  eth1: 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"),
                "  eth0: 18446744073709551616 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                "  et h0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
        };
        static const char *const serial[] = {
                "Serial\t\t:\n", "Serial\t\t:    \n", "Serial : a\001b\n", "Serial\n", "Hardware : x\n",
                "Serial : 0123456789012345678901234567890123456789012345678901234567890123456789\n",
                "Serialx 1\n",
        };
        static const char *const os[] = {
                "PRETTY_NAME=\"unterminated", "PRETTY_NAME=\"two\nlines\"", "PRETTY_NAME=", "PRETTY_NAME=\"\"",
                "NAME=x\n", " PRETTY_NAME=x", "PRETTY_NAME='a\tb'", "PRETTY_NAME=\"\\",
        };
        struct brm_cpu_times t;
        uint64_t u, v;
        float load[3];
        char s[64];

#define EACH(list, call)                                                                       \
        for (size_t i_ = 0; i_ < sizeof(list) / sizeof(list[0]); i_++) {                       \
                const char *in = list[i_];                                                     \
                memset(&t, 0xa5, sizeof(t));                                                   \
                memset(&u, 0xa5, sizeof(u));                                                   \
                memset(&v, 0xa5, sizeof(v));                                                   \
                memset(load, 0xa5, sizeof(load));                                              \
                memset(s, 0xa5, sizeof(s));                                                    \
                int r_ = (call);                                                               \
                if (r_ != -EINVAL)                                                             \
                        CHECK_FAIL_("garbage accepted: %s(\"%s\") = %d", #call, in, r_);       \
                CHECK_UNTOUCHED(t);                                                            \
                CHECK_UNTOUCHED(u);                                                            \
                CHECK_UNTOUCHED(v);                                                            \
                CHECK_UNTOUCHED(load);                                                         \
                CHECK_UNTOUCHED(s);                                                            \
        }

        EACH(common, brm_metrics_parse_stat(in, &t));
        EACH(common, brm_metrics_parse_meminfo(in, &u, &v));
        EACH(common, brm_metrics_parse_loadavg(in, load));
        EACH(common, brm_metrics_parse_netdev(in, &u, &v));
        EACH(common, brm_metrics_parse_cpuinfo_serial(in, s, sizeof(s)));
        EACH(common, brm_metrics_parse_os_release(in, s, sizeof(s)));
        EACH(uptime, brm_metrics_parse_uptime(in, &u));
        EACH(stats, brm_metrics_parse_stat(in, &t));
        EACH(meminfo, brm_metrics_parse_meminfo(in, &u, &v));
        EACH(loadavg, brm_metrics_parse_loadavg(in, load));
        EACH(netdev, brm_metrics_parse_netdev(in, &u, &v));
        EACH(serial, brm_metrics_parse_cpuinfo_serial(in, s, sizeof(s)));
        EACH(os, brm_metrics_parse_os_release(in, s, sizeof(s)));
#undef EACH
        CHECK_INT(brm_metrics_parse_cpuinfo_serial("Serial : x\n", s, 0), ==, -EINVAL);
        CHECK_INT(brm_metrics_parse_stat(NULL, &t), ==, -EINVAL);
        CHECK_INT(brm_metrics_parse_meminfo(NULL, &u, &v), ==, -EINVAL);
}

/* A cheap deterministic fuzz pass over all parsers; the fuzz harnesses go
 * further, this only keeps the sanitizers looking at odd inputs in CTest. */
static void test_parsers_random(void)
{
        static const char *const atoms[] = {
                "cpu ", "cpu0 ", "MemTotal:", "MemAvailable:", " kB", "\n", " ", "\t", ":", "|",
                "0", "7", "18446744073709551615", "99999999999999999999", ".", "-", "lo", "eth0",
                "Serial", "PRETTY_NAME=", "\"", "'", "\\", "\xc3", "\xa1", "x",
        };
        char buf[256], s[16];
        struct brm_cpu_times t;
        uint64_t u, v, seed = 0x9e3779b97f4a7c15ull;
        float load[3];

        for (int iter = 0; iter < 20000; iter++) {
                size_t len = 0;
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                for (unsigned n = (unsigned)(seed >> 59); n > 0; n--) {
                        const char *a;
                        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                        a = atoms[(seed >> 33) % (sizeof(atoms) / sizeof(atoms[0]))];
                        if (len + strlen(a) >= sizeof(buf))
                                break;
                        memcpy(buf + len, a, strlen(a));
                        len += strlen(a);
                }
                buf[len] = '\0';
                int r[7] = {
                        brm_metrics_parse_stat(buf, &t),
                        brm_metrics_parse_meminfo(buf, &u, &v),
                        brm_metrics_parse_loadavg(buf, load),
                        brm_metrics_parse_uptime(buf, &u),
                        brm_metrics_parse_netdev(buf, &u, &v),
                        brm_metrics_parse_cpuinfo_serial(buf, s, sizeof(s)),
                        brm_metrics_parse_os_release(buf, s, sizeof(s)),
                };
                for (int i = 0; i < 7; i++)
                        if (r[i] != 0 && r[i] != -EINVAL)
                                CHECK_FAIL_("parser %d returned %d for \"%s\"", i, r[i], buf);
                if (r[5] == 0 || r[6] == 0)
                        CHECK_INT(strlen(s), <, sizeof(s));
        }
}

static void put(const char *root, const char *rel, const char *text)
{
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        CHECK_FAIL_("mkdir %s: %s", path, strerror(errno));
                *p = '/';
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
                CHECK_FAIL_("write %s: %s", path, strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

/* Zone and hwmon selection in trees built on the spot, each a small variation
 * of what real machines show. */
static void test_sensor_selection(void)
{
        char root[] = "/tmp/brm-metrics-XXXXXX";
        struct brm_metrics m;

        if (!mkdtemp(root))
                CHECK_SKIP("cannot create a temporary directory");
        put(root, "proc/uptime", "1.00 1.00\n");

        /* The SoC zone is preferred even when it is not zone0; readdir order
         * must not matter (zone10 sorts before zone2 as a string). */
        put(root, "sys/class/thermal/thermal_zone0/type", "acpitz\n");
        put(root, "sys/class/thermal/thermal_zone0/temp", "27800\n");
        put(root, "sys/class/thermal/thermal_zone10/type", "cpu_thermal\n");
        put(root, "sys/class/thermal/thermal_zone10/temp", "71500\n");
        put(root, "sys/class/thermal/thermal_zone2/type", "cpu-thermal\n");
        put(root, "sys/class/thermal/thermal_zone2/temp", "61000\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_INT(m.has, ==, BRM_M_UPTIME | BRM_M_TEMP);
        CHECK_DBL(m.temp_c, 61.0, 1e-4);
        /* An unreadable SoC sensor falls back to the lowest readable zone. */
        put(root, "sys/class/thermal/thermal_zone2/temp", "garbage\n");
        put(root, "sys/class/thermal/thermal_zone10/temp", "");
        put(root, "sys/class/thermal/thermal_zone0/temp", "-5250\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_DBL(m.temp_c, -5.25, 1e-4);

        /* Mainline: hwmon rpi_volt reports under-voltage now, nothing else. */
        put(root, "sys/class/hwmon/hwmon0/name", "cpu_thermal\n");
        put(root, "sys/class/hwmon/hwmon3/name", "rpi_volt\n");
        put(root, "sys/class/hwmon/hwmon3/in0_lcrit_alarm", "1\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK(m.has & BRM_M_THROTTLE);
        CHECK_U64(m.throttle_raw, ==, BRM_THR_UNDER_VOLTAGE);
        /* get_throttled with a 0x prefix, and a broken one falls back to hwmon. */
        put(root, "sys/devices/platform/soc/soc:firmware/get_throttled", "0x80008\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_U64(m.throttle_raw, ==, BRM_THR_SOFT_TEMP_LIMIT | BRM_THR_SOFT_TEMP_LIMIT_OCCURRED);
        put(root, "sys/devices/platform/soc/soc:firmware/get_throttled", "0xA000F\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_U64(m.throttle_raw, ==, 0xa000f);
        put(root, "sys/devices/platform/soc/soc:firmware/get_throttled", "\x15\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_U64(m.throttle_raw, ==, BRM_THR_UNDER_VOLTAGE);
        put(root, "sys/devices/platform/soc/soc:firmware/get_throttled", "0x1000000000\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_U64(m.throttle_raw, ==, BRM_THR_UNDER_VOLTAGE);
        put(root, "sys/class/hwmon/hwmon3/in0_lcrit_alarm", "x\n");
        CHECK_INT(brm_metrics_collect(root, NULL, NULL, &m), ==, 0);
        CHECK_INT(m.has & BRM_M_THROTTLE, ==, 0);

        nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_live(void)
{
        struct brm_metrics m, m2;
        struct brm_node_facts f;

        if (access("/proc/meminfo", R_OK) != 0)
                CHECK_SKIP("no /proc/meminfo on this host");
        CHECK_INT(brm_metrics_collect("", "/", NULL, &m), ==, 0);
        CHECK(m.has & BRM_M_MEM);
        CHECK(m.has & BRM_M_DISK);
        CHECK(m.mem_total > 0);
        CHECK_U64(m.mem_available, <=, m.mem_total);
        CHECK_U64(m.cpu.busy, <=, m.cpu.total);
        CHECK_INT(brm_metrics_collect("/", NULL, &m.cpu, &m2), ==, 0);
        CHECK(m2.has & BRM_M_MEM);
        CHECK_U64(m2.cpu.total, >=, m.cpu.total);
        if (m2.has & BRM_M_CPU)
                CHECK(m2.cpu_percent >= 0.0f && m2.cpu_percent <= 100.0f);
        CHECK_INT(brm_metrics_facts("", &f), ==, 0);
        CHECK(f.arch[0] != '\0');
        CHECK(f.cpu_count >= 1);
        CHECK(f.mem_total > 0);
}

int main(int argc, char **argv)
{
        struct stat st;

        if (argc < 2)
                CHECK_SKIP("usage: test_metrics FIXTURES_DIR");
        fixtures = argv[1];
        if (stat(fixture("rpi4/proc/stat"), &st) != 0)
                CHECK_SKIP("fixtures not found");
        test_rpi4();
        test_rpi3();
        test_zero_serial();
        test_x86();
        test_collect_prev_and_disk();
        test_cpu_percent();
        test_parsers_ok();
        test_parsers_garbage();
        test_parsers_random();
        test_sensor_selection();
        test_live();
        printf("test_metrics: ok\n");
        return 0;
}
