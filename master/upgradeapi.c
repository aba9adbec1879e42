/* The operator's OS update calls (upgrade.h): a rollout started, its
 * status, a node's rollback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "log.h"
#include "ossig.h"
#include "pull.h"
#include "registry.h"
#include "server.h"
#include "services.h"
#include "session.h"
#include "upgrade.h"
#include "upgrade_internal.h"
#include "util.h"

/* ---- the operator's calls ---- */

/* The bundle REF names: its manifest's digest, architecture and version
 * (from its config), after checking it is one. */
static int read_bundle(struct brm_master *m, const char *ref, char *digest, size_t dsize, char *arch, size_t asize,
                       char *version, size_t vsize, char *why, size_t why_size)
{
        struct brm_oci_desc top;
        char *text = NULL;
        size_t len = 0;
        cJSON *man = NULL, *cfg = NULL;
        const char *cd, *a, *v;
        int r;

        if ((r = brm_imagestore_lookup(&m->images, ref, &top)) < 0) {
                snprintf(why, why_size, "the store has no bundle %s (bramble node upgrade uploads it)", ref);
                return r;
        }
        if ((r = brm_imagestore_read(&m->images, top.digest, 1 << 20, &text, &len)) < 0) {
                snprintf(why, why_size, "cannot read %s's manifest: %s", ref, brm_strerror(r));
                return r;
        }
        man = cJSON_ParseWithLength(text, len);
        free(text);
        text = NULL;
        cd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(man, "config"), "digest"));
        if (!cd || (r = brm_imagestore_read(&m->images, cd, 1 << 20, &text, &len)) < 0) {
                snprintf(why, why_size, "%s is not an OS update bundle (no readable config)", ref);
                cJSON_Delete(man);
                return -EINVAL;
        }
        cfg = cJSON_ParseWithLength(text, len);
        free(text);
        a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "architecture"));
        v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "config"), "Labels"),
                "org.bramble.os.version"));
        r = 0;
        if (!a || !v || !*a || !*v || strlen(v) >= vsize || strlen(a) >= asize) {
                snprintf(why, why_size, "%s is not an OS update bundle (no architecture or org.bramble.os.version)", ref);
                r = -EINVAL;
        } else {
                snprintf(digest, dsize, "%s", top.digest);
                snprintf(arch, asize, "%s", a);
                snprintf(version, vsize, "%s", v);
        }
        cJSON_Delete(man);
        cJSON_Delete(cfg);
        return r;
}

static int cmp_name(const void *a, const void *b)
{
        return strcmp(((const struct up_node *)a)->name, ((const struct up_node *)b)->name);
}

static void fill_info(struct brm_upgrade *u, Bramble__UpgradeInfo *info, Bramble__UpgradeNode *nodes,
                      Bramble__UpgradeNode **ptrs, Bramble__UpdateStatus *sts)
{
        bramble__upgrade_info__init(info);
        info->has_id = info->has_parallel = info->has_started_ms = info->has_finished_ms = true;
        info->has_confirm_within_ms = info->has_healthy_ms = true;
        info->id = u->id;
        info->ref = u->ref;
        info->version = u->version;
        info->state = u->state;
        info->reason = u->reason[0] ? u->reason : NULL;
        info->parallel = u->parallel;
        info->started_ms = u->started_ms;
        info->finished_ms = u->finished_ms;
        info->confirm_within_ms = u->confirm_within_ms;
        info->healthy_ms = u->healthy_ms;
        for (size_t i = 0; i < u->n; i++) {
                struct up_node *x = &u->nodes[i];
                bramble__upgrade_node__init(&nodes[i]);
                nodes[i].node = x->name;
                nodes[i].state = x->state;
                nodes[i].reason = x->reason[0] ? x->reason : NULL;
                nodes[i].schedule = x->schedule;
                if (x->u_state[0]) {
                        Bramble__UpdateStatus *st = &sts[i];
                        bramble__update_status__init(st);
                        st->state = x->u_state;
                        st->version = x->u_version;
                        st->from_version = x->u_from;
                        st->slot = x->u_slot;
                        st->reason = x->u_reason[0] ? x->u_reason : NULL;
                        st->has_bytes_done = st->has_bytes_total = x->u_total != 0;
                        st->bytes_done = x->u_done;
                        st->bytes_total = x->u_total;
                        st->has_started_ms = x->u_started != 0;
                        st->started_ms = x->u_started;
                        st->has_deadline_ms = x->u_deadline != 0;
                        st->deadline_ms = x->u_deadline;
                        st->has_finished_ms = x->u_finished != 0;
                        st->finished_ms = x->u_finished;
                        nodes[i].update = st;
                }
                ptrs[i] = &nodes[i];
        }
        info->n_nodes = u->n;
        info->nodes = ptrs;
}

