/* The steps of one container's life, carried out for the supervisor
 * (supervisor_internal.h): start a run (the image resolved off the loop,
 * the bundle written, the shim spawned), stop it (SIGTERM, then SIGKILL),
 * account its end (exit code, OOM kills, restart policy), delete it from
 * the runtime, and take over a run found on disk after an agent restart.
 * Each step that waits completes from the loop and hands back to
 * brm_supervisor_converge(), which picks the next one. */
#include "supervisor_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "ocispec.h"
#include "unpack.h"
#include "util.h"

#define MOD "supervisor"
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_CAP_MS (5 * 60 * 1000)
#define BACKOFF_RESET_MS (10 * 60 * 1000) /* a run this long starts the sequence over */
#define RUNTIME_TIMEOUT_MS 60000

static void exited(struct container *c, const char *lost);

static void shim_closed(struct brm_shimwatch *w)
{
        brm_supervisor_unref(w->data);
}

static void shim_ended(struct brm_shimwatch *w)
{
        struct container *c = w->data;
        if (!c->sup->closing)
                exited(c, NULL);
}

void brm_lifecycle_init(struct container *c)
{
        brm_shimwatch_init(&c->shim, shim_ended, shim_closed, c);
}

void brm_lifecycle_save_state(struct container *c)
{
        if (c->rec.state != c->since_state || !c->rec.since_ms) {
                c->since_state = c->rec.state;
                c->rec.since_ms = brm_now_ms();
        }
        brm_persist_state(c);
}

static void became_unhealthy(void *arg, const char *log)
{
        struct container *c = arg;

        if (c->phase != P_RUNNING || c->sup->closing || c->closing)
                return;
        snprintf(c->unhealthy_why, sizeof(c->unhealthy_why), "unhealthy: %.140s", log);
        c->health_failed = true;
        brm_warn(MOD, "%s: %s", c->name, c->unhealthy_why);
        brm_lifecycle_stop(c);
}

void brm_lifecycle_health_begin(struct container *c)
{
        char dir[1024];
        int r = 0;

        c->health_failed = false;
        if (!c->has_desired || !c->desired.has_health)
                return;
        if (!c->health) {
                brm_ctrrecord_path(c->sup->dir, c->name, NULL, dir, sizeof(dir));
                r = brm_health_open(c->sup->loop, &c->sup->rt, c->name, dir, &c->health);
        }
        if (r == 0)
                r = brm_health_start(c->health, &c->desired.health, c->rec.started_ms, became_unhealthy, c);
        if (r < 0)
                brm_warn(MOD, "%s: cannot run its health check: %s; ignored", c->name, strerror(-r));
}

void brm_lifecycle_read_pid(struct container *c)
{
        if (c->pid == 0)
                brm_ctrrecord_read_pid(c->sup->dir, c->name, &c->pid);
}

/* ---- the end of a run ---- */

/* What follows the runtime's delete, whether it ran or not. */
static void deleted(struct container *c)
{
        brm_ctrrecord_clear_run(c->sup->dir, c->name);
        /* brm_supervisor_converge() arms the backoff timer. */
        c->phase = c->rec.state == BRM_CS_BACKOFF ? P_BACKOFF : P_IDLE;
        brm_supervisor_converge(c);
}

static void on_deleted(int status, const char *out, void *arg)
{
        struct container *c = arg;

        if (!c->sup->closing) {
                if (status != 0)
                        brm_warn(MOD, "%s: %s delete failed (%d): %s; ignored", c->name, c->sup->rt.name, status, out);
                deleted(c);
        }
        brm_supervisor_unref(c);
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
        brm_lifecycle_start(c);
}

void brm_lifecycle_restart_later(struct container *c)
{
        int64_t left;

        if (uv_is_active((uv_handle_t *)&c->timer))
                return;
        left = c->rec.finished_ms + (int64_t)c->rec.backoff_ms - brm_now_ms();
        uv_timer_start(&c->timer, backoff_fire, left > 0 ? (uint64_t)left : 0, 0);
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
         * callers are steps of brm_supervisor_converge() and must not see it re-entered.
         * The timer is idle here (exited() stopped it; adopt() runs before
         * anything starts it), and closing the container closes it, so
         * nothing is left pending then. */
        uv_timer_start(&c->timer, delete_failed, 0, 0);
}

