/* The node's container supervisor: desired state in, actual state out.
 *
 * Each container is a small state machine driven by converge(): it compares
 * what is desired with what runs and starts one step at a time (resolve the
 * image off the loop, spawn the shim, ask the runtime to stop or delete);
 * each step's completion calls converge() again. Steps never block the loop.
 *
 * On disk (STATE = opts.state_dir):
 *   STATE/containers/desired.json   the whole desired set (atomic write)
 *   STATE/containers/boot_id        the boot the containers below belong to
 *   STATE/containers/NAME/          the bundle and the container's record:
 *     config.json (OCI spec), spec.json (the spec it runs), state.json
 *     (counters, atomic), shim.pid, pid, exit (written by the shim),
 *     runtime.log (stdout.log and stderr.log of older versions are
 *     removed with the rest)
 *   STATE/runtime/                  the runtime's --root
 *   STATE/images/                   the image store (image.h)
 *   LOGS/containers/NAME/           the container's output, written by its
 *     shim: log, log.1, ... (lib/logrec.h); kept across runs and restarts
 *     of the container, so its counters go on
 *   LOGS/removed/NAME.MS/           the same, moved there when the container
 *     is removed (MS: wall-clock ms); what happens to it next is the
 *     on_removed callback's business
 * LOGS is opts.log_dir, STATE/logs unless given.
 * A restarted agent rebuilds everything from these files: a container whose
 * shim lives is re-adopted (pidfd), one whose shim wrote an exit is
 * accounted as exited (the cgroup still holds its OOM count: only the agent
 * deletes containers), and counters continue from state.json. */
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cgroup.h"
#include "fileio.h"
#include "image.h"
#include "unpack.h"
#include "log.h"
#include "logrec.h"
#include "metrics.h"
#include "ocispec.h"
#include "runtime.h"
#include "util.h"

#define MOD "supervisor"
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_CAP_MS (5 * 60 * 1000)
#define BACKOFF_RESET_MS (10 * 60 * 1000) /* a run this long starts the sequence over */
#define STOP_GRACE_MS 10000               /* SIGTERM, then SIGKILL (Docker's default) */
#define RUNTIME_TIMEOUT_MS 60000
#define AGENT_MEMORY_MIN (16u << 20)      /* v2 memory.min for the agent and its shims */
#define STATE_MAX (64 * 1024)
#define LOG_MAX_SIZE (10u << 20)
#define LOG_MAX_FILES 3
#define DESIRED_MAX (4 * 1024 * 1024)

enum phase { P_IDLE, P_STARTING, P_RUNNING, P_STOPPING, P_DELETING, P_BACKOFF };

struct container {
        struct brm_supervisor *sup;
        struct container *next;
        char name[64];
        bool has_desired;
        struct brm_container_spec desired;
        char *desired_key;        /* spec JSON without "stopped": change detection */
        char *run_key;            /* the same for the current or last run; NULL = never ran */
        enum phase phase;
        enum brm_cstate state;
        char reason[160];
        /* Persisted in state.json. */
        uint32_t restarts, oom_kills;
        bool has_exit;
        int exit_code;
        uint64_t backoff_ms;
        int64_t started_ms, finished_ms;
        bool running;             /* a run is under way (or ended unaccounted) */
        char cgpath[600];
        /* The run. */
        int pid, shim_pid;
        uv_process_t shim;        /* when the shim is our child */
        uv_poll_t poll;           /* pidfd of an adopted shim */
        int pidfd;
        bool shim_open, poll_open, closing;
        uv_timer_t timer;         /* backoff, stop escalation */
        int refs;                 /* open handles + steps in flight */
        /* CPU sampling for cpu_percent. */
        uint64_t cpu_ns, cpu_ms;
        float cpu_pct;
        bool has_cpu;
};

struct brm_supervisor {
        uv_loop_t *loop;
        char dir[512];            /* STATE/containers */
        char images[512];
        char shim[512];
        char unpack[512];
        char logs[512];           /* LOGS: containers/, removed/ */
        uint64_t log_max_size;
        unsigned log_max_files;
        void (*on_removed)(const char *name, const char *moved_to, void *arg);
        void *on_removed_arg;
        uint64_t stop_grace_ms;
        struct brm_cgroup cg;
        struct brm_runtime rt;
        struct container *list;
        uv_timer_t idle;          /* closed last: makes close asynchronous also without containers */
        bool closing, idle_closed;
        void (*close_cb)(void *arg);
        void *close_arg;
};

static void converge(struct container *c);
static void start(struct container *c);

/* ---- small helpers ---- */

static int cpath(const struct container *c, const char *file, char *out, size_t size)
{
        int r = brm_path(out, size, "%s/%s/%s", c->sup->dir, c->name, file);
        return r < 0 ? r : 0;
}

static bool changed(const struct container *c)
{
        return !c->run_key || !c->desired_key || strcmp(c->run_key, c->desired_key) != 0;
}

static void maybe_finish(struct brm_supervisor *sup)
{
        void (*cb)(void *);
        void *arg;

        if (!sup->closing || sup->list || !sup->idle_closed)
                return;
        cb = sup->close_cb;
        arg = sup->close_arg;
        free(sup);
        if (cb)
                cb(arg);
}