static void reply_info(struct brm_session *s, uint64_t id, struct brm_upgrade *u)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__UpgradeInfo info;
        Bramble__UpgradeNode *nodes = calloc(u->n + 1, sizeof(*nodes));
        Bramble__UpgradeNode **ptrs = calloc(u->n + 1, sizeof(*ptrs));
        Bramble__UpdateStatus *sts = calloc(u->n + 1, sizeof(*sts));

        if (!nodes || !ptrs || !sts) {
                brm_session_error(s, id, -ENOMEM, "out of memory");
        } else {
                fill_info(u, &info, nodes, ptrs, sts);
                env.msg_case = BRAMBLE__ENVELOPE__MSG_UPGRADE_INFO;
                env.upgrade_info = &info;
                brm_session_reply(s, id, &env);
        }
        free(nodes);
        free(ptrs);
        free(sts);
}

static bool listed(const struct up_node *nodes, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (is(nodes[i].name, name))
                        return true;
        return false;
}

void brm_upgrade_request(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__UpgradeRequest *req = env->upgrade;
        struct brm_upgrade *u = s->m->upgrade;
        struct brm_master *m = s->m;
        char ref[300], digest[72], arch[32], version[64], why[600];
        struct up_node *nodes;
        size_t n = 0;
        int sig;

        if (is(u->state, "running")) {
                snprintf(why, sizeof(why), "a rollout to %s is running (bramble node upgrade --status)", u->version);
                brm_session_error(s, env->id, -EBUSY, why);
                return;
        }
        if (!req->ref || !*req->ref || (req->all && req->n_nodes) || (!req->all && !req->n_nodes)) {
                brm_session_error(s, env->id, -EINVAL, "name a bundle, and either nodes or all");
                return;
        }
        if (req->has_parallel && (req->parallel == 0 || req->parallel > 100)) {
                brm_session_error(s, env->id, -EINVAL, "parallel must be from 1 to 100");
                return;
        }
        brm_pull_normalize(req->ref, ref, sizeof(ref));
        if (read_bundle(m, ref, digest, sizeof(digest), arch, sizeof(arch), version, sizeof(version), why, sizeof(why)) < 0) {
                brm_session_error(s, env->id, -EINVAL, why);
                return;
        }
        if (!(nodes = calloc(BRM_UPGRADE_MAX_NODES, sizeof(*nodes)))) {
                brm_session_error(s, env->id, -ENOMEM, "out of memory");
                return;
        }
        if (req->all) {
                for (size_t b = 0; b < m->reg.n_buckets; b++)
                        for (struct brm_node *x = m->reg.buckets[b]; x && n < BRM_UPGRADE_MAX_NODES; x = x->hnext)
                                COPY(nodes[n++].name, x->name);
                qsort(nodes, n, sizeof(*nodes), cmp_name);
        } else {
                for (size_t i = 0; i < req->n_nodes && n < BRM_UPGRADE_MAX_NODES; i++) {
                        if (!brm_registry_get(&m->reg, req->nodes[i])) {
                                snprintf(why, sizeof(why), "no node named '%s'", req->nodes[i]);
                                brm_session_error(s, env->id, -ENOENT, why);
                                free(nodes);
                                return;
                        }
                        if (!listed(nodes, n, req->nodes[i]))
                                COPY(nodes[n++].name, req->nodes[i]);
                }
        }
        if (n == 0) {
                brm_session_error(s, env->id, -ENOENT, "the cluster has no nodes");
                free(nodes);
                return;
        }
        if ((sig = brm_ossig_sign(&m->ca.key, digest, version, arch, u->sig, sizeof(u->sig))) < 0) {
                brm_session_error(s, env->id, sig, "signing the bundle with the CA key failed");
                free(nodes);
                return;
        }
        for (size_t i = 0; i < n; i++)
                COPY(nodes[i].state, "queued");
        free(u->nodes);
        u->nodes = nodes;
        u->n = n;
        u->sig_len = (size_t)sig;
        u->id++;
        u->has = true;
        COPY(u->ref, ref);
        COPY(u->digest, digest);
        COPY(u->arch, arch);
        COPY(u->version, version);
        COPY(u->state, "running");
        u->reason[0] = '\0';
        u->parallel = req->has_parallel ? req->parallel : 1;
        u->confirm_within_ms = req->has_confirm_within_ms && req->confirm_within_ms ? req->confirm_within_ms : 300000;
        u->healthy_ms = req->has_healthy_ms ? req->healthy_ms : 30000;
        u->started_ms = brm_now_ms();
        u->finished_ms = 0;
        brm_event(m, NULL, NULL, "rollout %llu: %zu node%s to %s (%s), %u at a time", (unsigned long long)u->id, n,
                  n == 1 ? "" : "s", version, ref, u->parallel);
        brm_upgrade_step(u);
        brm_upgrade_save(u);
        reply_info(s, env->id, u);
        uv_timer_start(&u->timer, brm_upgrade_tick, BRM_UPGRADE_TICK_MS, BRM_UPGRADE_TICK_MS);
}

