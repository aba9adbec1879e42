/* logview: the viewer side of tests/bench/logs_bench.sh. It reads what
 * 'bramble logs -f ... 2>&1' prints for a container that runs logwriter
 * (tests/bench/logwriter.c) and counts it, in big reads, so that it is not
 * the slow part of the pipeline.
 *
 *   logview [-l] [-t] [-n MAX_LINES] STATUS_FILE
 *
 * Input lines are of three kinds:
 *   - logwriter's lines: "TTTTTTTTTTTTTTTTTTT SSSSSSSSSSSS ...", T the
 *     writer's CLOCK_REALTIME in ns, S its sequence number;
 *   - bramble's markers: "bramble: ... N lines skipped: this viewer fell
 *     behind" (bramble writes them on stderr, in order with the lines);
 *   - anything else (an error from bramble, a line that does not parse),
 *     copied to logview's stderr (the first 20).
 *
 * Every 100 ms it appends one status line to STATUS_FILE:
 *
 *   status MONO_NS LINES BYTES SKIPPED MARKERS MISMATCHES FIRST_SEQ LAST_SEQ OTHER
 *
 * LINES counts the writer's lines received, SKIPPED the sum of the markers'
 * counts. A MISMATCH is a jump in the sequence numbers that differs from
 * the marker(s) in front of it (or a sequence number going back), so with
 * no mismatch LINES + SKIPPED == LAST_SEQ - FIRST_SEQ + 1 exactly.
 *
 * -t: the lines carry bramble's timestamps (bramble logs -t: when the shim
 * read them); they are passed over, and shown in the messages about gaps.
 *
 * -l also takes, for every line, CLOCK_REALTIME when it was read minus T.
 * At the end (end of input, MAX_LINES lines received, or SIGTERM/SIGINT) it
 * appends "status ... end" and prints one summary line on stdout:
 *
 *   lines=N skipped=N markers=N mismatches=N first=S last=S other=N
 *       [lat_n=N p50_ms=X p90_ms=X p99_ms=X max_ms=X min_ms=X]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logline.h"

#define BUF (1024 * 1024)
#define STATUS_MS 100

static struct {
        uint64_t lines, bytes, skipped, markers, mismatches, first, last, other, pending;
        bool have_last;
} st;

static int64_t *lat;
static size_t lat_n, lat_cap;
static bool want_lat;
static int status_fd = -1;

static bool digits(const char *p, int n, uint64_t *v)
{
        uint64_t x = 0;
        for (int i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return false;
                x = x * 10 + (uint64_t)(p[i] - '0');
        }
        *v = x;
        return true;
}

static void write_status(const char *tail)
{
        char line[400];
        int n = snprintf(line, sizeof(line),
                         "status %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "%s\n",
                         clock_ns(CLOCK_MONOTONIC), st.lines, st.bytes, st.skipped, st.markers, st.mismatches, st.first,
                         st.last, st.other, tail);
        if (n > 0)
                (void)!write(status_fd, line, (size_t)n);
}

static void other_line(const char *p, size_t len)
{
        st.other++;
        if (st.other <= 20)
                fprintf(stderr, "logview: other line: %.*s\n", (int)(len > 300 ? 300 : len), p);
}

static bool stamped; /* -t: lines start with bramble's 30-character timestamp and a space */
static char last_prefix[32];