static void unref(struct container *c)
{
        struct brm_supervisor *sup = c->sup;

        if (--c->refs > 0)
                return;
        for (struct container **p = &sup->list; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        brm_ocispec_spec_free(&c->desired);
        free(c->desired_key);
        free(c->run_key);
        free(c);
        maybe_finish(sup);
}

static void handle_closed(uv_handle_t *h)
{
        unref(h->data);
}

static int read_int_file(const struct container *c, const char *file, long long *v, int n, size_t *got)
{
        char path[1024];
        uint8_t *data;
        size_t len;
        char *p, *end;
        int r;

        if ((r = cpath(c, file, path, sizeof(path))) < 0 || (r = brm_file_read(path, 256, &data, &len)) < 0)
                return r;
        p = (char *)data;
        *got = 0;
        for (int i = 0; i < n; i++, p = end) {
                v[i] = strtoll(p, &end, 10);
                if (end == p)
                        break;
                (*got)++;
        }
        free(data);
        return 0;
}

/* ---- persistence ---- */

/* tmp + rename without fsync, for files that matter across agent restarts
 * but not across power loss: the page cache outlives a killed agent, and
 * after a reboot the containers these files describe are gone anyway. An
 * fsync costs tens of milliseconds on an SD card, on every start. The
 * desired state, which must survive a reboot, goes through
 * brm_file_write_atomic (fsynced). */
static int write_fast(const char *path, const char *text)
{
        char tmp[1100];
        FILE *f;
        int r = 0;

        if (brm_path(tmp, sizeof(tmp), "%s.tmp", path) < 0)
                return -ENAMETOOLONG;
        if (!(f = fopen(tmp, "we")))
                return -errno;
        if (fputs(text, f) < 0)
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

/* A JSON string of text that may not be UTF-8 (a reason can quote a
 * runtime's output): a stand-in then, so that the record is still saved. */
static json_t *text_value(const char *text)
{
        json_t *v = json_string(text);
        return v ? v : json_string("(text that is not UTF-8)");
}

static int save_state(struct container *c)
{
        char path[1024], *text;
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:i, s:o, s:o}", "restarts", (json_int_t)c->restarts,
                              "oom_kills", (json_int_t)c->oom_kills, "backoff_ms", (json_int_t)c->backoff_ms,
                              "started_ms", (json_int_t)c->started_ms, "finished_ms", (json_int_t)c->finished_ms,
                              "running", (int)c->running, "state", (int)c->state, "reason", text_value(c->reason),
                              "cgroup", text_value(c->cgpath));
        int r;

        if (o && c->has_exit && json_object_set_new(o, "exit_code", json_integer(c->exit_code)) < 0) {
                json_decref(o);
                o = NULL;
        }
        text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!text)
                return -ENOMEM;
        r = cpath(c, "state.json", path, sizeof(path));
        if (r == 0)
                r = write_fast(path, text);
        free(text);
        if (r < 0)
                brm_warn(MOD, "%s: cannot save state.json (%s): counters may be lost on restart", c->name,
                         strerror(-r));
        return r;
}

static double num(const json_t *o, const char *key, double dflt)
{
        const json_t *v = json_object_get(o, key);
        return json_is_number(v) ? json_number_value(v) : dflt;
}

static void load_state(struct container *c)
{
        char path[1024];
        uint8_t *data;
        size_t len;
        json_t *o, *v;

        if (cpath(c, "state.json", path, sizeof(path)) < 0 || brm_file_read(path, STATE_MAX, &data, &len) < 0)
                return;
        o = json_loadb((const char *)data, len, 0, NULL);
        free(data);
        if (!o)
                return;
        c->restarts = (uint32_t)num(o, "restarts", 0);
        c->oom_kills = (uint32_t)num(o, "oom_kills", 0);
        v = json_object_get(o, "exit_code");
        c->has_exit = json_is_integer(v);
        c->exit_code = c->has_exit ? (int)json_integer_value(v) : 0;
        c->backoff_ms = (uint64_t)num(o, "backoff_ms", 0);
        c->started_ms = (int64_t)num(o, "started_ms", 0);
        c->finished_ms = (int64_t)num(o, "finished_ms", 0);
        c->running = json_is_true(json_object_get(o, "running"));
        c->state = (enum brm_cstate)num(o, "state", BRM_CS_PENDING);
        if (c->state > BRM_CS_STOPPED)
                c->state = BRM_CS_PENDING;
        if (json_is_string(v = json_object_get(o, "reason")))
                snprintf(c->reason, sizeof(c->reason), "%s", json_string_value(v));
        if (json_is_string(v = json_object_get(o, "cgroup")))
                snprintf(c->cgpath, sizeof(c->cgpath), "%s", json_string_value(v));
        json_decref(o);
}

/* The spec as one compact JSON line: compared with spec.json (the spec
 * the container runs), so its form must stay as it is written there. */
static char *spec_key(const struct brm_container_spec *s)
{
        json_t *o = brm_ocispec_encode_spec(s, false);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        return text;
}

static int save_desired(struct brm_supervisor *sup, const struct brm_container_spec *specs, size_t n)
{
        json_t *arr = json_array();
        char path[600], *text;
        int r;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (json_array_append_new(arr, brm_ocispec_encode_spec(&specs[i], true)) < 0) {
                        json_decref(arr);
                        return -ENOMEM;
                }
        }
        text = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        if (!text)
                return -ENOMEM;
        r = brm_path(path, sizeof(path), "%s/desired.json", sup->dir);
        if (r >= 0)
                r = brm_file_write_atomic(path, text, strlen(text), 0600);
        free(text);
        return r;
}

/* ---- containers ---- */

static struct container *find(struct brm_supervisor *sup, const char *name)
{
        for (struct container *c = sup->list; c; c = c->next)
                if (strcmp(c->name, name) == 0 && !c->closing)
                        return c;
        return NULL;
}

static struct container *create(struct brm_supervisor *sup, const char *name)
{
        struct container *c = calloc(1, sizeof(*c));
        char path[1024];

        if (!c)
                return NULL;
        c->sup = sup;
        c->pidfd = -1;
        snprintf(c->name, sizeof(c->name), "%s", name);
        uv_timer_init(sup->loop, &c->timer);
        c->timer.data = c;
        c->refs = 1; /* the timer */
        c->next = sup->list;
        sup->list = c;
        if (cpath(c, "", path, sizeof(path)) == 0 && brm_mkdir_p(path, 0700) < 0)
                brm_warn(MOD, "%s: cannot create %s", name, path);
        brm_cgroup_container_path(&sup->cg, name, c->cgpath, sizeof(c->cgpath));
        return c;
}