static bool should_restart(const struct container *c)
{
        if (!c->has_desired || brm_supervisor_want_stopped(c) || brm_supervisor_changed(c))
                return false;
        if (c->desired.restart == BRM_RESTART_ALWAYS)
                return true;
        return c->desired.restart == BRM_RESTART_ON_FAILURE &&
               (c->health_failed || !c->rec.has_exit || c->rec.exit_code != 0);
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
        /* Stopped by the node: the reason is why, not the signal. */
        if (c->health_failed)
                snprintf(rec->reason, sizeof(rec->reason), "%s", c->unhealthy_why);
        else if (c->disc_stopped)
                snprintf(rec->reason, sizeof(rec->reason), "%s", c->disc_why);
        if (rec->finished_ms - rec->started_ms >= BACKOFF_RESET_MS)
                rec->backoff_ms = 0;
        if (should_restart(c)) {
                rec->backoff_ms = rec->backoff_ms ? rec->backoff_ms * 2 : BACKOFF_FIRST_MS;
                if (rec->backoff_ms > BACKOFF_CAP_MS)
                        rec->backoff_ms = BACKOFF_CAP_MS;
                rec->state = BRM_CS_BACKOFF;
        } else {
                rec->state = c->has_desired && brm_supervisor_want_stopped(c) ? BRM_CS_STOPPED : BRM_CS_EXITED;
        }
        brm_info(MOD, "%s: exited (%s)%s", c->name, rec->reason, rec->state == BRM_CS_BACKOFF ? ", will restart" : "");
        c->health_failed = false;
        brm_lifecycle_save_state(c);
        delete_container(c);
}

static void exited(struct container *c, const char *lost)
{
        struct brm_ctrrecord_exit ex = { .code = -1, .started = true };

        uv_timer_stop(&c->timer);
        brm_shimwatch_stop(&c->shim);
        brm_health_stop(c->health);
        if (!lost && brm_ctrrecord_read_exit(c->sup->dir, c->name, &ex) < 0)
                lost = "exit status lost: the shim ended without writing it";
        account_exit(c, lost ? -1 : ex.code, lost || ex.started, lost ? 0 : ex.ms, lost);
}

/* ---- start and stop ---- */

struct start_work {
        uv_work_t req;
        struct container *c;
        char images[512];
        char ref[1024];           /* --image, or the node's layout for a cluster image */
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
        c->rec.state = BRM_CS_FAILED;
        snprintf(c->rec.reason, sizeof(c->rec.reason), fmt, arg);
        brm_warn(MOD, "%s: failed: %s", c->name, c->rec.reason);
        brm_lifecycle_save_state(c);
}

static int write_bundle(struct container *c, const struct brm_image_config *img, char *why, size_t why_size)
{
        struct brm_ocispec_params p = {
                .spec = &c->desired,
                .image = img,
                .cgroups_path = c->rec.cgroup,
                .cgroup_version = c->sup->cg.ops->version,
                .swap = c->sup->cg.swap,
                .seccomp_profile = c->sup->seccomp_profile[0] ? c->sup->seccomp_profile : NULL,
        };
        char *json;
        int r = brm_ocispec_build(&p, &json, why, why_size);

        /* The profile's parse tree (a few hundred KiB in small pieces) is
         * freed by now: give it back rather than keep it for the agent's
         * lifetime. */
        brm_heap_trim();
        if (r < 0)
                return r;
        r = brm_ctrrecord_write(c->sup->dir, c->name, "config.json", json);
        free(json);
        if (r == 0)
                r = brm_ctrrecord_save_run_key(c->sup->dir, c->name, c->desired_key);
        if (r < 0)
                snprintf(why, why_size, "cannot write the bundle: %s", strerror(-r));
        return r;
}

/* Whether the desired spec changed while the image was fetched or
 * resolved: then the start is dropped and converge() takes the next step. */
