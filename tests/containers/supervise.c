/* Container supervision against a real OCI runtime and real cgroups.
 *
 *   supervise SCENARIO [IMAGE]
 *
 * The "agent" is a forked child that runs a libuv loop with the supervisor
 * (brm_supervisor_open / _apply) and writes a status snapshot every 100 ms;
 * the parent asserts on snapshots, on /proc and on the cgroup files, and
 * kills the agent with SIGKILL to test re-adoption. Every scenario ends by
 * applying an empty desired set and waiting until every container is gone.
 * Needs root, runc and usable cgroups; otherwise exits 77 saying why.
 *
 * Environment: BRM_SHIM (path of bramble-shim) or BRM_BIN (its directory). */
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

static char work[64], state[128], rootfs[128], snap[128], shim[512];
static const char *cgroup_root;
static pid_t current_agent;

struct snap {
        char name[64];
        int state, pid, has_exit, exit_code;
        unsigned restarts, oom_kills;
        int has_cpu, has_mem;
        double cpu;
        unsigned long long mem;
        char reason[160];
};

/* ---- the agent child ---- */

static struct brm_supervisor *agent_sup;
static uv_timer_t agent_timer;
static uv_signal_t agent_term;

static void agent_snapshot(uv_timer_t *t)
{
        struct brm_container_status *st;
        char tmp[400], *buf;
        size_t n, len = 0, cap = 4096;
        FILE *f;

        if (brm_supervisor_status(agent_sup, &st, &n) < 0)
                return;
        buf = malloc(cap);
        for (size_t i = 0; i < n && buf; i++) {
                if (cap - len < 512)
                        buf = realloc(buf, cap *= 2);
                len += (size_t)snprintf(buf + len, cap - len, "%s %d %d %u %d %d %u %d %.2f %d %llu %s\n", st[i].name,
                                        st[i].state, st[i].pid, st[i].restarts, st[i].has_exit_code, st[i].exit_code,
                                        st[i].oom_kills, st[i].has_cpu, st[i].cpu_percent, st[i].has_memory,
                                        (unsigned long long)st[i].memory_bytes, st[i].reason[0] ? st[i].reason : "-");
        }
        free(st);
        snprintf(tmp, sizeof(tmp), "%s.tmp", snap);
        if (buf && (f = fopen(tmp, "w"))) {
                fwrite(buf, 1, len, f);
                fclose(f);
                rename(tmp, snap);
        }
        free(buf);
}

static void agent_closed(void *arg)
{
}

static void agent_stop(uv_signal_t *s, int signum)
{
        uv_timer_stop(&agent_timer);
        uv_close((uv_handle_t *)&agent_timer, NULL);
        uv_close((uv_handle_t *)&agent_term, NULL);
        brm_supervisor_close(agent_sup, agent_closed, NULL);
}

/* Starts an agent; n < 0 keeps the persisted desired state. */
static pid_t agent_start(const struct brm_container_spec *specs, long n)
{
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (pid > 0)
                return current_agent = pid;
        /* The agent dies with the test (a failed assert must not leave it). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        uv_loop_t loop;
        struct brm_supervisor_opts o = {
                .state_dir = state, .cgroup_root = cgroup_root, .shim = shim, .stop_grace_ms = 1000,
        };
        int r;

        uv_loop_init(&loop);
        r = brm_supervisor_open(&loop, &o, &agent_sup);
        if (r < 0) {
                fprintf(stderr, "agent: open: %s\n", strerror(-r));
                _exit(3);
        }
        if (n >= 0 && (r = brm_supervisor_apply(agent_sup, specs, (size_t)n)) < 0) {
                fprintf(stderr, "agent: apply: %s\n", strerror(-r));
                _exit(3);
        }
        uv_timer_init(&loop, &agent_timer);
        uv_timer_start(&agent_timer, agent_snapshot, 0, 100);
        uv_signal_init(&loop, &agent_term);
        uv_signal_start(&agent_term, agent_stop, SIGTERM);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        exit(0);
}

static void agent_kill(pid_t pid, int sig)
{
        int st;
        kill(pid, sig);
        CHECK_INT(waitpid(pid, &st, 0), ==, pid);
        if (sig == SIGTERM)
                CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ==, 0);
        unlink(snap);
}

/* ---- snapshots ---- */

static int read_snap(struct snap *out, int max)
{
        FILE *f = fopen(snap, "r");
        char line[512];
        int n = 0;

        if (!f)
                return -1;
        while (n < max && fgets(line, sizeof(line), f)) {
                struct snap *s = &out[n];
                int off = 0;
                memset(s, 0, sizeof(*s));
                if (sscanf(line, "%63s %d %d %u %d %d %u %d %lf %d %llu %n", s->name, &s->state, &s->pid, &s->restarts,
                           &s->has_exit, &s->exit_code, &s->oom_kills, &s->has_cpu, &s->cpu, &s->has_mem, &s->mem,
                           &off) >= 11) {
                        snprintf(s->reason, sizeof(s->reason), "%s", line + off);
                        s->reason[strcspn(s->reason, "\n")] = '\0';
                        n++;
                }
        }
        fclose(f);
        return n;
}

static bool get(const char *name, struct snap *ret)
{
        struct snap all[32];
        int n = read_snap(all, 32);
        for (int i = 0; i < n; i++)
                if (strcmp(all[i].name, name) == 0) {
                        *ret = all[i];
                        return true;
                }
        return false;
}

/* The test is a child subreaper: shims orphaned by a killed agent come to
 * it rather than to an init that may not reap them; reap all but the agent
 * (agent_kill waits for that one). */
static void reap(void)
{
        siginfo_t si;
        /* Only with forked agents: in-process (the benchmark) the children
         * are libuv's to reap. */
        for (; current_agent > 0;) {
                memset(&si, 0, sizeof(si));
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0 ||
                    si.si_pid == current_agent)
                        return;
                waitpid(si.si_pid, NULL, 0);
        }
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        reap();
        nanosleep(&ts, NULL);
}

