/* OS updates of the cluster's nodes: the rollout.
 *
 * `bramble node upgrade` uploads a bundle into the image store (an image
 * whose layers are the parts, see agent/osbundle.h) and asks for a rollout
 * (UpgradeRequest). The master signs the bundle's manifest digest, version
 * and architecture with the cluster CA's key (lib/ossig.h), then takes the
 * nodes PARALLEL at a time: it drains each (its service replicas move
 * away), sends it NodeUpgrade, and follows the node's own report in its
 * heartbeats (UpdateStatus: downloading ... committed, failed,
 * rolled-back). A node that commits gets its scheduling back and the next
 * starts; the first that fails or rolls back stops the rollout, which then
 * says which node and why. Nodes that are NotReady, already on the version
 * or not on the Bramble image are skipped with the reason.
 *
 * One rollout at a time; the last one is kept in memory for
 * `bramble node upgrade --status` and written to DATA_DIR/upgrade.json. */
#ifndef BRM_UPGRADE_H
#define BRM_UPGRADE_H

#include <stdbool.h>

#include "bramble.pb-c.h"

struct brm_master;
struct brm_node;
struct brm_session;
struct brm_upgrade;

int brm_upgrade_open(struct brm_master *m, struct brm_upgrade **ret);
void brm_upgrade_close(struct brm_upgrade *u);

/* Operator calls: start a rollout (answered with its UpgradeInfo), the
 * current or last rollout, and a node's rollback to its other slot. */
void brm_upgrade_request(struct brm_session *s, const Bramble__Envelope *env);
void brm_upgrade_status(struct brm_session *s, const Bramble__Envelope *env);
void brm_upgrade_rollback(struct brm_session *s, const Bramble__Envelope *env);

/* A node's Ok or Error: true when it answered one of this module's
 * requests. */
bool brm_upgrade_node_reply(struct brm_session *s, const Bramble__Envelope *env);

/* A node's heartbeat carried its update status ST (NULL: none). */
void brm_upgrade_node_status(struct brm_master *m, struct brm_node *n, const Bramble__UpdateStatus *st);

#endif