static bool stale(struct container *c)
{
        c->phase = P_IDLE;
        if (c->has_desired && !brm_supervisor_want_stopped(c) && !strcmp(c->run_key ? c->run_key : "", c->desired_key))
                return false;
        free(c->run_key);
        c->run_key = NULL;
        brm_supervisor_converge(c);
        return true;
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
        if (stale(c))
                goto out;
        if (w->r < 0) {
                fail(c, "%s", w->why);
                goto out;
        }
        if ((r = write_bundle(c, &w->img, w->why, sizeof(w->why))) < 0) {
                fail(c, "%s", w->why);
                goto out;
        }
        brm_debug(MOD, "%s: image resolved", c->name);
        brm_ctrrecord_clear_run(sup->dir, c->name);
        c->rec.started_ms = brm_now_ms();
        c->rec.running = true;
        c->rec.state = BRM_CS_RUNNING;
        c->rec.reason[0] = '\0';
        brm_lifecycle_save_state(c);
        brm_ctrrecord_path(sup->dir, c->name, NULL, dir, sizeof(dir));
        brm_logdir_container(&sup->logs, c->name, logdir, sizeof(logdir));
        r = brm_shimwatch_spawn(&c->shim, sup->loop, &sup->rt, sup->shim, c->name, dir, logdir, sup->log_max_size,
                                sup->log_max_files, sup->log_reserve);
        c->refs++; /* the shim's process handle, open or already closing */
        if (r < 0) {
                c->rec.running = false;
                fail(c, "cannot start the shim: %s", uv_strerror(r));
                goto out;
        }
        c->phase = P_RUNNING;
        brm_info(MOD, "%s: started (shim %d)", c->name, c->shim.pid);
        brm_lifecycle_health_begin(c);
out:
        brm_image_config_free(&w->img);
        free(w);
        brm_supervisor_unref(c);
}

/* A cluster image is in the node's layout (or could not be got): it is
 * resolved and unpacked from there as any layout. */
static void fetched(int status, const char *local_ref, const char *why, void *arg)
{
        struct start_work *w = arg;
        struct container *c = w->c;
        int r;

        c->pull = NULL;
        /* Cancelled: the spec changed (stale), or the agent stops. */
        if (c->sup->closing || stale(c))
                goto out;
        if (status < 0) {
                fail(c, "%s", why);
                goto out;
        }
        snprintf(w->ref, sizeof(w->ref), "%s", local_ref);
        c->phase = P_STARTING;
        if ((r = uv_queue_work(c->sup->loop, &w->req, resolve_work, resolved)) < 0) {
                fail(c, "cannot queue the image work: %s", uv_strerror(r));
                goto out;
        }
        return; /* resolved() takes over the reference */
out:
        free(w);
        brm_supervisor_unref(c);
}

void brm_lifecycle_start(struct container *c)
{
        struct start_work *w;
        const struct brm_container_spec *s = &c->desired;
        const char *missing = brm_spec_unenforceable(s, &c->sup->cg, false);
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
        snprintf(w->unpack, sizeof(w->unpack), "%s", c->sup->unpack);
        c->phase = P_STARTING;
        c->rec.state = BRM_CS_PENDING;
        brm_debug(MOD, "%s: resolving %s", c->name, s->image);
        /* Not a path on the node: an image from the master's store, got
         * into the node's layout first (or found there, without the
         * master, on a restart). */
        if (s->image[0] != '/') {
                r = c->sup->fetch ? brm_fetch_image(c->sup->fetch, s->image, fetched, w) : -ENOTSUP;
                c->pull = r == 0 ? w : NULL;
        } else
                r = uv_queue_work(c->sup->loop, &w->req, resolve_work, resolved);
        if (r < 0) {
                free(w);
                if (s->image[0] != '/')
                        fail(c, r == -ENOTSUP ? "image %s: this node cannot fetch images from the master"
                                              : "image %s: not a reference the node can fetch",
                             s->image);
                else
                        fail(c, "cannot queue the image work: %s", uv_strerror(r));
                return;
        }
        c->refs++;
}

void brm_lifecycle_cancel_pull(struct container *c)
{
        if (c->pull && brm_fetch_cancel(c->sup->fetch, fetched, c->pull) == 0)
                brm_info(MOD, "%s: changed while its image was fetched; the start no longer waits for it", c->name);
}

