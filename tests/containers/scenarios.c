/* The container scenarios run by supervise (see supervise.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "cgroup.h"
#include "check.h"
#include "fileio.h"
#include "log.h"
#include "logrec.h"
#include "supervisor.h"
#include "util.h"

#include "supervise.h"


/* ---- scenarios ---- */

/* Allocating past a 32 MiB limit: OOM-killed, reported as such, restarted
 * with backoff (1 s, then 2 s). */
void scenario_oom(void)
{
        struct brm_container_spec s = sv_spec("hog", sv_rootfs, BRM_RESTART_ALWAYS, NULL);
        struct sv_snap x;
        uint64_t t1, t2;
        pid_t a;

        s.args[0] = "/bin/dd";
        s.args[1] = "if=/dev/zero";
        s.args[2] = "of=/dev/null";
        s.args[3] = "bs=64M";
        s.args[4] = "count=1";
        s.memory_max = 32u << 20;
        a = sv_agent_start(&s, 1);
        WAIT_FOR("hog", x, x.oom_kills >= 1 && x.has_exit, 20000, "an OOM kill");
        CHECK_STR(x.reason, "OOMKilled");
        CHECK_INT(x.exit_code, ==, 137);
        WAIT_FOR("hog", x, x.restarts >= 1, 10000, "the first restart");
        t1 = brm_mono_ms();
        WAIT_FOR("hog", x, x.restarts >= 2, 15000, "the second restart");
        t2 = brm_mono_ms();
        CHECK_INT(x.oom_kills, >=, 2);
        /* The second delay is 2 s (the first was 1 s): the gap between the
         * restarts is that plus the short run. */
        CHECK_INT(t2 - t1, >=, 1800);
        printf("oom: oom_kills %u restarts %u, restart gap %llu ms, reason %s\n", x.oom_kills, x.restarts,
               (unsigned long long)(t2 - t1), x.reason);
        sv_check_no_zombies(a);
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

/* A fork bomb under --pids 32 stays at 32. The container's own process
 * starts the bomb and then becomes sleep with exec: a shell that forked
 * "sleep" after the bomb would find no pid left and exit 2, as it did when
 * the bomb won the race on a busy machine. */
void scenario_pids(void)
{
        struct brm_container_spec s = sv_spec("bomb", sv_rootfs, BRM_RESTART_NEVER, "b() { b | b & }; b & exec sleep 1000");
        char path[700];
        unsigned long long max = 0;
        struct sv_snap x;
        pid_t a;

        s.pids_max = 32;
        a = sv_agent_start(&s, 1);
        WAIT_FOR("bomb", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "running");
        sv_cgroup_file("bomb", "pids", "pids.current", path, sizeof(path));
        for (int i = 0; i < 30; i++) {
                unsigned long long v = sv_read_ull(path);
                if (v > max)
                        max = v;
                sv_sleep_ms(100);
        }
        printf("pids: peak pids.current %llu under pids.max 32\n", max);
        CHECK_U64(max, <=, 32);
        CHECK_U64(max, >=, 16);
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

/* --cpus 0.2 on a busy loop measures near 20 % of a core. */
void scenario_cpu(void)
{
        struct brm_container_spec s = sv_spec("spin", sv_rootfs, BRM_RESTART_NEVER, "while :; do :; done");
        char path[700];
        unsigned long long u0, u1;
        uint64_t t0, t1;
        struct sv_snap x;
        double pct;
        pid_t a;

        s.cpu_millis = 200;
        a = sv_agent_start(&s, 1);
        WAIT_FOR("spin", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "running");
        sv_sleep_ms(1000);
        sv_cgroup_file("spin", "cpuacct", "cpuacct.usage", path, sizeof(path));
        u0 = sv_read_ull(path);
        t0 = brm_mono_ms();
        sv_sleep_ms(4000);
        u1 = sv_read_ull(path);
        t1 = brm_mono_ms();
        pct = (double)(u1 - u0) / 1e6 / (double)(t1 - t0) * 100.0;
        WAIT_FOR("spin", x, x.has_cpu, 5000, "a cpu figure");
        printf("cpu: %.1f %% of a core from the cgroup; the supervisor reports %.1f %%\n", pct, x.cpu);
        /* The quota is a ceiling: the container never gets more than 20 %
         * (plus measuring slack). It may get less when the machine is
         * busy (both cores taken by other work, as in a parallel test run),
         * so the floor only proves the limit is not far too strict (a unit
         * error would give 2 % or 0.2 %). */
        CHECK(pct <= 25.0);
        CHECK(pct >= 8.0);
        /* The cumulative figure heartbeats carry (cpu_usage_usec) is the
         * cgroup's own counter, in microseconds (cpuacct.usage is in
         * nanoseconds, cpu.stat usage_usec in microseconds). */
        WAIT_FOR("spin", x, x.has_cpu_usage && x.cpu_usage_usec >= u1 / 1000, 5000, "a cumulative cpu figure");
        u1 = sv_read_ull(path);
        printf("cpu: %llu us used; the supervisor reports %llu us\n", u1 / 1000, x.cpu_usage_usec);
        CHECK_U64(x.cpu_usage_usec, <=, u1 / 1000);
        CHECK_U64(x.cpu_usage_usec, >=, (u1 - u0) / 1000);
        CHECK(x.cpu <= 27.0);
        CHECK(x.cpu >= 4.0);
        CHECK(x.has_mem && x.mem > 0);
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

/* kill -9 of the agent: containers keep running with the same pid, are
 * re-adopted with their counters, and an exit during the agent's absence is
 * reported afterwards. */
void scenario_readopt(void)
{
        struct brm_container_spec s[3] = {
                sv_spec("sleeper", sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
                sv_spec("quitter", sv_rootfs, BRM_RESTART_NEVER, "sleep 3; exit 7"),
                sv_spec("flappy", sv_rootfs, BRM_RESTART_ON_FAILURE, "sleep 0.2; exit 1"),
        };
        struct sv_snap sl, q, fl, sl2;
        pid_t a;

        a = sv_agent_start(s, 3);
        WAIT_FOR("sleeper", sl, sl.state == BRM_CS_RUNNING && sl.pid > 0, 20000, "running");
        WAIT_FOR("quitter", q, q.state == BRM_CS_RUNNING && q.pid > 0, 20000, "running");
        WAIT_FOR("flappy", fl, fl.restarts >= 1, 20000, "a restart");
        sv_agent_kill(a, SIGKILL);
        printf("readopt: agent killed; sleeper pid %d, quitter pid %d, flappy restarts %u\n", sl.pid, q.pid,
               fl.restarts);
        /* The quitter exits (code 7) while no agent runs. */
        sv_sleep_ms(4000);
        CHECK(sv_alive(sl.pid));
        CHECK(!sv_alive(q.pid));
        a = sv_agent_start(NULL, -1);
        WAIT_FOR("sleeper", sl2, sl2.state == BRM_CS_RUNNING && sl2.pid > 0, 10000, "re-adopted");
        CHECK_INT(sl2.pid, ==, sl.pid);
        CHECK_INT(sl2.restarts, ==, 0);
        WAIT_FOR("quitter", q, q.state == BRM_CS_EXITED, 10000, "the exit reported");
        CHECK_INT(q.has_exit, ==, 1);
        CHECK_INT(q.exit_code, ==, 7);
        CHECK_STR(q.reason, "Error: exit code 7");
        printf("readopt: after restart sleeper pid %d, quitter exit %d (%s)\n", sl2.pid, q.exit_code, q.reason);
        sv_check_no_zombies(a);
        sv_agent_kill(a, SIGKILL);
        /* Counters survive too: flappy's restarts never go backwards. */
        a = sv_agent_start(NULL, -1);
        {
                struct sv_snap f2;
                WAIT_FOR("flappy", f2, f2.restarts >= fl.restarts, 10000, "counters kept");
                printf("readopt: flappy restarts %u before the kill, %u after\n", fl.restarts, f2.restarts);
        }
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

/* The desired state survives an agent restart (clean stop, no apply), and a
 * container dropped from it is stopped and removed. */
void scenario_desired(void)
{
        struct brm_container_spec s[2] = {
                sv_spec("keep", sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
                sv_spec("drop", sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
        };
        struct sv_snap k, d, k2;
        pid_t a;

        a = sv_agent_start(s, 2);
        WAIT_FOR("keep", k, k.state == BRM_CS_RUNNING && k.pid > 0, 20000, "running");
        WAIT_FOR("drop", d, d.state == BRM_CS_RUNNING && d.pid > 0, 20000, "running");
        sv_agent_kill(a, SIGTERM);
        CHECK(sv_alive(k.pid));
        a = sv_agent_start(NULL, -1);
        WAIT_FOR("keep", k2, k2.state == BRM_CS_RUNNING && k2.pid == k.pid, 10000, "adopted from desired.json");
        sv_agent_kill(a, SIGTERM);
        a = sv_agent_start(s, 1);
        WAIT_FOR("keep", k2, k2.pid == k.pid, 10000, "still running");
        {
                uint64_t t0 = brm_mono_ms();
                while (sv_alive(d.pid) || sv_get("drop", &k2)) {
                        if (brm_mono_ms() - t0 > 15000)
                                CHECK_FAIL_("'drop' still there (pid %d alive %d)", d.pid, sv_alive(d.pid));
                        sv_sleep_ms(50);
                }
        }
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

/* A memory limit on a node without the memory controller is refused with
 * the reason, never run unlimited (a fake v1 tree without memory). */
void scenario_refuse(void)
{
        struct brm_container_spec s = sv_spec("limited", sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000");
        struct brm_supervisor_opts o = { .state_dir = sv_state, .shim = sv_shim };
        struct brm_supervisor *sup;
        char fake[128], why[256] = "", cmd[1024];
        uv_loop_t loop;
        struct sv_snap x;
        pid_t a;

        snprintf(fake, sizeof(fake), "%s/fakecg", sv_work);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/cpu %s/pids && touch %s/cpu/cpu.cfs_quota_us %s/pids/cgroup.procs",
                 fake, fake, fake, fake);
        sv_sh(cmd);
        o.cgroup_root = fake;
        s.memory_max = 64u << 20;
        uv_loop_init(&loop);
        CHECK_INT(brm_supervisor_open(&loop, &o, &sup), ==, 0);
        CHECK_INT(brm_supervisor_check(sup, &s, why, sizeof(why)), ==, -ENOTSUP);
        printf("refuse: %s\n", why);
        CHECK(strstr(why, "memory"));
        /* Known while desired, also when it could not start. */
        CHECK_INT(brm_supervisor_has(sup, "limited"), ==, 0);
        CHECK_INT(brm_supervisor_apply(sup, &s, 1), ==, 0);
        CHECK_INT(brm_supervisor_has(sup, "limited"), ==, 1);
        CHECK_INT(brm_supervisor_has(sup, "other"), ==, 0);
        CHECK_INT(brm_supervisor_apply(sup, NULL, 0), ==, 0);
        CHECK_INT(brm_supervisor_has(sup, "limited"), ==, 0);
        brm_supervisor_close(sup, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK_INT(uv_loop_close(&loop), ==, 0);
        sv_cgroup_root = fake;
        a = sv_agent_start(&s, 1);
        WAIT_FOR("limited", x, x.state == BRM_CS_FAILED, 10000, "refused");
        CHECK(strstr(x.reason, "memory cgroup controller"));
        CHECK_INT(x.pid, ==, 0);
        sv_agent_kill(a, SIGTERM);
        sv_cgroup_root = NULL;
        sv_teardown();
}

/* An OCI image (layout dir or oci-archive) runs with its own entrypoint,
 * command and environment; the script built it with umoci (image.sh). */
void scenario_image(const char *image)
{
        struct brm_container_spec s = sv_spec("img", image, BRM_RESTART_NEVER, NULL);
        char path[600], *text;
        uint8_t *data;
        size_t len;
        struct sv_snap x;
        pid_t a;

        a = sv_agent_start(&s, 1);
        WAIT_FOR("img", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, 30000, "the image's command to finish");
        /* The container's output, as records (lib/logrec.h). */
        snprintf(path, sizeof(path), "%s/logs/containers/img/log", sv_state);
        CHECK_INT(brm_file_read(path, 65536, &data, &len), ==, 0);
        text = (char *)data;
        printf("image: state %d exit %d reason '%s' output: %s", x.state, x.exit_code, x.reason, text);
        CHECK_INT(x.state, ==, BRM_CS_EXITED);
        CHECK_INT(x.exit_code, ==, 3);
        CHECK(strstr(text, "hello from the entrypoint"));
        CHECK(strstr(text, "whiteout honoured"));
        free(data);
        sv_agent_kill(a, SIGTERM);
        sv_teardown();
}

static bool rec_is(const struct brm_logrec *r, int stream, bool partial, const char *text)
{
        return r->stream == stream && r->partial == partial && r->len == strlen(text) &&
               memcmp(r->data, text, r->len) == 0;
}

/* Output lands in STATE/logs/containers/NAME/log as records, all of it by
 * the time the exit is reported (the shim writes the exit file only after
 * closing the log); a runtime that cannot start the container leaves its
 * complaint there as stderr; removal moves the directory to removed/. */
void scenario_logs(void)
{
        struct brm_container_spec s[2] = {
                sv_spec("talker", sv_rootfs, BRM_RESTART_NEVER,
                     "i=1; while [ $i -le 10000 ]; do echo \"line $i\"; i=$((i+1)); done; "
                     "echo 'err one' >&2; echo 'err two' >&2; echo -n 'no newline at the end'; exit 4"),
                sv_spec("broken", sv_rootfs, BRM_RESTART_NEVER, NULL),
        };
        char dir[1700], cmd[1400];
        struct sv_logfile lf;
        struct sv_snap x;
        uint64_t n[2];
        pid_t a;

        s[1].args[0] = "/bin/no-such-program";
        a = sv_agent_start(s, 2);
        WAIT_FOR("talker", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, 30000, "the talker to finish");
        /* Read at once: the exit is reported, so every line is stored. */
        snprintf(dir, sizeof(dir), "%s/logs/containers/talker", sv_state);
        CHECK(sv_log_load(dir, "log", &lf));
        CHECK_INT(x.state, ==, BRM_CS_EXITED);
        CHECK_INT(x.exit_code, ==, 4);
        CHECK_INT(lf.bad, ==, 0);
        CHECK_INT(lf.n, ==, 10003);
        /* The container wrote stdout's 10,000 lines, then two stderr lines,
         * then an unfinished stdout line. Each stream comes through its own
         * pipe, read a chunk at a time in turn, so a busy shim may store
         * the stderr lines between stdout's chunks: each stream's order and
         * its own counter are exact, the other stream's counter only goes
         * forward. */
        {
                size_t out = 0, err = 0;
                int64_t prev[2] = { 0, 0 };
                uint64_t other[2] = { 0, 0 };
                bool partial_seen = false;
                for (size_t i = 0; i < lf.n; i++) {
                        const struct brm_logrec *r = &lf.r[i];
                        int o = r->stream == BRM_LOG_STDOUT ? 1 : 0;
                        char want[32];
                        /* Each stream's times go forward; across the two
                         * they need not (each stamp is when its pipe was
                         * read, and an unfinished line keeps its own). */
                        CHECK_INT(r->ts_ns, >=, prev[r->stream]);
                        prev[r->stream] = r->ts_ns;
                        CHECK_U64(r->n[o], >=, other[r->stream]);
                        other[r->stream] = r->n[o];
                        if (r->stream == BRM_LOG_STDERR) {
                                err++;
                                CHECK(rec_is(r, BRM_LOG_STDERR, false, err == 1 ? "err one" : "err two"));
                                CHECK_U64(r->n[1], ==, err);
                                CHECK_U64(r->n[0], <=, 10000);
                                continue;
                        }
                        CHECK(!partial_seen);
                        CHECK_U64(r->n[1], <=, 2);
                        if (r->partial) {
                                CHECK(rec_is(r, BRM_LOG_STDOUT, true, "no newline at the end"));
                                CHECK_U64(r->n[0], ==, 10001);
                                partial_seen = true;
                                continue;
                        }
                        out++;
                        snprintf(want, sizeof(want), "line %zu", out);
                        if (!rec_is(r, BRM_LOG_STDOUT, false, want) || r->n[0] != out)
                                CHECK_FAIL_("record %zu: '%.*s' counter %llu, expected '%s' %zu", i, (int)r->len, r->data,
                                            (unsigned long long)r->n[0], want, out);
                }
                CHECK_INT(out, ==, 10000);
                CHECK_INT(err, ==, 2);
                CHECK(partial_seen);
        }
        printf("logs: talker: %zu records, stdout 1..10000 in order with exact counters, 2 stderr lines, a partial; "
               "exit %d\n",
               lf.n, x.exit_code);
        sv_log_free(&lf);

        /* The runtime's own complaint, as stderr. */
        WAIT_FOR("broken", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, 30000, "the broken one to fail");
        printf("logs: broken: state %d reason '%s'\n", x.state, x.reason);
        CHECK(strstr(x.reason, "start failed"));
        snprintf(dir, sizeof(dir), "%s/logs/containers/broken", sv_state);
        CHECK(sv_log_load(dir, "log", &lf));
        {
                bool found = false;
                for (size_t i = 0; i < lf.n; i++) {
                        const struct brm_logrec *r = &lf.r[i];
                        printf("logs: broken: %s '%.*s'\n", r->stream ? "stderr" : "stdout", (int)r->len, r->data);
                        found |= r->stream == BRM_LOG_STDERR && memmem(r->data, r->len, "no-such-program", 15);
                }
                CHECK(found);
        }
        sv_log_free(&lf);
        sv_agent_kill(a, SIGTERM);

        /* Removal moves the directories aside. */
        a = sv_agent_start(NULL, 0);
        {
                uint64_t t0 = brm_mono_ms();
                snprintf(dir, sizeof(dir), "%s/logs/containers/talker", sv_state);
                while (access(dir, F_OK) == 0) {
                        if (brm_mono_ms() - t0 > 15000)
                                CHECK_FAIL_("%s still there", dir);
                        sv_sleep_ms(50);
                }
        }
        sv_agent_kill(a, SIGTERM);
        snprintf(cmd, sizeof(cmd), "ls %s/logs/removed/ | grep -c '^talker\\.[0-9]*$' >/dev/null && "
                                   "ls %s/logs/removed/ | grep -q '^broken\\.[0-9]*$'", sv_state, sv_state);
        sv_sh(cmd);
        snprintf(cmd, sizeof(cmd), "ls %s/logs/removed/talker.*/log >/dev/null", sv_state);
        sv_sh(cmd);
        /* The counters of a moved log are what they were. */
        snprintf(cmd, sizeof(cmd), "%s/logs/removed", sv_state);
        {
                DIR *d = opendir(cmd);
                struct dirent *e;
                CHECK(d);
                while ((e = readdir(d)))
                        if (strncmp(e->d_name, "talker.", 7) == 0) {
                                snprintf(dir, sizeof(dir), "%s/%s", cmd, e->d_name);
                                CHECK_INT(brm_log_last_counters(dir, 3, n), ==, 0);
                                CHECK_U64(n[0], ==, 10001);
                                CHECK_U64(n[1], ==, 2);
                        }
                closedir(d);
        }
        sv_teardown();
}


/* ---- confinement ---- */

static char sys_extra[64];

static void unmount_sys_extra(void)
{
        if (sys_extra[0])
                umount2(sys_extra, MNT_DETACH);
        sys_extra[0] = '\0';
}

/* Runs NAME (its args set by the caller) to its end and returns its
 * stdout, NUL-terminated (the caller frees it); *EXIT its exit code. */
static char *run_to_end(struct brm_container_spec *s, int *exit_code)
{
        struct sv_logfile lf;
        struct sv_snap x;
        char dir[400];
        size_t cap = 1, len = 0;
        char *out = calloc(1, 1);
        pid_t a;

        a = sv_agent_start(s, 1);
        WAIT_FOR(s->name, x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, 30000, "the container to finish");
        CHECK_INT(x.state, ==, BRM_CS_EXITED);
        *exit_code = x.exit_code;
        snprintf(dir, sizeof(dir), "%s/logs/containers/%s", sv_state, s->name);
        CHECK(sv_log_load(dir, "log", &lf));
        for (size_t i = 0; i < lf.n; i++) {
                const struct brm_logrec *r = &lf.r[i];
                CHECK((out = realloc(out, cap += r->len + 1)));
                memcpy(out + len, r->data, r->len);
                len += r->len;
                out[len++] = '\n';
                out[len] = '\0';
        }
        sv_log_free(&lf);
        sv_check_no_zombies(a);
        sv_agent_kill(a, SIGTERM);
        return out;
}

/* The default confinement under the host's runtime (runc here; the image
 * test runs the same probe under crun on cgroup v2): every attempt of the
 * probe is refused, a file system mounted below the host's /sys included;
 * --security-opt seccomp=unconfined and --cap-add take effect; ordinary
 * programs (a shell script, the log benchmark's writer) run. */
void scenario_confine(void)
{
        struct brm_container_spec s;
        char cmd[1400], *out;
        int code;

        snprintf(cmd, sizeof(cmd), "cp %s/brm_confine_probe %s/brm_logwriter %s/bin/", getenv("BRM_BIN"), getenv("BRM_BIN"),
                 sv_rootfs);
        sv_sh(cmd);
        /* A file system below the host's /sys, as debugfs or configfs
         * would be on a Pi: it must be read-only in the container too. */
        if (mount("brm-probe", "/sys/kernel/debug", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0)
                snprintf(sys_extra, sizeof(sys_extra), "/sys/kernel/debug");
        else if (mount("brm-probe", "/sys/kernel/config", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0)
                snprintf(sys_extra, sizeof(sys_extra), "/sys/kernel/config");
        else
                printf("confine: no file system could be mounted below /sys here (%s): that check is left out\n",
                       strerror(errno));
        atexit(unmount_sys_extra);

        s = sv_spec("probe", sv_rootfs, BRM_RESTART_NEVER, NULL);
        s.args[0] = "/bin/brm_confine_probe";
        out = run_to_end(&s, &code);
        printf("confine: the probe under the default confinement:\n%s", out);
        CHECK(!strstr(out, "FAIL"));
        CHECK(strstr(out, "ok   add_key: refused"));
        CHECK(strstr(out, "ok   keyctl: refused (Operation not permitted)"));
        CHECK(strstr(out, "ok   unshare-user: refused (Operation not permitted)"));
        CHECK(strstr(out, "ok   clone-user: refused (Operation not permitted)"));
        CHECK(strstr(out, "ok   perf_event_open: refused"));
        CHECK(strstr(out, "ok   userfaultfd: refused"));
        CHECK(strstr(out, "ok   write-root: refused (Read-only file system)"));
        CHECK(strstr(out, "ok   write-sys: refused (Read-only file system)"));
        CHECK(strstr(out, "ok   write /sys/fs/cgroup/"));
        if (sys_extra[0]) {
                char want[128];
                snprintf(want, sizeof(want), "ok   create under %s: refused (Read-only file system)", sys_extra);
                CHECK(strstr(out, want));
        }
        CHECK(strstr(out, "confined: 0 allowed"));
        CHECK_INT(code, ==, 0);
        free(out);
        unmount_sys_extra();

        /* Less confinement, asked for. */
        s = sv_spec("loose", sv_rootfs, BRM_RESTART_NEVER, NULL);
        s.args[0] = "/bin/brm_confine_probe";
        s.args[1] = "try";
        s.args[2] = "add_key";
        s.seccomp = "unconfined";
        out = run_to_end(&s, &code);
        printf("confine: seccomp=unconfined: %s", out);
        CHECK(strstr(out, "add_key allowed"));
        free(out);
        s = sv_spec("admin", sv_rootfs, BRM_RESTART_NEVER, NULL);
        s.args[0] = "/bin/brm_confine_probe";
        s.args[1] = "try";
        s.args[2] = "mount";
        s.cap_add = UINT64_C(1) << 21; /* SYS_ADMIN */
        out = run_to_end(&s, &code);
        printf("confine: --cap-add SYS_ADMIN: %s", out);
        CHECK(strstr(out, "mount allowed"));
        free(out);
        s = sv_spec("nochown", sv_rootfs, BRM_RESTART_NEVER, "cd /tmp && echo x > f && chown 1:1 f && echo chowned");
        s.cap_drop = UINT64_C(1) << 0; /* CHOWN */
        out = run_to_end(&s, &code);
        printf("confine: --cap-drop CHOWN: %s", out);
        CHECK(!strstr(out, "chowned"));
        CHECK_INT(code, !=, 0);
        free(out);

        /* Ordinary programs under the default confinement. */
        s = sv_spec("script", sv_rootfs, BRM_RESTART_NEVER,
                    "set -e; cd /tmp; i=0; while [ $i -lt 50 ]; do echo $i >> n; i=$((i+1)); done; "
                    "ls -l /tmp > /dev/null; cat n | wc -l; yes | head -n 3 > /dev/null; sleep 0.1 & wait; echo done");
        out = run_to_end(&s, &code);
        CHECK_INT(code, ==, 0);
        CHECK(strstr(out, "50\ndone\n"));
        free(out);
        s = sv_spec("writer", sv_rootfs, BRM_RESTART_NEVER, NULL);
        s.args[0] = "/bin/brm_logwriter";
        s.args[1] = "-r";
        s.args[2] = "200";
        s.args[3] = "-d";
        s.args[4] = "1";
        out = run_to_end(&s, &code);
        CHECK_INT(code, ==, 0);
        CHECK(strstr(out, "logwriter: wrote"));
        free(out);
        printf("confine: the script and the log writer ran\n");
        sv_teardown();
}
