/* Nodes known to the master, in memory, with liveness. Durable fields live
 * in the store; last-seen times are kept here and written back in batches
 * (brm_registry_flush), not once per heartbeat. */
#ifndef BRM_REGISTRY_H
#define BRM_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "bramble.pb-c.h"
#include "store.h"

struct brm_session;

/* What the scheduler needs of one container's status, from the node's last
 * heartbeat. */
enum brm_brief_state { BRM_BRIEF_PENDING, BRM_BRIEF_RUNNING, BRM_BRIEF_EXITED, BRM_BRIEF_BACKOFF, BRM_BRIEF_FAILED,
                       BRM_BRIEF_STOPPED };
enum brm_brief_health { BRM_HEALTH_NONE, BRM_HEALTH_STARTING, BRM_HEALTH_HEALTHY, BRM_HEALTH_UNHEALTHY };
struct brm_brief {
        char name[64];
        uint8_t state;  /* enum brm_brief_state */
        uint8_t health; /* enum brm_brief_health */
};

struct brm_node {
        char name[64];
        char pubkey_hash[65];
        int64_t created_ms;
        int64_t last_seen_ms;     /* wall clock, for display */
        uint64_t last_seen_mono;  /* monotonic, for liveness; 0 = never this run */
        int64_t cert_not_after_ms;
        bool ready;
        bool seen_dirty;          /* last_seen_ms not yet written to the store */
        bool persist_failing;     /* its last heartbeat said it cannot write its records */
        uint8_t *info;            /* packed NodeInfo */
        size_t info_len;
        uint8_t *last_hb;         /* packed last Heartbeat */
        size_t last_hb_len;
        struct brm_session *session;
        struct brm_node *hnext;   /* hash chain */
        /* Scheduling (services): */
        char *labels;             /* the operator's "key=value" lines; NULL when none */
        char schedule[16];        /* "", "cordoned", "draining" */
        uint64_t notready_mono;   /* when it turned NotReady this run; 0: Ready, or not seen since the start */
        struct brm_brief *briefs; /* its containers as its last heartbeat told */
        size_t n_briefs;
        bool run_dirty;           /* run_mem/run_cpu must be summed again from the store */
        uint64_t run_mem;         /* memory and CPU limits of its single containers (bramble run) */
        uint32_t run_cpu;
        uint64_t sched_mem;       /* the same of its replicas, summed by each scheduling pass */
        uint32_t sched_cpu;
        uint32_t sched_count;     /* replicas of all services on it */
        int sched_view;           /* its index in the pass's view; -1: none */
};

struct brm_registry {
        struct brm_node **buckets;
        size_t n_buckets;
        size_t count;
};

int brm_registry_init(struct brm_registry *reg);
void brm_registry_free(struct brm_registry *reg);
struct brm_node *brm_registry_get(struct brm_registry *reg, const char *name);
/* Adds or refreshes a node from its store record. */
int brm_registry_put(struct brm_registry *reg, const struct brm_node_rec *rec, struct brm_node **ret);
void brm_registry_remove(struct brm_registry *reg, const char *name);
/* Calls fn for every node (in no particular order). */
void brm_registry_foreach(struct brm_registry *reg, void (*fn)(void *arg, struct brm_node *n), void *arg);
/* The node's image platform ("linux/arm64") from the uname machine its
 * Hello told (NodeInfo.arch), through the table the node uses to ask;
 * -EAGAIN while it has told none. */
int brm_registry_platform(const struct brm_node *n, char *buf, size_t size);
/* Replaces a packed blob (info or last heartbeat). */
int brm_registry_set_blob(uint8_t **blob, size_t *blob_len, const uint8_t *data, size_t len);
/* Keeps the scheduler's view of the heartbeat's containers; true when a
 * state or health differs from the last heartbeat's. */
bool brm_registry_briefs(struct brm_node *n, const Bramble__Heartbeat *hb);
/* The brief of container NAME on n; NULL when its heartbeat did not list it. */
const struct brm_brief *brm_registry_brief(const struct brm_node *n, const char *name);
/* Nodes' last heartbeats unpacked once for one request, by node name;
 * zero-initialised. */
struct brm_hb_cache {
        char (*names)[64];
        Bramble__Heartbeat **hbs; /* NULL entries: no heartbeat */
        size_t n;
};
/* The node's last heartbeat, unpacked on first use; NULL when it has
 * none (or out of memory). Valid until brm_hb_cache_free. */
const Bramble__Heartbeat *brm_hb_cache_get(struct brm_hb_cache *c, struct brm_registry *reg, const char *node);
void brm_hb_cache_free(struct brm_hb_cache *c);
/* Replaces the operator's labels (a copy is kept). 0 or -ENOMEM. */
int brm_registry_set_labels(struct brm_node *n, const char *labels);
/* A heartbeat arrived now: the node is seen, and Ready if it was not. */
void brm_registry_seen(struct brm_node *n);
/* Liveness: a Ready node not seen for grace_ms turns NotReady. Returns
 * how many turned NotReady. */
size_t brm_registry_check(struct brm_registry *reg, uint64_t grace_ms);
/* Writes the last-seen times not yet stored, in one store call. Returns 0
 * or -errno; on failure they stay pending for the next call. */
int brm_registry_flush(struct brm_registry *reg, struct brm_store *store);

#endif
