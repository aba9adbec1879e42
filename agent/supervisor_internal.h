/* Inside the supervisor, shared by its two files and no other module:
 * supervisor.c keeps the set of containers, decides each one's next step
 * (converge) and answers the public interface; lifecycle.c carries the
 * steps out (start a run, stop it, account its end, delete it from the
 * runtime, take over a run found on disk).
 *
 * A container's memory holds its libuv handles (its timer and its shim
 * watch), so it is freed only when its last reference goes: one for the
 * timer, one per open shim-watch handle, one per step in flight. */
#ifndef BRM_SUPERVISOR_INTERNAL_H
#define BRM_SUPERVISOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <uv.h>

#include "cgroup.h"
#include "fetch.h"
#include "health.h"
#include "ctrrecord.h"
#include "logdir.h"
#include "runtime.h"
#include "shimwatch.h"
#include "supervisor.h"

/* What a container is doing: a step in flight (starting, stopping,
 * deleting), a run under way, waiting to restart, or nothing. */
enum brm_phase { P_IDLE, P_STARTING, P_RUNNING, P_STOPPING, P_DELETING, P_BACKOFF };

struct container {
        struct brm_supervisor *sup;
        struct container *next;
        char name[64];
        bool has_desired;
        struct brm_container_spec desired;
        char *desired_key;        /* spec JSON without "stopped": change detection */
        char *run_key;            /* the same for the current or last run; NULL = never ran */
        enum brm_phase phase;
        void *pull;               /* a start waiting for its image from the master (lifecycle.c) */
        struct brm_ctrrecord_state rec; /* persisted in state.json */
        /* At load: state.json or spec.json (with their copies) could not be
         * read, state.json because it is damaged (not only missing); what
         * was wrong with them (malloc'd, freed once adopted). */
        bool rec_lost, rec_damaged, key_lost;
        char *lost_why;
        /* The run. */
        int pid;
        struct brm_shimwatch shim;
        bool closing;
        bool state_dirty;         /* state.json not written yet (persist.c) */
        uv_timer_t timer;         /* backoff, stop escalation, a failed delete's completion */
        int refs;                 /* see above */
        enum brm_cstate since_state; /* the state rec.since_ms belongs to */
        /* Health checks (health.h), opened at the first run with a check;
         * health_failed: the run is being stopped because it became
         * unhealthy, with unhealthy_why as its reason. */
        struct brm_health *health;
        bool health_failed;
        char unhealthy_why[160];
        /* Stopped by the node after disconnect_stop_ms without a master
         * (not by the desired state), with disc_why as its reason. */
        bool disc_stopped;
        char disc_why[160];
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
        char unpack[512];         /* bramble-unpack, the image helper */
        struct brm_fetch *fetch;  /* cluster images; may be NULL */
        char seccomp_profile[1024]; /* "" = seccomp.h's default */
        struct brm_logdir logs;   /* the container logs: containers/, removed/ */
        uint64_t log_max_size;
        unsigned log_max_files;
        uint64_t log_reserve;     /* free space the shims' log writers leave */
        void (*on_removed)(const char *name, const char *moved_to, void *arg);
        void *on_removed_arg;
        uint64_t stop_grace_ms;
        struct brm_cgroup cg;
        struct brm_runtime rt;
        struct container *list;
        /* Records not written yet (persist.c): tried again on this timer,
         * which is also closed last, making close asynchronous also
         * without containers. */
        uv_timer_t retry;
        bool desired_dirty, records_left, retrying;
        char persist_error[200];  /* the first reason, "" when all is written */
        bool closing, retry_closed;
        /* desired.json was damaged: the containers found are left as they
         * are (not removed as undesired) until the desired state comes. */
        bool desired_unknown;
        /* The master session (brm_supervisor_set_master): since when
         * (monotonic) it is lost; disc fires at the next on-disconnect
         * stop. */
        bool master_up;
        uint64_t master_lost_ms;
        uv_timer_t disc;
        bool disc_closed;
        void (*close_cb)(void *arg);
        void *close_arg;
};

/* Whether the desired spec differs from the one of the last run. */
static inline bool brm_supervisor_changed(const struct container *c)
{
        return !c->run_key || !c->desired_key || strcmp(c->run_key, c->desired_key) != 0;
}

/* Whether the container is to be stopped: by the desired state, or by
 * the node for want of a master. */
static inline bool brm_supervisor_want_stopped(const struct container *c)
{
        return c->desired.stopped || c->disc_stopped;
}

/* supervisor.c */

/* Takes the container's next step towards its desired state, unless one
 * is in flight. Every step's completion calls it again. */
void brm_supervisor_converge(struct container *c);
/* Drops one reference; the last one frees the container. */
void brm_supervisor_unref(struct container *c);

/* persist.c: each writes a record now and, when that fails, marks it to
 * be tried again and reports why until it is written; 0 or -errno. */

/* desired.json from the containers' desired specs in memory. */
int brm_persist_desired(struct brm_supervisor *sup);
/* The container's state.json. */
int brm_persist_state(struct container *c);
/* Removes the records of container NAME, which the supervisor dropped. */
int brm_persist_removed(struct brm_supervisor *sup, const char *name);

/* ondisconnect.c: the timer (at open), and after every apply or load:
 * clears the node's own stops when a session is up, arms the next. */
void brm_ondisconnect_init(struct brm_supervisor *sup);
void brm_ondisconnect_applied(struct brm_supervisor *sup);

/* lifecycle.c */

/* Sets up the container's shim watch (at creation). */
void brm_lifecycle_init(struct container *c);
/* Starts a run of the desired spec: image resolved off the loop, bundle
 * written, shim spawned. Fails the container (state failed, with the
 * reason) when the node cannot enforce its limits. */
void brm_lifecycle_start(struct container *c);
/* Withdraws the start's wait for its image (c->pull): a spec that changed
 * meanwhile need not wait for a fetch it no longer uses. */
void brm_lifecycle_cancel_pull(struct container *c);
/* SIGTERM through the runtime, SIGKILL after the grace time. */
void brm_lifecycle_stop(struct container *c);
/* Arms the restart after the backoff delay, unless it is armed. */
void brm_lifecycle_restart_later(struct container *c);
/* Takes over a container found on disk at open (see lifecycle.c). */
void brm_lifecycle_adopt(struct container *c, bool same_boot);
/* Persists the counters; a failure is retried and reported (persist.c). */
void brm_lifecycle_save_state(struct container *c);
/* Starts (or restarts) the container's health checks when its desired
 * spec has one: at the start of a run and when a run is re-adopted. */
void brm_lifecycle_health_begin(struct container *c);
/* Reads the container's pid once the runtime has written it. */
void brm_lifecycle_read_pid(struct container *c);

#endif
