/* Health checks and the on-disconnect stop against runc (see harness.c):
 *
 *   health_exec     a command check becomes healthy; a failing one makes
 *                   its container unhealthy, which restarts it (restart
 *                   always: the restart count grows, the reason names the
 *                   check's last failure) or leaves it exited (never);
 *                   after an agent restart the run is checked again and
 *                   keeps its since_ms; a pid file a killed runc left
 *                   does not fail later checks
 *   health_http     an HTTP check against brm_http_probe in the container:
 *                   200 is healthy, 500 makes it unhealthy; a TCP check on
 *                   the same server is healthy, one on a closed port is not
 *   health_timeout  a check that hangs (sleep 60) is killed at its timeout,
 *                   and nothing of it is left running
 *   stopafter       a container with disconnect_stop_ms stops when the
 *                   node has been without a master that long, starts again
 *                   when a session brings the desired state back, and one
 *                   without it keeps running; desired.json is untouched */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "fileio.h"
#include "supervise.h"

static struct brm_container_spec checked(const char *name, enum brm_restart restart, const char *script,
                                         uint32_t interval_ms, uint32_t retries)
{
        struct brm_container_spec s = sv_spec(name, sv_rootfs, restart, script);

        s.has_health = true;
        s.health.interval_ms = interval_ms;
        s.health.timeout_ms = 2000;
        s.health.retries = retries;
        return s;
}

/* What one command check costs: the runtime's exec as the agent runs it,
 * N times, its CPU time (user + system, the exec's and the command's) and
 * wall time per check. A figure, not an assertion. */
