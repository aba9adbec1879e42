/* The on-node log format (lib/logrec.h): timestamps, record parsing, the
 * rotating writer with its counters, and the line splitter. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "check.h"
#include "logrec.h"

#define NS 1000000000LL

static char tmp[64];

/* ---- helpers ---- */

static void rm_rf(const char *dir)
{
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_INT(system(cmd), ==, 0);
}

static void new_dir(char *out, size_t size, const char *name)
{
        snprintf(out, size, "%s/%s", tmp, name);
        rm_rf(out);
}

struct recs {
        char *text;   /* the file; records point into it */
        size_t size;
        size_t n;
        int bad;      /* lines that did not parse */
        struct brm_logrec r[8192];
};

static struct recs *load(const char *dir, const char *file)
{
        struct recs *rs = calloc(1, sizeof(*rs));
        char path[300];
        struct stat st;
        int fd;

        CHECK(rs);
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fd = open(path, O_RDONLY);
        CHECK(fd >= 0);
        CHECK_INT(fstat(fd, &st), ==, 0);
        rs->size = (size_t)st.st_size;
        rs->text = malloc(rs->size + 1);
        CHECK(rs->text);
        CHECK_INT(read(fd, rs->text, rs->size), ==, (long long)rs->size);
        rs->text[rs->size] = '\0';
        close(fd);
        for (size_t off = 0; off < rs->size;) {
                char *nl = memchr(rs->text + off, '\n', rs->size - off);
                size_t len = nl ? (size_t)(nl - (rs->text + off)) : rs->size - off;
                if (brm_logrec_parse(rs->text + off, len, &rs->r[rs->n]) == 0) {
                        CHECK(rs->n < 8191);
                        rs->n++;
                } else {
                        rs->bad++;
                }
                off += len + 1;
        }
        return rs;
}

static void unload(struct recs *rs)
{
        free(rs->text);
        free(rs);
}

static bool exists(const char *dir, const char *file)
{
        char path[300];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        return access(path, F_OK) == 0;
}

static off_t file_size(const char *dir, const char *file)
{
        char path[300];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        CHECK_INT(stat(path, &st), ==, 0);
        return st.st_size;
}

/* ---- timestamps ---- */

static void check_ts(int64_t ns, const char *want)
{
        char out[BRM_LOG_TS_LEN + 1];
        int64_t back = 0;

        brm_log_format_ts(ns, out);
        CHECK_STR(out, want);
        CHECK_INT(strlen(out), ==, BRM_LOG_TS_LEN);
        CHECK_INT(brm_log_parse_ts(out, BRM_LOG_TS_LEN, &back), ==, 0);
        CHECK_INT(back, ==, ns);
}