static void one_line(const char *p, size_t len, int64_t now_rt)
{
        uint64_t ts, seq;
        char prefix[32] = "";

        if (stamped && len > 31 && p[30] == ' ' && p[10] == 'T') {
                memcpy(prefix, p, 30);
                prefix[30] = '\0';
                p += 31;
                len -= 31;
        }

        if (len > TS_DIGITS + 1 + SEQ_DIGITS && p[TS_DIGITS] == ' ' && p[TS_DIGITS + 1 + SEQ_DIGITS] == ' ' &&
            digits(p, TS_DIGITS, &ts) && digits(p + TS_DIGITS + 1, SEQ_DIGITS, &seq)) {
                st.lines++;
                st.bytes += len + 1;
                if (!st.have_last) {
                        st.first = seq;
                        st.have_last = true;
                } else if (seq != st.last + 1 + st.pending) {
                        st.mismatches++;
                        if (st.mismatches <= 20)
                                fprintf(stderr, "logview: after line %" PRIu64 "%s%s came %" PRIu64 "%s%s (gap %" PRId64 "), markers said %" PRIu64
                                                " (at monotonic %.6f s)\n",
                                        st.last, *last_prefix ? " stored " : "", last_prefix, seq, *prefix ? " stored " : "", prefix,
                                        (int64_t)(seq - st.last - 1), st.pending, (double)clock_ns(CLOCK_MONOTONIC) / 1e9);
                }
                memcpy(last_prefix, prefix, sizeof(prefix));
                st.pending = 0;
                st.last = seq;
                if (want_lat) {
                        if (lat_n == lat_cap) {
                                lat_cap = lat_cap ? lat_cap * 2 : 65536;
                                lat = realloc(lat, lat_cap * sizeof(*lat));
                                if (!lat) {
                                        perror("logview");
                                        exit(1);
                                }
                        }
                        lat[lat_n++] = now_rt - (int64_t)ts;
                }
                return;
        }
        {
                /* "bramble: … N lines skipped: ..." */
                const char *m = memmem(p, len, " lines skipped", 14);
                if (!m)
                        m = memmem(p, len, " line skipped", 13);
                if (m && len > 8 && memcmp(p, "bramble:", 8) == 0) {
                        const char *d = m;
                        uint64_t v = 0, mul = 1;
                        while (d > p && d[-1] >= '0' && d[-1] <= '9') {
                                d--;
                                v += (uint64_t)(*d - '0') * mul;
                                mul *= 10;
                        }
                        if (d < m) {
                                st.skipped += v;
                                st.pending += v;
                                st.markers++;
                                return;
                        }
                }
        }
        other_line(p, len);
}

static int cmp64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
        /* nearest rank */
        size_t k = (size_t)(p / 100.0 * (double)lat_n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > lat_n)
                k = lat_n;
        return (double)lat[k - 1] / 1e6;
}

int main(int argc, char **argv)
{
        uint64_t max_lines = 0;
        struct sigaction sa;
        static char buf[BUF];
        size_t have = 0;
        int64_t next_status;
        int opt;

        while ((opt = getopt(argc, argv, "ln:t")) != -1) {
                switch (opt) {
                case 'l': want_lat = true; break;
                case 't': stamped = true; break;
                case 'n': max_lines = strtoull(optarg, NULL, 10); break;
                default:
                        fprintf(stderr, "usage: logview [-l] [-t] [-n MAX_LINES] STATUS_FILE\n");
                        return 2;
                }
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "usage: logview [-l] [-n MAX_LINES] STATUS_FILE\n");
                return 2;
        }
        status_fd = open(argv[optind], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (status_fd < 0) {
                perror(argv[optind]);
                return 1;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal; /* no SA_RESTART: poll/read return EINTR */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        write_status("");
        next_status = clock_ns(CLOCK_MONOTONIC) + STATUS_MS * 1000000LL;
        while (!stop && !(max_lines && st.lines >= max_lines)) {
                struct pollfd pf = { .fd = STDIN_FILENO, .events = POLLIN };
                int64_t now = clock_ns(CLOCK_MONOTONIC);
                int timeout = (int)((next_status - now) / 1000000);
                ssize_t got;

                if (now >= next_status) {
                        write_status("");
                        next_status = now + STATUS_MS * 1000000LL;
                        continue;
                }
                if (poll(&pf, 1, timeout < 1 ? 1 : timeout) <= 0)
                        continue;
                got = read(STDIN_FILENO, buf + have, sizeof(buf) - have);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        break;
                {
                        int64_t now_rt = clock_ns(CLOCK_REALTIME);
                        char *p = buf, *end = buf + have + got, *nl;
                        while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
                                one_line(p, (size_t)(nl - p), now_rt);
                                p = nl + 1;
                                if (max_lines && st.lines >= max_lines)
                                        break;
                        }
                        have = (size_t)(end - p);
                        memmove(buf, p, have);
                        if (have == sizeof(buf)) {
                                other_line(buf, have);
                                have = 0;
                        }
                }
        }
        write_status(" end");
        printf("lines=%" PRIu64 " skipped=%" PRIu64 " markers=%" PRIu64 " mismatches=%" PRIu64 " first=%" PRIu64
               " last=%" PRIu64 " other=%" PRIu64,
               st.lines, st.skipped, st.markers, st.mismatches, st.first, st.last, st.other);
        if (want_lat && lat_n) {
                qsort(lat, lat_n, sizeof(*lat), cmp64);
                printf(" lat_n=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f min_ms=%.3f", lat_n, pct_ms(50), pct_ms(90),
                       pct_ms(99), (double)lat[lat_n - 1] / 1e6, (double)lat[0] / 1e6);
        }
        printf("\n");
        return 0;
}
