/* The node's container supervisor: desired state in, actual state out.
 *
 * Each container is a small state machine driven by converge(): it compares
 * what is desired with what runs and starts one step at a time (resolve the
 * image off the loop, spawn the shim, ask the runtime to stop or delete);
 * each step's completion calls converge() again, always from the loop and
 * never from inside the step that started it. Steps never block the loop.
 *
 * This file keeps the set of containers, converge() and the public
 * interface. What lives elsewhere: the steps themselves in lifecycle.c
 * (supervisor_internal.h is what the two share); the records on disk
 * (desired.json, each container's state.json, bundle and run files) in
 * ctrrecord.c; watching and re-adopting the shims in shimwatch.c; the
 * rules a spec must meet in spec.c; the OCI spec in ocispec.c.
 *
 * STATE is opts.state_dir:
 *   STATE/containers/               the records (ctrrecord.h)
 *   STATE/runtime/                  the runtime's --root
 *   STATE/images/                   the image store (image.h)
 *   LOGS (opts.log_dir, STATE/logs unless given): the containers' output,
 *     written by their shims and kept across runs of a container, moved
 *     aside when it is removed (logdir.h); what happens to a removed one's
 *     next is the on_removed callback's business
 * A restarted agent rebuilds everything from these files: a container whose
 * shim lives is re-adopted (pidfd), one whose shim wrote an exit is
 * accounted as exited (the cgroup still holds its OOM count: only the agent
 * deletes containers), and counters continue from state.json. */
#include "supervisor_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "image.h"
#include "log.h"
#include "logrec.h"
#include "metrics.h"
#include "ocispec.h"
#include "unpack.h"
#include "util.h"

#define MOD "supervisor"
#define STOP_GRACE_MS 10000               /* SIGTERM, then SIGKILL (Docker's default) */
#define AGENT_MEMORY_MIN (16u << 20)      /* v2 memory.min for the agent and its shims */
#define LOG_MAX_SIZE (10u << 20)
#define LOG_MAX_FILES 3
#define LOG_RESERVE (4u << 20)

static void maybe_finish(struct brm_supervisor *sup)
{
        void (*cb)(void *);
        void *arg;

        if (!sup->closing || sup->list || !sup->retry_closed || !sup->disc_closed)
                return;
        cb = sup->close_cb;
        arg = sup->close_arg;
        free(sup);
        if (cb)
                cb(arg);
}