static void test_timestamps(void)
{
        int64_t v;

        check_ts(0, "1970-01-01T00:00:00.000000000Z");
        check_ts(1795341600 * NS + 123456789, "2026-11-22T10:00:00.123456789Z");
        check_ts(1767225600 * NS, "2026-01-01T00:00:00.000000000Z");
        check_ts(1767225600 * NS - 1, "2025-12-31T23:59:59.999999999Z");
        /* Before 1970: the seconds and the nanoseconds both go forwards. */
        check_ts(-1, "1969-12-31T23:59:59.999999999Z");
        check_ts(-1 * NS, "1969-12-31T23:59:59.000000000Z");
        check_ts(-2203891200LL * NS + 5, "1900-03-01T00:00:00.000000005Z");
        check_ts(-9214560000LL * NS, "1678-01-01T00:00:00.000000000Z");
        /* Leap days (2000 is a leap year, 1900 is not). */
        check_ts(1709210096 * NS + 42, "2024-02-29T12:34:56.000000042Z");
        check_ts(951782400 * NS, "2000-02-29T00:00:00.000000000Z");
        check_ts(-310438799LL * NS, "1960-02-29T23:00:01.000000000Z");
        check_ts(951782400 * NS - 1, "2000-02-28T23:59:59.999999999Z");
        check_ts(9223286400LL * NS, "2262-04-11T00:00:00.000000000Z");
        /* Every few hours over the whole range a nanosecond count can hold. */
        for (int64_t s = -9214560000LL; s < 9223286400LL; s += 7919 * 3 + 11) {
                char out[BRM_LOG_TS_LEN + 1];
                int64_t ns = s * NS + (s & 0x3fffffff) % NS;
                brm_log_format_ts(ns, out);
                CHECK_INT(brm_log_parse_ts(out, BRM_LOG_TS_LEN, &v), ==, 0);
                if (v != ns)
                        CHECK_FAIL_("round trip of %lld: %s -> %lld", (long long)ns, out, (long long)v);
        }
        /* Malformed and impossible. */
        CHECK_INT(brm_log_parse_ts("2025-02-29T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("1900-02-29T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2024-02-29T00:00:00.000000000Z", 30, &v), ==, 0);
        CHECK_INT(brm_log_parse_ts("2026-04-31T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-13-01T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-00-01T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-00T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-01T24:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-01T00:60:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-01T00:00:00.000000000z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-01 00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-01T00:00:00.00000000xZ", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-01T00:00:00.000000000Z", 29, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2026-01-01T00:00:00.00000000Z ", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("+026-01-01T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        /* Only what nanoseconds in an int64_t can hold. */
        check_ts(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
        check_ts(-9223372036LL * NS, "1677-09-21T00:12:44.000000000Z");
        CHECK_INT(brm_log_parse_ts("2262-04-11T23:47:16.854775808Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("2262-04-12T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("9999-12-31T23:59:59.999999999Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("0000-01-01T00:00:00.000000000Z", 30, &v), ==, -EBADMSG);
        CHECK_INT(brm_log_parse_ts("1677-09-21T00:12:43.000000000Z", 30, &v), ==, -EBADMSG);
        printf("timestamps: ok\n");
}

/* ---- records ---- */

static int parse(const char *s, struct brm_logrec *r)
{
        return brm_logrec_parse(s, strlen(s), r);
}

static void test_parse(void)
{
        struct brm_logrec r;
        char line[200];

        CHECK_INT(parse("2026-11-22T10:00:00.123456789Z stdout F 41 3 the line's bytes", &r), ==, 0);
        CHECK_INT(r.ts_ns, ==, 1795341600 * NS + 123456789);
        CHECK_INT(r.stream, ==, BRM_LOG_STDOUT);
        CHECK(!r.partial);
        CHECK_U64(r.n[0], ==, 41);
        CHECK_U64(r.n[1], ==, 3);
        CHECK_INT(r.len, ==, 16);
        CHECK(memcmp(r.data, "the line's bytes", 16) == 0);
        CHECK_INT(parse("2026-11-22T10:00:00.123456789Z stderr P 0 1  two  spaces ", &r), ==, 0);
        CHECK_INT(r.stream, ==, BRM_LOG_STDERR);
        CHECK(r.partial);
        CHECK_INT(r.len, ==, 13);
        CHECK(memcmp(r.data, " two  spaces ", 13) == 0);
        /* Empty data: the shortest record there is (43 bytes), and with the
         * separating space but nothing after it. */
        CHECK_INT(parse("1969-12-31T23:59:59.999999999Z stdout F 1 0", &r), ==, 0);
        CHECK_INT(r.len, ==, 0);
        CHECK_INT(r.ts_ns, ==, -1);
        CHECK_INT(parse("2026-11-22T10:00:00.000000000Z stdout F 12 0 ", &r), ==, 0);
        CHECK_INT(r.len, ==, 0);
        CHECK_U64(r.n[0], ==, 12);
        CHECK_INT(parse("2026-11-22T10:00:00.000000000Z stdout F 18446744073709551606 0 x", &r), ==, 0);
        /* Bytes are bytes: CR, NUL, high bytes. */
        {
                static const char rec[] = "2026-11-22T10:00:00.000000000Z stdout F 1 0 a\r\0\xff";
                CHECK_INT(brm_logrec_parse(rec, sizeof(rec) - 1, &r), ==, 0);
                CHECK_INT(r.len, ==, 4);
                CHECK(memcmp(r.data, "a\r\0\xff", 4) == 0);
        }

        /* Malformed. */
        static const char *const bad[] = {
                "",
                "2026-11-22T10:00:00.000000000Z",
                "2026-11-22T10:00:00.000000000Z stdout F",
                "2026-11-22T10:00:00.000000000Z stdout F 1",
                "2026-11-22T10:00:00.000000000Z stdout F 1 ",
                "2026-11-22T10:00:00.000000000Z stdout F 1 x",
                "2026-11-22T10:00:00.000000000Z stdout F  1 0",
                "2026-11-22T10:00:00.000000000Z stdout F -1 0 x",
                "2026-11-22T10:00:00.000000000Z stdout F 1 0x",
                "2026-11-22T10:00:00.000000000Z stdout F 99999999999999999999 0 x",
                "2026-11-22T10:00:00.000000000Z stdin  F 1 0 x",
                "2026-11-22T10:00:00.000000000Z STDOUT F 1 0 x",
                "2026-11-22T10:00:00.000000000Z stdout_F 1 0 x",
                "2026-11-22T10:00:00.000000000Z stdout X 1 0 x",
                "2026-11-22T10:00:00.000000000Z stdout f 1 0 x",
                "2026-11-22T10:00:00.000000000Z stdout FP 1 0 x",
                "2026-11-22T10:00:00.000000000Z  stdout F 1 0 x",
                "2026-11-22T10:00:00.000000000Zstdout F 1 0 x",
                "2026-11-22T10:00:00.00000000Z stdout F 1 0 x",
                "2026-11-22T25:00:00.000000000Z stdout F 1 0 x",
                "2026-02-29T10:00:00.000000000Z stdout F 1 0 x",
                "2026-11-22X10:00:00.000000000Z stdout F 1 0 x",
                "2026-11-22T10:00:00.000000000Z stdout F 0 5 own counter zero",
                "2026-11-22T10:00:00.000000000Z stderr F 5 0 own counter zero",
                "2026-11-22T10:00:00.000000000Z stdout F 0 0",
                "garbage garbage garbage garbage garbage garbage",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (parse(bad[i], &r) != -EBADMSG)
                        CHECK_FAIL_("parsed a malformed record: '%s'", bad[i]);
        {
                static const char nl[] = "2026-11-22T10:00:00.000000000Z stdout F 1 0 a\nb";
                CHECK_INT(brm_logrec_parse(nl, sizeof(nl) - 1, &r), ==, -EBADMSG);
        }
        /* Data longer than a line can be. */
        {
                size_t n = 31 + 6 + 2 + 4 + 1 + BRM_LOG_LINE_MAX + 1;
                char *big = malloc(n + 1);
                CHECK(big);
                int h = snprintf(big, n + 1, "2026-11-22T10:00:00.000000000Z stdout P 1 0 ");
                memset(big + h, 'x', BRM_LOG_LINE_MAX);
                CHECK_INT(brm_logrec_parse(big, (size_t)h + BRM_LOG_LINE_MAX, &r), ==, 0);
                big[h + BRM_LOG_LINE_MAX] = 'x';
                CHECK_INT(brm_logrec_parse(big, (size_t)h + BRM_LOG_LINE_MAX + 1, &r), ==, -EBADMSG);
                free(big);
        }
        /* A prefix of a valid record never reads past its length. */
        snprintf(line, sizeof(line), "2026-11-22T10:00:00.123456789Z stderr P 41 3 data");
        for (size_t len = 0; len < strlen(line); len++) {
                char *copy = malloc(len ? len : 1);
                memcpy(copy, line, len);
                int rr = brm_logrec_parse(copy, len, &r);
                /* Cut into the data, or with the data gone (with or
                 * without its space), it is still a record. */
                CHECK_INT(rr, ==, len >= 44 ? 0 : -EBADMSG);
                free(copy);
        }
        printf("parse: ok\n");
}

/* ---- writer ---- */

static void test_writer_counters(void)
{
        struct brm_logwriter w;
        struct recs *rs;
        char dir[128];
        uint64_t n[2];

        new_dir(dir, sizeof(dir), "counters");
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        CHECK(exists(dir, "log"));
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 1 * NS, "one", 3), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDERR, false, 2 * NS, "err one", 7), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, true, 3 * NS, "", 0), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 4 * NS, "three", 5), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, 2, false, 4 * NS, "bad stream", 10), ==, -EINVAL);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 4 * NS, "x", BRM_LOG_LINE_MAX + 1), ==, -EINVAL);
        /* Nothing on disk before a flush. */
        CHECK_INT(file_size(dir, "log"), ==, 0);
        CHECK_INT(brm_logwriter_flush(&w), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        rs = load(dir, "log");
        CHECK_INT(rs->bad, ==, 0);
        CHECK_INT(rs->n, ==, 4);
        CHECK_U64(rs->r[0].n[0], ==, 1);
        CHECK_U64(rs->r[0].n[1], ==, 0);
        CHECK_U64(rs->r[1].n[0], ==, 1);
        CHECK_U64(rs->r[1].n[1], ==, 1);
        CHECK_INT(rs->r[1].stream, ==, BRM_LOG_STDERR);
        CHECK_U64(rs->r[2].n[0], ==, 2);
        CHECK(rs->r[2].partial);
        CHECK_INT(rs->r[2].len, ==, 0);
        CHECK_U64(rs->r[3].n[0], ==, 3);
        CHECK_U64(rs->r[3].n[1], ==, 1);
        CHECK_INT(rs->r[3].ts_ns, ==, 4 * NS);
        CHECK(memcmp(rs->r[3].data, "three", 5) == 0);
        unload(rs);
        /* The first record of a fresh log, empty: the 43-byte shortest form. */
        CHECK_INT(brm_log_last_counters(dir, 3, n), ==, 0);
        CHECK_U64(n[0], ==, 3);
        CHECK_U64(n[1], ==, 1);

        /* Reopened: the counters go on. */
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        CHECK_U64(w.n[0], ==, 3);
        CHECK_U64(w.n[1], ==, 1);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDERR, false, 5 * NS, "err two", 7), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        rs = load(dir, "log");
        CHECK_INT(rs->n, ==, 5);
        CHECK_U64(rs->r[4].n[0], ==, 3);
        CHECK_U64(rs->r[4].n[1], ==, 2);
        unload(rs);

        /* An empty line as the very first record parses (43 bytes). */
        new_dir(dir, sizeof(dir), "empty-first");
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 0, "", 0), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        CHECK_INT(file_size(dir, "log"), ==, 44);
        rs = load(dir, "log");
        CHECK_INT(rs->n, ==, 1);
        CHECK_INT(rs->bad, ==, 0);
        unload(rs);

        /* Bad arguments. */
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 0), ==, -EINVAL);
        CHECK_INT(brm_logwriter_open(&w, dir, 100, 3), ==, -EINVAL);
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, BRM_LOG_MAX_FILES + 1), ==, -EINVAL);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 0, "x", 1), ==, -EBADF);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        printf("writer counters: ok\n");
}