/* Waits until COND (over `s`, the container's snapshot) holds. */
#define WAIT_FOR(name, s, cond, timeout_ms, what)                                                           \
        do {                                                                                                 \
                uint64_t t0_ = brm_mono_ms();                                                                \
                for (;;) {                                                                                   \
                        if (get(name, &s) && (cond))                                                         \
                                break;                                                                       \
                        if (brm_mono_ms() - t0_ > (timeout_ms))                                              \
                                CHECK_FAIL_("timed out after %d ms waiting for %s: %s (state %d pid %d "     \
                                            "restarts %u exit %d oom %u reason '%s')",                        \
                                            (int)(timeout_ms), name, what, s.state, s.pid, s.restarts,       \
                                            s.exit_code, s.oom_kills, s.reason);                             \
                        sleep_ms(50);                                                                        \
                }                                                                                            \
        } while (0)

/* ---- setup ---- */

static void sh(const char *cmd)
{
        int r = system(cmd);
        if (r != 0)
                CHECK_FAIL_("'%s' failed: %d", cmd, r);
}

static struct brm_container_spec spec(const char *name, const char *image, enum brm_restart restart, const char *script)
{
        struct brm_container_spec s;

        memset(&s, 0, sizeof(s));
        snprintf(s.name, sizeof(s.name), "%s", name);
        snprintf(s.image, sizeof(s.image), "%s", image);
        s.restart = restart;
        if (script) {
                s.args[0] = "/bin/sh";
                s.args[1] = "-c";
                s.args[2] = (char *)script;
        }
        return s;
}