static void set_desired(struct container *c, const struct brm_container_spec *s)
{
        brm_ocispec_spec_free(&c->desired);
        free(c->desired_key);
        c->desired_key = NULL;
        c->has_desired = false;
        if (!s)
                return;
        if (brm_ocispec_spec_dup(s, &c->desired) < 0 || !(c->desired_key = spec_key(s))) {
                brm_ocispec_spec_free(&c->desired);
                free(c->desired_key);
                c->desired_key = NULL;
                brm_err(MOD, "%s: out of memory", c->name);
                return;
        }
        c->has_desired = true;
}

static void remove_dir(struct container *c)
{
        static const char *const files[] = { "config.json", "spec.json", "state.json", "shim.pid", "pid", "exit",
                                             "stdout.log", "stderr.log", "runtime.log" };
        char path[1024];

        for (size_t i = 0; i < BRM_ARRAY_SIZE(files); i++)
                if (cpath(c, files[i], path, sizeof(path)) == 0)
                        unlink(path);
        if (cpath(c, "", path, sizeof(path)) == 0 && rmdir(path) < 0 && errno != ENOENT)
                brm_warn(MOD, "%s: could not remove %s: %s", c->name, path, strerror(errno));
}

/* LOGS/containers/NAME -> LOGS/removed/NAME.MS, then the callback. */
static void move_logs(struct brm_supervisor *sup, const char *name)
{
        char from[1024], to[1100];
        const char *moved = NULL;

        if (brm_supervisor_log_dir(sup, name, from, sizeof(from)) == 0 &&
            brm_path(to, sizeof(to), "%s/removed/%s.%lld", sup->logs, name, (long long)brm_now_ms()) >= 0) {
                if (rename(from, to) == 0)
                        moved = to;
                else if (errno != ENOENT)
                        brm_warn(MOD, "%s: cannot move %s to %s: %s", name, from, to, strerror(errno));
        }
        if (sup->on_removed)
                sup->on_removed(name, moved, sup->on_removed_arg);
}

static void discard(struct container *c)
{
        brm_info(MOD, "%s: removed", c->name);
        remove_dir(c);
        move_logs(c->sup, c->name);
        c->closing = true;
        uv_close((uv_handle_t *)&c->timer, handle_closed);
}

/* ---- exits ---- */

static void clear_run_files(struct container *c)
{
        char path[1024];
        if (cpath(c, "exit", path, sizeof(path)) == 0)
                unlink(path);
        if (cpath(c, "pid", path, sizeof(path)) == 0)
                unlink(path);
        if (cpath(c, "shim.pid", path, sizeof(path)) == 0)
                unlink(path);
}

static void on_deleted(int status, const char *out, void *arg)
{
        struct container *c = arg;

        if (c->sup->closing) {
                unref(c);
                return;
        }
        if (status != 0)
                brm_warn(MOD, "%s: %s delete failed (%d): %s; ignored", c->name, c->sup->rt.name, status, out);
        clear_run_files(c);
        /* converge() arms the backoff timer. */
        c->phase = c->state == BRM_CS_BACKOFF ? P_BACKOFF : P_IDLE;
        converge(c);
        unref(c);
}

static void backoff_fire(uv_timer_t *t)
{
        struct container *c = t->data;

        c->phase = P_IDLE;
        c->restarts++;
        start(c);
}

/* Deletes the runtime's record of the container (and with it the cgroup).
 * Only after the exit is accounted: the cgroup holds the OOM count. */
static void delete_container(struct container *c)
{
        const char *args[] = { "delete", "--force", c->name, NULL };
        int r;

        c->phase = P_DELETING;
        r = brm_runtime_run(c->sup->loop, &c->sup->rt, args, RUNTIME_TIMEOUT_MS, on_deleted, c);
        if (r < 0) {
                brm_warn(MOD, "%s: cannot run %s delete: %s", c->name, c->sup->rt.name, uv_strerror(r));
                c->refs++;
                on_deleted(r, "", c);
                return;
        }
        c->refs++;
}

static bool should_restart(const struct container *c)
{
        if (!c->has_desired || c->desired.stopped || changed(c))
                return false;
        if (c->desired.restart == BRM_RESTART_ALWAYS)
                return true;
        return c->desired.restart == BRM_RESTART_ON_FAILURE && (!c->has_exit || c->exit_code != 0);
}

/* Accounts one finished run: exit code, OOM kills from the cgroup (before
 * the runtime deletes it), counters persisted, then the restart policy. */
static void account_exit(struct container *c, int code, bool started, int64_t when_ms, const char *lost)
{
        struct brm_cgroup_stats st;
        uint64_t oom = 0;
        char out[200] = "";

        if (c->sup->cg.ops->stats(&c->sup->cg, c->cgpath, &st) == 0 && st.has_oom)
                oom = st.oom_kills;
        c->oom_kills += (uint32_t)oom;
        c->has_exit = code >= 0;
        c->exit_code = code;
        c->finished_ms = when_ms ? when_ms : brm_now_ms();
        c->running = false;
        c->pid = 0;
        c->has_cpu = false;
        if (lost)
                snprintf(c->reason, sizeof(c->reason), "%s", lost);
        else if (!started) {
                char path[1024];
                uint8_t *data;
                size_t len;
                /* The runtime's last log line says why it could not start. */
                if (cpath(c, "runtime.log", path, sizeof(path)) == 0 &&
                    brm_file_read(path, 1 << 20, &data, &len) == 0) {
                        char *end = (char *)data + len, *line;
                        while (end > (char *)data && (end[-1] == '\n' || end[-1] == '\r'))
                                *--end = '\0';
                        line = strrchr((char *)data, '\n');
                        snprintf(out, sizeof(out), "%s", line ? line + 1 : (char *)data);
                        free(data);
                }
                snprintf(c->reason, sizeof(c->reason), "start failed: %.140s", out[0] ? out : "runtime error");
        } else if (oom > 0 && code == 128 + SIGKILL)
                snprintf(c->reason, sizeof(c->reason), "OOMKilled");
        else if (code == 0)
                snprintf(c->reason, sizeof(c->reason), "Completed");
        else if (code > 128)
                snprintf(c->reason, sizeof(c->reason), "Killed by signal %d", code - 128);
        else
                snprintf(c->reason, sizeof(c->reason), "Error: exit code %d", code);
        if (c->finished_ms - c->started_ms >= BACKOFF_RESET_MS)
                c->backoff_ms = 0;
        if (should_restart(c)) {
                c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
                if (c->backoff_ms > BACKOFF_CAP_MS)
                        c->backoff_ms = BACKOFF_CAP_MS;
                c->state = BRM_CS_BACKOFF;
        } else {
                c->state = c->has_desired && c->desired.stopped ? BRM_CS_STOPPED : BRM_CS_EXITED;
        }
        brm_info(MOD, "%s: exited (%s)%s", c->name, c->reason, c->state == BRM_CS_BACKOFF ? ", will restart" : "");
        save_state(c);
        delete_container(c);
}

