/* What tests/bench/logwriter.c writes and tests/bench/logview.c reads: each
 * line starts with the writer's CLOCK_REALTIME in ns (TS_DIGITS digits), a
 * space and the line's sequence number (SEQ_DIGITS digits). Plus the two
 * helpers both programs need. Header-only: each program is one file. */
#ifndef BRM_BENCH_LOGLINE_H
#define BRM_BENCH_LOGLINE_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#define TS_DIGITS 19
#define SEQ_DIGITS 12

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static int64_t clock_ns(clockid_t id)
{
        struct timespec ts;
        clock_gettime(id, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