static void measure_exec(const char *name, int n)
{
        char cmd[600];
        struct rusage r0, r1;
        uint64_t t0 = brm_mono_ms();
        double cpu;

        snprintf(cmd, sizeof(cmd), "runc --root %s/runtime exec %s /bin/sh -c 'test -x /bin/sh && echo fine' >/dev/null",
                 sv_state, name);
        getrusage(RUSAGE_CHILDREN, &r0);
        for (int i = 0; i < n; i++)
                sv_sh(cmd);
        getrusage(RUSAGE_CHILDREN, &r1);
        cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000.0 +
              (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1000.0;
        printf("health_exec: one command check (runc exec + sh): %.1f ms CPU, %.1f ms wall (mean of %d)\n", cpu / n,
               (double)(brm_mono_ms() - t0) / n, n);
}

void scenario_health_exec(void)
{
        struct brm_container_spec s[3] = {
                checked("ok", BRM_RESTART_ALWAYS, "exec sleep 1000", 300, 2),
                checked("bad", BRM_RESTART_ALWAYS, "exec sleep 1000", 300, 2),
                checked("never", BRM_RESTART_NEVER, "exec sleep 1000", 300, 2),
        };
        struct sv_snap x;
        pid_t a;

        s[0].health.cmd = "test -x /bin/sh && echo fine";
        s[1].health.cmd = "echo checking; sleep 0.2; echo broken >&2; exit 3";
        s[2].health.cmd = "exit 1";
        a = sv_agent_start(s, 3);
        WAIT_FOR("ok", x, x.state == BRM_CS_RUNNING && !strcmp(x.health, "starting"), 20000, "running, starting");
        WAIT_FOR("ok", x, !strcmp(x.health, "healthy"), 10000, "healthy");
        CHECK_INT(x.health_failures, ==, 0);
        CHECK(x.since_ms > 1700000000000LL);
        CHECK(llabs(x.since_ms - brm_now_ms()) < 60000);
        measure_exec("ok", 10);
        WAIT_FOR("bad", x, x.restarts >= 1, 20000, "restarted for being unhealthy");
        CHECK_STR(x.health_log, "exit 3: broken");
        WAIT_FOR("bad", x, x.restarts >= 2 && x.state == BRM_CS_BACKOFF, 30000, "restarted again, in its backoff");
        if (!strstr(x.reason, "unhealthy: exit 3: broken"))
                CHECK_FAIL_("bad: reason '%s' (state %d)", x.reason, x.state);
        printf("health_exec: bad: restarts %u, reason '%s', health %s\n", x.restarts, x.reason, x.health);
        WAIT_FOR("never", x, x.state == BRM_CS_EXITED, 20000, "exited for being unhealthy (restart never)");
        CHECK_STR(x.reason, "unhealthy: exit 1");
        CHECK_STR(x.health, "unhealthy");
        CHECK_INT(x.restarts, ==, 0);
        /* What a runc exec killed between writing its pid file and the
         * rename leaves (runc creates it with O_EXCL): later checks must
         * not fail on it. Five checks run in the 1.5 s below. */
        {
                char stale[600];
                snprintf(stale, sizeof(stale), "%s/containers/ok/.health.pid", sv_state);
                CHECK_INT(brm_file_write_atomic(stale, "1", 1, 0644), ==, 0);
        }
        sv_sleep_ms(1500);
        CHECK(sv_get("never", &x) && x.state == BRM_CS_EXITED && x.restarts == 0);
        CHECK(sv_get("ok", &x) && !strcmp(x.health, "healthy") && x.restarts == 0 && x.health_failures == 0);
        CHECK(sv_agent_log_has("bad: unhealthy: exit 3: broken"));
        /* An agent restart: the run is re-adopted and checked again, and
         * since_ms is the one from before (state.json). */
        {
                struct sv_snap before;
                CHECK(sv_get("ok", &before));
                sv_agent_kill(a, SIGTERM);
                a = sv_agent_start(NULL, -1);
                WAIT_FOR("ok", x, x.state == BRM_CS_RUNNING && x.pid == before.pid, 10000, "re-adopted");
                CHECK(x.since_ms == before.since_ms);
                WAIT_FOR("ok", x, !strcmp(x.health, "healthy"), 10000, "healthy after the agent restart");
        }
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

void scenario_health_http(void)
{
        char cmd[600], status[300], port[8], closed[8];
        /* Ports of this run: tests of others may share the machine. */
        unsigned p = 20000 + (unsigned)getpid() % 20000;
        struct brm_container_spec s[3];
        struct sv_snap x;
        pid_t a;

        snprintf(cmd, sizeof(cmd), "cp %s/brm_http_probe %s/bin/", getenv("BRM_BIN"), sv_rootfs);
        sv_sh(cmd);
        snprintf(port, sizeof(port), "%u", p);
        snprintf(closed, sizeof(closed), "%u", p + 1);
        snprintf(status, sizeof(status), "%s/etc/status", sv_rootfs);
        s[0] = checked("web", BRM_RESTART_ALWAYS, NULL, 300, 2);
        s[0].args[0] = "/bin/brm_http_probe";
        s[0].args[1] = port;
        s[0].args[2] = "/etc/status"; /* /tmp is the container's own tmpfs */
        s[0].health.http_port = (uint16_t)p;
        strcpy(s[0].health.http_path, "/healthz");
        s[1] = checked("tcp", BRM_RESTART_ALWAYS, "exec sleep 1000", 300, 2);
        s[1].health.tcp_port = (uint16_t)p;
        s[2] = checked("tcpclosed", BRM_RESTART_NEVER, "exec sleep 1000", 300, 2);
        s[2].health.tcp_port = (uint16_t)(p + 1);
        a = sv_agent_start(s, 3);
        WAIT_FOR("web", x, !strcmp(x.health, "healthy"), 20000, "healthy (200)");
        WAIT_FOR("tcp", x, !strcmp(x.health, "healthy"), 20000, "healthy (TCP connect)");
        WAIT_FOR("tcpclosed", x, x.state == BRM_CS_EXITED, 20000, "unhealthy (nothing listens)");
        printf("health_http: tcpclosed: %s\n", x.reason);
        CHECK(strstr(x.reason, "unhealthy: tcp 127.0.0.1:") && strstr(x.reason, "connection refused"));
        CHECK(brm_file_write_atomic(status, "500\n", 4, 0644) == 0);
        WAIT_FOR("web", x, x.state == BRM_CS_BACKOFF, 20000, "unhealthy (500), waiting to restart");
        printf("health_http: web: %s\n", x.reason);
        CHECK_STR(x.reason, "unhealthy: GET /healthz: 500");
        CHECK_STR(x.health_log, "GET /healthz: 500");
        WAIT_FOR("web", x, x.restarts >= 1, 20000, "restarted");
        unlink(status);
        WAIT_FOR("web", x, x.state == BRM_CS_RUNNING && !strcmp(x.health, "healthy"), 20000, "healthy again");
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

/* Processes whose command line contains TEXT (other than this test's). */
static int count_procs(const char *text)
{
        char cmd[300], out[32] = "";
        FILE *f;

        snprintf(cmd, sizeof(cmd), "ps -eo args= | grep -F -- '%s' | grep -v grep | wc -l", text);
        if (!(f = popen(cmd, "r")))
                return -1;
        if (!fgets(out, sizeof(out), f))
                out[0] = '\0';
        pclose(f);
        return atoi(out);
}

void scenario_health_timeout(void)
{
        struct brm_container_spec s = checked("hang", BRM_RESTART_ALWAYS, "exec sleep 1000", 10000, 100);
        struct sv_snap x;
        uint64_t t0;
        pid_t a;
        int during = 0;

        s.health.cmd = "echo started; sleep 61; echo not reached"; /* sh forks sleep */
        s.health.timeout_ms = 1500;
        a = sv_agent_start(&s, 1);
        WAIT_FOR("hang", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "running");
        /* The check runs from 1 s after the start until its timeout. */
        t0 = brm_mono_ms();
        while (brm_mono_ms() - t0 < 2500 && !(sv_get("hang", &x) && x.health_log[0])) {
                if (count_procs("sleep 61") > during)
                        during = count_procs("sleep 61");
                sv_sleep_ms(50);
        }
        WAIT_FOR("hang", x, x.health_log[0], 5000, "the check timed out");
        CHECK_STR(x.health_log, "timed out after 1.5s");
        CHECK_STR(x.health, "starting");
        printf("health_timeout: seen while running: %d 'sleep 61'; after the timeout: %d 'sleep 61', %d runc exec\n",
               during, count_procs("sleep 61"), count_procs("exec --pid-file"));
        CHECK_INT(during, >=, 1);
        /* Nothing of the check is left: not the process inside the
         * container, not the runtime's exec. The next check is 10 s away. */
        sv_sleep_ms(300);
        CHECK_INT(count_procs("sleep 61"), ==, 0);
        CHECK_INT(count_procs("exec --pid-file"), ==, 0);
        CHECK(sv_get("hang", &x) && x.state == BRM_CS_RUNNING && x.restarts == 0);
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

void scenario_stopafter(void)
{
        struct brm_container_spec s[2] = {
                sv_spec("svc", sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
                sv_spec("keep", sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
        };
        char path[300];
        uint8_t *data;
        size_t len;
        struct sv_snap x, k;
        uint64_t t0;
        pid_t a;

        s[0].disconnect_stop_ms = 3000;
        /* Never a session since the start: counted from the start. */
        t0 = brm_mono_ms();
        a = sv_agent_start(s, 2);
        WAIT_FOR("svc", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "running");
        WAIT_FOR("svc", x, x.state == BRM_CS_STOPPED, 10000, "stopped without a master");
        printf("stopafter: stopped %llu ms after the agent started: %s\n", (unsigned long long)(brm_mono_ms() - t0),
               x.reason);
        CHECK_U64(brm_mono_ms() - t0, >=, 3000);
        CHECK_STR(x.reason, "stopped: no master for 3s (on-disconnect stop-after 3s)");
        CHECK(!sv_alive(x.pid) || x.pid == 0);
        CHECK(sv_get("keep", &k) && k.state == BRM_CS_RUNNING && k.pid > 0);
        /* The desired set on disk still has it. */
        snprintf(path, sizeof(path), "%s/containers/desired.json", sv_state);
        CHECK(brm_file_read(path, 1 << 20, &data, &len) == 0);
        CHECK(strstr((char *)data, "\"svc\"") && strstr((char *)data, "disconnect_stop_ms"));
        free(data);
        /* A session with the master, which lists it: it starts again. */
        kill(a, SIGUSR2);
        WAIT_FOR("svc", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "started again with a master");
        sv_sleep_ms(3500);
        CHECK(sv_get("svc", &x) && x.state == BRM_CS_RUNNING);
        /* The session ends: counted from its end. */
        kill(a, SIGUSR1);
        t0 = brm_mono_ms();
        WAIT_FOR("svc", x, x.state == BRM_CS_STOPPED, 10000, "stopped after the session ended");
        CHECK_U64(brm_mono_ms() - t0, >=, 2900);
        CHECK(sv_get("keep", &x) && x.state == BRM_CS_RUNNING && x.pid == k.pid);
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}