/* Stops watching the shim (as our child or through its pidfd). The shim
 * itself is not touched. */
static void unwatch(struct container *c)
{
        if (c->shim_open) {
                c->shim_open = false;
                uv_close((uv_handle_t *)&c->shim, handle_closed);
        }
        if (c->poll_open) {
                c->poll_open = false;
                uv_close((uv_handle_t *)&c->poll, handle_closed);
                close(c->pidfd);
                c->pidfd = -1;
        }
}

static void exited(struct container *c, const char *lost)
{
        long long v[3] = { -1, 1, 0 };
        size_t got = 0;

        uv_timer_stop(&c->timer);
        unwatch(c);
        c->shim_pid = 0; /* gone: its pid may be reused */
        if (!lost && (read_int_file(c, "exit", v, 3, &got) < 0 || got < 2))
                lost = "exit status lost: the shim ended without writing it";
        account_exit(c, lost ? -1 : (int)v[0], lost || v[1], got >= 3 ? v[2] : 0, lost);
}

static void on_shim_exit(uv_process_t *p, int64_t status, int sig)
{
        struct container *c = p->data;
        if (!c->sup->closing)
                exited(c, NULL);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
        struct container *c = h->data;

        /* The shim is a child of ours only if this process spawned it before
         * a supervisor restart in the same process; reap it then. */
        waitpid(c->shim_pid, NULL, WNOHANG);
        exited(c, NULL);
}

/* ---- start and stop ---- */

struct start_work {
        uv_work_t req;
        struct container *c;
        char images[512];
        char ref[512];
        char unpack[512];
        struct brm_image_config img;
        int r;
        char why[160];
};

static void resolve_work(uv_work_t *req)
{
        struct start_work *w = req->data;
        w->r = brm_unpack_run(w->unpack, w->images, w->ref, &w->img, w->why, sizeof(w->why));
}

static void fail(struct container *c, const char *fmt, const char *arg)
{
        c->phase = P_IDLE;
        c->state = BRM_CS_FAILED;
        snprintf(c->reason, sizeof(c->reason), fmt, arg);
        brm_warn(MOD, "%s: failed: %s", c->name, c->reason);
        save_state(c);
}

static int write_bundle(struct container *c, const struct brm_image_config *img)
{
        struct brm_ocispec_params p = {
                .spec = &c->desired,
                .image = img,
                .cgroups_path = c->cgpath,
                .cgroup_version = c->sup->cg.ops->version,
                .swap = c->sup->cg.swap,
        };
        char path[1024], *json;
        int r = brm_ocispec_build(&p, &json);

        if (r < 0)
                return r;
        if ((r = cpath(c, "config.json", path, sizeof(path))) == 0)
                r = write_fast(path, json);
        free(json);
        if (r == 0 && (r = cpath(c, "spec.json", path, sizeof(path))) == 0)
                r = write_fast(path, c->desired_key);
        return r;
}

static void resolved(uv_work_t *req, int status)
{
        struct start_work *w = req->data;
        struct container *c = w->c;
        int r;

        if (c->sup->closing || status < 0)
                goto out;
        c->phase = P_IDLE;
        if (!c->has_desired || c->desired.stopped || strcmp(c->run_key ? c->run_key : "", c->desired_key)) {
                /* The desired spec changed while the image was resolved. */
                free(c->run_key);
                c->run_key = NULL;
                converge(c);
                goto out;
        }
        if (w->r < 0) {
                fail(c, "%s", w->why);
                goto out;
        }
        if ((r = write_bundle(c, &w->img)) < 0) {
                fail(c, "cannot write the bundle: %s", r == -EINVAL ? "nothing to run (no args, no entrypoint) "
                                                                     "or a user that the image does not define"
                                                                   : strerror(-r));
                goto out;
        }
        brm_debug(MOD, "%s: image resolved", c->name);
        clear_run_files(c);
        c->started_ms = brm_now_ms();
        c->running = true;
        c->state = BRM_CS_RUNNING;
        c->reason[0] = '\0';
        save_state(c);
        char dir[1024], logdir[1024];
        cpath(c, "", dir, sizeof(dir));
        dir[strlen(dir) - 1] = '\0';
        brm_supervisor_log_dir(c->sup, c->name, logdir, sizeof(logdir));
        c->shim.data = c;
        r = brm_runtime_spawn_shim(c->sup->loop, &c->sup->rt, c->sup->shim, c->name, dir, logdir,
                                   c->sup->log_max_size, c->sup->log_max_files, &c->shim, on_shim_exit);
        c->refs++;
        c->shim_open = true;
        if (r < 0) {
                c->shim_open = false;
                uv_close((uv_handle_t *)&c->shim, handle_closed);
                c->running = false;
                fail(c, "cannot start the shim: %s", uv_strerror(r));
                goto out;
        }
        c->shim_pid = c->shim.pid;
        c->phase = P_RUNNING;
        brm_info(MOD, "%s: started (shim %d)", c->name, c->shim_pid);
out:
        brm_image_config_free(&w->img);
        free(w);
        unref(c);
}

