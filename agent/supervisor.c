/* The node's container supervisor: desired state in, actual state out.
 *
 * Each container is a small state machine driven by converge(): it compares
 * what is desired with what runs and starts one step at a time (resolve the
 * image off the loop, spawn the shim, ask the runtime to stop or delete);
 * each step's completion calls converge() again, always from the loop and
 * never from inside the step that started it. Steps never block the loop.
 *
 * What lives elsewhere: the records on disk (desired.json, each
 * container's state.json, bundle and run files) in ctrrecord.c; watching
 * and re-adopting the shims in shimwatch.c; the OCI spec in ocispec.c.
 *
 * STATE is opts.state_dir:
 *   STATE/containers/               the records (ctrrecord.h)
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
#include <unistd.h>

#include "cgroup.h"
#include "ctrrecord.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "logrec.h"
#include "ocispec.h"
#include "runtime.h"
#include "shimwatch.h"
#include "util.h"

#define MOD "supervisor"
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_CAP_MS (5 * 60 * 1000)
#define BACKOFF_RESET_MS (10 * 60 * 1000) /* a run this long starts the sequence over */
#define STOP_GRACE_MS 10000               /* SIGTERM, then SIGKILL (Docker's default) */
#define RUNTIME_TIMEOUT_MS 60000
#define AGENT_MEMORY_MIN (16u << 20)      /* v2 memory.min for the agent and its shims */
#define LOG_MAX_SIZE (10u << 20)
#define LOG_MAX_FILES 3

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
        struct brm_ctrrecord_state rec; /* persisted in state.json */
        /* The run. */
        int pid;
        struct brm_shimwatch shim;
        bool closing;
        uv_timer_t timer;         /* backoff, stop escalation, a failed delete's completion */
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

static void exited(struct container *c, const char *lost);

static void shim_closed(struct brm_shimwatch *w)
{
        unref(w->data);
}

static void shim_ended(struct brm_shimwatch *w)
{
        struct container *c = w->data;
        if (!c->sup->closing)
                exited(c, NULL);
}

static void save_state(struct container *c)
{
        int r = brm_ctrrecord_save_state(c->sup->dir, c->name, &c->rec);
        if (r < 0)
                brm_warn(MOD, "%s: cannot save state.json (%s): counters may be lost on restart", c->name,
                         strerror(-r));
}

static void read_pid(struct container *c)
{
        if (c->pid == 0)
                brm_ctrrecord_read_pid(c->sup->dir, c->name, &c->pid);
}

/* The limits a spec asks for that this node's cgroups cannot enforce: NULL,
 * or which, in the words of a refusal (AT_CHECK) or of a failed start. A
 * container never runs without the limits it asked for. */
static const char *unenforceable(const struct brm_cgroup *cg, const struct brm_container_spec *s, bool at_check)
{
        if ((s->memory_max || s->memory_high) && !cg->memory)
                return at_check ? "memory limit refused: this node has no memory cgroup controller"
                                : "memory limit requested but the memory cgroup controller is not available "
                                  "on this node (enable it: cgroup_enable=memory on the kernel command line)";
        if (s->cpu_millis && !cg->cpu)
                return at_check ? "--cpus refused: this node has no cpu controller"
                                : "--cpus requested but the cpu controller (CFS bandwidth) is not available";
        if (s->pids_max && !cg->pids)
                return at_check ? "--pids refused: this node has no pids controller"
                                : "--pids requested but the pids cgroup controller is not available";
        return NULL;
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

        if (!c)
                return NULL;
        c->sup = sup;
        snprintf(c->name, sizeof(c->name), "%s", name);
        brm_shimwatch_init(&c->shim, shim_ended, shim_closed, c);
        uv_timer_init(sup->loop, &c->timer);
        c->timer.data = c;
        c->refs = 1; /* the timer */
        c->next = sup->list;
        sup->list = c;
        if (brm_ctrrecord_create(sup->dir, name) < 0)
                brm_warn(MOD, "%s: cannot create its directory in %s", name, sup->dir);
        brm_cgroup_container_path(&sup->cg, name, c->rec.cgroup, sizeof(c->rec.cgroup));
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
        if (brm_ocispec_spec_dup(s, &c->desired) < 0 || !(c->desired_key = brm_ctrrecord_spec_key(s))) {
                brm_ocispec_spec_free(&c->desired);
                free(c->desired_key);
                c->desired_key = NULL;
                brm_err(MOD, "%s: out of memory", c->name);
                return;
        }
        c->has_desired = true;
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
        int r;

        brm_info(MOD, "%s: removed", c->name);
        if ((r = brm_ctrrecord_remove(c->sup->dir, c->name)) < 0)
                brm_warn(MOD, "%s: could not remove %s/%s: %s", c->name, c->sup->dir, c->name, strerror(-r));
        move_logs(c->sup, c->name);
        c->closing = true;
        uv_close((uv_handle_t *)&c->timer, handle_closed);
}