static void on_killed(int status, const char *out, void *arg)
{
        struct container *c = arg;
        if (status != 0 && !c->sup->closing)
                brm_debug(MOD, "%s: kill: %s", c->name, out);
        brm_supervisor_unref(c);
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

void brm_lifecycle_stop(struct container *c)
{
        brm_info(MOD, "%s: stopping", c->name);
        c->phase = P_STOPPING;
        brm_health_stop(c->health);
        send_kill(c, "TERM");
        uv_timer_start(&c->timer, stop_escalate, c->sup->stop_grace_ms, 0);
}

/* ---- after an agent restart ---- */

/* Whether the runtime still has a record of the container. */
static bool runtime_has(const struct container *c)
{
        char path[1024];
        return brm_path(path, sizeof(path), "%s/%s", c->sup->rt.root, c->name) >= 0 && access(path, F_OK) == 0;
}

/* state.json and its copy are lost: whether a run is under way comes from
 * what only a run leaves (the shim's pid file, its exit file, the
 * runtime's record), its start from when the shim wrote its pid. The
 * counters, the last exit and the backoff delay are gone. */
static void recover_state(struct container *c)
{
        struct brm_ctrrecord_state *rec = &c->rec;
        char path[1024];
        struct stat st;
        bool shim = brm_ctrrecord_path(c->sup->dir, c->name, "shim.pid", path, sizeof(path)) == 0 &&
                    stat(path, &st) == 0;

        rec->running = shim || runtime_has(c);
        if (!rec->running) {
                char exit_path[1024];
                rec->running = brm_ctrrecord_path(c->sup->dir, c->name, "exit", exit_path, sizeof(exit_path)) == 0 &&
                               access(exit_path, F_OK) == 0;
        }
        rec->state = rec->running ? BRM_CS_RUNNING : BRM_CS_PENDING;
        if (shim)
                rec->started_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        /* Nothing runs and nothing says how the last run ended: a container
         * that is never restarted is not run again on a guess (it may have
         * done its work); the others are meant to run, so they start. */
        if (!rec->running && c->rec_damaged && c->run_key && c->has_desired &&
            c->desired.restart == BRM_RESTART_NEVER) {
                rec->state = BRM_CS_EXITED;
                snprintf(rec->reason, sizeof(rec->reason), "how its last run ended was lost with its record");
        }
}

/* Takes over a container found on disk: its shim still runs (watch it), or
 * it ended while no agent was there (account it now), or it was accounted
 * and only the runtime's record may be left (delete it). A record that
 * could not be read (c->rec_lost, c->key_lost) is rebuilt from the shim's
 * and the runtime's files first, and written anew. */
void brm_lifecycle_adopt(struct container *c, bool same_boot)
{
        unsigned long long start_time;
        char *lost = c->lost_why;
        bool rec_lost = c->rec_lost;
        int pid;

        if (rec_lost)
                recover_state(c);
        if (rec_lost && !c->rec_damaged && c->rec.running && !lost &&
            asprintf(&lost, "%s/%s/state.json and its copy state.json.bak are missing", c->sup->dir,
                     c->name) < 0)
                lost = NULL;
        /* The spec of the run is unknown: the running container is taken as
         * the desired one. A spec that differs restarts it when the desired
         * state says so (the master sends it after every connect), not
         * because a file was lost. */
        if (c->key_lost && c->has_desired && (c->rec.running || c->rec.started_ms || c->rec_damaged || lost)) {
                free(c->run_key);
                if ((c->run_key = strdup(c->desired_key)) &&
                    brm_ctrrecord_save_run_key(c->sup->dir, c->name, c->run_key) < 0)
                        brm_warn(MOD, "%s: cannot write spec.json anew", c->name);
        }
        c->rec_lost = c->rec_damaged = c->key_lost = false;
        c->lost_why = NULL;
        if (!c->rec.running) {
                if (runtime_has(c)) {
                        delete_container(c);
                } else {
                        c->phase = c->rec.state == BRM_CS_BACKOFF ? P_BACKOFF : P_IDLE;
                        if (lost)
                                brm_warn(MOD, "%s: %s: no run of it is under way; %s", c->name, lost,
                                         c->rec.state == BRM_CS_EXITED
                                                 ? "it is not started again (its restart policy is never)"
                                                 : "it starts again if it is desired");
                }
                free(lost);
                return;
        }
        if (!same_boot) {
                exited(c, "node rebooted");
        } else if (brm_ctrrecord_read_shim(c->sup->dir, c->name, &pid, &start_time) == 0 &&
                   brm_shimwatch_adopt(&c->shim, c->sup->loop, pid, start_time) == 0) {
                c->refs++;
                c->phase = P_RUNNING;
                c->rec.state = BRM_CS_RUNNING;
                brm_lifecycle_read_pid(c);
                brm_info(MOD, "%s: re-adopted (pid %d, shim %d)", c->name, c->pid, c->shim.pid);
                brm_lifecycle_health_begin(c);
                if (rec_lost) {
                        snprintf(c->rec.reason, sizeof(c->rec.reason),
                                 "re-adopted; its restart count was lost with its record");
                        brm_lifecycle_save_state(c);
                }
        } else {
                exited(c, NULL);
        }
        if (lost)
                brm_warn(MOD, "%s: %s: taken over from its shim and the runtime (%s)%s; the record is written anew",
                         c->name, lost, c->phase == P_RUNNING ? "still running, re-adopted" : "its run had ended",
                         rec_lost ? "; its restart and OOM counts start again from 0" : "");
        free(lost);
}
