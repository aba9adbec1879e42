/* The log cursor against the real writer: tail and since positions across
 * rotated files, following a log that rotates under it, and exact counts of
 * the lines a lagging reader never saw. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "logrec.h"
#include "logstore.h"

static char dir[256];

static void fresh_dir(void)
{
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
}

/* Writes lines numbered from *next, stdout, or stderr for multiples of 7. */
static void write_lines(struct brm_logwriter *w, uint64_t *next, int count, int64_t ts)
{
        char buf[32];
        for (int i = 0; i < count; i++, (*next)++) {
                int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)*next);
                CHECK_INT(brm_logwriter_add(w, *next % 7 == 0 ? BRM_LOG_STDERR : BRM_LOG_STDOUT, false, ts, buf, (size_t)n), ==, 0);
        }
        CHECK_INT(brm_logwriter_flush(w), ==, 0);
}

static uint64_t num(const struct brm_logrec *r)
{
        char buf[32];
        CHECK(r->len < sizeof(buf));
        memcpy(buf, r->data, r->len);
        buf[r->len] = '\0';
        return strtoull(buf, NULL, 10);
}

/* Follows while the writer rotates every few flushes: every line, in order. */
static void test_follow_rotation(void)
{
        struct brm_logwriter w;
        struct brm_logcursor c;
        struct brm_logrec r;
        uint64_t next = 1, expect = 1;
        unsigned seed = 7;

        fresh_dir();
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        CHECK_INT(brm_logcursor_open(&c, dir, 3, 3, -1, INT64_MIN), ==, 0);
        for (int round = 0; round < 2000; round++) {
                write_lines(&w, &next, 1 + (int)(rand_r(&seed) % 60), 1000);
                int rc;
                while ((rc = brm_logcursor_next(&c, &r)) == 0) {
                        CHECK_U64(num(&r), ==, expect);
                        CHECK_INT(r.stream, ==, expect % 7 == 0 ? BRM_LOG_STDERR : BRM_LOG_STDOUT);
                        expect++;
                }
                CHECK_INT(rc, ==, -EAGAIN);
                CHECK_U64(c.skipped, ==, 0);
        }
        CHECK_U64(expect, ==, next);
        brm_logcursor_close(&c);
        brm_logwriter_close(&w);
}

/* A reader that reads only now and then loses lines to rotation; the ones it
 * gets are in order and the skipped count is exactly the gap, per stream. */
static void test_lagging_reader(unsigned streams)
{
        struct brm_logwriter w;
        struct brm_logcursor c;
        struct brm_logrec r;
        uint64_t next = 1, last = 0, got = 0, wanted_total = 0;
        unsigned seed = 11;

        fresh_dir();
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        CHECK_INT(brm_logcursor_open(&c, dir, 3, streams, -1, INT64_MIN), ==, 0);
        for (int round = 0; round < 300; round++) {
                write_lines(&w, &next, 1 + (int)(rand_r(&seed) % 200), 1000);
                if (round % 13 != 0)
                        continue;
                int rc;
                while ((rc = brm_logcursor_next(&c, &r)) == 0) {
                        uint64_t n = num(&r);
                        CHECK(n > last);
                        got++;
                        last = n;
                }
                CHECK_INT(rc, ==, -EAGAIN);
        }
        int rc;
        while ((rc = brm_logcursor_next(&c, &r)) == 0)
                got++;
        for (uint64_t i = 1; i < next; i++)
                wanted_total += (streams & (i % 7 == 0 ? 2u : 1u)) != 0;
        CHECK(c.skipped > 0);
        CHECK_U64(got + c.skipped, ==, wanted_total);
        brm_logcursor_close(&c);
        brm_logwriter_close(&w);
}

