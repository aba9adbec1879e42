/* The node's container supervisor: desired state in, actual state out.
 *
 * The agent hands the supervisor the complete desired set of containers for
 * this node; the supervisor persists it (atomic write in the state dir) and
 * converges to it on its own — also while the master is unreachable and
 * after a reboot or an agent restart. Isolation is delegated to an OCI
 * runtime (crun or runc); the supervisor owns the lifecycle, the limits,
 * the accounting and the state. Does not talk to the network. */
#ifndef BRM_SUPERVISOR_H
#define BRM_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "spec.h"

struct brm_container_status {
        char name[64];
        char image[512];
        enum brm_cstate state;
        int pid;                  /* 0 when not running */
        uint32_t restarts;
        bool has_exit_code;
        int exit_code;            /* 128+signal when killed */
        uint32_t oom_kills;
        bool has_memory;
        uint64_t memory_bytes;
        bool has_cpu;
        float cpu_percent;        /* of one core */
        bool has_cpu_usage;
        uint64_t cpu_usage_usec;  /* cumulative, of its cgroup */
        char reason[160];         /* "OOMKilled", "image not found: ...", ... */
        int64_t since_ms;         /* wall clock when it entered STATE */
        const char *health;       /* "starting", "healthy", "unhealthy"; NULL without a check */
        char health_log[200];     /* the last failed check */
        uint32_t health_failures; /* consecutive failed checks */
};

struct brm_fetch;

struct brm_supervisor_opts {
        const char *state_dir;    /* containers/, images/ live below it */
        const char *runtime;      /* "crun", "runc", a path, or NULL = auto-detect */
        const char *cgroup_root;  /* "/sys/fs/cgroup" unless tests say otherwise */
        const char *shim;         /* bramble-shim; NULL = beside this executable, else on PATH */
        uint32_t stop_grace_ms;   /* SIGTERM to SIGKILL when stopping; 0 = 10 s */
        const char *seccomp_profile; /* the containers' default seccomp profile; NULL = seccomp.h's */
        /* Container output (stored by each container's shim, lib/logrec.h):
         * in the log directory (logdir.h) while the container exists, moved
         * to its removed/ part when it is removed. */
        const char *log_dir;      /* the logs root; NULL = STATE_DIR/logs */
        uint64_t log_max_size;    /* bytes per file before rotation; 0 = 10 MiB (at least 4096) */
        unsigned log_max_files;   /* files kept per container, the current one included; 0 = 3 */
        uint64_t log_reserve;     /* free bytes on the log's file system the shims never take; 0 = 4 MiB */
        /* Called when a removed container's log directory has been moved:
         * MOVED_TO is the new path, NULL when it had none (or the move
         * failed). Also called from brm_supervisor_open for log directories
         * left without a container (an agent ended between the two steps). */
        void (*on_removed)(const char *name, const char *moved_to, void *arg);
        void *on_removed_arg;
        /* Gets images from the master's store (fetch.h): any --image that
         * is not an absolute path. NULL: such images are refused. */
        struct brm_fetch *fetch;
};

struct brm_supervisor;

/* What this node can do, reported at connect. */
struct brm_supervisor_caps {
        char runtime[64];         /* "runc 1.1.5" */
        unsigned cgroup_version;  /* 2 or 1 */
        bool memory_controller;
        bool cpu_controller;
        bool pids_controller;
};

/* Loads persisted desired state, re-adopts running containers (runtime
 * state + cgroup), notices exits that happened while the agent was down,
 * and starts converging. Returns 0 or -errno. */
int brm_supervisor_open(uv_loop_t *loop, const struct brm_supervisor_opts *opts, struct brm_supervisor **ret);
void brm_supervisor_caps(const struct brm_supervisor *sup, struct brm_supervisor_caps *ret);

/* Checks one spec against this node without changing anything: the image
 * exists and is usable, the limits can be enforced (a memory limit without
 * the memory controller is refused). 0, or -errno and a one-line reason. */
int brm_supervisor_check(struct brm_supervisor *sup, const struct brm_container_spec *spec, char *why, size_t why_size);

/* Replaces the whole desired set: applied at once, persisted when the disk
 * lets it (tried again until it is; see brm_supervisor_persist_problem).
 * Containers no longer in the set are stopped and removed. 0, or -EINVAL
 * (a spec not valid, a name twice: nothing is changed), -ENOMEM. */
int brm_supervisor_apply(struct brm_supervisor *sup, const struct brm_container_spec *specs, size_t n);

/* Why the node's container records are not all written ("desired.json: No
 * space left on device"), NULL when they are. The changes are applied
 * meanwhile; what is missing is what an agent restart would need. */
const char *brm_supervisor_persist_problem(const struct brm_supervisor *sup);

/* Whether container NAME is in the desired set (the containers
 * brm_supervisor_status reports), without reading their cgroups. */
bool brm_supervisor_has(const struct brm_supervisor *sup, const char *name);

/* Calls EACH for every container the supervisor holds (desired or found
 * on disk, running, stopped or starting) with the image it names (REF,
 * --image; NULL for a container found without a desired spec), the root
 * file system and manifest digest of its bundle ("" when it has none
 * yet), and whether a start is resolving its image now. Reads each
 * bundle (a few KiB): for the image collection (imagegc.h), not a hot
 * path. */
void brm_supervisor_images(const struct brm_supervisor *sup,
                           void (*each)(const char *ref, const char *rootfs, const char *digest, bool starting,
                                        void *arg),
                           void *arg);

/* Current status of every desired container; *ret is an array to free().
 * Reads each running container's cgroup and takes a CPU sample. */
int brm_supervisor_status(struct brm_supervisor *sup, struct brm_container_status **ret, size_t *ret_n);

/* Stops supervising (containers keep running: they belong to the node, not
 * to this process) and frees everything once its handles are closed. */
/* The resident memory of all the container shims together, in bytes. */
uint64_t brm_supervisor_shim_rss(const struct brm_supervisor *sup);

/* Whether the node has a session with a master now. Containers with a
 * disconnect_stop_ms are stopped once the node has been without one that
 * long (counted from the session's end, or from brm_supervisor_open); the
 * desired set is not changed, and the next desired state applied with a
 * session up starts them again. */
void brm_supervisor_set_master(struct brm_supervisor *sup, bool up);

void brm_supervisor_close(struct brm_supervisor *sup, void (*cb)(void *arg), void *arg);

#endif