static void check_contiguous(struct recs *const *files, int nfiles, uint64_t *ret_total)
{
        uint64_t prev[2] = { 0, 0 };
        bool first = true;
        size_t total = 0;

        for (int f = 0; f < nfiles; f++)
                for (size_t i = 0; i < files[f]->n; i++) {
                        const struct brm_logrec *r = &files[f]->r[i];
                        int s = r->stream, o = 1 - r->stream;
                        if (!first) {
                                if (r->n[s] != prev[s] + 1 || r->n[o] != prev[o])
                                        CHECK_FAIL_("counters jump: %llu %llu after %llu %llu (file %d record %zu)",
                                                    (unsigned long long)r->n[0], (unsigned long long)r->n[1],
                                                    (unsigned long long)prev[0], (unsigned long long)prev[1], f, i);
                        }
                        first = false;
                        prev[0] = r->n[0];
                        prev[1] = r->n[1];
                        total++;
                }
        *ret_total = total;
}

static void test_rotation(void)
{
        struct brm_logwriter w;
        struct recs *files[3];
        char dir[128], line[200];
        uint64_t total, n[2];

        new_dir(dir, sizeof(dir), "rotation");
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        for (int i = 1; i <= 1000; i++) {
                int len = snprintf(line, sizeof(line), "line %d %.*s", i, i % 90, "........................................"
                                                                                  "........................................"
                                                                                  "..........");
                CHECK_INT(brm_logwriter_add(&w, i % 7 == 0 ? BRM_LOG_STDERR : BRM_LOG_STDOUT, false, (int64_t)i * NS,
                                            line, (size_t)len),
                          ==, 0);
                /* Flushes of a few records and of many. */
                if (i % 3 == 0 || (i > 500 && i % 97 == 0))
                        CHECK_INT(brm_logwriter_flush(&w), ==, 0);
        }
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        CHECK(exists(dir, "log"));
        CHECK(exists(dir, "log.1"));
        CHECK(exists(dir, "log.2"));
        CHECK(!exists(dir, "log.3"));
        {
                DIR *d = opendir(dir);
                struct dirent *e;
                int count = 0;
                CHECK(d);
                while ((e = readdir(d)))
                        count += e->d_name[0] != '.';
                closedir(d);
                CHECK_INT(count, ==, 3);
        }
        CHECK_INT(file_size(dir, "log.2"), <=, 4096);
        CHECK_INT(file_size(dir, "log.1"), <=, 4096);
        CHECK_INT(file_size(dir, "log"), <=, 4096);
        /* A rotated file is full up to the last whole record. */
        CHECK_INT(file_size(dir, "log.1"), >, 4096 - 200);
        files[0] = load(dir, "log.2");
        files[1] = load(dir, "log.1");
        files[2] = load(dir, "log");
        for (int f = 0; f < 3; f++)
                CHECK_INT(files[f]->bad, ==, 0);
        check_contiguous(files, 3, &total);
        /* The newest record is the 1000th. */
        {
                const struct brm_logrec *last = &files[2]->r[files[2]->n - 1];
                CHECK_U64(last->n[0] + last->n[1], ==, 1000);
                CHECK_U64(last->n[1], ==, 1000 / 7);
                CHECK_INT(last->ts_ns, ==, 1000 * NS);
                CHECK_U64(total, <, 1000);
                CHECK_U64(total, >, 50);
        }
        for (int f = 0; f < 3; f++)
                unload(files[f]);
        CHECK_INT(brm_log_last_counters(dir, 3, n), ==, 0);
        CHECK_U64(n[0] + n[1], ==, 1000);

        /* After a rotation "log" is empty: the counters come from log.1. */
        {
                char path[300];
                snprintf(path, sizeof(path), "%s/log", dir);
                CHECK_INT(truncate(path, 0), ==, 0);
        }
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        CHECK_U64(w.n[0] + w.n[1], <, 1000);
        CHECK_U64(w.n[0] + w.n[1], >, 900);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);

        /* A single file: rotation starts it over. */
        new_dir(dir, sizeof(dir), "rotation1");
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 1), ==, 0);
        for (int i = 1; i <= 300; i++) {
                int len = snprintf(line, sizeof(line), "single %d", i);
                CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, (int64_t)i * NS, line, (size_t)len), ==, 0);
        }
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        CHECK(!exists(dir, "log.1"));
        CHECK_INT(file_size(dir, "log"), <=, 4096);
        files[0] = load(dir, "log");
        CHECK_INT(files[0]->bad, ==, 0);
        check_contiguous(files, 1, &total);
        CHECK_U64(files[0]->r[files[0]->n - 1].n[0], ==, 300);
        unload(files[0]);

        /* A record longer than max_size gets a file of its own. */
        new_dir(dir, sizeof(dir), "rotation-big");
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        {
                char *big = malloc(BRM_LOG_LINE_MAX);
                memset(big, 'b', BRM_LOG_LINE_MAX);
                CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 1, "small", 5), ==, 0);
                CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 2, big, BRM_LOG_LINE_MAX), ==, 0);
                CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 3, "after", 5), ==, 0);
                free(big);
        }
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        files[0] = load(dir, "log.2");
        files[1] = load(dir, "log.1");
        files[2] = load(dir, "log");
        CHECK_INT(files[0]->n, ==, 1);
        CHECK_INT(files[1]->n, ==, 1);
        CHECK_INT(files[1]->r[0].len, ==, BRM_LOG_LINE_MAX);
        CHECK_INT(files[2]->n, ==, 1);
        check_contiguous(files, 3, &total);
        CHECK_U64(total, ==, 3);
        for (int f = 0; f < 3; f++)
                unload(files[f]);
        printf("rotation: ok\n");
}