/* ---- exits ---- */

/* What follows the runtime's delete, whether it ran or not. */
static void deleted(struct container *c)
{
        brm_ctrrecord_clear_run(c->sup->dir, c->name);
        /* converge() arms the backoff timer. */
        c->phase = c->rec.state == BRM_CS_BACKOFF ? P_BACKOFF : P_IDLE;
        converge(c);
}

static void on_deleted(int status, const char *out, void *arg)
{
        struct container *c = arg;

        if (!c->sup->closing) {
                if (status != 0)
                        brm_warn(MOD, "%s: %s delete failed (%d): %s; ignored", c->name, c->sup->rt.name, status, out);
                deleted(c);
        }
        unref(c);
}

static void delete_failed(uv_timer_t *t)
{
        deleted(t->data);
}

static void backoff_fire(uv_timer_t *t)
{
        struct container *c = t->data;

        c->phase = P_IDLE;
        c->rec.restarts++;
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
        if (r == 0) {
                c->refs++;
                return;
        }
        brm_warn(MOD, "%s: cannot run %s delete: %s; ignored", c->name, c->sup->rt.name, uv_strerror(r));
        /* Completed from the loop, as a delete that ran would be: the
         * callers are steps of converge() and must not see it re-entered.
         * The timer is idle here (exited() stopped it; adopt() runs before
         * anything starts it), and closing the container closes it, so
         * nothing is left pending then. */
        uv_timer_start(&c->timer, delete_failed, 0, 0);
}

static bool should_restart(const struct container *c)
{
        if (!c->has_desired || c->desired.stopped || changed(c))
                return false;
        if (c->desired.restart == BRM_RESTART_ALWAYS)
                return true;
        return c->desired.restart == BRM_RESTART_ON_FAILURE && (!c->rec.has_exit || c->rec.exit_code != 0);
}

/* Accounts one finished run: exit code, OOM kills from the cgroup (before
 * the runtime deletes it), counters persisted, then the restart policy. */
static void account_exit(struct container *c, int code, bool started, int64_t when_ms, const char *lost)
{
        struct brm_ctrrecord_state *rec = &c->rec;
        struct brm_cgroup_stats st;
        uint64_t oom = 0;
        char out[200] = "";

        if (c->sup->cg.ops->stats(&c->sup->cg, rec->cgroup, &st) == 0 && st.has_oom)
                oom = st.oom_kills;
        rec->oom_kills += (uint32_t)oom;
        rec->has_exit = code >= 0;
        rec->exit_code = code;
        rec->finished_ms = when_ms ? when_ms : brm_now_ms();
        rec->running = false;
        c->pid = 0;
        c->has_cpu = false;
        if (lost) {
                snprintf(rec->reason, sizeof(rec->reason), "%s", lost);
        } else if (!started) {
                /* The runtime's last log line says why it could not start. */
                brm_ctrrecord_runtime_error(c->sup->dir, c->name, out, sizeof(out));
                snprintf(rec->reason, sizeof(rec->reason), "start failed: %.140s", out[0] ? out : "runtime error");
        } else if (oom > 0 && code == 128 + SIGKILL)
                snprintf(rec->reason, sizeof(rec->reason), "OOMKilled");
        else if (code == 0)
                snprintf(rec->reason, sizeof(rec->reason), "Completed");
        else if (code > 128)
                snprintf(rec->reason, sizeof(rec->reason), "Killed by signal %d", code - 128);
        else
                snprintf(rec->reason, sizeof(rec->reason), "Error: exit code %d", code);
        if (rec->finished_ms - rec->started_ms >= BACKOFF_RESET_MS)
                rec->backoff_ms = 0;
        if (should_restart(c)) {
                rec->backoff_ms = rec->backoff_ms ? rec->backoff_ms * 2 : BACKOFF_FIRST_MS;
                if (rec->backoff_ms > BACKOFF_CAP_MS)
                        rec->backoff_ms = BACKOFF_CAP_MS;
                rec->state = BRM_CS_BACKOFF;
        } else {
                rec->state = c->has_desired && c->desired.stopped ? BRM_CS_STOPPED : BRM_CS_EXITED;
        }
        brm_info(MOD, "%s: exited (%s)%s", c->name, rec->reason, rec->state == BRM_CS_BACKOFF ? ", will restart" : "");
        save_state(c);
        delete_container(c);
}