static void setup(void)
{
        static const char *const applets[] = { "sh", "sleep", "dd", "cat", "echo", "true", "ls", "test", "[", "yes" };
        char cmd[1280];
        struct stat st;

        if (geteuid() != 0)
                CHECK_SKIP("needs root (runs containers with real cgroups)");
        if (system("command -v runc >/dev/null 2>&1") != 0)
                CHECK_SKIP("runc is not installed (apt-get install runc)");
        if (stat("/bin/busybox", &st) < 0)
                CHECK_SKIP("/bin/busybox is missing (apt-get install busybox-static)");
        if (!getenv("BRM_SHIM") && !getenv("BRM_BIN"))
                CHECK_SKIP("set BRM_SHIM or BRM_BIN to find bramble-shim");
        if (getenv("BRM_SHIM"))
                snprintf(shim, sizeof(shim), "%s", getenv("BRM_SHIM"));
        else
                snprintf(shim, sizeof(shim), "%s/bramble-shim", getenv("BRM_BIN"));
        {
                struct brm_cgroup cg;
                if (brm_cgroup_open(NULL, NULL, &cg) < 0 || !cg.memory || !cg.pids || !cg.cpu)
                        CHECK_SKIP("cgroups with the memory, cpu and pids controllers are not usable here");
        }
        snprintf(work, sizeof(work), "/tmp/brm-supervise.XXXXXX");
        CHECK(mkdtemp(work));
        snprintf(state, sizeof(state), "%s/state", work);
        snprintf(rootfs, sizeof(rootfs), "%s/rootfs", work);
        snprintf(snap, sizeof(snap), "%s/snapshot", work);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/bin %s/proc %s/dev %s/sys %s/tmp %s/run %s/etc && cp /bin/busybox %s/bin/",
                 rootfs, rootfs, rootfs, rootfs, rootfs, rootfs, rootfs, rootfs);
        sh(cmd);
        for (size_t i = 0; i < BRM_ARRAY_SIZE(applets); i++) {
                snprintf(cmd, sizeof(cmd), "ln -s busybox '%s/bin/%s'", rootfs, applets[i]);
                sh(cmd);
        }
        brm_log_set_level(getenv("BRM_DEBUG") ? BRM_LOG_DEBUG : BRM_LOG_INFO);
        prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static void teardown(void)
{
        char cmd[1400];
        /* Everything removed: the container directories and cgroups are gone. */
        pid_t a = agent_start(NULL, 0);
        uint64_t t0 = brm_mono_ms();
        for (;;) {
                struct snap all[8];
                char dir[400];
                DIR *d;
                int left = 0;
                struct dirent *e;
                snprintf(dir, sizeof(dir), "%s/containers", state);
                if ((d = opendir(dir))) {
                        while ((e = readdir(d)))
                                left += e->d_type == DT_DIR && e->d_name[0] != '.';
                        closedir(d);
                }
                if (left == 0 && read_snap(all, 8) == 0)
                        break;
                if (brm_mono_ms() - t0 > 30000)
                        CHECK_FAIL_("containers not removed after 30 s (%d left)", left);
                sleep_ms(100);
        }
        agent_kill(a, SIGTERM);
        /* The runtime removes each container's cgroup but not the (now
         * empty) BASE/bramble parents it created in every v1 hierarchy. */
        {
                struct brm_cgroup cg;
                if (brm_cgroup_open(NULL, NULL, &cg) == 0) {
                        snprintf(cmd, sizeof(cmd), "for h in %s/*/; do rmdir \"${h}%s/bramble\" 2>/dev/null; done; true",
                                 cg.root, strcmp(cg.base, "/") == 0 ? "" : cg.base + 1);
                        sh(cmd);
                }
        }
        if (!getenv("BRM_KEEP")) {
                snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
                sh(cmd);
        }
}

static void cgroup_file(const char *name, const char *ctl, const char *file, char *out, size_t size)
{
        struct brm_cgroup cg;
        char path[600];
        CHECK_INT(brm_cgroup_open(NULL, NULL, &cg), ==, 0);
        CHECK_INT(brm_cgroup_container_path(&cg, name, path, sizeof(path)), ==, 0);
        CHECK(brm_path(out, size, "%s%s%s%s/%s", cg.root, cg.ops->version == 1 ? "/" : "",
                       cg.ops->version == 1 ? ctl : "", path, file) >= 0);
}

static unsigned long long read_ull(const char *path)
{
        uint64_t v = 0;
        brm_cgroup_read_u64(path, &v);
        return (unsigned long long)v;
}

static bool alive(int pid)
{
        return pid > 0 && kill(pid, 0) == 0;
}