static void start(struct container *c)
{
        struct start_work *w;
        struct brm_cgroup *cg = &c->sup->cg;
        const struct brm_container_spec *s = &c->desired;
        int r;

        /* Never run a container without the limits it asked for. */
        if ((s->memory_max || s->memory_high) && !cg->memory)
                return fail(c, "%s", "memory limit requested but the memory cgroup controller is not available "
                                     "on this node (enable it: cgroup_enable=memory on the kernel command line)");
        if (s->cpu_millis && !cg->cpu)
                return fail(c, "%s", "--cpus requested but the cpu controller (CFS bandwidth) is not available");
        if (s->pids_max && !cg->pids)
                return fail(c, "%s", "--pids requested but the pids cgroup controller is not available");
        if (!(w = calloc(1, sizeof(*w))))
                return fail(c, "%s", "out of memory");
        free(c->run_key);
        c->run_key = strdup(c->desired_key);
        w->c = c;
        w->req.data = w;
        snprintf(w->images, sizeof(w->images), "%s", c->sup->images);
        snprintf(w->ref, sizeof(w->ref), "%s", s->image);
        snprintf(w->unpack, sizeof(w->unpack), "%s", c->sup->unpack);
        c->phase = P_STARTING;
        c->state = BRM_CS_PENDING;
        brm_debug(MOD, "%s: resolving %s", c->name, s->image);
        r = uv_queue_work(c->sup->loop, &w->req, resolve_work, resolved);
        if (r < 0) {
                free(w);
                return fail(c, "cannot queue the image work: %s", uv_strerror(r));
        }
        c->refs++;
}

static void on_killed(int status, const char *out, void *arg)
{
        struct container *c = arg;
        if (status != 0 && !c->sup->closing)
                brm_debug(MOD, "%s: kill: %s", c->name, out);
        unref(c);
}

static void send_kill(struct container *c, const char *sig)
{
        const char *args[] = { "kill", c->name, sig, NULL };
        if (brm_runtime_run(c->sup->loop, &c->sup->rt, args, RUNTIME_TIMEOUT_MS, on_killed, c) == 0)
                c->refs++;
}

static void stop_escalate(uv_timer_t *t)
{
        struct container *c = t->data;
        brm_info(MOD, "%s: still running %.1f s after SIGTERM: SIGKILL", c->name, (double)c->sup->stop_grace_ms / 1000);
        send_kill(c, "KILL");
}

static void stop(struct container *c)
{
        brm_info(MOD, "%s: stopping", c->name);
        c->phase = P_STOPPING;
        send_kill(c, "TERM");
        uv_timer_start(&c->timer, stop_escalate, c->sup->stop_grace_ms, 0);
}

static void converge(struct container *c)
{
        if (c->sup->closing || c->closing)
                return;
        switch (c->phase) {
        case P_STARTING:
        case P_STOPPING:
        case P_DELETING:
                return; /* a step is in flight; its completion converges again */
        case P_RUNNING:
                if (!c->has_desired || c->desired.stopped || changed(c))
                        stop(c);
                return;
        case P_BACKOFF:
                if (c->has_desired && !c->desired.stopped && !changed(c)) {
                        if (!uv_is_active((uv_handle_t *)&c->timer)) {
                                int64_t left = c->finished_ms + (int64_t)c->backoff_ms - brm_now_ms();
                                uv_timer_start(&c->timer, backoff_fire, left > 0 ? (uint64_t)left : 0, 0);
                        }
                        return;
                }
                uv_timer_stop(&c->timer);
                c->phase = P_IDLE;
                break;
        case P_IDLE:
                break;
        }
        if (!c->has_desired) {
                discard(c);
                return;
        }
        if (c->desired.stopped) {
                if (c->state != BRM_CS_STOPPED) {
                        c->state = BRM_CS_STOPPED;
                        save_state(c);
                }
                return;
        }
        if (changed(c)) {
                /* A new spec is a new container: counters start over. */
                if (c->run_key) {
                        c->restarts = c->oom_kills = 0;
                        c->has_exit = false;
                        c->backoff_ms = 0;
                }
                start(c);
        } else if (c->state == BRM_CS_STOPPED || c->state == BRM_CS_PENDING) {
                start(c);
        }
}

/* ---- re-adoption ---- */

static unsigned long long proc_start_time(int pid)
{
        char path[64];
        uint8_t *data;
        size_t len;
        unsigned long long t = 0;
        char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if (brm_file_read(path, 4096, &data, &len) < 0)
                return 0;
        if ((p = strrchr((char *)data, ')')) &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &t) != 1)
                t = 0;
        free(data);
        return t;
}

static void read_pid(struct container *c)
{
        long long v[1];
        size_t got = 0;

        if (c->pid == 0 && read_int_file(c, "pid", v, 1, &got) == 0 && got == 1 && v[0] > 0)
                c->pid = (int)v[0];
}

/* Takes over a container found on disk: its shim still runs (watch it), or
 * it ended while no agent was there (account it now), or it was accounted
 * and only the runtime's record may be left (delete it). */
