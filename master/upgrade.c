/* OS update rollouts (upgrade.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "fileio.h"
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

#define MOD "upgrade"
#define DRAIN_MAX_MS (2 * 60 * 1000)      /* replicas that cannot move do not hold the update back longer */
#define ANSWER_MAX_MS (60 * 1000)         /* a node that does not answer NodeUpgrade */
#define BACK_GRACE_MS (10 * 60 * 1000)    /* past the try's deadline, a node that never came back */

/* ---- persistence: DATA_DIR/upgrade.json ---- */

void brm_upgrade_save(struct brm_upgrade *u)
{
        cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "nodes");
        char path[1100], *text;
        int r = -ENOMEM;

        cJSON_AddNumberToObject(j, "id", (double)u->id);
        cJSON_AddStringToObject(j, "ref", u->ref);
        cJSON_AddStringToObject(j, "version", u->version);
        cJSON_AddStringToObject(j, "arch", u->arch);
        cJSON_AddStringToObject(j, "digest", u->digest);
        cJSON_AddStringToObject(j, "state", u->state);
        cJSON_AddStringToObject(j, "reason", u->reason);
        cJSON_AddNumberToObject(j, "parallel", u->parallel);
        cJSON_AddNumberToObject(j, "confirm_within_ms", u->confirm_within_ms);
        cJSON_AddNumberToObject(j, "healthy_ms", u->healthy_ms);
        cJSON_AddNumberToObject(j, "started_ms", (double)u->started_ms);
        cJSON_AddNumberToObject(j, "finished_ms", (double)u->finished_ms);
        for (size_t i = 0; i < u->n; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "node", u->nodes[i].name);
                cJSON_AddStringToObject(o, "state", u->nodes[i].state);
                cJSON_AddStringToObject(o, "reason", u->nodes[i].reason);
                cJSON_AddStringToObject(o, "schedule", u->nodes[i].schedule);
                cJSON_AddItemToArray(arr, o);
        }
        snprintf(path, sizeof(path), "%s/upgrade.json", u->m->cfg.data_dir);
        if ((text = cJSON_Print(j))) {
                r = brm_file_write_atomic(path, text, strlen(text), 0600);
                free(text);
        }
        cJSON_Delete(j);
        if (r < 0)
                brm_warn(MOD, "cannot write %s: %s", path, brm_strerror(r));
}

static const char *jstr(const cJSON *o, const char *k)
{
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
        return s ? s : "";
}

static double jnum(const cJSON *o, const char *k)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The last rollout, as the master left it; one still running goes on
 * (the nodes' heartbeats tell where each one is). */
static void load(struct brm_upgrade *u)
{
        char path[1100];
        uint8_t *text;
        size_t len;
        cJSON *j, *arr, *o;

        snprintf(path, sizeof(path), "%s/upgrade.json", u->m->cfg.data_dir);
        if (brm_file_read(path, 1 << 20, &text, &len) < 0)
                return;
        j = cJSON_ParseWithLength((const char *)text, len);
        free(text);
        arr = cJSON_GetObjectItemCaseSensitive(j, "nodes");
        if (!cJSON_IsObject(j) || !cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > BRM_UPGRADE_MAX_NODES) {
                brm_warn(MOD, "%s is damaged; the last rollout is forgotten", path);
                cJSON_Delete(j);
                return;
        }
        u->nodes = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*u->nodes));
        if (!u->nodes) {
                cJSON_Delete(j);
                return;
        }
        u->id = (uint64_t)jnum(j, "id");
        COPY(u->ref, jstr(j, "ref"));
        COPY(u->version, jstr(j, "version"));
        COPY(u->arch, jstr(j, "arch"));
        COPY(u->digest, jstr(j, "digest"));
        COPY(u->state, jstr(j, "state"));
        COPY(u->reason, jstr(j, "reason"));
        u->parallel = (uint32_t)jnum(j, "parallel");
        u->confirm_within_ms = (uint32_t)jnum(j, "confirm_within_ms");
        u->healthy_ms = (uint32_t)jnum(j, "healthy_ms");
        u->started_ms = (int64_t)jnum(j, "started_ms");
        u->finished_ms = (int64_t)jnum(j, "finished_ms");
        cJSON_ArrayForEach(o, arr) {
                struct up_node *x = &u->nodes[u->n++];
                COPY(x->name, jstr(o, "node"));
                COPY(x->state, jstr(o, "state"));
                COPY(x->reason, jstr(o, "reason"));
                COPY(x->schedule, jstr(o, "schedule"));
                x->since_mono = brm_mono_ms();
                /* Its answer was lost with the master: its reports decide. */
                x->acked = true;
        }
        cJSON_Delete(j);
        u->has = true;
        if (is(u->state, "running")) {
                /* The signature is made again, not stored: the key signs the same. */
                int n = brm_ossig_sign(&u->m->ca.key, u->digest, u->version, u->arch, u->sig, sizeof(u->sig));
                if (n < 0) {
                        COPY(u->state, "stopped");
                        COPY(u->reason, "the master restarted and could not sign the bundle again");
                        brm_warn(MOD, "rollout %llu to %s stopped: %s", (unsigned long long)u->id, u->version, u->reason);
                        return;
                }
                u->sig_len = (size_t)n;
                brm_info(MOD, "rollout %llu to %s goes on", (unsigned long long)u->id, u->version);
        }
}