void brm_upgrade_status(struct brm_session *s, const Bramble__Envelope *env)
{
        struct brm_upgrade *u = s->m->upgrade;

        if (!u->has) {
                brm_session_error(s, env->id, -ENOENT, "no rollout has run (bramble node upgrade starts one)");
                return;
        }
        reply_info(s, env->id, u);
}

void brm_upgrade_rollback(struct brm_session *s, const Bramble__Envelope *env)
{
        struct brm_upgrade *u = s->m->upgrade;
        const Bramble__NodeRollback *rq = env->node_rollback;
        const char *name = rq->node;
        struct brm_node *n = name ? brm_registry_get(&s->m->reg, name) : NULL;
        Bramble__NodeUpgrade up = BRAMBLE__NODE_UPGRADE__INIT;
        Bramble__Envelope out = BRAMBLE__ENVELOPE__INIT;
        char why[200];

        if (!n) {
                snprintf(why, sizeof(why), "no node named '%s'", name ? name : "");
                brm_session_error(s, env->id, -ENOENT, why);
                return;
        }
        if (!n->session || !n->ready) {
                snprintf(why, sizeof(why), "node %s is NotReady: it must be connected to roll back", n->name);
                brm_session_error(s, env->id, -EAGAIN, why);
                return;
        }
        for (size_t i = 0; i < u->n; i++)
                if (is(u->nodes[i].name, n->name) && (is(u->nodes[i].state, "draining") || is(u->nodes[i].state, "upgrading"))) {
                        snprintf(why, sizeof(why), "node %s is being updated by the running rollout", n->name);
                        brm_session_error(s, env->id, -EBUSY, why);
                        return;
                }
        if (u->n_rb == BRM_UPGRADE_MAX_ROLLBACKS) {
                brm_session_error(s, env->id, -EBUSY, "too many rollbacks waiting for their nodes' answers");
                return;
        }
        up.has_rollback = up.rollback = true;
        up.has_confirm_within_ms = up.has_healthy_ms = true;
        up.confirm_within_ms = rq->has_confirm_within_ms && rq->confirm_within_ms ? rq->confirm_within_ms : 300000;
        up.healthy_ms = rq->has_healthy_ms ? rq->healthy_ms : 30000;
        if (up.confirm_within_ms < 10000 || up.healthy_ms >= up.confirm_within_ms) {
                snprintf(why, sizeof(why), "the confirmation window (%u ms) must be at least 10 s and longer than the "
                         "healthy window (%u ms)", up.confirm_within_ms, up.healthy_ms);
                brm_session_error(s, env->id, -EINVAL, why);
                return;
        }
        out.has_id = true;
        out.id = ++s->m->next_node_req;
        out.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_UPGRADE;
        out.node_upgrade = &up;
        if (brm_session_send(n->session, &out) < 0) {
                brm_session_error(s, env->id, -EIO, "sending the rollback to the node failed");
                return;
        }
        u->rb[u->n_rb++] = (struct rollback){ .node_req_id = out.id, .admin_sid = s->sid, .admin_req_id = env->id };
        COPY(u->rb[u->n_rb - 1].node, n->name);
        brm_event(s->m, NULL, n->name, "node %s: rolling back to its other slot", n->name);
}