static void test_tail_and_since(void)
{
        struct brm_logwriter w;
        struct brm_logcursor c;
        struct brm_logrec r;
        uint64_t next = 1;

        fresh_dir();
        CHECK_INT(brm_logwriter_open(&w, dir, 8192, 4), ==, 0);
        for (int i = 0; i < 20; i++)
                write_lines(&w, &next, 50, 1000000000LL * (1000 + i)); /* 50 lines per second 1000..1019 */
        brm_logwriter_close(&w);

        /* The last 130 stdout lines, across files. */
        uint64_t last_out[130], n = 0;
        for (uint64_t i = next - 1; n < 130; i--)
                if (i % 7)
                        last_out[129 - n++] = i;
        CHECK_INT(brm_logcursor_open(&c, dir, 4, 1, 130, INT64_MIN), ==, 0);
        for (int i = 0; i < 130; i++) {
                CHECK_INT(brm_logcursor_next(&c, &r), ==, 0);
                CHECK_U64(num(&r), ==, last_out[i]);
        }
        CHECK_INT(brm_logcursor_next(&c, &r), ==, -EAGAIN);
        brm_logcursor_close(&c);

        /* --tail 0: nothing. */
        CHECK_INT(brm_logcursor_open(&c, dir, 4, 3, 0, INT64_MIN), ==, 0);
        CHECK_INT(brm_logcursor_next(&c, &r), ==, -EAGAIN);
        brm_logcursor_close(&c);

        /* since second 1018: the last 100 lines, both streams. */
        CHECK_INT(brm_logcursor_open(&c, dir, 4, 3, -1, 1018000000000LL), ==, 0);
        for (uint64_t i = next - 100; i < next; i++) {
                CHECK_INT(brm_logcursor_next(&c, &r), ==, 0);
                CHECK_U64(num(&r), ==, i);
        }
        CHECK_INT(brm_logcursor_next(&c, &r), ==, -EAGAIN);
        brm_logcursor_close(&c);

        /* since with tail: the later bound wins. */
        CHECK_INT(brm_logcursor_open(&c, dir, 4, 3, 10, 1018000000000LL), ==, 0);
        for (uint64_t i = next - 10; i < next; i++) {
                CHECK_INT(brm_logcursor_next(&c, &r), ==, 0);
                CHECK_U64(num(&r), ==, i);
        }
        brm_logcursor_close(&c);
        CHECK_INT(brm_logcursor_open(&c, dir, 4, 3, 1000, 1019000000000LL), ==, 0);
        for (uint64_t i = next - 50; i < next; i++) {
                CHECK_INT(brm_logcursor_next(&c, &r), ==, 0);
                CHECK_U64(num(&r), ==, i);
        }
        CHECK_INT(brm_logcursor_next(&c, &r), ==, -EAGAIN);
        brm_logcursor_close(&c);

        /* A missing log directory. */
        CHECK_INT(brm_logcursor_open(&c, "/nonexistent/bramble", 3, 3, -1, INT64_MIN), ==, -ENOENT);
}

/* Skipping to the end counts what was passed over. */
static void test_skip_to_end(void)
{
        struct brm_logwriter w;
        struct brm_logcursor c;
        struct brm_logrec r;
        uint64_t next = 1;

        fresh_dir();
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        write_lines(&w, &next, 10, 1000);
        CHECK_INT(brm_logcursor_open(&c, dir, 3, 3, -1, INT64_MIN), ==, 0);
        CHECK_INT(brm_logcursor_next(&c, &r), ==, 0);
        CHECK_U64(num(&r), ==, 1);
        write_lines(&w, &next, 500, 1000);
        CHECK(brm_logcursor_backlog(&c) > 0);
        CHECK_INT(brm_logcursor_skip_to_end(&c), ==, 0);
        CHECK_U64(brm_logcursor_backlog(&c), ==, 0);
        CHECK_U64(c.skipped, ==, 509); /* known at once, not when a line follows */
        write_lines(&w, &next, 1, 1000);
        CHECK_INT(brm_logcursor_next(&c, &r), ==, 0);
        CHECK_U64(num(&r), ==, 511);
        CHECK_U64(c.skipped, ==, 509);
        brm_logcursor_close(&c);
        brm_logwriter_close(&w);
}

int main(void)
{
        snprintf(dir, sizeof(dir), "/tmp/brm-test-logstore.%d", (int)getpid());
        CHECK(chdir("/tmp") == 0);
        test_follow_rotation();
        test_lagging_reader(3);
        test_lagging_reader(1);
        test_lagging_reader(2);
        test_tail_and_since();
        test_skip_to_end();
        fresh_dir();
        printf("ok\n");
        return 0;
}
