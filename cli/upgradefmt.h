/* OS updates as the operator reads them: a node's UpdateStatus and its
 * place in a rollout as one short text ("downloading 42% (22.1 of 52.3
 * MB)", "confirming (4m left)", "rolled-back: REASON"), and a rollout
 * (UpgradeInfo) as text and as JSON. Pure: used by 'bramble node upgrade'
 * and its --status, tested on canned answers. */
#ifndef BRM_CLI_UPGRADEFMT_H
#define BRM_CLI_UPGRADEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "bramble.pb-c.h"

/* The states in which a node's text changes by itself (bytes, time left). */
bool brm_upgrade_in_progress(const Bramble__UpdateStatus *u);

/* A node's update as one text at now_ms. COARSE (output that is not a
 * terminal): percentages in steps of 10 and deadlines as times, so the
 * text changes only when something happened. */
void brm_upgrade_update_text(const Bramble__UpdateStatus *u, int64_t now_ms, bool coarse, char *out, size_t size);

/* A node of a rollout: its own state, and while it is upgrading the
 * node's report (brm_upgrade_update_text). */
void brm_upgrade_node_text(const Bramble__UpgradeNode *n, int64_t now_ms, bool coarse, char *out, size_t size);

/* For the UPDATE column: "committed 0.9.1 (3m ago)", "failed 0.9.1: why
 * (2h ago)", "downloading 42% ...", or "-" without one. */
void brm_upgrade_update_cell(const Bramble__UpdateStatus *u, int64_t now_ms, char *out, size_t size);

/* A rollout: "rollout 3: bramble-os:0.9.1, completed, ..." and a line per
 * node, into f. */
void brm_upgrade_print_info(FILE *f, const Bramble__UpgradeInfo *i, int64_t now_ms);

/* A rollout as JSON: id, ref, version, state, reason, parallel, started,
 * finished, nodes [{node, state, reason, schedule, update}]. */
cJSON *brm_upgrade_info_json(const Bramble__UpgradeInfo *i);

/* Following a rollout: what was printed of each node, so that a line is
 * printed only when it changed. On a terminal (tty) a line whose figures
 * move is rewritten in place until something else is printed. */
#define BRM_UPGRADE_FOLLOW_NODES 256
struct brm_upgrade_follow {
        FILE *out, *err;
        uint64_t id;            /* the rollout followed */
        bool tty, json;
        struct {
                char node[64];
                char text[512];
        } seen[BRM_UPGRADE_FOLLOW_NODES];
        size_t n;
        char open_node[64];     /* whose progress line is not ended yet (tty) */
};

/* One answer of upgrade_status at now_ms: prints what changed. Returns -1
 * while the rollout runs, 0 once it completed, 1 (EXIT_FAIL) once it
 * stopped (with the reason on err) or when another rollout replaced it;
 * with json, the rollout's JSON on out at the end and nothing before. */
int brm_upgrade_follow_step(struct brm_upgrade_follow *f, const Bramble__UpgradeInfo *i, int64_t now_ms);

/* Ends a progress line left open (before printing anything else). */
void brm_upgrade_follow_end_line(struct brm_upgrade_follow *f);

#endif
