/* Placement: which node takes one replica. Pure over a view of the nodes
 * the scheduler builds once per pass (their labels, platform and
 * capacity), so it is unit-tested and benchmarked without a master.
 *
 * A node qualifies when it is Ready, neither cordoned nor draining, of a
 * platform the image has, matching every constraint, under the service's
 * --max-per-node, and has the replica's memory and CPU unreserved (the
 * limits of what the master placed there, plus this one, within the
 * node's memory less the reserve and its cores). Among those it prefers
 * a node heard from lately over one gone quiet (it may have lost power
 * and not be NotReady yet), then the fewest replicas of this service
 * (spread), then the fewest replicas of any service, then the most
 * unreserved memory, then the name. */
#ifndef BRM_PLACE_H
#define BRM_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "svcspec.h"

#define BRM_VIEW_LABELS 40

struct brm_node_view {
        struct brm_node *n;
        char platform[32];                 /* "linux/arm64"; "" when the node has not said */
        const char *labels[BRM_VIEW_LABELS]; /* "key=value", the operator's first, then the built-in ones */
        size_t n_labels;
        uint64_t mem_total;                /* bytes */
        uint32_t cpu_millis;               /* cores x 1000 */
        uint32_t svc_count;                /* replicas of the service being placed (the caller sets it) */
        char buf[2600];                    /* the labels' text */
};

/* Fills v for n: built-in labels node, arch (arm64, amd64, arm), model,
 * board (pi5, pi4, pi400, cm4, pi3, pizero2, pi2, pizero, other), mem_mib,
 * cgroup (v1, v2), after the operator's labels (which win). */
void brm_view_fill(struct brm_node_view *v, struct brm_node *n);

/* The value of label KEY in v, NULL when absent. */
const char *brm_view_label(const struct brm_node_view *v, const char *key);

struct brm_place_req {
        uint64_t mem;                      /* bytes reserved; 0: none asked */
        uint32_t cpu;                      /* thousandths of a core; 0: none asked */
        const struct brm_constraint *cons;
        size_t n_cons;
        uint32_t max_per_node;             /* 0: no cap */
        uint64_t reserve;                  /* of each node's memory, never reserved to replicas */
        const char *avoid;                 /* chosen only when nothing else fits; NULL: none */
        const char *exclude;               /* never chosen; NULL: none */
        uint64_t now_mono, quiet_ms;       /* a node not heard from for quiet_ms is taken only when nothing
                                            * else fits (it may have lost power); 0: no such test */
        /* Whether the image runs on PLATFORM: 0, or -errno (not for it). */
        int (*platform_ok)(void *arg, const char *platform);
        void *platform_arg;
};

/* The index in v of the node for the replica, or -1 with why (one line:
 * what was asked and how many nodes failed which test). */
int brm_place(struct brm_node_view *v, size_t n, const struct brm_place_req *req, char *why, size_t why_size);

#endif