static void append(const char *dir, const char *file, const char *text, size_t len)
{
        char path[300];
        int fd;
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fd = open(path, O_WRONLY | O_APPEND);
        CHECK(fd >= 0);
        CHECK_INT(write(fd, text, len), ==, (long long)len);
        close(fd);
}

static void test_torn(void)
{
        struct brm_logwriter w;
        struct recs *rs;
        char dir[128];
        static const char torn[] = "2026-11-22T10:00:00.000000000Z stdout F 9";

        new_dir(dir, sizeof(dir), "torn");
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 1, "a", 1), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDERR, false, 2, "b", 1), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 3, "c", 1), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        /* A crash in the middle of the next record. */
        append(dir, "log", torn, sizeof(torn) - 1);
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        CHECK_U64(w.n[0], ==, 2);
        CHECK_U64(w.n[1], ==, 1);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 4, "d", 1), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        rs = load(dir, "log");
        CHECK(rs->text[rs->size - 1] == '\n');
        CHECK_INT(rs->bad, ==, 1);
        CHECK_INT(rs->n, ==, 4);
        CHECK_U64(rs->r[3].n[0], ==, 3);
        CHECK_U64(rs->r[3].n[1], ==, 1);
        CHECK(memcmp(rs->r[3].data, "d", 1) == 0);
        CHECK(strstr(rs->text, "stdout F 9\n1970-01-01T00:00:00.000000004Z stdout F 3 1 d\n"));
        unload(rs);

        /* Torn inside the data: the newline is added, the record then
         * parses with its counters intact. */
        {
                static const char half[] = "2026-11-22T10:00:00.000000000Z stderr F 3 2 half a li";
                append(dir, "log", half, sizeof(half) - 1);
        }
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        CHECK_U64(w.n[0], ==, 3);
        CHECK_U64(w.n[1], ==, 1); /* the torn one is not trusted */
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        rs = load(dir, "log");
        CHECK(rs->text[rs->size - 1] == '\n');
        unload(rs);

        /* Nothing but garbage in "log": counters from log.1. */
        new_dir(dir, sizeof(dir), "torn2");
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        for (int i = 0; i < 100; i++)
                CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDERR, false, i, "some stderr output", 18), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        CHECK(exists(dir, "log.1"));
        {
                char path[300];
                snprintf(path, sizeof(path), "%s/log", dir);
                CHECK_INT(truncate(path, 0), ==, 0);
        }
        append(dir, "log", "garbage", 7);
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        CHECK_U64(w.n[1], >, 0);
        CHECK_U64(w.n[1], <, 100);
        CHECK_INT(file_size(dir, "log"), ==, 8);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        printf("torn: ok\n");
}