static void adopt(struct container *c, bool same_boot)
{
        char path[1024];
        long long v[2];
        size_t got = 0;
        int fd;

        if (!c->running) {
                if (brm_path(path, sizeof(path), "%s/%s", c->sup->rt.root, c->name) >= 0 && access(path, F_OK) == 0) {
                        delete_container(c);
                        return;
                }
                c->phase = c->state == BRM_CS_BACKOFF ? P_BACKOFF : P_IDLE;
                return;
        }
        if (!same_boot) {
                exited(c, "node rebooted");
                return;
        }
        if (read_int_file(c, "shim.pid", v, 2, &got) == 0 && got == 2 && v[0] > 0) {
                fd = (int)syscall(SYS_pidfd_open, (pid_t)v[0], 0);
                /* The pidfd pins the process; the start time tells a
                 * recycled pid from our shim. */
                if (fd >= 0 && proc_start_time((int)v[0]) != (unsigned long long)v[1]) {
                        close(fd);
                        fd = -1;
                }
                if (fd >= 0 && uv_poll_init(c->sup->loop, &c->poll, fd) == 0) {
                        c->pidfd = fd;
                        c->shim_pid = (int)v[0];
                        c->poll.data = c;
                        c->poll_open = true;
                        c->refs++;
                        uv_poll_start(&c->poll, UV_READABLE, on_pidfd);
                        c->phase = P_RUNNING;
                        c->state = BRM_CS_RUNNING;
                        read_pid(c);
                        brm_info(MOD, "%s: re-adopted (pid %d, shim %d)", c->name, c->pid, c->shim_pid);
                        return;
                }
                if (fd >= 0)
                        close(fd);
        }
        exited(c, NULL);
}

static int load_desired(struct brm_supervisor *sup)
{
        char path[600];
        uint8_t *data;
        size_t len;
        json_t *arr, *o;
        size_t i;
        int r;

        if (brm_path(path, sizeof(path), "%s/desired.json", sup->dir) < 0)
                return -ENAMETOOLONG;
        r = brm_file_read(path, DESIRED_MAX, &data, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        arr = json_loadb((const char *)data, len, 0, NULL);
        free(data);
        if (!json_is_array(arr)) {
                json_decref(arr);
                return -EINVAL;
        }
        json_array_foreach(arr, i, o) {
                struct brm_container_spec s;
                struct container *c;
                if (brm_ocispec_decode_spec(o, &s) < 0) {
                        brm_warn(MOD, "%s: an entry is not valid: ignored", path);
                        continue;
                }
                if (!find(sup, s.name) && (c = create(sup, s.name)))
                        set_desired(c, &s);
                brm_ocispec_spec_free(&s);
        }
        json_decref(arr);
        return 0;
}

static void load_containers(struct brm_supervisor *sup)
{
        DIR *d = opendir(sup->dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                struct container *c;
                char path[1024];
                uint8_t *data;
                size_t len;

                if (e->d_type != DT_DIR || !brm_valid_container_name(e->d_name))
                        continue;
                if (!(c = find(sup, e->d_name)) && !(c = create(sup, e->d_name)))
                        continue;
                load_state(c);
                if (cpath(c, "spec.json", path, sizeof(path)) == 0 && brm_file_read(path, STATE_MAX, &data, &len) == 0)
                        c->run_key = (char *)data;
        }
        closedir(d);
}

/* Containers do not survive a reboot; their records do. The boot id tells
 * which records describe processes of this boot. */
static bool same_boot(struct brm_supervisor *sup)
{
        char path[600], now[64] = "";
        uint8_t *old = NULL, *cur;
        size_t len;
        bool same;

        if (brm_file_read("/proc/sys/kernel/random/boot_id", 64, &cur, &len) == 0) {
                snprintf(now, sizeof(now), "%s", (char *)cur);
                free(cur);
        }
        if (brm_path(path, sizeof(path), "%s/boot_id", sup->dir) < 0)
                return true;
        same = brm_file_read(path, 64, &old, &len) < 0 || strcmp((char *)old, now) == 0;
        free(old);
        if (!same || access(path, F_OK) < 0)
                brm_file_write_atomic(path, now, strlen(now), 0644);
        return same;
}

/* Log directories without a container: the agent ended after removing the
 * container and before moving its logs. */
static void sweep_logs(struct brm_supervisor *sup)
{
        char path[600];
        struct dirent *e;
        DIR *d;

        if (brm_path(path, sizeof(path), "%s/containers", sup->logs) < 0 || !(d = opendir(path)))
                return;
        while ((e = readdir(d)))
                if (e->d_type == DT_DIR && brm_valid_container_name(e->d_name) && !find(sup, e->d_name))
                        move_logs(sup, e->d_name);
        closedir(d);
}

/* ---- the public interface ---- */

int brm_supervisor_log_dir(const struct brm_supervisor *sup, const char *name, char *out, size_t size)
{
        if (!brm_valid_container_name(name))
                return -EINVAL;
        return brm_path(out, size, "%s/containers/%s", sup->logs, name) < 0 ? -ENAMETOOLONG : 0;
}

const char *brm_supervisor_logs_root(const struct brm_supervisor *sup)
{
        return sup->logs;
}

static void shim_default(char *out, size_t size)
{
        char exe[512];
        size_t n = sizeof(exe);

        /* Beside our own binary (an installed or a build tree), else PATH. */
        if (uv_exepath(exe, &n) == 0) {
                char *slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0';
                        if (brm_path(out, size, "%s/bramble-shim", exe) >= 0 && access(out, X_OK) == 0)
                                return;
                }
        }
        snprintf(out, size, "bramble-shim");
}