static void exited(struct container *c, const char *lost)
{
        struct brm_ctrrecord_exit ex = { .code = -1, .started = true };

        uv_timer_stop(&c->timer);
        brm_shimwatch_stop(&c->shim);
        if (!lost && brm_ctrrecord_read_exit(c->sup->dir, c->name, &ex) < 0)
                lost = "exit status lost: the shim ended without writing it";
        account_exit(c, lost ? -1 : ex.code, lost || ex.started, lost ? 0 : ex.ms, lost);
}

/* ---- start and stop ---- */

struct start_work {
        uv_work_t req;
        struct container *c;
        char images[512];
        char ref[512];
        struct brm_image_config img;
        int r;
        char why[160];
};

static void resolve_work(uv_work_t *req)
{
        struct start_work *w = req->data;
        w->r = brm_image_resolve(w->images, w->ref, &w->img, w->why, sizeof(w->why));
}

static void fail(struct container *c, const char *fmt, const char *arg)
{
        c->phase = P_IDLE;
        c->rec.state = BRM_CS_FAILED;
        snprintf(c->rec.reason, sizeof(c->rec.reason), fmt, arg);
        brm_warn(MOD, "%s: failed: %s", c->name, c->rec.reason);
        save_state(c);
}

static int write_bundle(struct container *c, const struct brm_image_config *img)
{
        struct brm_ocispec_params p = {
                .spec = &c->desired,
                .image = img,
                .cgroups_path = c->rec.cgroup,
                .cgroup_version = c->sup->cg.ops->version,
                .swap = c->sup->cg.swap,
        };
        char *json;
        int r = brm_ocispec_build(&p, &json);

        if (r < 0)
                return r;
        r = brm_ctrrecord_write(c->sup->dir, c->name, "config.json", json);
        free(json);
        if (r == 0)
                r = brm_ctrrecord_write(c->sup->dir, c->name, "spec.json", c->desired_key);
        return r;
}

static void resolved(uv_work_t *req, int status)
{
        struct start_work *w = req->data;
        struct container *c = w->c;
        struct brm_supervisor *sup = c->sup;
        char dir[1024], logdir[1024];
        int r;

        if (sup->closing || status < 0)
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
        brm_ctrrecord_clear_run(sup->dir, c->name);
        c->rec.started_ms = brm_now_ms();
        c->rec.running = true;
        c->rec.state = BRM_CS_RUNNING;
        c->rec.reason[0] = '\0';
        save_state(c);
        brm_ctrrecord_path(sup->dir, c->name, NULL, dir, sizeof(dir));
        brm_supervisor_log_dir(sup, c->name, logdir, sizeof(logdir));
        r = brm_shimwatch_spawn(&c->shim, sup->loop, &sup->rt, sup->shim, c->name, dir, logdir, sup->log_max_size,
                                sup->log_max_files);
        c->refs++; /* the shim's process handle, open or already closing */
        if (r < 0) {
                c->rec.running = false;
                fail(c, "cannot start the shim: %s", uv_strerror(r));
                goto out;
        }
        c->phase = P_RUNNING;
        brm_info(MOD, "%s: started (shim %d)", c->name, c->shim.pid);
out:
        brm_image_config_free(&w->img);
        free(w);
        unref(c);
}

