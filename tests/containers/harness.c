/* The harness of the container tests (see supervise.c): the agent child,
 * its snapshots, setup and teardown, and what scenarios and benchmarks share.
 *
 * Container supervision against a real OCI runtime and real cgroups.
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
#include <sys/uio.h>
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

char sv_work[64], sv_state[128], sv_rootfs[128], sv_snap[128], sv_shim[512];
const char *sv_cgroup_root;
static pid_t current_agent;


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
                if (cap - len < 768)
                        buf = realloc(buf, cap *= 2);
                len += (size_t)snprintf(buf + len, cap - len,
                                        "%s %d %d %u %d %d %u %d %.2f %d %llu %d %llu %s %u %lld %s\t%s\n",
                                        st[i].name, st[i].state, st[i].pid, st[i].restarts, st[i].has_exit_code,
                                        st[i].exit_code, st[i].oom_kills, st[i].has_cpu, st[i].cpu_percent,
                                        st[i].has_memory, (unsigned long long)st[i].memory_bytes,
                                        st[i].has_cpu_usage, (unsigned long long)st[i].cpu_usage_usec,
                                        st[i].health ? st[i].health : "-", st[i].health_failures,
                                        (long long)st[i].since_ms, st[i].reason[0] ? st[i].reason : "-",
                                        st[i].health_log);
        }
        free(st);
        snprintf(tmp, sizeof(tmp), "%s.tmp", sv_snap);
        if (buf && (f = fopen(tmp, "w"))) {
                fwrite(buf, 1, len, f);
                fclose(f);
                rename(tmp, sv_snap);
        }
        free(buf);
}

static void agent_closed(void *arg)
{
}

static int agent_log_fd = -1;

/* The agent child's log lines, also kept in sv_work/agent.log. */
static void agent_log_line(void *arg, enum brm_log_level level, const char *line, size_t len)
{
        struct iovec v[2] = { { (void *)line, len }, { "\n", 1 } };

        if (agent_log_fd >= 0 && writev(agent_log_fd, v, 2) < 0)
                return;
}

static void agent_log_path(char *path, size_t size)
{
        snprintf(path, size, "%s/agent.log", sv_work);
}

void sv_agent_log_clear(void)
{
        char path[128];

        agent_log_path(path, sizeof(path));
        unlink(path);
}

bool sv_agent_log_has(const char *text)
{
        char path[128];
        uint8_t *data;
        size_t len;
        bool found;

        agent_log_path(path, sizeof(path));
        if (brm_file_read(path, 16u << 20, &data, &len) < 0)
                return false;
        found = strstr((char *)data, text) != NULL;
        free(data);
        return found;
}

/* SIGUSR1: the master session is lost; SIGUSR2: a session is up and its
 * master sends the agent's desired set again (the on-disconnect tests). */
static uv_signal_t agent_usr1, agent_usr2;
static const struct brm_container_spec *agent_specs;
static long agent_n;

static void agent_master(uv_signal_t *s, int signum)
{
        brm_supervisor_set_master(agent_sup, signum == SIGUSR2);
        if (signum == SIGUSR2 && agent_n >= 0)
                brm_supervisor_apply(agent_sup, agent_specs, (size_t)agent_n);
}

static void agent_stop(uv_signal_t *s, int signum)
{
        uv_timer_stop(&agent_timer);
        uv_close((uv_handle_t *)&agent_timer, NULL);
        uv_close((uv_handle_t *)&agent_term, NULL);
        uv_close((uv_handle_t *)&agent_usr1, NULL);
        uv_close((uv_handle_t *)&agent_usr2, NULL);
        brm_supervisor_close(agent_sup, agent_closed, NULL);
}