/* No zombie may have the agent or a shim as its parent. */
static void check_no_zombies(pid_t agent)
{
        DIR *d = opendir("/proc");
        struct dirent *e;

        CHECK(d);
        while ((e = readdir(d))) {
                char path[300], buf[512], comm[64] = "", pcomm[64] = "";
                int pid = atoi(e->d_name), ppid = 0;
                char st = 0;
                FILE *f;
                if (pid <= 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                if (!(f = fopen(path, "r")))
                        continue;
                if (fgets(buf, sizeof(buf), f)) {
                        char *p = strrchr(buf, ')');
                        if (p)
                                sscanf(p + 2, "%c %d", &st, &ppid);
                }
                fclose(f);
                if (st != 'Z')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/comm", ppid);
                if ((f = fopen(path, "r"))) {
                        if (fgets(pcomm, sizeof(pcomm), f))
                                pcomm[strcspn(pcomm, "\n")] = '\0';
                        fclose(f);
                }
                (void)comm;
                if (ppid == agent || strcmp(pcomm, "bramble-shim") == 0)
                        CHECK_FAIL_("zombie %d with parent %d (%s)", pid, ppid, pcomm);
        }
        closedir(d);
}

/* ---- scenarios ---- */

/* Allocating past a 32 MiB limit: OOM-killed, reported as such, restarted
 * with backoff (1 s, then 2 s). */
static void scenario_oom(void)
{
        struct brm_container_spec s = spec("hog", rootfs, BRM_RESTART_ALWAYS, NULL);
        struct snap x;
        uint64_t t1, t2;
        pid_t a;

        s.args[0] = "/bin/dd";
        s.args[1] = "if=/dev/zero";
        s.args[2] = "of=/dev/null";
        s.args[3] = "bs=64M";
        s.args[4] = "count=1";
        s.memory_max = 32u << 20;
        a = agent_start(&s, 1);
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
        check_no_zombies(a);
        agent_kill(a, SIGTERM);
        teardown();
}

/* A fork bomb under --pids 32 stays at 32. */
static void scenario_pids(void)
{
        struct brm_container_spec s = spec("bomb", rootfs, BRM_RESTART_NEVER, "b() { b | b & }; b; sleep 1000");
        char path[700];
        unsigned long long max = 0;
        struct snap x;
        pid_t a;

        s.pids_max = 32;
        a = agent_start(&s, 1);
        WAIT_FOR("bomb", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "running");
        cgroup_file("bomb", "pids", "pids.current", path, sizeof(path));
        for (int i = 0; i < 30; i++) {
                unsigned long long v = read_ull(path);
                if (v > max)
                        max = v;
                sleep_ms(100);
        }
        printf("pids: peak pids.current %llu under pids.max 32\n", max);
        CHECK_U64(max, <=, 32);
        CHECK_U64(max, >=, 16);
        agent_kill(a, SIGTERM);
        teardown();
}

/* --cpus 0.2 on a busy loop measures near 20 % of a core. */
static void scenario_cpu(void)
{
        struct brm_container_spec s = spec("spin", rootfs, BRM_RESTART_NEVER, "while :; do :; done");
        char path[700];
        unsigned long long u0, u1;
        uint64_t t0, t1;
        struct snap x;
        double pct;
        pid_t a;

        s.cpu_millis = 200;
        a = agent_start(&s, 1);
        WAIT_FOR("spin", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "running");
        sleep_ms(1000);
        cgroup_file("spin", "cpuacct", "cpuacct.usage", path, sizeof(path));
        u0 = read_ull(path);
        t0 = brm_mono_ms();
        sleep_ms(4000);
        u1 = read_ull(path);
        t1 = brm_mono_ms();
        pct = (double)(u1 - u0) / 1e6 / (double)(t1 - t0) * 100.0;
        WAIT_FOR("spin", x, x.has_cpu, 5000, "a cpu figure");
        printf("cpu: %.1f %% of a core from the cgroup; the supervisor reports %.1f %%\n", pct, x.cpu);
        CHECK_DBL(pct, 20.0, 5.0);
        CHECK_DBL(x.cpu, 20.0, 7.0);
        CHECK(x.has_mem && x.mem > 0);
        agent_kill(a, SIGTERM);
        teardown();
}

/* kill -9 of the agent: containers keep running with the same pid, are
 * re-adopted with their counters, and an exit during the agent's absence is
 * reported afterwards. */
static void scenario_readopt(void)
{
        struct brm_container_spec s[3] = {
                spec("sleeper", rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
                spec("quitter", rootfs, BRM_RESTART_NEVER, "sleep 3; exit 7"),
                spec("flappy", rootfs, BRM_RESTART_ON_FAILURE, "sleep 0.2; exit 1"),
        };
        struct snap sl, q, fl, sl2;
        pid_t a;

        a = agent_start(s, 3);
        WAIT_FOR("sleeper", sl, sl.state == BRM_CS_RUNNING && sl.pid > 0, 20000, "running");
        WAIT_FOR("quitter", q, q.state == BRM_CS_RUNNING && q.pid > 0, 20000, "running");
        WAIT_FOR("flappy", fl, fl.restarts >= 1, 20000, "a restart");
        agent_kill(a, SIGKILL);
        printf("readopt: agent killed; sleeper pid %d, quitter pid %d, flappy restarts %u\n", sl.pid, q.pid,
               fl.restarts);
        /* The quitter exits (code 7) while no agent runs. */
        sleep_ms(4000);
        CHECK(alive(sl.pid));
        CHECK(!alive(q.pid));
        a = agent_start(NULL, -1);
        WAIT_FOR("sleeper", sl2, sl2.state == BRM_CS_RUNNING && sl2.pid > 0, 10000, "re-adopted");
        CHECK_INT(sl2.pid, ==, sl.pid);
        CHECK_INT(sl2.restarts, ==, 0);
        WAIT_FOR("quitter", q, q.state == BRM_CS_EXITED, 10000, "the exit reported");
        CHECK_INT(q.has_exit, ==, 1);
        CHECK_INT(q.exit_code, ==, 7);
        CHECK_STR(q.reason, "Error: exit code 7");
        printf("readopt: after restart sleeper pid %d, quitter exit %d (%s)\n", sl2.pid, q.exit_code, q.reason);
        check_no_zombies(a);
        agent_kill(a, SIGKILL);
        /* Counters survive too: flappy's restarts never go backwards. */
        a = agent_start(NULL, -1);
        {
                struct snap f2;
                WAIT_FOR("flappy", f2, f2.restarts >= fl.restarts, 10000, "counters kept");
                printf("readopt: flappy restarts %u before the kill, %u after\n", fl.restarts, f2.restarts);
        }
        agent_kill(a, SIGTERM);
        teardown();
}

/* The desired state survives an agent restart (clean stop, no apply), and a
 * container dropped from it is stopped and removed. */
static void scenario_desired(void)
{
        struct brm_container_spec s[2] = {
                spec("keep", rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
                spec("drop", rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000"),
        };
        struct snap k, d, k2;
        pid_t a;

        a = agent_start(s, 2);
        WAIT_FOR("keep", k, k.state == BRM_CS_RUNNING && k.pid > 0, 20000, "running");
        WAIT_FOR("drop", d, d.state == BRM_CS_RUNNING && d.pid > 0, 20000, "running");
        agent_kill(a, SIGTERM);
        CHECK(alive(k.pid));
        a = agent_start(NULL, -1);
        WAIT_FOR("keep", k2, k2.state == BRM_CS_RUNNING && k2.pid == k.pid, 10000, "adopted from desired.json");
        agent_kill(a, SIGTERM);
        a = agent_start(s, 1);
        WAIT_FOR("keep", k2, k2.pid == k.pid, 10000, "still running");
        {
                uint64_t t0 = brm_mono_ms();
                while (alive(d.pid) || get("drop", &k2)) {
                        if (brm_mono_ms() - t0 > 15000)
                                CHECK_FAIL_("'drop' still there (pid %d alive %d)", d.pid, alive(d.pid));
                        sleep_ms(50);
                }
        }
        agent_kill(a, SIGTERM);
        teardown();
}

/* A memory limit on a node without the memory controller is refused with
 * the reason, never run unlimited (a fake v1 tree without memory). */
static void scenario_refuse(void)
{
        struct brm_container_spec s = spec("limited", rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000");
        struct brm_supervisor_opts o = { .state_dir = state, .shim = shim };
        struct brm_supervisor *sup;
        char fake[128], why[256] = "", cmd[1024];
        uv_loop_t loop;
        struct snap x;
        pid_t a;

        snprintf(fake, sizeof(fake), "%s/fakecg", work);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/cpu %s/pids && touch %s/cpu/cpu.cfs_quota_us %s/pids/cgroup.procs",
                 fake, fake, fake, fake);
        sh(cmd);
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
        cgroup_root = fake;
        a = agent_start(&s, 1);
        WAIT_FOR("limited", x, x.state == BRM_CS_FAILED, 10000, "refused");
        CHECK(strstr(x.reason, "memory cgroup controller"));
        CHECK_INT(x.pid, ==, 0);
        agent_kill(a, SIGTERM);
        cgroup_root = NULL;
        teardown();
}

/* An OCI image (layout dir or oci-archive) runs with its own entrypoint,
 * command and environment; the script built it with umoci (image.sh). */
static void scenario_image(const char *image)
{
        struct brm_container_spec s = spec("img", image, BRM_RESTART_NEVER, NULL);
        char path[600], *text;
        uint8_t *data;
        size_t len;
        struct snap x;
        pid_t a;

        a = agent_start(&s, 1);
        WAIT_FOR("img", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, 30000, "the image's command to finish");
        /* The container's output, as records (lib/logrec.h). */
        snprintf(path, sizeof(path), "%s/logs/containers/img/log", state);
        CHECK_INT(brm_file_read(path, 65536, &data, &len), ==, 0);
        text = (char *)data;
        printf("image: state %d exit %d reason '%s' output: %s", x.state, x.exit_code, x.reason, text);
        CHECK_INT(x.state, ==, BRM_CS_EXITED);
        CHECK_INT(x.exit_code, ==, 3);
        CHECK(strstr(text, "hello from the entrypoint"));
        CHECK(strstr(text, "whiteout honoured"));
        free(data);
        agent_kill(a, SIGTERM);
        teardown();
}

/* ---- container output ---- */

struct logfile {
        uint8_t *text;
        size_t len, n;
        int bad;
        struct brm_logrec *r;
};

/* Parses DIR/NAME into records; false when there is no such file. */
static bool log_load(const char *dir, const char *name, struct logfile *lf)
{
        char path[700];
        size_t cap = 0;

        memset(lf, 0, sizeof(*lf));
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (brm_file_read(path, 64u << 20, &lf->text, &lf->len) < 0)
                return false;
        for (size_t off = 0; off < lf->len;) {
                char *line = (char *)lf->text + off, *nl = memchr(line, '\n', lf->len - off);
                size_t l = nl ? (size_t)(nl - line) : lf->len - off;
                if (lf->n == cap) {
                        cap = cap ? cap * 2 : 1024;
                        CHECK((lf->r = realloc(lf->r, cap * sizeof(*lf->r))));
                }
                if (brm_logrec_parse(line, l, &lf->r[lf->n]) == 0)
                        lf->n++;
                else
                        lf->bad++;
                off += l + 1;
        }
        return true;
}

static void log_free(struct logfile *lf)
{
        free(lf->text);
        free(lf->r);
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
static void scenario_logs(void)
{
        struct brm_container_spec s[2] = {
                spec("talker", rootfs, BRM_RESTART_NEVER,
                     "i=1; while [ $i -le 10000 ]; do echo \"line $i\"; i=$((i+1)); done; "
                     "echo 'err one' >&2; echo 'err two' >&2; echo -n 'no newline at the end'; exit 4"),
                spec("broken", rootfs, BRM_RESTART_NEVER, NULL),
        };
        char dir[1700], cmd[1400];
        struct logfile lf;
        struct snap x;
        uint64_t n[2];
        pid_t a;

        s[1].args[0] = "/bin/no-such-program";
        a = agent_start(s, 2);
        WAIT_FOR("talker", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, 30000, "the talker to finish");
        /* Read at once: the exit is reported, so every line is stored. */
        snprintf(dir, sizeof(dir), "%s/logs/containers/talker", state);
        CHECK(log_load(dir, "log", &lf));
        CHECK_INT(x.state, ==, BRM_CS_EXITED);
        CHECK_INT(x.exit_code, ==, 4);
        CHECK_INT(lf.bad, ==, 0);
        CHECK_INT(lf.n, ==, 10003);
        {
                size_t out = 0;
                int64_t prev[2] = { 0, 0 };
                for (size_t i = 0; i < lf.n; i++) {
                        const struct brm_logrec *r = &lf.r[i];
                        char want[32];
                        /* Each stream's times go forward; across the two
                         * they need not (each stamp is when its pipe was
                         * read, and an unfinished line keeps its own). */
                        CHECK_INT(r->ts_ns, >=, prev[r->stream]);
                        prev[r->stream] = r->ts_ns;
                        if (r->stream != BRM_LOG_STDOUT || r->partial)
                                continue;
                        out++;
                        snprintf(want, sizeof(want), "line %zu", out);
                        if (!rec_is(r, BRM_LOG_STDOUT, false, want) || r->n[0] != out || r->n[1] != 0)
                                CHECK_FAIL_("record %zu: '%.*s' counters %llu %llu, expected '%s' %zu 0", i,
                                            (int)r->len, r->data, (unsigned long long)r->n[0],
                                            (unsigned long long)r->n[1], want, out);
                }
                CHECK_INT(out, ==, 10000);
        }
        CHECK(rec_is(&lf.r[10000], BRM_LOG_STDERR, false, "err one"));
        CHECK_U64(lf.r[10000].n[1], ==, 1);
        CHECK(rec_is(&lf.r[10001], BRM_LOG_STDERR, false, "err two"));
        CHECK(rec_is(&lf.r[10002], BRM_LOG_STDOUT, true, "no newline at the end"));
        CHECK_U64(lf.r[10002].n[0], ==, 10001);
        CHECK_U64(lf.r[10002].n[1], ==, 2);
        printf("logs: talker: %zu records, stdout 1..10000 in order, then 2 stderr lines and a partial; exit %d\n",
               lf.n, x.exit_code);
        log_free(&lf);

        /* The runtime's own complaint, as stderr. */
        WAIT_FOR("broken", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, 30000, "the broken one to fail");
        printf("logs: broken: state %d reason '%s'\n", x.state, x.reason);
        CHECK(strstr(x.reason, "start failed"));
        snprintf(dir, sizeof(dir), "%s/logs/containers/broken", state);
        CHECK(log_load(dir, "log", &lf));
        {
                bool found = false;
                for (size_t i = 0; i < lf.n; i++) {
                        const struct brm_logrec *r = &lf.r[i];
                        printf("logs: broken: %s '%.*s'\n", r->stream ? "stderr" : "stdout", (int)r->len, r->data);
                        found |= r->stream == BRM_LOG_STDERR && memmem(r->data, r->len, "no-such-program", 15);
                }
                CHECK(found);
        }
        log_free(&lf);
        agent_kill(a, SIGTERM);

        /* Removal moves the directories aside. */
        a = agent_start(NULL, 0);
        {
                uint64_t t0 = brm_mono_ms();
                snprintf(dir, sizeof(dir), "%s/logs/containers/talker", state);
                while (access(dir, F_OK) == 0) {
                        if (brm_mono_ms() - t0 > 15000)
                                CHECK_FAIL_("%s still there", dir);
                        sleep_ms(50);
                }
        }
        agent_kill(a, SIGTERM);
        snprintf(cmd, sizeof(cmd), "ls %s/logs/removed/ | grep -c '^talker\\.[0-9]*$' >/dev/null && "
                                   "ls %s/logs/removed/ | grep -q '^broken\\.[0-9]*$'", state, state);
        sh(cmd);
        snprintf(cmd, sizeof(cmd), "ls %s/logs/removed/talker.*/log >/dev/null", state);
        sh(cmd);
        /* The counters of a moved log are what they were. */
        snprintf(cmd, sizeof(cmd), "%s/logs/removed", state);
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
        teardown();
}

/* ---- benchmarks (figures printed, nothing asserted on timings) ---- */

/* How many records a second the shim stores: a container writes 99-character
 * lines with `yes` as fast as it can for SECONDS, then stops. */
static void bench_logs(int seconds)
{
        char script[400], dir[600];
        struct brm_container_spec s;
        struct logfile lf;
        struct snap x;
        uint64_t n[2];
        pid_t a;

        snprintf(script, sizeof(script), "yes %.99s & sleep %d; kill $!; wait",
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN",
                 seconds);
        s = spec("yes", rootfs, BRM_RESTART_NEVER, script);
        a = agent_start(&s, 1);
        WAIT_FOR("yes", x, x.state == BRM_CS_EXITED || x.state == BRM_CS_FAILED, (uint64_t)(60000 + seconds * 1000),
                 "the writer to finish");
        snprintf(dir, sizeof(dir), "%s/logs/containers/yes", state);
        CHECK_INT(brm_log_last_counters(dir, 3, n), ==, 0);
        /* The oldest record kept and the newest give the steady rate. */
        {
                static const char *const names[] = { "log.2", "log.1", "log" };
                int64_t t_first = 0, t_last = 0;
                uint64_t n_first = 0, n_last = 0, bytes = 0;
                for (int f = 0; f < 3; f++) {
                        char path[700];
                        struct stat st;
                        if (!log_load(dir, names[f], &lf))
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
                        log_free(&lf);
                }
                printf("logs: %llu stdout records stored in ~%d s: %.0f records/s (%.1f MB/s of output); "
                       "kept on disk %llu records in %.1f MiB (newest %.3f s): %.0f records/s\n",
                       (unsigned long long)n[0], seconds, (double)n[0] / seconds, (double)n[0] * 100 / seconds / 1e6,
                       (unsigned long long)(n_last - n_first + 1), (double)bytes / (1 << 20),
                       (double)(t_last - t_first) / 1e9,
                       t_last > t_first ? (double)(n_last - n_first) / ((double)(t_last - t_first) / 1e9) : 0.0);
        }
        agent_kill(a, SIGTERM);
        teardown();
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
                snprintf(cmd, sizeof(cmd), "%s/bench-runc", work);
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
static void bench_start(int rounds)
{
        struct brm_supervisor_opts o = { .state_dir = state, .shim = shim, .stop_grace_ms = 200 };
        struct brm_container_spec s = spec("b", rootfs, BRM_RESTART_NEVER, NULL);
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
                                 i, work, work);
                        sh(cmd);
                        snprintf(cmd, sizeof(cmd), "%s/rb", work);
                        snprintf(b.name, sizeof(b.name), "rb%d", i);
                        rt[i] = runc_run(cmd, b.name);
                        snprintf(cmd, sizeof(cmd), "runc --root %s/bench-runc delete --force rb%d", work, i);
                        sh(cmd);
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
                        snprintf(cmd, sizeof(cmd), "%s/containers/b%d/shim.pid", state, i);
                        CHECK_INT(stat(cmd, &st), ==, 0);
                        shimmed[i] = (double)(st.st_mtim.tv_sec - wall0.tv_sec) * 1000.0 +
                                     (double)(st.st_mtim.tv_nsec - wall0.tv_nsec) / 1e6;
                }
                /* The same bundle, straight to runc. */
                if (i == 0) {
                        snprintf(cmd, sizeof(cmd), "mkdir -p %s/rb && cp %s/containers/b0/config.json %s/tmpl.json", work,
                                 state, work);
                        sh(cmd);
                }
                if (i % 2 == 0) {
                        snprintf(cmd, sizeof(cmd), "sed 's#/bramble/b0\"#/bramble/rb%d\"#' %s/tmpl.json > %s/rb/config.json",
                                 i, work, work);
                        sh(cmd);
                        snprintf(cmd, sizeof(cmd), "%s/rb", work);
                        snprintf(b.name, sizeof(b.name), "rb%d", i);
                        rt[i] = runc_run(cmd, b.name);
                        snprintf(cmd, sizeof(cmd), "runc --root %s/bench-runc delete --force rb%d", work, i);
                        sh(cmd);
                }
                CHECK_INT(brm_supervisor_apply(b.sup, NULL, 0), ==, 0);
                uv_close((uv_handle_t *)&b.poll, NULL);
                for (uint64_t t0 = brm_mono_ms(); brm_mono_ms() - t0 < 3000;)
                        uv_run(&b.loop, UV_RUN_NOWAIT), sleep_ms(5);
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
                snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
                sh(cmd);
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
static void bench_memory(int n)
{
        struct brm_container_spec s[64];
        long rss0, rss1, pss0, pss1;
        struct snap x;
        pid_t a;

        if (n > 64)
                n = 64;
        memset(s, 0, sizeof(s));
        for (int i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof(name), "m%d", i);
                s[i] = spec(name, rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000");
        }
        a = agent_start(s, 0);
        sleep_ms(1500);
        rss0 = status_kib(a, "status", "VmRSS:");
        pss0 = status_kib(a, "smaps_rollup", "Pss:");
        agent_kill(a, SIGKILL);
        a = agent_start(s, n);
        for (int i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof(name), "m%d", i);
                WAIT_FOR(name, x, x.state == BRM_CS_RUNNING && x.pid > 0, 60000, "running");
        }
        sleep_ms(1500);
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
                        snprintf(path, sizeof(path), "%s/containers", state);
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
        agent_kill(a, SIGTERM);
        teardown();
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: supervise oom|pids|cpu|readopt|desired|refuse|logs|image IMAGE|bench-start [N]|"
                                "bench-memory [N]|bench-logs [SECONDS]\n");
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        setup();
        if (strcmp(argv[1], "oom") == 0)
                scenario_oom();
        else if (strcmp(argv[1], "pids") == 0)
                scenario_pids();
        else if (strcmp(argv[1], "cpu") == 0)
                scenario_cpu();
        else if (strcmp(argv[1], "readopt") == 0)
                scenario_readopt();
        else if (strcmp(argv[1], "desired") == 0)
                scenario_desired();
        else if (strcmp(argv[1], "refuse") == 0)
                scenario_refuse();
        else if (strcmp(argv[1], "logs") == 0)
                scenario_logs();
        else if (strcmp(argv[1], "image") == 0 && argc == 3)
                scenario_image(argv[2]);
        else if (strcmp(argv[1], "bench-start") == 0)
                bench_start(argc > 2 ? atoi(argv[2]) : 10);
        else if (strcmp(argv[1], "bench-memory") == 0)
                bench_memory(argc > 2 ? atoi(argv[2]) : 20);
        else if (strcmp(argv[1], "bench-logs") == 0)
                bench_logs(argc > 2 ? atoi(argv[2]) : 5);
        else {
                fprintf(stderr, "supervise: unknown scenario %s\n", argv[1]);
                return 2;
        }
        printf("%s: passed\n", argv[1]);
        return 0;
}