/* A write that stops short (here a file size limit; a full disk in real
 * life) leaves no torn record, and the records lost show as a gap. */
static void test_short_write(void)
{
        struct brm_logwriter w;
        struct rlimit old, lim;
        struct recs *rs;
        char dir[128];
        off_t before;

        new_dir(dir, sizeof(dir), "short");
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 1, "first", 5), ==, 0);
        CHECK_INT(brm_logwriter_flush(&w), ==, 0);
        before = file_size(dir, "log");
        signal(SIGXFSZ, SIG_IGN);
        CHECK_INT(getrlimit(RLIMIT_FSIZE, &old), ==, 0);
        lim = old;
        lim.rlim_cur = (rlim_t)before + 70;
        CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 2, "second", 6), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDERR, false, 3, "third", 5), ==, 0);
        CHECK_INT(brm_logwriter_flush(&w), ==, -EFBIG);
        CHECK_INT(w.error, ==, -EFBIG);
        CHECK_INT(file_size(dir, "log"), ==, before);
        CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), ==, 0);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 4, "fourth", 6), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        rs = load(dir, "log");
        CHECK_INT(rs->bad, ==, 0);
        CHECK_INT(rs->n, ==, 3);
        /* The two dropped records are counted, and a marker on stderr
         * says so where they were. */
        CHECK_INT(rs->r[1].stream, ==, BRM_LOG_STDERR);
        CHECK_INT(memmem(rs->r[1].data, rs->r[1].len, "bramble: 2 lines of output dropped here: the log could not be written",
                         69) != NULL, ==, 1);
        CHECK_U64(rs->r[2].n[0], ==, 3);
        CHECK_U64(rs->r[2].n[1], ==, 2);
        unload(rs);
        signal(SIGXFSZ, SIG_DFL);
        printf("short write: ok\n");
}

