/* Benchmarks run by supervise: figures printed, nothing asserted on timings. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cgroup.h"
#include "check.h"
#include "fileio.h"
#include "log.h"
#include "logrec.h"
#include "supervisor.h"
#include "util.h"

#include "supervise.h"


/* ---- benchmarks (figures printed, nothing asserted on timings) ---- */

/* How many records a second the shim stores: a container writes 99-character
 * lines with `yes` as fast as it can for SECONDS, then stops. */
void bench_logs(int seconds)
{
        char script[400], dir[600];
        struct brm_container_spec s;
        struct sv_logfile lf;
        struct sv_snap x;
        uint64_t n[2];
        pid_t a;

        snprintf(script, sizeof(script), "yes %.99s & sleep %d; kill $!; wait",
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN",
                 seconds);
        s = sv_spec("yes", sv_rootfs, BRM_RESTART_NEVER, script);
        a = sv_agent_start(&s, 1);
        WAIT_FOR("yes", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, (uint64_t)(60000 + seconds * 1000),
                 "the writer to finish");
        snprintf(dir, sizeof(dir), "%s/logs/containers/yes", sv_state);
        CHECK_INT(brm_log_last_counters(dir, 3, n), ==, 0);
        /* The oldest record kept and the newest give the steady rate. */
        {
                static const char *const names[] = { "log.2", "log.1", "log" };
                int64_t t_first = 0, t_last = 0;
                uint64_t n_first = 0, n_last = 0, bytes = 0;
                for (int f = 0; f < 3; f++) {
                        char path[700];
                        struct stat st;
                        if (!sv_log_load(dir, names[f], &lf))
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", dir, names[f]);
                        if (stat(path, &st) == 0)
                                bytes += (uint64_t)st.st_size;
                        CHECK_INT(lf.bad, ==, 0);
                        if (lf.n && !t_first) {
                                t_first = lf.r[0].ts_ns;
                                n_first = lf.r[0].n[0];
                        }
                        if (lf.n) {
                                t_last = lf.r[lf.n - 1].ts_ns;
                                n_last = lf.r[lf.n - 1].n[0];
                                CHECK(lf.r[lf.n - 1].len == 99 || lf.r[lf.n - 1].partial);
                        }
                        sv_log_free(&lf);
                }
                printf("logs: %llu stdout records stored in ~%d s: %.0f records/s (%.1f MB/s of output); "
                       "kept on disk %llu records in %.1f MiB (newest %.3f s): %.0f records/s\n",
                       (unsigned long long)n[0], seconds, (double)n[0] / seconds, (double)n[0] * 100 / seconds / 1e6,
                       (unsigned long long)(n_last - n_first + 1), (double)bytes / (1 << 20),
                       (double)(t_last - t_first) / 1e9,
                       t_last > t_first ? (double)(n_last - n_first) / ((double)(t_last - t_first) / 1e9) : 0.0);
        }
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

static bool exec_done(int pid)
{
        char path[64], target[256];
        ssize_t n;
        snprintf(path, sizeof(path), "/proc/%d/exe", pid);
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
                return false;
        target[n] = '\0';
        return strstr(target, "busybox") != NULL;
}

struct bench {
        uv_loop_t loop;
        struct brm_supervisor *sup;
        uv_timer_t poll;
        uint64_t t0_us;
        double ms;
        char name[64];
};

static uint64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Polls status every 0.2 ms until the container's process has exec'd. */
static void bench_poll(uv_timer_t *t)
{
        struct bench *b = t->data;
        struct brm_container_status *st;
        size_t n;

        if (brm_supervisor_status(b->sup, &st, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (strcmp(st[i].name, b->name) == 0 && st[i].pid > 0 && exec_done(st[i].pid)) {
                        b->ms = (double)(now_us() - b->t0_us) / 1000.0;
                        uv_timer_stop(t);
                }
        free(st);
}

static int cmp_dbl(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double runc_run(const char *bundle, const char *id)
{
        char pidfile[1300], cmd[900];
        uint64_t t0 = now_us();
        pid_t p = fork(), cpid = 0;
        int st;

        snprintf(pidfile, sizeof(pidfile), "%s/pid", bundle);
        if (p == 0) {
                int fd = open("/dev/null", O_RDWR);
                dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
                snprintf(cmd, sizeof(cmd), "%s/bench-runc", sv_work);
                execlp("runc", "runc", "--root", cmd, "run", "--detach", "--bundle", bundle, "--pid-file", pidfile, id,
                       (char *)NULL);
                _exit(127);
        }
        waitpid(p, &st, 0);
        for (;;) {
                FILE *f = fopen(pidfile, "r");
                if (f) {
                        if (fscanf(f, "%d", &cpid) != 1)
                                cpid = 0;
                        fclose(f);
                }
                if (cpid > 0 && exec_done(cpid))
                        break;
                if (now_us() - t0 > 10000000)
                        CHECK_FAIL_("runc run of %s did not start", id);
        }
        return (double)(now_us() - t0) / 1000.0;
}

/* Apply -> the container's process running, beside "runc run --detach" of
 * the same bundle (what the shim runs) in the same run. */
void bench_start(int rounds)
{
        struct brm_supervisor_opts o = { .state_dir = sv_state, .shim = sv_shim, .stop_grace_ms = 200 };
        struct brm_container_spec s = sv_spec("b", sv_rootfs, BRM_RESTART_NEVER, NULL);
        double agent[64], rt[64], applied[64], shimmed[64];
        char cmd[1200];

        s.args[0] = "/bin/sleep";
        s.args[1] = "1000";
        if (rounds > 64)
                rounds = 64;
        for (int i = 0; i < rounds; i++) {
                struct bench b;
                /* Alternate which goes first, so neither always meets a
                 * cold machine after the idle pause between rounds. */
                if (i % 2) {
                        snprintf(cmd, sizeof(cmd), "sed 's#/bramble/b0\"#/bramble/rb%d\"#' %s/tmpl.json > %s/rb/config.json",
                                 i, sv_work, sv_work);
                        sv_sh(cmd);
                        snprintf(cmd, sizeof(cmd), "%s/rb", sv_work);
                        snprintf(b.name, sizeof(b.name), "rb%d", i);
                        rt[i] = runc_run(cmd, b.name);
                        snprintf(cmd, sizeof(cmd), "runc --root %s/bench-runc delete --force rb%d", sv_work, i);
                        sv_sh(cmd);
                }
                memset(&b, 0, sizeof(b));
                uv_loop_init(&b.loop);
                CHECK_INT(brm_supervisor_open(&b.loop, &o, &b.sup), ==, 0);
                snprintf(s.name, sizeof(s.name), "b%d", i);
                snprintf(b.name, sizeof(b.name), "b%d", i);
                uv_timer_init(&b.loop, &b.poll);
                b.poll.data = &b;
                struct timespec wall0;
                clock_gettime(CLOCK_REALTIME, &wall0);
                b.t0_us = now_us();
                CHECK_INT(brm_supervisor_apply(b.sup, &s, 1), ==, 0);
                applied[i] = (double)(now_us() - b.t0_us) / 1000.0;
                uv_timer_start(&b.poll, bench_poll, 0, 1);
                while (b.ms == 0)
                        uv_run(&b.loop, UV_RUN_ONCE);
                agent[i] = b.ms;
                {
                        /* The shim writes shim.pid first thing: apply -> shim
                         * running is the agent's own share (plus one exec). */
                        struct stat st;
                        snprintf(cmd, sizeof(cmd), "%s/containers/b%d/shim.pid", sv_state, i);
                        CHECK_INT(stat(cmd, &st), ==, 0);
                        shimmed[i] = (double)(st.st_mtim.tv_sec - wall0.tv_sec) * 1000.0 +
                                     (double)(st.st_mtim.tv_nsec - wall0.tv_nsec) / 1e6;
                }
                /* The same bundle, straight to runc. */
                if (i == 0) {
                        snprintf(cmd, sizeof(cmd), "mkdir -p %s/rb && cp %s/containers/b0/config.json %s/tmpl.json", sv_work,
                                 sv_state, sv_work);
                        sv_sh(cmd);
                }
                if (i % 2 == 0) {
                        snprintf(cmd, sizeof(cmd), "sed 's#/bramble/b0\"#/bramble/rb%d\"#' %s/tmpl.json > %s/rb/config.json",
                                 i, sv_work, sv_work);
                        sv_sh(cmd);
                        snprintf(cmd, sizeof(cmd), "%s/rb", sv_work);
                        snprintf(b.name, sizeof(b.name), "rb%d", i);
                        rt[i] = runc_run(cmd, b.name);
                        snprintf(cmd, sizeof(cmd), "runc --root %s/bench-runc delete --force rb%d", sv_work, i);
                        sv_sh(cmd);
                }
                CHECK_INT(brm_supervisor_apply(b.sup, NULL, 0), ==, 0);
                uv_close((uv_handle_t *)&b.poll, NULL);
                for (uint64_t t0 = brm_mono_ms(); brm_mono_ms() - t0 < 3000;)
                        uv_run(&b.loop, UV_RUN_NOWAIT), sv_sleep_ms(5);
                brm_supervisor_close(b.sup, NULL, NULL);
                uv_run(&b.loop, UV_RUN_DEFAULT);
                uv_loop_close(&b.loop);
        }
        qsort(agent, (size_t)rounds, sizeof(double), cmp_dbl);
        qsort(applied, (size_t)rounds, sizeof(double), cmp_dbl);
        qsort(shimmed, (size_t)rounds, sizeof(double), cmp_dbl);
        printf("start: brm_supervisor_apply itself (the fsynced desired.json): median %.2f ms\n", applied[rounds / 2]);
        qsort(rt, (size_t)rounds, sizeof(double), cmp_dbl);
        printf("start: %d rounds: apply -> process running: median %.2f ms (min %.2f, max %.2f)\n", rounds,
               agent[rounds / 2], agent[0], agent[rounds - 1]);
        printf("start: runc run --detach of the same bundle: median %.2f ms (min %.2f, max %.2f)\n", rt[rounds / 2],
               rt[0], rt[rounds - 1]);
        printf("start: agent overhead (median difference): %.2f ms (target < 5 ms)\n", agent[rounds / 2] - rt[rounds / 2]);
        printf("start: apply -> shim running (the agent's own path, incl. the desired.json fsync): median %.2f ms "
               "(min %.2f, max %.2f)\n",
               shimmed[rounds / 2], shimmed[0], shimmed[rounds - 1]);
        if (!getenv("BRM_KEEP")) {
                snprintf(cmd, sizeof(cmd), "rm -rf %s", sv_work);
                sv_sh(cmd);
        }
}

static long status_kib(int pid, const char *file, const char *key)
{
        char path[64], line[256];
        long v = -1;
        FILE *f;
        snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
        if (!(f = fopen(path, "r")))
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0)
                        v = atol(line + strlen(key));
        fclose(f);
        return v;
}

/* Agent memory with N containers supervised, and what each shim costs. */
void bench_memory(int n)
{
        struct brm_container_spec s[64];
        long rss0, rss1, pss0, pss1;
        struct sv_snap x;
        pid_t a;

        if (n > 64)
                n = 64;
        memset(s, 0, sizeof(s));
        for (int i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof(name), "m%d", i);
                s[i] = sv_spec(name, sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000");
        }
        a = sv_agent_start(s, 0);
        sv_sleep_ms(1500);
        rss0 = status_kib(a, "status", "VmRSS:");
        pss0 = status_kib(a, "smaps_rollup", "Pss:");
        sv_agent_kill(a, SIGKILL);
        a = sv_agent_start(s, n);
        for (int i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof(name), "m%d", i);
                WAIT_FOR(name, x, x.state == BRM_CS_RUNNING && x.pid > 0, 60000, "running");
        }
        sv_sleep_ms(1500);
        rss1 = status_kib(a, "status", "VmRSS:");
        pss1 = status_kib(a, "smaps_rollup", "Pss:");
        printf("memory: agent (test driver loop) VmRSS %ld KiB with 0 containers, %ld KiB with %d: %.1f KiB per "
               "container (target < 64)\n",
               rss0, rss1, n, (double)(rss1 - rss0) / n);
        printf("memory: agent Pss %ld KiB -> %ld KiB: %.1f KiB per container\n", pss0, pss1, (double)(pss1 - pss0) / n);
        {
                /* The shims: every bramble-shim process whose parent is gone
                 * or is the agent. */
                DIR *d = opendir("/proc");
                struct dirent *e;
                long rss = 0, pss = 0, priv = 0;
                int count = 0;
                while (d && (e = readdir(d))) {
                        char path[300], comm[64] = "";
                        int pid = atoi(e->d_name);
                        FILE *f;
                        if (pid <= 0)
                                continue;
                        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
                        if (!(f = fopen(path, "r")))
                                continue;
                        if (fgets(comm, sizeof(comm), f))
                                comm[strcspn(comm, "\n")] = '\0';
                        fclose(f);
                        if (strcmp(comm, "bramble-shim") != 0)
                                continue;
                        snprintf(path, sizeof(path), "%s/containers", sv_state);
                        count++;
                        rss += status_kib(pid, "status", "VmRSS:");
                        pss += status_kib(pid, "smaps_rollup", "Pss:");
                        priv += status_kib(pid, "smaps_rollup", "Private_Dirty:");
                }
                if (d)
                        closedir(d);
                if (count)
                        printf("memory: %d shims: VmRSS %.0f KiB, Pss %.0f KiB, Private_Dirty %.0f KiB each (mean)\n",
                               count, (double)rss / count, (double)pss / count, (double)priv / count);
        }
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

