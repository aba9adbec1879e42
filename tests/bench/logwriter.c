/* logwriter: the container side of tests/bench/logs_bench.sh. Built static
 * (gcc -O2 -static) and copied into the benchmark's busybox root file
 * system, because busybox has no clock with nanoseconds.
 *
 *   logwriter [-r LINES_PER_S] [-d SECONDS] [-s LINE_BYTES] [-b LINES_PER_WRITE]
 *
 * Writes lines of exactly LINE_BYTES bytes (default 100, newline included)
 * to stdout:
 *
 *   TTTTTTTTTTTTTTTTTTT SSSSSSSSSSSS ........................\n
 *
 * T is CLOCK_REALTIME in ns (19 digits) taken just before the write(2) that
 * carries the line, S the line's sequence number from 1 (12 digits), then
 * dots. Without -r (or -r 0) it writes as fast as the pipe takes it,
 * LINES_PER_WRITE lines per write (default 40: about the 4 KiB a C program's
 * stdio writes to a pipe at a time). With -r it keeps to that rate on
 * average: it sleeps until the next line is due and then writes every line
 * that is due (at most LINES_PER_WRITE per write), so at 100 lines/s each
 * line has its own write and its own timestamp. -d stops it after that many
 * seconds (default: run until SIGTERM/SIGINT).
 *
 * On the way out it prints one line on stderr (which the log keeps too):
 *
 *   logwriter: wrote N lines in T s: R lines/s (target X)
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logline.h"

#define HDR (TS_DIGITS + 1 + SEQ_DIGITS + 1)

static void put_digits(char *p, int n, uint64_t v)
{
        for (int i = n - 1; i >= 0; i--) {
                p[i] = (char)('0' + v % 10);
                v /= 10;
        }
}

static int write_all(const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(STDOUT_FILENO, p, n);
                if (w < 0) {
                        if (errno == EINTR) {
                                if (stop)
                                        return -1;
                                continue;
                        }
                        return -1;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static long parse_num(const char *s, const char *what)
{
        char *end;
        long v;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < 0) {
                fprintf(stderr, "logwriter: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv)
{
        long rate = 0, seconds = 0, size = 100, batch = 40;
        struct sigaction sa;
        uint64_t seq = 0;
        int64_t start, deadline, now;
        char *buf;
        int opt;

        while ((opt = getopt(argc, argv, "r:d:s:b:")) != -1) {
                switch (opt) {
                case 'r': rate = parse_num(optarg, "rate"); break;
                case 'd': seconds = parse_num(optarg, "duration"); break;
                case 's': size = parse_num(optarg, "line size"); break;
                case 'b': batch = parse_num(optarg, "lines per write"); break;
                default:
                        fprintf(stderr, "usage: logwriter [-r LINES_PER_S] [-d SECONDS] [-s LINE_BYTES] [-b LINES_PER_WRITE]\n");
                        return 2;
                }
        }
        if (size < HDR + 1 || size > 16384 || batch < 1 || batch > 100000) {
                fprintf(stderr, "logwriter: line size must be %d..16384 and lines per write 1..100000\n", HDR + 1);
                return 2;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        buf = malloc((size_t)(size * batch));
        if (!buf)
                return 1;
        for (long i = 0; i < batch; i++) {
                char *l = buf + i * size;
                memset(l, '.', (size_t)size);
                l[TS_DIGITS] = ' ';
                l[TS_DIGITS + 1 + SEQ_DIGITS] = ' ';
                l[size - 1] = '\n';
        }

        start = clock_ns(CLOCK_MONOTONIC);
        deadline = seconds ? start + (int64_t)seconds * 1000000000 : INT64_MAX;
        while (!stop) {
                long n = batch;
                now = clock_ns(CLOCK_MONOTONIC);
                if (now >= deadline)
                        break;
                if (rate > 0) {
                        /* Lines due by now: floor(elapsed * rate). */
                        uint64_t due = (uint64_t)((__int128)(now - start) * rate / 1000000000);
                        if (due <= seq) {
                                int64_t next = start + (int64_t)((__int128)(seq + 1) * 1000000000 / rate);
                                struct timespec ts;
                                if (next > deadline)
                                        next = deadline;
                                ts.tv_sec = next / 1000000000;
                                ts.tv_nsec = next % 1000000000;
                                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                                continue;
                        }
                        if (due - seq < (uint64_t)n)
                                n = (long)(due - seq);
                }
                {
                        uint64_t t = (uint64_t)clock_ns(CLOCK_REALTIME);
                        for (long i = 0; i < n; i++) {
                                char *l = buf + i * size;
                                put_digits(l, TS_DIGITS, t);
                                put_digits(l + TS_DIGITS + 1, SEQ_DIGITS, seq + 1 + (uint64_t)i);
                        }
                }
                if (write_all(buf, (size_t)(n * size)) < 0)
                        break;
                seq += (uint64_t)n;
        }
        now = clock_ns(CLOCK_MONOTONIC);
        {
                double secs = (double)(now - start) / 1e9;
                char msg[200], target[64];
                int len;
                if (rate)
                        snprintf(target, sizeof(target), "%ld lines/s", rate);
                else
                        snprintf(target, sizeof(target), "max, %ld lines per write", batch);
                len = snprintf(msg, sizeof(msg), "logwriter: wrote %llu lines in %.3f s: %.0f lines/s (target %s)\n",
                               (unsigned long long)seq, secs, secs > 0 ? (double)seq / secs : 0.0, target);
                if (len > 0)
                        (void)!write(STDERR_FILENO, msg, (size_t)len);
        }
        return 0;
}