/* Starts an agent; n < 0 keeps the persisted desired state. */
pid_t sv_agent_start(const struct brm_container_spec *specs, long n)
{
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (pid > 0)
                return current_agent = pid;
        /* The agent dies with the test (a failed assert must not leave it). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        uv_loop_t loop;
        struct brm_supervisor_opts o = {
                .state_dir = sv_state, .cgroup_root = sv_cgroup_root, .shim = sv_shim, .stop_grace_ms = 1000,
        };
        int r;

        {
                char path[128];
                agent_log_path(path, sizeof(path));
                agent_log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                brm_log_set_sink(agent_log_line, NULL);
        }
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
        agent_specs = specs;
        agent_n = n;
        uv_signal_init(&loop, &agent_usr1);
        uv_signal_start(&agent_usr1, agent_master, SIGUSR1);
        uv_signal_init(&loop, &agent_usr2);
        uv_signal_start(&agent_usr2, agent_master, SIGUSR2);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        exit(0);
}

void sv_agent_kill(pid_t pid, int sig)
{
        int st;
        kill(pid, sig);
        CHECK_INT(waitpid(pid, &st, 0), ==, pid);
        if (pid == current_agent)
                current_agent = 0;
        if (sig == SIGTERM)
                CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ==, 0);
        unlink(sv_snap);
}

/* ---- snapshots ---- */

static int read_snap(struct sv_snap *out, int max)
{
        FILE *f = fopen(sv_snap, "r");
        char line[1024], *tab;
        int n = 0;

        if (!f)
                return -1;
        while (n < max && fgets(line, sizeof(line), f)) {
                struct sv_snap *s = &out[n];
                int off = 0;
                memset(s, 0, sizeof(*s));
                line[strcspn(line, "\n")] = '\0';
                if ((tab = strchr(line, '\t'))) {
                        *tab = '\0';
                        snprintf(s->health_log, sizeof(s->health_log), "%s", tab + 1);
                }
                if (sscanf(line, "%63s %d %d %u %d %d %u %d %lf %d %llu %d %llu %15s %u %lld %n", s->name, &s->state,
                           &s->pid, &s->restarts, &s->has_exit, &s->exit_code, &s->oom_kills, &s->has_cpu, &s->cpu,
                           &s->has_mem, &s->mem, &s->has_cpu_usage, &s->cpu_usage_usec, s->health, &s->health_failures,
                           &s->since_ms, &off) >= 16) {
                        snprintf(s->reason, sizeof(s->reason), "%s", line + off);
                        s->reason[strcspn(s->reason, "\n")] = '\0';
                        n++;
                }
        }
        fclose(f);
        return n;
}

bool sv_get(const char *name, struct sv_snap *ret)
{
        struct sv_snap all[32];
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

void sv_sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        reap();
        nanosleep(&ts, NULL);
}


/* ---- setup ---- */

void sv_sh(const char *cmd)
{
        int r = system(cmd);
        if (r != 0)
                CHECK_FAIL_("'%s' failed: %d", cmd, r);
}

struct brm_container_spec sv_spec(const char *name, const char *image, enum brm_restart restart, const char *script)
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

static pid_t setup_pid;
static bool torn_down;

/* A failed check exits at once, before the scenario's teardown: stop the
 * agent and force-remove whatever containers it left, so that a failing
 * run does not leave containers, shims and cgroups behind. Runs only in
 * the test process itself (its forked agents exit through here too). */
static void cleanup_on_exit(void)
{
        char cmd[1400];

        if (getpid() != setup_pid || torn_down)
                return;
        if (current_agent > 0)
                kill(current_agent, SIGKILL);
        snprintf(cmd, sizeof(cmd),
                 "for c in $(runc --root %s/runtime list -q 2>/dev/null); do runc --root %s/runtime delete --force \"$c\"; done; "
                 "%s %s",
                 sv_state, sv_state, getenv("BRM_KEEP") ? "true" : "rm -rf", sv_work);
        if (system(cmd) != 0)
                fprintf(stderr, "supervise: cleaning up after the failure failed\n");
}

void sv_setup(void)
{
        static const char *const applets[] = { "sh", "sleep", "dd", "cat", "echo", "true", "ls", "test", "[", "yes",
                                                 "wc", "head", "chown" };
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
                snprintf(sv_shim, sizeof(sv_shim), "%s", getenv("BRM_SHIM"));
        else
                snprintf(sv_shim, sizeof(sv_shim), "%s/bramble-shim", getenv("BRM_BIN"));
        {
                struct brm_cgroup cg;
                if (brm_cgroup_open(NULL, NULL, &cg) < 0 || !cg.memory || !cg.pids || !cg.cpu)
                        CHECK_SKIP("cgroups with the memory, cpu and pids controllers are not usable here");
        }
        snprintf(sv_work, sizeof(sv_work), "/tmp/brm-supervise.XXXXXX");
        CHECK(mkdtemp(sv_work));
        setup_pid = getpid();
        atexit(cleanup_on_exit);
        snprintf(sv_state, sizeof(sv_state), "%s/state", sv_work);
        snprintf(sv_rootfs, sizeof(sv_rootfs), "%s/rootfs", sv_work);
        snprintf(sv_snap, sizeof(sv_snap), "%s/snapshot", sv_work);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/bin %s/proc %s/dev %s/sys %s/tmp %s/run %s/etc && cp /bin/busybox %s/bin/",
                 sv_rootfs, sv_rootfs, sv_rootfs, sv_rootfs, sv_rootfs, sv_rootfs, sv_rootfs, sv_rootfs);
        sv_sh(cmd);
        for (size_t i = 0; i < BRM_ARRAY_SIZE(applets); i++) {
                snprintf(cmd, sizeof(cmd), "ln -s busybox '%s/bin/%s'", sv_rootfs, applets[i]);
                sv_sh(cmd);
        }
        brm_log_set_level(getenv("BRM_DEBUG") ? BRM_LOG_DEBUG : BRM_LOG_INFO);
        prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void sv_teardown(void)
{
        char cmd[1400];
        /* Everything removed: the container directories and cgroups are gone. */
        pid_t a = sv_agent_start(NULL, 0);
        uint64_t t0 = brm_mono_ms();
        for (;;) {
                struct sv_snap all[8];
                char dir[400];
                DIR *d;
                int left = 0;
                struct dirent *e;
                snprintf(dir, sizeof(dir), "%s/containers", sv_state);
                if ((d = opendir(dir))) {
                        while ((e = readdir(d)))
                                left += e->d_type == DT_DIR && e->d_name[0] != '.';
                        closedir(d);
                }
                if (left == 0 && read_snap(all, 8) == 0)
                        break;
                if (brm_mono_ms() - t0 > 30000)
                        CHECK_FAIL_("containers not removed after 30 s (%d left)", left);
                sv_sleep_ms(100);
        }
        sv_agent_kill(a, SIGTERM);
        /* The runtime removes each container's cgroup but not the (now
         * empty) BASE/bramble parents it created in every v1 hierarchy. */
        {
                struct brm_cgroup cg;
                if (brm_cgroup_open(NULL, NULL, &cg) == 0) {
                        snprintf(cmd, sizeof(cmd), "for h in %s/*/; do rmdir \"${h}%s/bramble\" 2>/dev/null; done; true",
                                 cg.root, strcmp(cg.base, "/") == 0 ? "" : cg.base + 1);
                        sv_sh(cmd);
                }
        }
        if (!getenv("BRM_KEEP")) {
                snprintf(cmd, sizeof(cmd), "rm -rf %s", sv_work);
                sv_sh(cmd);
        }
        torn_down = true;
}

void sv_cgroup_file(const char *name, const char *ctl, const char *file, char *out, size_t size)
{
        struct brm_cgroup cg;
        char path[600];
        CHECK_INT(brm_cgroup_open(NULL, NULL, &cg), ==, 0);
        CHECK_INT(brm_cgroup_container_path(&cg, name, path, sizeof(path)), ==, 0);
        CHECK(brm_path(out, size, "%s%s%s%s/%s", cg.root, cg.ops->version == 1 ? "/" : "",
                       cg.ops->version == 1 ? ctl : "", path, file) >= 0);
}

unsigned long long sv_read_ull(const char *path)
{
        uint64_t v = 0;
        brm_cgroup_read_u64(path, &v);
        return (unsigned long long)v;
}

bool sv_alive(int pid)
{
        return pid > 0 && kill(pid, 0) == 0;
}

/* Reads PID's state and parent from /proc; false when it is gone. */
static bool proc_state(int pid, char *st, int *ppid)
{
        char path[64], buf[512];
        FILE *f;
        bool ok = false;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if (!(f = fopen(path, "r")))
                return false;
        if (fgets(buf, sizeof(buf), f)) {
                char *p = strrchr(buf, ')');
                ok = p && sscanf(p + 2, "%c %d", st, ppid) == 2;
        }
        fclose(f);
        return ok;
}

/* Zombies whose parent is the agent or a shim; at most MAX, pids and parents in Z. */
static size_t scan_zombies(pid_t agent, int (*z)[2], size_t max)
{
        DIR *d = opendir("/proc");
        struct dirent *e;
        size_t n = 0;

        CHECK(d);
        while ((e = readdir(d)) && n < max) {
                char path[64], pcomm[64] = "", st = 0;
                int pid = atoi(e->d_name), ppid = 0;
                FILE *f;
                if (pid <= 0 || !proc_state(pid, &st, &ppid) || st != 'Z')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/comm", ppid);
                if ((f = fopen(path, "r"))) {
                        if (fgets(pcomm, sizeof(pcomm), f))
                                pcomm[strcspn(pcomm, "\n")] = '\0';
                        fclose(f);
                }
                if (ppid == agent || strcmp(pcomm, "bramble-shim") == 0) {
                        z[n][0] = pid;
                        z[n][1] = ppid;
                        n++;
                }
        }
        closedir(d);
        return n;
}

/* No zombie may stay with the agent or a shim as its parent. A child that has just
 * exited is a zombie until its parent's loop runs (a shim whose container was
 * restarted a moment ago, on a busy machine), so only one still unreaped after
 * 5 s is a leak. */
void sv_check_no_zombies(pid_t agent)
{
        int z[64][2];
        size_t n = scan_zombies(agent, z, 64);

        for (int waited = 0; n > 0 && waited < 5000; waited += 50) {
                size_t left = 0;
                usleep(50 * 1000);
                for (size_t i = 0; i < n; i++) {
                        char st = 0;
                        int ppid = 0;
                        if (proc_state(z[i][0], &st, &ppid) && st == 'Z' && ppid == z[i][1])
                                memcpy(z[left++], z[i], sizeof(z[i]));
                }
                n = left;
        }
        for (size_t i = 0; i < n; i++)
                CHECK_FAIL_("zombie %d with parent %d left unreaped for 5 s", z[i][0], z[i][1]);
}

/* ---- container output ---- */


/* Parses DIR/NAME into records; false when there is no such file. */
bool sv_log_load(const char *dir, const char *name, struct sv_logfile *lf)
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

void sv_log_free(struct sv_logfile *lf)
{
        free(lf->text);
        free(lf->r);
}