void brm_supervisor_unref(struct container *c)
{
        struct brm_supervisor *sup = c->sup;

        if (--c->refs > 0)
                return;
        for (struct container **p = &sup->list; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        brm_health_close(c->health);
        brm_ocispec_spec_free(&c->desired);
        free(c->desired_key);
        free(c->run_key);
        free(c->lost_why);
        free(c);
        maybe_finish(sup);
}

static void handle_closed(uv_handle_t *h)
{
        brm_supervisor_unref(h->data);
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
        brm_lifecycle_init(c);
        uv_timer_init(sup->loop, &c->timer);
        c->timer.data = c;
        c->refs = 1; /* the timer */
        c->next = sup->list;
        sup->list = c;
        if (brm_ctrrecord_create(sup->dir, name) < 0)
                brm_warn(MOD, "%s: cannot create its directory in %s", name, sup->dir);
        brm_cgroup_container_path(&sup->cg, name, c->rec.cgroup, sizeof(c->rec.cgroup));
        c->rec.since_ms = brm_now_ms(); /* pending from now (a record found replaces it) */
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
        char to[1200];
        int r = brm_logdir_move_removed(&sup->logs, name, brm_now_ms(), to, sizeof(to));

        if (r < 0 && r != -ENOENT)
                brm_warn(MOD, "%s: cannot move its logs to %s/removed: %s", name, sup->logs.root, strerror(-r));
        if (sup->on_removed)
                sup->on_removed(name, r == 0 ? to : NULL, sup->on_removed_arg);
}

static void discard(struct container *c)
{
        brm_info(MOD, "%s: removed", c->name);
        c->closing = true; /* no longer one of the supervisor's, also for persist.c */
        brm_persist_removed(c->sup, c->name);
        move_logs(c->sup, c->name);
        uv_close((uv_handle_t *)&c->timer, handle_closed);
}

void brm_supervisor_converge(struct container *c)
{
        if (c->sup->closing || c->closing)
                return;
        if (!c->has_desired && c->sup->desired_unknown)
                return;
        switch (c->phase) {
        case P_STARTING:
                if (c->pull && (!c->has_desired || brm_supervisor_want_stopped(c) || brm_supervisor_changed(c)))
                        brm_lifecycle_cancel_pull(c);
                return; /* as below */
        case P_STOPPING:
        case P_DELETING:
                return; /* a step is in flight; its completion converges again */
        case P_RUNNING:
                /* A run re-adopted while its spec (spec.json) and the desired
                 * state were both unknown: it is taken as the desired spec
                 * that has come, rather than restarted for a lost file. */
                if (!c->run_key && c->has_desired && (c->run_key = strdup(c->desired_key)))
                        brm_ctrrecord_save_run_key(c->sup->dir, c->name, c->run_key);
                if (!c->has_desired || brm_supervisor_want_stopped(c) || brm_supervisor_changed(c))
                        brm_lifecycle_stop(c);
                else if (c->desired.has_health && !brm_health_running(c->health))
                        brm_lifecycle_health_begin(c); /* a run adopted before its spec was known */
                return;
        case P_BACKOFF:
                if (c->has_desired && !brm_supervisor_want_stopped(c) && !brm_supervisor_changed(c)) {
                        brm_lifecycle_restart_later(c);
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
        if (brm_supervisor_want_stopped(c)) {
                if (c->disc_stopped && strcmp(c->rec.reason, c->disc_why) != 0) {
                        snprintf(c->rec.reason, sizeof(c->rec.reason), "%s", c->disc_why);
                        if (c->rec.state == BRM_CS_STOPPED)
                                brm_lifecycle_save_state(c);
                }
                if (c->rec.state != BRM_CS_STOPPED) {
                        c->rec.state = BRM_CS_STOPPED;
                        brm_lifecycle_save_state(c);
                }
                return;
        }
        if (brm_supervisor_changed(c)) {
                /* A new spec is a new container: counters start over. */
                if (c->run_key) {
                        c->rec.restarts = c->rec.oom_kills = 0;
                        c->rec.has_exit = false;
                        c->rec.backoff_ms = 0;
                }
                brm_lifecycle_start(c);
        } else if (c->rec.state == BRM_CS_STOPPED || c->rec.state == BRM_CS_PENDING) {
                brm_lifecycle_start(c);
        }
}

/* ---- loading ---- */

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
        char why[900], kwhy[900];
        int r, k;

        if (!(c = find(sup, name)) && !(c = create(sup, name)))
                return;
        /* A record that cannot be read is reported, and the container is
         * taken over from what its shim and the runtime know (adopt), never
         * killed for it. */
        why[0] = kwhy[0] = '\0';
        r = brm_ctrrecord_load_state(sup->dir, name, &c->rec, why, sizeof(why));
        /* since_ms carries over an agent restart; an older record has none. */
        c->since_state = c->rec.state;
        if (!c->rec.since_ms)
                c->rec.since_ms = brm_now_ms();
        if (r == 1) {
                brm_warn(MOD, "%s: %s; nothing was lost, and both are written anew from it", name, why);
                brm_ctrrecord_save_state(sup->dir, name, &c->rec);
        }
        c->rec_lost = r < 0;
        c->rec_damaged = r < 0 && r != -ENOENT;
        k = brm_ctrrecord_read_run_key(sup->dir, name, &c->run_key, kwhy, sizeof(kwhy));
        if (k == 1) {
                brm_warn(MOD, "%s: %s; nothing was lost, and both are written anew from it", name, kwhy);
                brm_ctrrecord_save_run_key(sup->dir, name, c->run_key);
        }
        c->key_lost = k < 0;
        if ((r < 0 && r != -ENOENT) || (k < 0 && k != -ENOENT)) {
                char *lost = NULL;
                if (asprintf(&lost, "%s%s%s", r < 0 && r != -ENOENT ? why : "",
                             r < 0 && r != -ENOENT && k < 0 && k != -ENOENT ? "; " : "",
                             k < 0 && k != -ENOENT ? kwhy : "") >= 0)
                        c->lost_why = lost;
        }
}

/* Log directories without a container: the agent ended after removing the
 * container and before moving its logs. */
static void orphan_found(const struct brm_logdir_entry *e, void *arg)
{
        struct brm_supervisor *sup = arg;

        if (e->kind == BRM_LOGDIR_CONTAINER && brm_valid_container_name(e->name) && !find(sup, e->name))
                move_logs(sup, e->name);
}

/* Loads the records, re-adopts what runs and converges everything. */
static void load(struct brm_supervisor *sup)
{
        size_t invalid = 0;
        char why[700] = "";
        bool boot;
        int r;

        if ((r = brm_ctrrecord_load_desired(sup->dir, desired_found, sup, &invalid, why, sizeof(why))) < 0) {
                /* Not an empty set: that would remove every container. */
                sup->desired_unknown = true;
                brm_warn(MOD, "%s: the containers found are left as they are until the master sends the desired "
                         "state, which writes it anew",
                         why);
        } else if (invalid)
                brm_warn(MOD, "%s/desired.json: %zu entries are not valid: ignored", sup->dir, invalid);
        brm_ctrrecord_list(sup->dir, record_found, sup);
        brm_logdir_walk(&sup->logs, orphan_found, sup);
        boot = brm_ctrrecord_same_boot(sup->dir, "/proc/sys/kernel/random/boot_id");
        for (struct container *c = sup->list; c; c = c->next)
                brm_lifecycle_adopt(c, boot);
        for (struct container *c = sup->list; c; c = c->next)
                brm_supervisor_converge(c);
}

/* ---- the public interface ---- */

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
        char rtroot[600], why[600], logs[600];
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
        if ((opts->log_dir ? brm_path(logs, sizeof(logs), "%s", opts->log_dir)
                           : brm_path(logs, sizeof(logs), "%s/logs", opts->state_dir)) < 0 ||
            brm_logdir_init(&sup->logs, logs) < 0) {
                r = -ENAMETOOLONG;
                goto fail;
        }
        sup->log_max_size = opts->log_max_size ? opts->log_max_size : LOG_MAX_SIZE;
        if (sup->log_max_size < 4096)
                sup->log_max_size = 4096;
        sup->log_max_files = opts->log_max_files ? opts->log_max_files : LOG_MAX_FILES;
        if (sup->log_max_files > BRM_LOG_MAX_FILES)
                sup->log_max_files = BRM_LOG_MAX_FILES;
        sup->log_reserve = opts->log_reserve ? opts->log_reserve : LOG_RESERVE;
        sup->on_removed = opts->on_removed;
        sup->on_removed_arg = opts->on_removed_arg;
        sup->fetch = opts->fetch;
        if ((r = brm_mkdir_p(sup->dir, 0700)) < 0 || (r = brm_mkdir_p(sup->images, 0700)) < 0 ||
            (r = brm_mkdir_p(rtroot, 0700)) < 0) {
                brm_err(MOD, "cannot create the state dir %s: %s", opts->state_dir, strerror(-r));
                goto fail;
        }
        if ((r = brm_logdir_create(&sup->logs)) < 0) {
                brm_err(MOD, "cannot create the log dir %s: %s", sup->logs.root, strerror(-r));
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
        if (opts->seccomp_profile)
                snprintf(sup->seccomp_profile, sizeof(sup->seccomp_profile), "%s", opts->seccomp_profile);
        if (opts->shim)
                snprintf(sup->shim, sizeof(sup->shim), "%s", opts->shim);
        else
                brm_runtime_helper_path("bramble-shim", sup->shim, sizeof(sup->shim));
        brm_runtime_helper_path("bramble-unpack", sup->unpack, sizeof(sup->unpack));
        brm_info(MOD, "runtime %s (%s), cgroup %s%s base %s, controllers:%s%s%s", sup->rt.version, sup->rt.path,
                 sup->cg.ops->name, sup->cg.hybrid ? " (hybrid)" : "", sup->cg.base, sup->cg.memory ? " memory" : "",
                 sup->cg.cpu ? " cpu" : "", sup->cg.pids ? " pids" : "");
        protect_self(sup);
        uv_timer_init(loop, &sup->retry);
        sup->retry.data = sup;
        brm_ondisconnect_init(sup);
        load(sup);
        brm_ondisconnect_applied(sup);
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

int brm_supervisor_check(struct brm_supervisor *sup, const struct brm_container_spec *spec, char *why, size_t why_size)
{
        enum brm_image_kind kind;
        const char *missing;
        int r;

        if ((r = brm_spec_validate(spec, why, why_size)) < 0)
                return r;
        if ((missing = brm_spec_unenforceable(spec, &sup->cg, true))) {
                snprintf(why, why_size, "%s", missing);
                return -ENOTSUP;
        }
        if ((r = brm_ocispec_seccomp_check(spec, sup->seccomp_profile[0] ? sup->seccomp_profile : NULL, why, why_size)) < 0)
                return r;
        /* An image from the master's store: the master checked that it has
         * it for this node's platform; the node fetches it when it starts
         * the container. */
        if (spec->image[0] != '/') {
                if (!sup->fetch) {
                        snprintf(why, why_size, "image %s: this node cannot fetch images from the master "
                                                "(its image layout is unusable; see the agent's log)",
                                 spec->image);
                        return -ENOTSUP;
                }
                return 0;
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

        for (size_t i = 0; i < n; i++) {
                if (brm_spec_validate(&specs[i], why, sizeof(why)) < 0) {
                        brm_warn(MOD, "apply refused: %s", why);
                        return -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(specs[i].name, specs[j].name) == 0)
                                return -EINVAL;
        }
        /* In memory first, written after: a node that cannot write (a full
         * or read-only disk) must still stop and remove what it is told
         * to. What is not written is retried and reported (persist.c). */
        sup->desired_unknown = false;
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
        brm_persist_desired(sup);
        brm_ondisconnect_applied(sup);
        for (struct container *c = sup->list; c; c = c->next)
                brm_supervisor_converge(c);
        return 0;
}

bool brm_supervisor_has(const struct brm_supervisor *sup, const char *name)
{
        for (const struct container *c = sup->list; c; c = c->next)
                if (c->has_desired && !c->closing && strcmp(c->name, name) == 0)
                        return true;
        return false;
}

void brm_supervisor_images(const struct brm_supervisor *sup,
                           void (*each)(const char *ref, const char *rootfs, const char *digest, bool starting,
                                        void *arg),
                           void *arg)
{
        for (const struct container *c = sup->list; c; c = c->next) {
                char rootfs[1024] = "", digest[80] = "";
                if (brm_ctrrecord_read_image(sup->dir, c->name, rootfs, sizeof(rootfs), digest, sizeof(digest)) < 0)
                        rootfs[0] = digest[0] = '\0';
                each(c->has_desired ? c->desired.image : NULL, rootfs, digest, c->phase == P_STARTING, arg);
        }
}

/* A container waiting for its image says how far the fetch is, in its
 * reason ("pulling 45% of 27.3 MiB"): ps shows it without a new field. */
static void pull_progress(const struct container *c, struct brm_container_status *st)
{
        uint64_t done, total;

        if (c->phase != P_STARTING || c->desired.image[0] == '/' || !c->sup->fetch ||
            !brm_fetch_progress(c->sup->fetch, c->desired.image, &done, &total))
                return;
        if (!total)
                snprintf(st->reason, sizeof(st->reason), "pulling");
        else
                snprintf(st->reason, sizeof(st->reason), "pulling %u%% of %.1f MiB",
                         (unsigned)(done >= total ? 100 : done * 100 / total), (double)total / (1 << 20));
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
        st->since_ms = c->rec.since_ms;
        if (c->has_desired && c->desired.has_health) {
                const struct brm_health_sm *hs = c->health ? brm_health_result(c->health) : NULL;
                st->health = brm_health_state_name(hs ? hs->state : BRM_HEALTH_STARTING);
                if (hs) {
                        snprintf(st->health_log, sizeof(st->health_log), "%s", hs->log);
                        st->health_failures = hs->failures;
                }
        }
        pull_progress(c, st);
        if (!c->has_desired ||
            (brm_supervisor_changed(c) && (c->phase == P_RUNNING || c->phase == P_STOPPING))) {
                /* Its process is the old spec's, on its way out. */
                st->health = NULL;
                snprintf(st->reason, sizeof(st->reason), "%s",
                         c->has_desired ? "replacing: its spec changed" : "removing: no longer desired");
                if (c->has_desired)
                        st->state = BRM_CS_PENDING;
        }
        /* "running" promises a process: until the runtime has written its
         * pid, the container is still starting. */
        if (c->phase != P_RUNNING && c->phase != P_STOPPING) {
                if (st->state == BRM_CS_RUNNING)
                        st->state = BRM_CS_PENDING;
                return;
        }
        brm_lifecycle_read_pid(c);
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
        st->has_cpu_usage = cs.has_cpu;
        st->cpu_usage_usec = cs.cpu_usage_ns / 1000;
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

uint64_t brm_supervisor_shim_rss(const struct brm_supervisor *sup)
{
        uint64_t total = 0, rss;

        for (const struct container *c = sup->list; c; c = c->next)
                if (brm_shimwatch_active(&c->shim) && brm_metrics_proc_rss(c->shim.pid, &rss) == 0)
                        total += rss;
        return total;
}

int brm_supervisor_status(struct brm_supervisor *sup, struct brm_container_status **ret, size_t *ret_n)
{
        struct brm_container_status *arr;
        size_t n = 0, i = 0;

        /* Also those no longer desired while they stop and go: a master
         * must not take their name for a new one, and a drain is done only
         * once they are gone. */
        for (struct container *c = sup->list; c; c = c->next)
                n += !c->closing;
        if (!(arr = calloc(n ? n : 1, sizeof(*arr))))
                return -ENOMEM;
        for (struct container *c = sup->list; c; c = c->next)
                if (!c->closing)
                        fill_status(c, &arr[i++]);
        *ret = arr;
        *ret_n = n;
        return 0;
}

static void disc_closed(uv_handle_t *h)
{
        struct brm_supervisor *sup = h->data;
        sup->disc_closed = true;
        maybe_finish(sup);
}

static void retry_closed(uv_handle_t *h)
{
        struct brm_supervisor *sup = h->data;
        sup->retry_closed = true;
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
        uv_close((uv_handle_t *)&sup->retry, retry_closed);
        uv_close((uv_handle_t *)&sup->disc, disc_closed);
}
