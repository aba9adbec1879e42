/* Between upgrade.c (the rollout) and upgradeapi.c (the operator's calls):
 * the rollout's state and the steps both use. */
#ifndef BRM_UPGRADE_INTERNAL_H
#define BRM_UPGRADE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "ossig.h"

#define BRM_UPGRADE_TICK_MS 1000
#define BRM_UPGRADE_MAX_NODES 1024
#define BRM_UPGRADE_MAX_ROLLBACKS 16

struct up_node {
        char name[64];
        char state[16];          /* queued, draining, upgrading, committed, rolled-back, failed, skipped */
        char reason[400];
        char schedule[16];       /* what it was before the drain */
        uint64_t since_mono;     /* in this state since */
        uint64_t req_id;         /* the NodeUpgrade sent */
        bool acked;
        uint64_t ack_mono;
        uint64_t seen_mono;      /* its last heartbeat after the answer */
        /* Its last report. */
        char u_state[16], u_version[64], u_from[64], u_slot[4], u_reason[400];
        uint64_t u_done, u_total;
        int64_t u_started, u_deadline, u_finished;
};

struct rollback {
        uint64_t node_req_id;
        char node[64];
        uint64_t admin_sid, admin_req_id;
};

struct brm_upgrade {
        struct brm_master *m;
        uv_timer_t timer;
        bool has;                /* a rollout ran since the start (or was loaded) */
        uint64_t id;
        char ref[300], version[64], arch[32], digest[72];
        uint8_t sig[BRM_OSSIG_MAX];
        size_t sig_len;
        char state[16];          /* running, completed, stopped */
        char reason[512];
        uint32_t parallel, confirm_within_ms, healthy_ms;
        int64_t started_ms, finished_ms;
        struct up_node *nodes;
        size_t n;
        struct rollback rb[BRM_UPGRADE_MAX_ROLLBACKS];
        size_t n_rb;
};

static inline void brm_upgrade_copy(char *dst, size_t size, const char *src)
{
        snprintf(dst, size, "%s", src ? src : "");
}

#define COPY(dst, src) brm_upgrade_copy(dst, sizeof(dst), src)

static inline bool is(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

/* Writes DATA_DIR/upgrade.json (a failure is logged). */
void brm_upgrade_save(struct brm_upgrade *u);
/* Starts nodes, ends the rollout, times out what waits too long. */
void brm_upgrade_step(struct brm_upgrade *u);
/* The once-a-second timer while a rollout runs or a node is in flight. */
void brm_upgrade_tick(uv_timer_t *t);

#endif