/* The reserve: writes that would take it are dropped, counted and told;
 * a shortage that lasts frees the log's own oldest files first. */
static void test_reserve(void)
{
        struct brm_logwriter w;
        struct statvfs sv;
        struct recs *rs;
        char dir[128], line[100];
        uint64_t avail;

        new_dir(dir, sizeof(dir), "reserve");
        CHECK_INT(brm_logwriter_open(&w, dir, 4096, 3), ==, 0);
        CHECK_INT(statvfs(dir, &sv), ==, 0);
        avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        brm_logwriter_set_reserve(&w, 1);
        /* Three files' worth: log.2, log.1 and log exist. */
        for (int i = 0; i < 150; i++) {
                int len = snprintf(line, sizeof(line), "line %d of the first part", i);
                CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, (int64_t)i * NS, line, (size_t)len), ==, 0);
                CHECK_INT(brm_logwriter_flush(&w), ==, 0);
        }
        CHECK_INT(exists(dir, "log.2"), ==, 1);
        /* More than the file system has left is to be kept free. */
        brm_logwriter_set_reserve(&w, avail + (1ull << 40));
        for (int i = 0; i < 10; i++)
                CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 200 * NS, "dropped", 7), ==, 0);
        CHECK_INT(brm_logwriter_flush(&w), ==, -ENOSPC);
        CHECK_U64(w.dropped, ==, 10);
        /* Nothing of ours is deleted at once: others' older logs go first. */
        CHECK_INT(exists(dir, "log.2"), ==, 1);
        CHECK_INT(exists(dir, "log.1"), ==, 1);
        usleep(2100 * 1000);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 201 * NS, "dropped too", 11), ==, 0);
        CHECK_INT(brm_logwriter_flush(&w), ==, -ENOSPC);
        /* Everything it had is given back, and still no room: dropped. */
        CHECK_INT(exists(dir, "log.2"), ==, 0);
        CHECK_INT(exists(dir, "log.1"), ==, 0);
        CHECK_INT(file_size(dir, "log"), ==, 0);
        CHECK_U64(w.dropped, ==, 11);
        /* Room again: the marker comes first, then the line. */
        brm_logwriter_set_reserve(&w, 1);
        CHECK_INT(brm_logwriter_add(&w, BRM_LOG_STDOUT, false, 202 * NS, "back", 4), ==, 0);
        CHECK_INT(brm_logwriter_flush(&w), ==, 0);
        CHECK_U64(w.dropped, ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        rs = load(dir, "log");
        CHECK_INT(rs->bad, ==, 0);
        CHECK_INT(rs->n, ==, 2);
        CHECK_INT(rs->r[0].stream, ==, BRM_LOG_STDERR);
        snprintf(line, sizeof(line), "bramble: 11 lines of output dropped here: the disk is full");
        CHECK_INT(rs->r[0].len > strlen(line) && memcmp(rs->r[0].data, line, strlen(line)) == 0, ==, 1);
        CHECK_U64(rs->r[1].n[0], ==, 150 + 11 + 1);
        CHECK_INT(rs->r[1].len == 4 && memcmp(rs->r[1].data, "back", 4) == 0, ==, 1);
        unload(rs);
        rm_rf(dir);
        printf("reserve: ok\n");
}

