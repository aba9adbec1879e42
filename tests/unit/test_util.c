/* Parsers for durations, numbers, addresses and names; atomic writes;
 * /proc start times. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fileio.h"
#include "procstat.h"
#include "util.h"

int main(void)
{
        uint64_t v = 42;
        char host[64];
        uint16_t port = 0;

        CHECK_INT(brm_parse_duration_ms("24h", &v), ==, 0);
        CHECK_U64(v, ==, 86400000);
        CHECK_INT(brm_parse_duration_ms("500ms", &v), ==, 0);
        CHECK_U64(v, ==, 500);
        CHECK_INT(brm_parse_duration_ms("7d", &v), ==, 0);
        CHECK_U64(v, ==, 604800000);
        CHECK_INT(brm_parse_duration_ms("90", &v), ==, 0);
        CHECK_U64(v, ==, 90000);
        CHECK_INT(brm_parse_duration_ms("5x", &v), ==, -EINVAL);
        CHECK_INT(brm_parse_duration_ms("-5s", &v), ==, -EINVAL);
        CHECK_INT(brm_parse_duration_ms("s", &v), ==, -EINVAL);
        CHECK_INT(brm_parse_duration_ms("99999999999999999999d", &v), ==, -EINVAL);
        CHECK_U64(v, ==, 90000); /* untouched on failure */

        /* --since: durations back from now, and RFC 3339 times. */
        const int64_t now = 1795341600LL * 1000000000 + 500; /* 2026-11-22T10:00:00.0000005Z */
        const int64_t t10 = 1795341600LL * 1000000000;
        int64_t ns = 42;
        CHECK_INT(brm_parse_since("90s", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now - 90LL * 1000000000);
        CHECK_INT(brm_parse_since("15m", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now - 900LL * 1000000000);
        CHECK_INT(brm_parse_since("2h", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now - 7200LL * 1000000000);
        CHECK_INT(brm_parse_since("7d", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now - 604800LL * 1000000000);
        CHECK_INT(brm_parse_since("500ms", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now - 500000000LL);
        CHECK_INT(brm_parse_since("0s", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now);
        CHECK_INT(brm_parse_since("30", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now - 30LL * 1000000000);
        /* A bare number is seconds, as for every duration (a year needs -MM-DD). */
        CHECK_INT(brm_parse_since("2026", now, &ns), ==, 0);
        CHECK_INT(ns, ==, now - 2026LL * 1000000000);
        CHECK_INT(brm_parse_since("2026-11-22T10:00:00Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10);
        CHECK_INT(brm_parse_since("2026-11-22t10:00:00z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10);
        CHECK_INT(brm_parse_since("2026-11-22 10:00:00Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10);
        CHECK_INT(brm_parse_since("2026-11-22T10:00:00.123Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10 + 123000000);
        CHECK_INT(brm_parse_since("2026-11-22T10:00:00.5Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10 + 500000000);
        CHECK_INT(brm_parse_since("2026-11-22T10:00:00.000000001Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10 + 1);
        CHECK_INT(brm_parse_since("2026-11-22T12:00:00+02:00", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10);
        CHECK_INT(brm_parse_since("2026-11-22T04:30:00-0530", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10);
        CHECK_INT(brm_parse_since("2026-11-22T10:00:00+00:00", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10);
        CHECK_INT(brm_parse_since("2026-11-22T10:00:00-00:00", now, &ns), ==, 0);
        CHECK_INT(ns, ==, t10);
        CHECK_INT(brm_parse_since("2026-11-22", now, &ns), ==, 0);
        CHECK_INT(ns, ==, 1795305600LL * 1000000000);
        CHECK_INT(brm_parse_since("2024-02-29T23:59:59.999999999Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, 1709251199LL * 1000000000 + 999999999);
        CHECK_INT(brm_parse_since("2000-02-29", now, &ns), ==, 0);
        CHECK_INT(brm_parse_since("1970-01-01T00:00:00Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, 0);
        CHECK_INT(brm_parse_since("1969-12-31T23:59:59Z", now, &ns), ==, 0);
        CHECK_INT(ns, ==, -1000000000LL);
        CHECK_INT(brm_parse_since("2016-12-31T23:59:60Z", now, &ns), ==, 0); /* leap second */
        CHECK_INT(ns, ==, 1483228800LL * 1000000000);
        CHECK_INT(brm_parse_since("2262-04-11T23:47:16Z", now, &ns), ==, 0); /* near the int64 end */
        CHECK_INT(ns, ==, 9223372036LL * 1000000000);
        ns = 7;
        static const char *bad_since[] = {
                "", "x", "-5m", "5x", "15 m", "1.5h", "2026-11", "2026-11-22T", "2026-11-22T10:00:00",
                "2026-11-22T10:00Z", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00.1234567890Z",
                "2026-11-22T10:00:00ZZ", "2026-11-22T10:00:00Z ", " 2026-11-22", "2026-11-22x", "2026-13-01",
                "2026-00-10", "2026-11-00", "2026-11-31", "2026-02-29", "1900-02-29", "2026-11-22T24:00:00Z",
                "2026-11-22T10:60:00Z", "2026-11-22T10:00:61Z", "2026-11-22T10:00:00+24:00",
                "2026-11-22T10:00:00+02:60", "2026-11-22T10:00:00+2:00", "2026-11-22T10:00:00+02", "2026-11-22T10:00:00+02:0",
                "2026-11-22T10:00:00+02:00:00", "2026-11-22_10:00:00Z", "26-11-22", "2026/11/22", "+2026-11-22",
                "2026-1-22", "2262-04-11T23:47:17Z", "9999-12-31T23:59:59Z", "1677-01-01", "0000-01-01",
                "99999999999999999999s", "200000d", "2026-11-22T10:00:00.-1Z", "2026-11-22T1O:00:00Z",
        };
        for (size_t i = 0; i < BRM_ARRAY_SIZE(bad_since); i++)
                if (brm_parse_since(bad_since[i], now, &ns) != -EINVAL) {
                        fprintf(stderr, "brm_parse_since accepted '%s'\n", bad_since[i]);
                        return 1;
                }
        CHECK_INT(ns, ==, 7); /* untouched on failure */
        CHECK_INT(brm_parse_since(NULL, now, &ns), ==, -EINVAL);
        /* Far back from a small "now" overflows instead of wrapping. */
        CHECK_INT(brm_parse_since("106000d", INT64_MIN / 2, &ns), ==, -EINVAL);
        CHECK_INT(brm_parse_since("1d", INT64_MIN / 2, &ns), ==, 0);

        CHECK_INT(brm_parse_u64("100", 1, 100, &v), ==, 0);
        CHECK_U64(v, ==, 100);
        CHECK_INT(brm_parse_u64("101", 1, 100, &v), ==, -ERANGE);
        CHECK_INT(brm_parse_u64("0", 1, 100, &v), ==, -ERANGE);
        CHECK_INT(brm_parse_u64("1a", 1, 100, &v), ==, -EINVAL);
        CHECK_INT(brm_parse_u64("", 1, 100, &v), ==, -EINVAL);

        CHECK_INT(brm_parse_hostport("127.0.0.1:7443", host, sizeof(host), &port), ==, 0);
        CHECK_STR(host, "127.0.0.1");
        CHECK_INT(port, ==, 7443);
        CHECK_INT(brm_parse_hostport("[::1]:8", host, sizeof(host), &port), ==, 0);
        CHECK_STR(host, "::1");
        CHECK_INT(port, ==, 8);
        CHECK_INT(brm_parse_hostport("master.local", host, sizeof(host), &port), ==, -EINVAL);
        CHECK_INT(brm_parse_hostport("h:0", host, sizeof(host), &port), ==, -EINVAL);
        CHECK_INT(brm_parse_hostport("h:65536", host, sizeof(host), &port), ==, -EINVAL);
        CHECK_INT(brm_parse_hostport(":80", host, sizeof(host), &port), ==, -EINVAL);
        CHECK_INT(brm_parse_hostport("::1:80", host, sizeof(host), &port), ==, -EINVAL);

        CHECK_INT(brm_parse_size("64M", &v), ==, 0);
        CHECK_U64(v, ==, 64ULL << 20);
        CHECK_INT(brm_parse_size("48MiB", &v), ==, 0);
        CHECK_U64(v, ==, 48ULL << 20);
        CHECK_INT(brm_parse_size("1g", &v), ==, 0);
        CHECK_U64(v, ==, 1ULL << 30);
        CHECK_INT(brm_parse_size("4096", &v), ==, 0);
        CHECK_U64(v, ==, 4096);
        CHECK_INT(brm_parse_size("64Q", &v), ==, -EINVAL);
        CHECK_INT(brm_parse_size("M", &v), ==, -EINVAL);
        CHECK_INT(brm_parse_size("-1M", &v), ==, -EINVAL);
        CHECK_INT(brm_parse_size("1.5G", &v), ==, -EINVAL);
        CHECK_INT(brm_parse_size("99999999999T", &v), ==, -EINVAL);
        CHECK_U64(v, ==, 4096);
        uint32_t mc = 7;
        CHECK_INT(brm_parse_cpus("0.5", &mc), ==, 0);
        CHECK_INT(mc, ==, 500);
        CHECK_INT(brm_parse_cpus("2", &mc), ==, 0);
        CHECK_INT(mc, ==, 2000);
        CHECK_INT(brm_parse_cpus(".25", &mc), ==, 0);
        CHECK_INT(mc, ==, 250);
        CHECK_INT(brm_parse_cpus("0.001", &mc), ==, 0);
        CHECK_INT(mc, ==, 1);
        CHECK_INT(brm_parse_cpus("0", &mc), ==, -EINVAL);
        CHECK_INT(brm_parse_cpus("0.0", &mc), ==, -EINVAL);
        CHECK_INT(brm_parse_cpus("-1", &mc), ==, -EINVAL);
        CHECK_INT(brm_parse_cpus("0.0001", &mc), ==, -EINVAL);
        CHECK_INT(brm_parse_cpus("1.", &mc), ==, -EINVAL);
        CHECK_INT(brm_parse_cpus("abc", &mc), ==, -EINVAL);
        CHECK_INT(brm_parse_cpus("2000", &mc), ==, -EINVAL);
        CHECK_INT(mc, ==, 1);

        CHECK(brm_valid_node_name("pi-1"));
        CHECK(brm_valid_node_name("a"));
        CHECK(!brm_valid_node_name("-pi"));
        CHECK(!brm_valid_node_name("pi-"));
        CHECK(!brm_valid_node_name("Pi"));
        CHECK(!brm_valid_node_name("pi_1"));
        CHECK(!brm_valid_node_name(""));
        CHECK(!brm_valid_node_name("a234567890123456789012345678901234567890123456789012345678901234"));

        /* Atomic write replaces content and leaves no temporary file. */
        char dir[] = "/tmp/brm-util-XXXXXX", path[128], tmp[160];
        uint8_t *data;
        size_t len;
        struct stat st;
        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/f", dir);
        CHECK_INT(brm_file_write_atomic(path, "one", 3, 0600), ==, 0);
        CHECK_INT(brm_file_write_atomic(path, "second", 6, 0640), ==, 0);
        CHECK_INT(brm_file_read(path, 100, &data, &len), ==, 0);
        CHECK_U64(len, ==, 6);
        CHECK_STR((char *)data, "second");
        free(data);
        CHECK_INT(stat(path, &st), ==, 0);
        CHECK_INT(st.st_mode & 0777, ==, 0640);
        snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
        CHECK_INT(access(tmp, F_OK), ==, -1);
        CHECK_INT(brm_file_read(path, 3, &data, &len), ==, -EFBIG);
        /* The fast variant (no fsync) replaces just as whole. */
        CHECK_INT(brm_file_write_fast(path, "third!", 6, 0600), ==, 0);
        CHECK_INT(brm_file_read(path, 100, &data, &len), ==, 0);
        CHECK_STR((char *)data, "third!");
        free(data);
        CHECK_INT(access(tmp, F_OK), ==, -1);
        unlink(path);
        CHECK_INT(brm_file_read(path, 3, &data, &len), ==, -ENOENT);
        snprintf(path, sizeof(path), "%s/no/such/dir/f", dir);
        CHECK_INT(brm_file_write_fast(path, "x", 1, 0600), ==, -ENOENT);
        rmdir(dir);

        /* Our own start time: stable, and nothing for a pid that is gone. */
        unsigned long long t1 = 0, t2 = 0, t3 = 42;
        pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0)
                _exit(0);
        CHECK_INT(waitpid(child, NULL, 0), ==, child);
        CHECK_INT(brm_procstat_start_time((int)getpid(), &t1), ==, 0);
        CHECK_INT(brm_procstat_start_time((int)getpid(), &t2), ==, 0);
        CHECK_U64(t1, >, 0);
        CHECK_U64(t1, ==, t2);
        CHECK_INT(brm_procstat_start_time((int)child, &t3), ==, -ESRCH);
        CHECK_U64(t3, ==, 42);
        printf("util: ok\n");
        return 0;
}