static void start(struct container *c)
{
        struct start_work *w;
        const struct brm_container_spec *s = &c->desired;
        const char *missing = unenforceable(&c->sup->cg, s, false);
        int r;

        if (missing) {
                fail(c, "%s", missing);
                return;
        }
        if (!(w = calloc(1, sizeof(*w)))) {
                fail(c, "%s", "out of memory");
                return;
        }
        free(c->run_key);
        c->run_key = strdup(c->desired_key);
        w->c = c;
        w->req.data = w;
        snprintf(w->images, sizeof(w->images), "%s", c->sup->images);
        snprintf(w->ref, sizeof(w->ref), "%s", s->image);
        c->phase = P_STARTING;
        c->rec.state = BRM_CS_PENDING;
        brm_debug(MOD, "%s: resolving %s", c->name, s->image);
        r = uv_queue_work(c->sup->loop, &w->req, resolve_work, resolved);
        if (r < 0) {
                free(w);
                fail(c, "cannot queue the image work: %s", uv_strerror(r));
                return;
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
                                int64_t left = c->rec.finished_ms + (int64_t)c->rec.backoff_ms - brm_now_ms();
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
                if (c->rec.state != BRM_CS_STOPPED) {
                        c->rec.state = BRM_CS_STOPPED;
                        save_state(c);
                }
                return;
        }
        if (changed(c)) {
                /* A new spec is a new container: counters start over. */
                if (c->run_key) {
                        c->rec.restarts = c->rec.oom_kills = 0;
                        c->rec.has_exit = false;
                        c->rec.backoff_ms = 0;
                }
                start(c);
        } else if (c->rec.state == BRM_CS_STOPPED || c->rec.state == BRM_CS_PENDING) {
                start(c);
        }
}

/* ---- loading and re-adoption ---- */

/* Takes over a container found on disk: its shim still runs (watch it), or
 * it ended while no agent was there (account it now), or it was accounted
 * and only the runtime's record may be left (delete it). */
static void adopt(struct container *c, bool same_boot)
{
        char path[1024];
        unsigned long long start_time;
        int pid;

        if (!c->rec.running) {
                if (brm_path(path, sizeof(path), "%s/%s", c->sup->rt.root, c->name) >= 0 && access(path, F_OK) == 0) {
                        delete_container(c);
                        return;
                }
                c->phase = c->rec.state == BRM_CS_BACKOFF ? P_BACKOFF : P_IDLE;
                return;
        }
        if (!same_boot) {
                exited(c, "node rebooted");
                return;
        }
        if (brm_ctrrecord_read_shim(c->sup->dir, c->name, &pid, &start_time) == 0 &&
            brm_shimwatch_adopt(&c->shim, c->sup->loop, pid, start_time) == 0) {
                c->refs++;
                c->phase = P_RUNNING;
                c->rec.state = BRM_CS_RUNNING;
                read_pid(c);
                brm_info(MOD, "%s: re-adopted (pid %d, shim %d)", c->name, c->pid, c->shim.pid);
                return;
        }
        exited(c, NULL);
}

static void desired_found(const struct brm_container_spec *s, void *arg)
{
        struct brm_supervisor *sup = arg;
        struct container *c;

        if (!find(sup, s->name) && (c = create(sup, s->name)))
                set_desired(c, s);
}

