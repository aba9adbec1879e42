/* Container cgroups: detection, the agent's own protection, and per-container
 * accounting, behind one ops table with a v2 and a v1 backend (like crun's
 * libcrun/cgroup*.c).
 *
 * The OCI runtime creates each container's cgroup and writes its limits from
 * the spec; the agent only fixes *where* the cgroup lives and reads it back.
 * Containers live under the agent's own cgroup ("delegation": the agent's
 * subtree is its to manage, as with systemd's Delegate=yes), at
 * BASE/bramble/NAME, where BASE is the cgroup the agent was started in — "/"
 * on a node booted from the image. Nothing here logs; functions return 0 or
 * -errno. */
#ifndef BRM_CGROUP_H
#define BRM_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The agent's own leaf: a name no container can have (names start with
 * [a-z0-9]). */
#define BRM_CGROUP_AGENT_LEAF "_agent"
#define BRM_CGROUP_SUBTREE "bramble"

struct brm_cgroup_stats {
        bool has_memory;
        uint64_t memory_bytes;   /* working set: usage minus inactive file cache */
        bool has_cpu;
        uint64_t cpu_usage_ns;   /* cumulative */
        bool has_oom;
        uint64_t oom_kills;      /* OOM kills inside this cgroup since it was created */
        bool has_pids;
        uint64_t pids;
};

struct brm_cgroup;

struct brm_cgroup_ops {
        const char *name;
        unsigned version;
        /* Fills the controller flags; 0 or -errno. */
        int (*probe)(struct brm_cgroup *cg);
        /* Puts the calling process into BASE/bramble/_agent and reserves
         * memory_min bytes for it where the hierarchy can (v2 memory.min).
         * Best effort: returns the first error, having done what it could. */
        int (*protect_self)(struct brm_cgroup *cg, uint64_t memory_min);
        /* Reads the accounting of the cgroup at PATH (absolute within the
         * hierarchy, as given to the runtime). -ENOENT when it is gone. */
        int (*stats)(const struct brm_cgroup *cg, const char *path, struct brm_cgroup_stats *ret);
};

struct brm_cgroup {
        const struct brm_cgroup_ops *ops;
        char root[256];           /* mount point, "/sys/fs/cgroup" */
        char base[512];           /* the agent's cgroup at open, "/" on a node */
        bool hybrid;              /* v1 with an (unused) unified hierarchy beside it */
        bool memory;
        bool cpu;
        bool pids;
        bool swap;                /* memory+swap accounting: limits can include swap */
};

extern const struct brm_cgroup_ops brm_cgroup_v2_ops;
extern const struct brm_cgroup_ops brm_cgroup_v1_ops;

/* Detects the hierarchy under root (v2 when root/cgroup.controllers exists,
 * else v1), the agent's base from proc_self_cgroup (the text of
 * /proc/self/cgroup; NULL reads the real one) and the usable controllers. */
int brm_cgroup_open(const char *root, const char *proc_self_cgroup, struct brm_cgroup *ret);

/* The cgroup path the runtime gets for container NAME: BASE/bramble/NAME. */
int brm_cgroup_container_path(const struct brm_cgroup *cg, const char *name, char *out, size_t size);

/* Helpers shared by the backends. */
int brm_cgroup_read_u64(const char *path, uint64_t *ret);
/* Value of "KEY N" in a flat keyed file (memory.stat, memory.events). */
int brm_cgroup_read_key(const char *path, const char *key, uint64_t *ret);

#endif