/* ---- nodes ---- */

static void node_event(struct brm_upgrade *u, struct up_node *x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void node_event(struct brm_upgrade *u, struct up_node *x, const char *fmt, ...)
{
        char msg[600];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        brm_event(u->m, NULL, x->name, "node %s: %s", x->name, msg);
}

static void set_schedule(struct brm_master *m, struct brm_node *n, const char *v)
{
        int r;

        if (is(n->schedule, v))
                return;
        if ((r = brm_store_node_set_schedule(m->store, n->name, v)) < 0)
                brm_warn(MOD, "%s: storing its scheduling failed: %s", n->name, brm_strerror(r));
        COPY(n->schedule, v);
        brm_services_kick(m);
}

static void stop_rollout(struct brm_upgrade *u, struct up_node *x)
{
        if (!is(u->state, "running"))
                return;
        COPY(u->state, "stopped");
        snprintf(u->reason, sizeof(u->reason), "node %s %s: %s", x->name, x->state, x->reason);
        brm_event(u->m, NULL, x->name, "rollout to %s stopped: %s", u->version, u->reason);
}

/* The node is done with (committed, failed, rolled back): it gets its
 * scheduling back. */
static void finish_node(struct brm_upgrade *u, struct up_node *x, const char *state, const char *reason)
{
        struct brm_node *n = brm_registry_get(&u->m->reg, x->name);

        COPY(x->state, state);
        COPY(x->reason, reason);
        x->since_mono = brm_mono_ms();
        if (n && !is(x->schedule, "draining"))
                set_schedule(u->m, n, x->schedule);
        if (is(state, "committed"))
                node_event(u, x, "committed %s", u->version);
        else
                node_event(u, x, "%s: %s", state, reason);
        if (is(state, "failed") || is(state, "rolled-back"))
                stop_rollout(u, x);
        brm_upgrade_save(u);
}

static void send_upgrade(struct brm_upgrade *u, struct up_node *x, struct brm_node *n)
{
        Bramble__NodeUpgrade up = BRAMBLE__NODE_UPGRADE__INIT;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;

        up.ref = u->ref;
        up.manifest_digest = u->digest;
        up.version = u->version;
        up.arch = u->arch;
        up.has_signature = true;
        up.signature.data = u->sig;
        up.signature.len = u->sig_len;
        up.has_confirm_within_ms = up.has_healthy_ms = true;
        up.confirm_within_ms = u->confirm_within_ms;
        up.healthy_ms = u->healthy_ms;
        env.has_id = true;
        env.id = x->req_id = ++u->m->next_node_req;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_UPGRADE;
        env.node_upgrade = &up;
        x->acked = false;
        x->u_state[0] = '\0';
        COPY(x->state, "upgrading");
        x->since_mono = brm_mono_ms();
        if (!n->session || brm_session_send(n->session, &env) < 0) {
                finish_node(u, x, "failed", "it was not connected when the update was to be sent");
                return;
        }
        node_event(u, x, "upgrading to %s", u->version);
        brm_upgrade_save(u);
}

static void start_node(struct brm_upgrade *u, struct up_node *x)
{
        struct brm_node *n = brm_registry_get(&u->m->reg, x->name);
        Bramble__NodeInfo *info = n && n->info ? bramble__node_info__unpack(NULL, n->info_len, n->info) : NULL;
        char why[200] = "";

        if (!n)
                snprintf(why, sizeof(why), "it was removed");
        else if (!n->ready || !n->session)
                snprintf(why, sizeof(why), "it is NotReady");
        else if (!info || !info->slot || !*info->slot)
                snprintf(why, sizeof(why), "it does not run the Bramble image with two slots");
        else if (info->os_version && is(info->os_version, u->version))
                snprintf(why, sizeof(why), "it runs %s already", u->version);
        bramble__node_info__free_unpacked(info, NULL);
        if (why[0]) {
                COPY(x->state, "skipped");
                COPY(x->reason, why);
                node_event(u, x, "skipped: %s", why);
                brm_upgrade_save(u);
                return;
        }
        COPY(x->schedule, n->schedule);
        COPY(x->state, "draining");
        x->since_mono = brm_mono_ms();
        set_schedule(u->m, n, "draining");
        node_event(u, x, "draining before the update to %s", u->version);
        brm_upgrade_save(u);
}

void brm_upgrade_step(struct brm_upgrade *u)
{
        uint64_t now = brm_mono_ms();
        size_t busy = 0, queued = 0;

        for (size_t i = 0; i < u->n; i++) {
                struct up_node *x = &u->nodes[i];
                struct brm_node *n = brm_registry_get(&u->m->reg, x->name);

                if (is(x->state, "draining")) {
                        if (!n) {
                                finish_node(u, x, "failed", "it was removed");
                        } else if (n->sched_count == 0 || now - x->since_mono > DRAIN_MAX_MS) {
                                if (n->sched_count)
                                        node_event(u, x, "%u replicas could not move away in %d s; updating all the same",
                                                   n->sched_count, DRAIN_MAX_MS / 1000);
                                send_upgrade(u, x, n);
                        }
                } else if (is(x->state, "upgrading")) {
                        if (!x->acked && now - x->since_mono > ANSWER_MAX_MS)
                                finish_node(u, x, "failed", "it did not answer the update request within 60 s");
                        else if (x->acked && now - (x->seen_mono ? x->seen_mono : x->ack_mono) >
                                                     (uint64_t)u->confirm_within_ms + BACK_GRACE_MS)
                                finish_node(u, x, "failed", "it has not reported for longer than the try's deadline and 10 min");
                }
                busy += is(x->state, "draining") || is(x->state, "upgrading");
                queued += is(x->state, "queued");
        }
        if (is(u->state, "running")) {
                for (size_t i = 0; i < u->n && busy < u->parallel; i++) {
                        struct up_node *x = &u->nodes[i];
                        if (!is(x->state, "queued"))
                                continue;
                        start_node(u, x);
                        queued--;
                        busy += is(x->state, "draining");
                }
                if (busy == 0 && queued == 0) {
                        COPY(u->state, "completed");
                        brm_event(u->m, NULL, NULL, "rollout to %s completed", u->version);
                }
        }
        if (busy == 0 && u->finished_ms == 0 && !is(u->state, "running")) {
                u->finished_ms = brm_now_ms();
                brm_upgrade_save(u);
        }
        if (busy == 0 && !is(u->state, "running"))
                uv_timer_stop(&u->timer);
}

void brm_upgrade_tick(uv_timer_t *t)
{
        brm_upgrade_step(t->data);
}

void brm_upgrade_node_status(struct brm_master *m, struct brm_node *n, const Bramble__UpdateStatus *st)
{
        struct brm_upgrade *u = m->upgrade;
        struct up_node *x = NULL;

        /* Every heartbeat comes here: nothing to look at once the last
         * rollout is over and no node of it is still updating. */
        if (!u || u->finished_ms || !st || !st->state)
                return;
        for (size_t i = 0; i < u->n && !x; i++)
                if (is(u->nodes[i].name, n->name) && is(u->nodes[i].state, "upgrading"))
                        x = &u->nodes[i];
        if (!x || !x->acked)
                return;
        x->seen_mono = brm_mono_ms();
        COPY(x->u_state, st->state);
        COPY(x->u_version, st->version);
        COPY(x->u_from, st->from_version);
        COPY(x->u_slot, st->slot);
        COPY(x->u_reason, st->reason);
        x->u_done = st->bytes_done;
        x->u_total = st->bytes_total;
        x->u_started = st->started_ms;
        x->u_deadline = st->deadline_ms;
        x->u_finished = st->finished_ms;
        if (!st->version || !is(st->version, u->version))
                return;
        if (is(st->state, "committed"))
                finish_node(u, x, "committed", "");
        else if (is(st->state, "failed") || is(st->state, "rolled-back"))
                finish_node(u, x, st->state, st->reason ? st->reason : "no reason given");
        else
                return;
        brm_upgrade_step(u);
}

bool brm_upgrade_node_reply(struct brm_session *s, const Bramble__Envelope *env)
{
        struct brm_upgrade *u = s->m->upgrade;
        const char *msg = env->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR && env->error->message ? env->error->message
                                                                                               : "no reason given";

        if (!u || !s->node)
                return false;
        for (size_t i = 0; i < u->n_rb; i++) {
                struct rollback *rb = &u->rb[i];
                struct brm_session *admin;
                if (rb->node_req_id != env->id || !is(rb->node, s->node->name))
                        continue;
                if ((admin = brm_session_find(s->m, rb->admin_sid))) {
                        if (env->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR)
                                brm_session_error(admin, rb->admin_req_id, env->error->has_code ? env->error->code : -EINVAL,
                                                  msg);
                        else
                                brm_session_reply_ok(admin, rb->admin_req_id);
                }
                *rb = u->rb[--u->n_rb];
                return true;
        }
        for (size_t i = 0; i < u->n; i++) {
                struct up_node *x = &u->nodes[i];
                if (x->req_id != env->id || !is(x->name, s->node->name) || !is(x->state, "upgrading"))
                        continue;
                if (env->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                        finish_node(u, x, "failed", msg);
                        brm_upgrade_step(u);
                } else {
                        x->acked = true;
                        x->ack_mono = brm_mono_ms();
                }
                return true;
        }
        return false;
}

int brm_upgrade_open(struct brm_master *m, struct brm_upgrade **ret)
{
        struct brm_upgrade *u = calloc(1, sizeof(*u));

        if (!u)
                return -ENOMEM;
        u->m = m;
        uv_timer_init(m->loop, &u->timer);
        u->timer.data = u;
        load(u);
        if (is(u->state, "running"))
                uv_timer_start(&u->timer, brm_upgrade_tick, BRM_UPGRADE_TICK_MS, BRM_UPGRADE_TICK_MS);
        *ret = u;
        return 0;
}

static void freed(uv_handle_t *h)
{
        struct brm_upgrade *u = h->data;

        free(u->nodes);
        free(u);
}

void brm_upgrade_close(struct brm_upgrade *u)
{
        if (u)
                uv_close((uv_handle_t *)&u->timer, freed);
}
