/* Parsers for durations, numbers, addresses and names; backoff bounds;
 * atomic writes. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "check.h"
#include "fileio.h"
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

        /* Backoff: 1 s x 1.6 with +-20 % jitter, capped at 120 s. */
        struct brm_backoff b;
        double expect = 1000;
        brm_backoff_init(&b, 1000, 120000);
        for (int i = 0; i < 20; i++) {
                uint64_t d = brm_backoff_next(&b);
                CHECK_U64(d, >=, (uint64_t)(expect * 0.8) - 1);
                CHECK_U64(d, <=, (uint64_t)(expect * 1.2 > 120000 ? 120000 : expect * 1.2) + 1);
                expect = expect * 1.6 > 120000 ? 120000 : expect * 1.6;
        }
        brm_backoff_reset(&b);
        CHECK_U64(brm_backoff_next(&b), <=, 1200);

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
        unlink(path);
        CHECK_INT(brm_file_read(path, 3, &data, &len), ==, -ENOENT);
        rmdir(dir);
        printf("util: ok\n");
        return 0;
}