static void record_found(const char *name, void *arg)
{
        struct brm_supervisor *sup = arg;
        struct container *c;

        if (!(c = find(sup, name)) && !(c = create(sup, name)))
                return;
        brm_ctrrecord_load_state(sup->dir, name, &c->rec);
        brm_ctrrecord_read_run_key(sup->dir, name, &c->run_key);
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

/* Loads the records, re-adopts what runs and converges everything. */
static void load(struct brm_supervisor *sup)
{
        size_t invalid = 0;
        bool boot;
        int r;

        if ((r = brm_ctrrecord_load_desired(sup->dir, desired_found, sup, &invalid)) < 0)
                brm_warn(MOD, "desired.json is not readable (%s): starting with an empty desired set", strerror(-r));
        else if (invalid)
                brm_warn(MOD, "%s/desired.json: %zu entries are not valid: ignored", sup->dir, invalid);
        brm_ctrrecord_list(sup->dir, record_found, sup);
        sweep_logs(sup);
        boot = brm_ctrrecord_same_boot(sup->dir, "/proc/sys/kernel/random/boot_id");
        for (struct container *c = sup->list; c; c = c->next)
                adopt(c, boot);
        for (struct container *c = sup->list; c; c = c->next)
                converge(c);
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

/* The agent's own protection: containers must not starve it of memory, and
 * the kernel's OOM killer picks containers before the agent (and its
 * shims, which inherit oom_score_adj; runc resets it to 0 for the
 * container from the spec). */
static void protect_self(struct brm_supervisor *sup)
{
        FILE *f;
        bool ok;
        int r;

        if ((r = sup->cg.ops->protect_self(&sup->cg, AGENT_MEMORY_MIN)) < 0)
                brm_warn(MOD, "could not fully protect the agent's cgroup (%s): continuing", strerror(-r));
        f = fopen("/proc/self/oom_score_adj", "we");
        ok = f && fputs("-900", f) >= 0;
        if (f && fclose(f) != 0)
                ok = false;
        if (!ok)
                brm_warn(MOD, "could not lower the agent's oom_score_adj (%s): continuing", strerror(errno));
}

int brm_supervisor_open(uv_loop_t *loop, const struct brm_supervisor_opts *opts, struct brm_supervisor **ret)
{
        struct brm_supervisor *sup = calloc(1, sizeof(*sup));
        char rtroot[600], why[600], logs_c[600], logs_r[600];
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
                brm_shimwatch_default_path(sup->shim, sizeof(sup->shim));
        brm_info(MOD, "runtime %s (%s), cgroup %s%s base %s, controllers:%s%s%s", sup->rt.version, sup->rt.path,
                 sup->cg.ops->name, sup->cg.hybrid ? " (hybrid)" : "", sup->cg.base, sup->cg.memory ? " memory" : "",
                 sup->cg.cpu ? " cpu" : "", sup->cg.pids ? " pids" : "");
        protect_self(sup);
        uv_timer_init(loop, &sup->idle);
        sup->idle.data = sup;
        load(sup);
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
        if (!brm_valid_container_name(s->name)) {
                snprintf(why, size, "name '%s' is not valid: expected [a-z0-9][a-z0-9_.-]{0,62}", s->name);
                return -EINVAL;
        }
        if (!s->image[0]) {
                snprintf(why, size, "%s: image is empty", s->name);
                return -EINVAL;
        }
        if ((unsigned)s->restart > BRM_RESTART_NEVER || (unsigned)s->network > BRM_NET_NONE) {
                snprintf(why, size, "%s: restart or network out of range", s->name);
                return -EINVAL;
        }
        if (s->memory_high && s->memory_max && s->memory_high > s->memory_max) {
                snprintf(why, size, "%s: memory_high is above memory_max", s->name);
                return -EINVAL;
        }
        for (size_t i = 0; i < BRM_MAX_ENV && s->env[i]; i++)
                if (!strchr(s->env[i], '=') || s->env[i][0] == '=') {
                        snprintf(why, size, "%s: env '%s' is not KEY=VALUE", s->name, s->env[i]);
                        return -EINVAL;
                }
        return 0;
}

int brm_supervisor_check(struct brm_supervisor *sup, const struct brm_container_spec *spec, char *why, size_t why_size)
{
        enum brm_image_kind kind;
        const char *missing;
        int r;

        if ((r = validate(spec, why, why_size)) < 0)
                return r;
        if ((missing = unenforceable(&sup->cg, spec, true))) {
                snprintf(why, why_size, "%s", missing);
                return -ENOTSUP;
        }
        if ((r = brm_image_identify(spec->image, &kind, why, why_size)) < 0)
                return r;
        if (kind == BRM_IMAGE_ROOTFS && !spec->args[0]) {
                snprintf(why, why_size, "image %s is a root file-system directory: give the command to run", spec->image);
                return -EINVAL;
        }
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
        if ((r = brm_ctrrecord_save_desired(sup->dir, specs, n)) < 0) {
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

bool brm_supervisor_has(const struct brm_supervisor *sup, const char *name)
{
        for (const struct container *c = sup->list; c; c = c->next)
                if (c->has_desired && !c->closing && strcmp(c->name, name) == 0)
                        return true;
        return false;
}

static void fill_status(struct container *c, struct brm_container_status *st)
{
        struct brm_cgroup_stats cs;

        memset(st, 0, sizeof(*st));
        snprintf(st->name, sizeof(st->name), "%s", c->name);
        snprintf(st->image, sizeof(st->image), "%s", c->desired.image);
        st->state = c->rec.state;
        st->restarts = c->rec.restarts;
        st->has_exit_code = c->rec.has_exit;
        st->exit_code = c->rec.exit_code;
        st->oom_kills = c->rec.oom_kills;
        snprintf(st->reason, sizeof(st->reason), "%s", c->rec.reason);
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
        if (c->sup->cg.ops->stats(&c->sup->cg, c->rec.cgroup, &cs) < 0)
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
                brm_shimwatch_stop(&c->shim);
        }
        uv_close((uv_handle_t *)&sup->idle, idle_closed);
}
