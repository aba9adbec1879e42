/* brm_loadgen: measuring and printing (see loadgen.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "loadgen.h"
#include "util.h"

void brm_lg_say(struct lg *lg, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fflush(stdout);
}

double brm_lg_secs(uint64_t ms)
{
        return (double)ms / 1000.0;
}

double brm_lg_cpu_s(const struct rusage *a, const struct rusage *b)
{
        double ua = (double)a->ru_utime.tv_sec + (double)a->ru_utime.tv_usec / 1e6;
        double sa = (double)a->ru_stime.tv_sec + (double)a->ru_stime.tv_usec / 1e6;
        double ub = (double)b->ru_utime.tv_sec + (double)b->ru_utime.tv_usec / 1e6;
        double sb = (double)b->ru_stime.tv_sec + (double)b->ru_stime.tv_usec / 1e6;
        return (ub + sb) - (ua + sa);
}

long brm_lg_self_kib(const char *field)
{
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long v = -1;
        size_t fl = strlen(field);

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
                        v = strtol(line + fl + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

double brm_lg_proc_cpu_s(int pid)
{
        char path[64], buf[1024], *p;
        unsigned long long ut = 0, st = 0;
        size_t len;
        FILE *f;

        if (pid <= 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if (!(f = fopen(path, "r")))
                return -1;
        len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = 0;
        /* The command name may hold spaces; the fields start after its ')'. */
        if (!(p = strrchr(buf, ')')))
                return -1;
        /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -1;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void brm_lg_reason_add(struct reasons *r, int code)
{
        for (int i = 0; i < MAX_REASONS; i++) {
                if (r->count[i] && r->code[i] == code) {
                        r->count[i]++;
                        return;
                }
                if (!r->count[i]) {
                        r->code[i] = code;
                        r->count[i] = 1;
                        return;
                }
        }
        r->other++;
}

void brm_lg_reason_print(const char *what, const struct reasons *r)
{
        bool any = false;

        for (int i = 0; i < MAX_REASONS && r->count[i]; i++) {
                printf("%s%s %u x %s (%d)", any ? "," : "  ", any ? "" : what, r->count[i], brm_strerror(r->code[i]),
                       r->code[i]);
                any = true;
        }
        if (r->other)
                printf(", %u other", r->other);
        if (any)
                printf("\n");
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

void brm_lg_lat_print(const char *what, uint32_t *v, unsigned n)
{
        if (!n)
                return;
        qsort(v, n, sizeof(*v), cmp_u32);
        printf("  %s latency per node: p50 %u ms, p90 %u ms, p99 %u ms, max %u ms\n", what, v[n / 2],
               v[(size_t)n * 90 / 100], v[(size_t)n * 99 / 100], v[n - 1]);
}

uint32_t brm_lg_rnd32(void)
{
        uint32_t r = 0;
        brm_random(&r, sizeof(r));
        return r;
}

void brm_lg_report(struct lg *lg)
{
        unsigned up = lg->up;
        double steady = lg->steady_start_ms ? brm_lg_secs(lg->steady_end_ms - lg->steady_start_ms) : 0;
        uint64_t hb_steady = lg->hb_sent - lg->hb_sent_steady_base;
        double cpu_steady = lg->steady_start_ms ? brm_lg_cpu_s(&lg->ru_steady, &lg->ru_end) : 0;
        unsigned errors = lg->join_errors + lg->conn_errors + lg->send_errors + lg->drops;

        if (lg->steady_start_ms) {
                brm_lg_say(lg, "steady: %.1f s with %u sessions up at the end, %llu heartbeats sent (%.0f/s), %u sessions dropped by "
                        "the master in the steady state (%u while others were still connecting), %u send errors\n",
                    steady, up, (unsigned long long)hb_steady, hb_steady / (steady + 1e-9), lg->drops_steady,
                    lg->drops - lg->drops_steady, lg->send_errors);
                brm_lg_reason_print("drops:", &lg->drop_why);
                if (lg->master_pid > 0 && lg->mcpu_end >= 0)
                        brm_lg_say(lg, "  master cpu in the steady state: %.1f %% of one core (%.1f us per heartbeat)\n",
                            100.0 * (lg->mcpu_end - lg->mcpu_steady) / (steady + 1e-9),
                            hb_steady ? 1e6 * (lg->mcpu_end - lg->mcpu_steady) / (double)hb_steady : 0.0);
        }
        brm_lg_ctr_report(lg);
        brm_lg_say(lg, "loadgen cpu: join %.2f s, connect %.2f s, steady %.2f s (%.1f %% of one core); VmRSS %ld KiB, VmHWM %ld KiB\n",
            brm_lg_cpu_s(&lg->ru_join, &lg->ru_conn), brm_lg_cpu_s(&lg->ru_conn, &lg->ru_steady), cpu_steady,
            steady ? 100.0 * cpu_steady / steady : 0.0, brm_lg_self_kib("VmRSS"), brm_lg_self_kib("VmHWM"));
        brm_lg_say(lg, "loadgen loop: longest stall (timers held up) %llu ms joining, %llu ms connecting, %llu ms steady\n",
            (unsigned long long)lg->max_lag_ms[0], (unsigned long long)lg->max_lag_ms[1],
            (unsigned long long)lg->max_lag_ms[2]);
        brm_lg_say(lg, "RESULT nodes=%u joined=%u join_s=%.3f join_errors=%u up=%u connect_s=%.3f connect_errors=%u "
                "hb_sent=%llu hb_steady=%llu steady_s=%.1f drops=%u send_errors=%u errors=%u loadgen_cpu_steady_pct=%.1f "
                "loadgen_cpu_join_s=%.2f loadgen_cpu_connect_s=%.2f loadgen_rss_kib=%ld master_cpu_join_s=%.2f "
                "master_cpu_connect_s=%.2f drops_steady=%u loadgen_stall_ms=%llu/%llu/%llu\n",
            lg->n, lg->joined, lg->join_last_ms ? brm_lg_secs(lg->join_last_ms - lg->join_first_ms) : -1.0, lg->join_errors, up,
            lg->conn_last_ms ? brm_lg_secs(lg->conn_last_ms - lg->conn_first_ms) : -1.0, lg->conn_errors,
            (unsigned long long)lg->hb_sent, (unsigned long long)hb_steady, steady, lg->drops, lg->send_errors, errors,
            steady ? 100.0 * cpu_steady / steady : 0.0, brm_lg_cpu_s(&lg->ru_join, &lg->ru_conn), brm_lg_cpu_s(&lg->ru_conn, &lg->ru_steady),
            brm_lg_self_kib("VmRSS"), lg->master_pid > 0 ? lg->mcpu_conn - lg->mcpu_join : -1.0,
            lg->master_pid > 0 ? lg->mcpu_steady - lg->mcpu_conn : -1.0, lg->drops_steady,
            (unsigned long long)lg->max_lag_ms[0], (unsigned long long)lg->max_lag_ms[1],
            (unsigned long long)lg->max_lag_ms[2]);
}