int brm_supervisor_open(uv_loop_t *loop, const struct brm_supervisor_opts *opts, struct brm_supervisor **ret)
{
        struct brm_supervisor *sup = calloc(1, sizeof(*sup));
        char rtroot[600], why[600], logs_c[600], logs_r[600];
        bool boot;
        int r;

        if (!sup)
                return -ENOMEM;
        sup->loop = loop;
        sup->stop_grace_ms = opts->stop_grace_ms ? opts->stop_grace_ms : STOP_GRACE_MS;
        if (brm_path(sup->dir, sizeof(sup->dir), "%s/containers", opts->state_dir) < 0 ||
            brm_path(sup->images, sizeof(sup->images), "%s/images", opts->state_dir) < 0 ||
            brm_path(rtroot, sizeof(rtroot), "%s/runtime", opts->state_dir) < 0) {
                r = -ENAMETOOLONG;
                goto fail;
        }
        if ((opts->log_dir ? brm_path(sup->logs, sizeof(sup->logs), "%s", opts->log_dir)
                           : brm_path(sup->logs, sizeof(sup->logs), "%s/logs", opts->state_dir)) < 0 ||
            brm_path(logs_c, sizeof(logs_c), "%s/containers", sup->logs) < 0 ||
            brm_path(logs_r, sizeof(logs_r), "%s/removed", sup->logs) < 0) {
                r = -ENAMETOOLONG;
                goto fail;
        }
        sup->log_max_size = opts->log_max_size ? opts->log_max_size : LOG_MAX_SIZE;
        if (sup->log_max_size < 4096)
                sup->log_max_size = 4096;
        sup->log_max_files = opts->log_max_files ? opts->log_max_files : LOG_MAX_FILES;
        if (sup->log_max_files > BRM_LOG_MAX_FILES)
                sup->log_max_files = BRM_LOG_MAX_FILES;
        sup->on_removed = opts->on_removed;
        sup->on_removed_arg = opts->on_removed_arg;
        if ((r = brm_mkdir_p(sup->dir, 0700)) < 0 || (r = brm_mkdir_p(sup->images, 0700)) < 0 ||
            (r = brm_mkdir_p(rtroot, 0700)) < 0) {
                brm_err(MOD, "cannot create the state dir %s: %s", opts->state_dir, strerror(-r));
                goto fail;
        }
        if ((r = brm_mkdir_p(sup->logs, 0700)) < 0 || (r = brm_mkdir_p(logs_c, 0700)) < 0 ||
            (r = brm_mkdir_p(logs_r, 0700)) < 0) {
                brm_err(MOD, "cannot create the log dir %s: %s", sup->logs, strerror(-r));
                goto fail;
        }
        if ((r = brm_cgroup_open(opts->cgroup_root, NULL, &sup->cg)) < 0) {
                brm_err(MOD, "cgroups under %s are not usable: %s", opts->cgroup_root ? opts->cgroup_root : "/sys/fs/cgroup",
                        strerror(-r));
                goto fail;
        }
        if ((r = brm_runtime_detect(opts->runtime, &sup->cg, rtroot, &sup->rt, why, sizeof(why))) < 0) {
                brm_err(MOD, "%s", why);
                goto fail;
        }
        if (opts->shim)
                snprintf(sup->shim, sizeof(sup->shim), "%s", opts->shim);
        else
                shim_default(sup->shim, sizeof(sup->shim));
        brm_unpack_default(sup->unpack, sizeof(sup->unpack));
        brm_info(MOD, "runtime %s (%s), cgroup %s%s base %s, controllers:%s%s%s", sup->rt.version, sup->rt.path,
                 sup->cg.ops->name, sup->cg.hybrid ? " (hybrid)" : "", sup->cg.base, sup->cg.memory ? " memory" : "",
                 sup->cg.cpu ? " cpu" : "", sup->cg.pids ? " pids" : "");
        /* A container must not be able to starve the agent of memory. */
        if ((r = sup->cg.ops->protect_self(&sup->cg, AGENT_MEMORY_MIN)) < 0)
                brm_warn(MOD, "could not fully protect the agent's cgroup (%s): continuing", strerror(-r));
        {
                /* The kernel's OOM killer picks containers before the agent
                 * (and its shims, which inherit this; runc resets it to 0
                 * for the container from the spec). */
                FILE *f = fopen("/proc/self/oom_score_adj", "we");
                bool ok = f && fputs("-900", f) >= 0;
                if (f && fclose(f) != 0)
                        ok = false;
                if (!ok)
                        brm_warn(MOD, "could not lower the agent's oom_score_adj (%s): continuing", strerror(errno));
        }
        uv_timer_init(loop, &sup->idle);
        sup->idle.data = sup;
        if ((r = load_desired(sup)) < 0)
                brm_warn(MOD, "desired.json is not readable (%s): starting with an empty desired set", strerror(-r));
        load_containers(sup);
        sweep_logs(sup);
        boot = same_boot(sup);
        for (struct container *c = sup->list; c; c = c->next)
                adopt(c, boot);
        for (struct container *c = sup->list; c; c = c->next)
                converge(c);
        *ret = sup;
        return 0;
fail:
        free(sup);
        return r;
}

void brm_supervisor_caps(const struct brm_supervisor *sup, struct brm_supervisor_caps *ret)
{
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->runtime, sizeof(ret->runtime), "%s", sup->rt.version);
        ret->cgroup_version = sup->cg.ops->version;
        ret->memory_controller = sup->cg.memory;
        ret->cpu_controller = sup->cg.cpu;
        ret->pids_controller = sup->cg.pids;
}

static int validate(const struct brm_container_spec *s, char *why, size_t size)
{
        if (!brm_valid_container_name(s->name))
                return snprintf(why, size, "name '%s' is not valid: expected [a-z0-9][a-z0-9_.-]{0,62}", s->name),
                       -EINVAL;
        if (!s->image[0])
                return snprintf(why, size, "%s: image is empty", s->name), -EINVAL;
        if ((unsigned)s->restart > BRM_RESTART_NEVER || (unsigned)s->network > BRM_NET_NONE)
                return snprintf(why, size, "%s: restart or network out of range", s->name), -EINVAL;
        if (s->memory_high && s->memory_max && s->memory_high > s->memory_max)
                return snprintf(why, size, "%s: memory_high is above memory_max", s->name), -EINVAL;
        for (size_t i = 0; i < BRM_MAX_ENV && s->env[i]; i++)
                if (!strchr(s->env[i], '=') || s->env[i][0] == '=')
                        return snprintf(why, size, "%s: env '%s' is not KEY=VALUE", s->name, s->env[i]), -EINVAL;
        return 0;
}