/* ---- splitter ---- */

static struct brm_logsplit split_out, split_err;

static void test_split(void)
{
        struct brm_logwriter w;
        struct recs *rs;
        char dir[128], *big;
        size_t off;

        new_dir(dir, sizeof(dir), "split");
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        split_out.stream = BRM_LOG_STDOUT;
        split_err.stream = BRM_LOG_STDERR;
        /* Lines, in pieces that do not follow them. */
        CHECK_INT(brm_logsplit_feed(&split_out, &w, 10, "alpha\nbe", 8), ==, 0);
        CHECK_INT(brm_logsplit_feed(&split_err, &w, 11, "oops\n", 5), ==, 0);
        CHECK_INT(brm_logsplit_feed(&split_out, &w, 12, "ta\n\ngamma\n", 10), ==, 0);
        /* CR and NUL stay. */
        CHECK_INT(brm_logsplit_feed(&split_out, &w, 13, "cr\r\nn\0ul\n", 9), ==, 0);
        /* A 40,000-byte line: two pieces and the rest. */
        big = malloc(40001);
        CHECK(big);
        for (int i = 0; i < 40000; i++)
                big[i] = (char)('A' + i % 26);
        big[40000] = '\n';
        for (off = 0; off < 40001;) {
                size_t n = 40001 - off < 1000 ? 40001 - off : 1000;
                CHECK_INT(brm_logsplit_feed(&split_out, &w, 14, big + off, n), ==, 0);
                off += n;
        }
        /* The same line in one read. */
        CHECK_INT(brm_logsplit_feed(&split_out, &w, 15, big, 40001), ==, 0);
        /* A trailing partial waits for flush. */
        CHECK_INT(brm_logsplit_feed(&split_err, &w, 16, "no newline", 10), ==, 0);
        CHECK_INT(brm_logsplit_flush(&split_out, &w, 17), ==, 0); /* nothing held */
        CHECK_INT(brm_logwriter_flush(&w), ==, 0);
        rs = load(dir, "log");
        CHECK_INT(rs->n, ==, 13);
        CHECK_INT(brm_logsplit_flush(&split_err, &w, 17), ==, 0);
        CHECK_INT(brm_logsplit_flush(&split_err, &w, 18), ==, 0); /* once */
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        unload(rs);
        rs = load(dir, "log");
        CHECK_INT(rs->bad, ==, 0);
        CHECK_INT(rs->n, ==, 14);
        static const struct {
                int stream;
                bool partial;
                const char *data;
                size_t len;
                int64_t ts;
        } want[] = {
                { 0, false, "alpha", 5, 10 }, { 1, false, "oops", 4, 11 }, { 0, false, "beta", 4, 12 },
                { 0, false, "", 0, 12 },      { 0, false, "gamma", 5, 12 }, { 0, false, "cr\r", 3, 13 },
                { 0, false, "n\0ul", 4, 13 },
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                const struct brm_logrec *r = &rs->r[i];
                CHECK_INT(r->stream, ==, want[i].stream);
                CHECK_INT(r->partial, ==, want[i].partial);
                CHECK_INT(r->len, ==, want[i].len);
                CHECK(memcmp(r->data, want[i].data, want[i].len) == 0);
                CHECK_INT(r->ts_ns, ==, want[i].ts);
        }
        for (int k = 0; k < 2; k++) {
                const struct brm_logrec *p = &rs->r[7 + 3 * k];
                static const size_t lens[3] = { 16384, 16384, 7232 };
                off = 0;
                for (int j = 0; j < 3; j++) {
                        CHECK_INT(p[j].stream, ==, BRM_LOG_STDOUT);
                        CHECK_INT(p[j].partial, ==, j < 2);
                        CHECK_INT(p[j].len, ==, lens[j]);
                        CHECK(memcmp(p[j].data, big + off, p[j].len) == 0);
                        off += p[j].len;
                }
                CHECK_INT(off, ==, 40000);
        }
        CHECK_INT(rs->r[13].stream, ==, BRM_LOG_STDERR);
        CHECK(rs->r[13].partial);
        CHECK_INT(rs->r[13].len, ==, 10);
        CHECK(memcmp(rs->r[13].data, "no newline", 10) == 0);
        CHECK_INT(rs->r[13].ts_ns, ==, 17);
        CHECK_U64(rs->r[13].n[0], ==, 12);
        CHECK_U64(rs->r[13].n[1], ==, 2);
        unload(rs);

        /* Byte by byte gives the same records as all at once. */
        new_dir(dir, sizeof(dir), "split-bytes");
        CHECK_INT(brm_logwriter_open(&w, dir, 1 << 20, 3), ==, 0);
        memset(&split_out, 0, sizeof(split_out));
        for (off = 0; off < 40001; off++)
                CHECK_INT(brm_logsplit_feed(&split_out, &w, 1, big + off, 1), ==, 0);
        CHECK_INT(brm_logwriter_close(&w), ==, 0);
        rs = load(dir, "log");
        CHECK_INT(rs->n, ==, 3);
        CHECK_INT(rs->r[0].len + rs->r[1].len + rs->r[2].len, ==, 40000);
        CHECK(!rs->r[2].partial);
        unload(rs);
        free(big);
        printf("split: ok\n");
}

int main(void)
{
        snprintf(tmp, sizeof(tmp), "/tmp/brm-logrec.XXXXXX");
        CHECK(mkdtemp(tmp));
        test_timestamps();
        test_parse();
        test_writer_counters();
        test_rotation();
        test_torn();
        test_short_write();
        test_reserve();
        test_split();
        rm_rf(tmp);
        printf("logrec: passed\n");
        return 0;
}