int brm_supervisor_check(struct brm_supervisor *sup, const struct brm_container_spec *spec, char *why, size_t why_size)
{
        enum brm_image_kind kind;
        int r;

        if ((r = validate(spec, why, why_size)) < 0)
                return r;
        if ((spec->memory_max || spec->memory_high) && !sup->cg.memory)
                return snprintf(why, why_size, "memory limit refused: this node has no memory cgroup controller"),
                       -ENOTSUP;
        if (spec->cpu_millis && !sup->cg.cpu)
                return snprintf(why, why_size, "--cpus refused: this node has no cpu controller"), -ENOTSUP;
        if (spec->pids_max && !sup->cg.pids)
                return snprintf(why, why_size, "--pids refused: this node has no pids controller"), -ENOTSUP;
        if ((r = brm_image_identify(spec->image, &kind, why, why_size)) < 0)
                return r;
        if (kind == BRM_IMAGE_ROOTFS && !spec->args[0])
                return snprintf(why, why_size, "image %s is a root file-system directory: give the command to run",
                                spec->image),
                       -EINVAL;
        return 0;
}

int brm_supervisor_apply(struct brm_supervisor *sup, const struct brm_container_spec *specs, size_t n)
{
        char why[256];
        int r;

        for (size_t i = 0; i < n; i++) {
                if (validate(&specs[i], why, sizeof(why)) < 0) {
                        brm_warn(MOD, "apply refused: %s", why);
                        return -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(specs[i].name, specs[j].name) == 0)
                                return -EINVAL;
        }
        if ((r = save_desired(sup, specs, n)) < 0) {
                brm_err(MOD, "cannot persist the desired state: %s", strerror(-r));
                return r;
        }
        for (struct container *c = sup->list; c; c = c->next) {
                bool keep = false;
                for (size_t i = 0; i < n && !keep; i++)
                        keep = strcmp(c->name, specs[i].name) == 0;
                if (!keep && !c->closing)
                        set_desired(c, NULL);
        }
        for (size_t i = 0; i < n; i++) {
                struct container *c = find(sup, specs[i].name);
                if (!c && !(c = create(sup, specs[i].name)))
                        return -ENOMEM;
                set_desired(c, &specs[i]);
        }
        for (struct container *c = sup->list; c; c = c->next)
                converge(c);
        return 0;
}

static void fill_status(struct container *c, struct brm_container_status *st)
{
        struct brm_cgroup_stats cs;

        memset(st, 0, sizeof(*st));
        snprintf(st->name, sizeof(st->name), "%s", c->name);
        snprintf(st->image, sizeof(st->image), "%s", c->desired.image);
        st->state = c->state;
        st->restarts = c->restarts;
        st->has_exit_code = c->has_exit;
        st->exit_code = c->exit_code;
        st->oom_kills = c->oom_kills;
        snprintf(st->reason, sizeof(st->reason), "%s", c->reason);
        /* "running" promises a process: until the runtime has written its
         * pid, the container is still starting. */
        if (c->phase != P_RUNNING && c->phase != P_STOPPING) {
                if (st->state == BRM_CS_RUNNING)
                        st->state = BRM_CS_PENDING;
                return;
        }
        read_pid(c);
        st->pid = c->pid;
        if (st->state == BRM_CS_RUNNING && st->pid <= 0)
                st->state = BRM_CS_PENDING;
        if (c->sup->cg.ops->stats(&c->sup->cg, c->cgpath, &cs) < 0)
                return;
        /* OOM kills of a run still under way (a child killed, the init alive). */
        if (cs.has_oom)
                st->oom_kills += (uint32_t)cs.oom_kills;
        st->has_memory = cs.has_memory;
        st->memory_bytes = cs.memory_bytes;
        if (cs.has_cpu) {
                uint64_t now = brm_mono_ms();
                /* Over at least a second since the last sample, so that two
                 * callers a moment apart do not see noise. */
                if (c->cpu_ms && now - c->cpu_ms >= 1000 && cs.cpu_usage_ns >= c->cpu_ns) {
                        c->cpu_pct = (float)((double)(cs.cpu_usage_ns - c->cpu_ns) / 1e6 / (double)(now - c->cpu_ms) * 100.0);
                        c->has_cpu = true;
                }
                if (!c->cpu_ms || now - c->cpu_ms >= 1000) {
                        c->cpu_ns = cs.cpu_usage_ns;
                        c->cpu_ms = now;
                }
                st->has_cpu = c->has_cpu;
                st->cpu_percent = c->cpu_pct;
        }
}

int brm_supervisor_status(struct brm_supervisor *sup, struct brm_container_status **ret, size_t *ret_n)
{
        struct brm_container_status *arr;
        size_t n = 0, i = 0;

        for (struct container *c = sup->list; c; c = c->next)
                n += c->has_desired && !c->closing;
        if (!(arr = calloc(n ? n : 1, sizeof(*arr))))
                return -ENOMEM;
        for (struct container *c = sup->list; c; c = c->next)
                if (c->has_desired && !c->closing)
                        fill_status(c, &arr[i++]);
        *ret = arr;
        *ret_n = n;
        return 0;
}

uint64_t brm_supervisor_shim_rss(const struct brm_supervisor *sup)
{
        uint64_t total = 0, rss;

        for (const struct container *c = sup->list; c; c = c->next)
                if (c->shim_pid > 0 && brm_metrics_proc_rss(c->shim_pid, &rss) == 0)
                        total += rss;
        return total;
}

static void idle_closed(uv_handle_t *h)
{
        struct brm_supervisor *sup = h->data;
        sup->idle_closed = true;
        maybe_finish(sup);
}

void brm_supervisor_close(struct brm_supervisor *sup, void (*cb)(void *arg), void *arg)
{
        if (!sup)
                return;
        sup->closing = true;
        sup->close_cb = cb;
        sup->close_arg = arg;
        for (struct container *c = sup->list; c; c = c->next) {
                if (!c->closing) {
                        c->closing = true;
                        uv_close((uv_handle_t *)&c->timer, handle_closed);
                }
                /* The container keeps running; the next agent re-adopts it. */
                unwatch(c);
        }
        uv_close((uv_handle_t *)&sup->idle, idle_closed);
}
