/* The listener, who each peer is, and the one table of what each may
 * send; node hellos and heartbeats; the liveness timer. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "upgrade.h"
#include "api.h"
#include "blobsend.h"
#include "containers.h"
#include "err.h"
#include "http.h"
#include "images.h"
#include "pull.h"
#include "regcreds.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "util.h"
#include "webapi.h"

#define MOD "server"
#define FLUSH_EVERY_MS 10000
#define ANON_MAX_FRAME (16 * 1024)

static void accept_one(struct brm_master *m);

/* Accepting stops only while every place for an unauthenticated connection
 * is held by a peer that makes progress (admit.h says why); it resumes as
 * soon as one leaves or stalls. */
static void resume_accept(struct brm_master *m)
{
        if (m->accept_paused && !m->stopping && brm_admit_has_room(&m->admit, m->n_sessions, brm_mono_ms())) {
                m->accept_paused = false;
                accept_one(m);
        }
}

/* The peer proved who it is, or is gone: its place is free. */
static void admitted(struct brm_session *s)
{
        brm_admit_remove(&s->m->admit, &s->admit);
        resume_accept(s->m);
}

/* Counts the connections the master closed on a peer, by why (a
 * handshake that timed out counts as a handshake failure instead). */
static void count_drop(struct brm_master *m, const struct brm_conn *c)
{
        int i = c->close_reason == -ENOBUFS                ? BRM_DROP_BACKLOG
                : c->close_reason == -EMSGSIZE             ? BRM_DROP_OVERSIZE
                : c->close_reason == -EBADMSG              ? BRM_DROP_MALFORMED
                : c->close_reason == -ETIMEDOUT && c->ready ? BRM_DROP_IDLE
                                                           : -1;

        if (i >= 0)
                m->stats.dropped[i]++;
}

static void session_closed(struct brm_conn *c)
{
        struct brm_session *s = c->data;
        struct brm_master *m = s->m;

        if (s->role == BRM_ROLE_NODE && !m->stopping)
                brm_info(MOD, "node %s disconnected: %s", s->name,
                         c->close_reason == -ETIMEDOUT ? "no data within the idle timeout"
                         : c->close_reason < 0         ? brm_strerror(c->close_reason)
                                                       : "closed");
        count_drop(m, c);
        admitted(s);
        brm_relay_session_closed(s);
        brm_blobsend_session_closed(s);
        brm_images_session_closed(s);
        if (s->node && s->node->session == s)
                s->node->session = NULL;
        if (s->prev)
                s->prev->next = s->next;
        else
                m->sessions = s->next;
        if (s->next)
                s->next->prev = s->prev;
        m->n_sessions--;
        free(s);
}

/* ---- node messages ---- */

static void on_hello(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__Hello *hello = in->hello;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__HelloAck ack = BRAMBLE__HELLO_ACK__INIT;
        struct brm_node *n = s->node;

        if (hello->info) {
                size_t len = bramble__node_info__get_packed_size(hello->info);
                uint8_t buf[4096];
                if (len <= sizeof(buf)) {
                        bramble__node_info__pack(hello->info, buf);
                        if (!n->info || n->info_len != len || memcmp(n->info, buf, len) != 0) {
                                brm_registry_set_blob(&n->info, &n->info_len, buf, len);
                                int r = brm_store_node_set_info(m->store, n->name, buf, len);
                                if (r < 0)
                                        brm_warn(MOD, "%s: storing node info failed: %s", n->name, brm_strerror(r));
                        }
                }
        }
        /* The update's outcome, when a reboot decided it. */
        brm_upgrade_node_status(m, n, hello->info ? hello->info->update : NULL);
        ack.has_heartbeat_interval_ms = 1;
        ack.heartbeat_interval_ms = (uint32_t)m->cfg.heartbeat_interval_ms;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HELLO_ACK;
        env.hello_ack = &ack;
        if (brm_session_reply(s, in->id, &env) == 0)
                brm_containers_push(m, n->name);
}

static void on_heartbeat(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__Heartbeat *hb = in->heartbeat;
        struct brm_node *n = s->node;
        size_t len = bramble__heartbeat__get_packed_size(hb);
        uint8_t stack[1024], *buf = len <= sizeof(stack) ? stack : malloc(len);

        s->m->stats.heartbeats++;
        /* A heartbeat grows with the node's containers (each ~80 bytes). */
        if (buf) {
                bramble__heartbeat__pack(hb, buf);
                brm_registry_set_blob(&n->last_hb, &n->last_hb_len, buf, len);
                if (buf != stack)
                        free(buf);
        }
        brm_upgrade_node_status(s->m, n, hb->update);
        /* Said once when it starts and once when it ends, not per heartbeat. */
        if (!!hb->persist_error != n->persist_failing) {
                n->persist_failing = hb->persist_error != NULL;
                if (hb->persist_error)
                        brm_warn(MOD, "%s cannot write its container records: %s (it applies changes regardless)",
                                 n->name, hb->persist_error);
                else
                        brm_info(MOD, "%s writes its container records again", n->name);
        }
        /* The scheduler looks again when a container changes state or
         * health, or the node comes back. */
        if (brm_registry_briefs(n, hb) || !n->ready)
                brm_services_kick(s->m);
        brm_registry_seen(n);
        /* The ack lets the node tell a frozen master from a quiet one
         * (agent/link.c closes a session that hears nothing for 4
         * intervals). */
        if (in->has_id)
                brm_session_reply_ok(s, in->id);
}

/* A join that was answered (a refusal closes the connection) needs no
 * place among the unauthenticated any more: the node comes back on a new
 * connection, with its certificate. */
static void on_join(struct brm_session *s, const Bramble__Envelope *env)
{
        brm_api_join(s, env);
        if (!s->conn.closing)
                admitted(s);
}

/* An Ok or Error from a node answers a relayed check, or is news. */
static void on_node_answer(struct brm_session *s, const Bramble__Envelope *env)
{
        if (!brm_containers_node_reply(s, env) && !brm_upgrade_node_reply(s, env) &&
            env->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR)
                brm_warn(MOD, "node %s reports: %s", s->name, env->error->message ? env->error->message : "an error");
}

/* ---- the routes ---- */

#define NONE (1u << BRM_ROLE_NONE)
#define NODE (1u << BRM_ROLE_NODE)
#define ADMIN (1u << BRM_ROLE_ADMIN)

typedef void (*handler_fn)(struct brm_session *s, const Bramble__Envelope *env);

/* Every message the master takes, who may send it, and who answers it.
 * This table is the authorization policy: without a certificate a peer
 * may only join; a node certificate speaks only for its own node (the
 * handlers act on s->node, which the certificate chose); only admin
 * certificates may use operator calls. A message not listed for the
 * sender's role is refused in forbidden(). */
static const struct route {
        unsigned roles;
        handler_fn handle;
} routes[] = {
        [BRAMBLE__ENVELOPE__MSG_JOIN_REQUEST] = { NONE, on_join },

        [BRAMBLE__ENVELOPE__MSG_HELLO] = { NODE, on_hello },
        [BRAMBLE__ENVELOPE__MSG_HEARTBEAT] = { NODE, on_heartbeat },
        [BRAMBLE__ENVELOPE__MSG_RENEW_REQUEST] = { NODE, brm_api_renew },
        [BRAMBLE__ENVELOPE__MSG_LOG_CHUNK] = { NODE, brm_relay_node },
        [BRAMBLE__ENVELOPE__MSG_LOG_END] = { NODE, brm_relay_node },
        [BRAMBLE__ENVELOPE__MSG_OK] = { NODE, on_node_answer },
        [BRAMBLE__ENVELOPE__MSG_ERROR] = { NODE, on_node_answer },
        [BRAMBLE__ENVELOPE__MSG_IMAGE_RESOLVE] = { NODE, brm_blobsend_resolve },
        [BRAMBLE__ENVELOPE__MSG_BLOB_REQUEST] = { NODE, brm_blobsend_request },
        [BRAMBLE__ENVELOPE__MSG_BLOB_CREDIT] = { NODE, brm_blobsend_credit },

        [BRAMBLE__ENVELOPE__MSG_TOKEN_CREATE] = { ADMIN, brm_api_token_create },
        [BRAMBLE__ENVELOPE__MSG_TOKEN_LIST] = { ADMIN, brm_api_token_list },
        [BRAMBLE__ENVELOPE__MSG_TOKEN_REVOKE] = { ADMIN, brm_api_token_revoke },
        [BRAMBLE__ENVELOPE__MSG_NODE_LIST] = { ADMIN, brm_api_node_list },
        [BRAMBLE__ENVELOPE__MSG_NODE_REMOVE] = { ADMIN, brm_api_node_remove },
        [BRAMBLE__ENVELOPE__MSG_RUN] = { ADMIN, brm_containers_run },
        [BRAMBLE__ENVELOPE__MSG_STOP] = { ADMIN, brm_containers_stop },
        [BRAMBLE__ENVELOPE__MSG_START] = { ADMIN, brm_containers_start },
        [BRAMBLE__ENVELOPE__MSG_REMOVE] = { ADMIN, brm_containers_remove },
        [BRAMBLE__ENVELOPE__MSG_PS] = { ADMIN, brm_containers_ps },
        [BRAMBLE__ENVELOPE__MSG_INSPECT] = { ADMIN, brm_containers_inspect },
        [BRAMBLE__ENVELOPE__MSG_LOGS] = { ADMIN, brm_relay_open },
        [BRAMBLE__ENVELOPE__MSG_BLOB_UPLOAD] = { ADMIN, brm_images_blob_upload },
        [BRAMBLE__ENVELOPE__MSG_BLOB_COMMIT] = { ADMIN, brm_images_blob_commit },
        [BRAMBLE__ENVELOPE__MSG_IMAGE_TAG] = { ADMIN, brm_images_tag },
        [BRAMBLE__ENVELOPE__MSG_IMAGE_LIST] = { ADMIN, brm_images_list },
        [BRAMBLE__ENVELOPE__MSG_IMAGE_REMOVE] = { ADMIN, brm_images_remove },
        [BRAMBLE__ENVELOPE__MSG_IMAGE_PRUNE] = { ADMIN, brm_images_prune },
        [BRAMBLE__ENVELOPE__MSG_IMAGE_PULL] = { ADMIN, brm_pull_request },
        [BRAMBLE__ENVELOPE__MSG_REGISTRY_LOGIN] = { ADMIN, brm_regcreds_login },
        [BRAMBLE__ENVELOPE__MSG_REGISTRY_LIST] = { ADMIN, brm_regcreds_ls },
        [BRAMBLE__ENVELOPE__MSG_REGISTRY_LOGOUT] = { ADMIN, brm_regcreds_logout },
        [BRAMBLE__ENVELOPE__MSG_SERVICE_CREATE] = { ADMIN, brm_svc_create },
        [BRAMBLE__ENVELOPE__MSG_SERVICE_UPDATE] = { ADMIN, brm_svc_update },
        [BRAMBLE__ENVELOPE__MSG_SERVICE_SCALE] = { ADMIN, brm_svc_scale },
        [BRAMBLE__ENVELOPE__MSG_SERVICE_ROLLBACK] = { ADMIN, brm_svc_rollback },
        [BRAMBLE__ENVELOPE__MSG_SERVICE_REMOVE] = { ADMIN, brm_svc_remove },
        [BRAMBLE__ENVELOPE__MSG_SERVICE_LIST] = { ADMIN, brm_svc_list },
        [BRAMBLE__ENVELOPE__MSG_APPLY] = { ADMIN, brm_svc_apply },
        [BRAMBLE__ENVELOPE__MSG_EVENTS] = { ADMIN, brm_svc_events },
        [BRAMBLE__ENVELOPE__MSG_NODE_LABEL] = { ADMIN, brm_node_label },
        [BRAMBLE__ENVELOPE__MSG_NODE_SCHEDULE] = { ADMIN, brm_node_schedule },
        [BRAMBLE__ENVELOPE__MSG_API_TOKEN_CREATE] = { ADMIN, brm_webapi_token_create },
        [BRAMBLE__ENVELOPE__MSG_API_TOKEN_LIST] = { ADMIN, brm_webapi_token_list },
        [BRAMBLE__ENVELOPE__MSG_API_TOKEN_REVOKE] = { ADMIN, brm_webapi_token_revoke },
        [BRAMBLE__ENVELOPE__MSG_DASHBOARD] = { ADMIN, brm_webapi_dashboard },
        [BRAMBLE__ENVELOPE__MSG_UPGRADE] = { ADMIN, brm_upgrade_request },
        [BRAMBLE__ENVELOPE__MSG_UPGRADE_STATUS] = { ADMIN, brm_upgrade_status },
        [BRAMBLE__ENVELOPE__MSG_NODE_ROLLBACK] = { ADMIN, brm_upgrade_rollback },
};

#undef NONE
#undef NODE
#undef ADMIN

static void forbidden(struct brm_session *s, const Bramble__Envelope *env)
{
        switch (s->role) {
        case BRM_ROLE_NONE:
                brm_session_refuse(s, env->id, -EACCES,
                                   "a client certificate issued by this cluster is required (only joining works without one)");
                return;
        case BRM_ROLE_NODE:
                brm_session_error(s, env->id, -EACCES, "node certificates may not make this call");
                return;
        case BRM_ROLE_ADMIN:
                brm_session_error(s, env->id, -EOPNOTSUPP, "this call is not an operator call");
                return;
        }
}

static void on_msg(struct brm_conn *c, Bramble__Envelope *env)
{
        struct brm_session *s = c->data;
        const struct route *rt = (size_t)env->msg_case < BRM_ARRAY_SIZE(routes) ? &routes[env->msg_case] : NULL;
        struct brm_master *m = s->m;
        uint64_t t0;

        if (s->role == BRM_ROLE_NONE)
                brm_admit_message(&s->admit);
        if (!rt || !rt->handle || !(rt->roles & (1u << s->role))) {
                forbidden(s, env);
                return;
        }
        t0 = uv_hrtime();
        rt->handle(s, env);
        brm_stats_request(&m->stats, (unsigned)env->msg_case, uv_hrtime() - t0);
}

/* ---- who the peer is ---- */

/* Decides who the peer is from its verified certificate. */
static void on_ready(struct brm_conn *c, int status)
{
        struct brm_session *s = c->data;
        struct brm_master *m = s->m;
        const mbedtls_x509_crt *peer;
        char cn[64], org[64];
        uint32_t flags;

        if (status < 0) {
                brm_debug(MOD, "handshake failed: %s", brm_strerror(status));
                m->stats.tls_handshake_failures++;
                return;
        }
        peer = mbedtls_ssl_get_peer_cert(&c->tls.ssl);
        if (!peer) {
                /* Join-only: it keeps its admission place until its join is
                 * answered. */
                s->role = BRM_ROLE_NONE;
                brm_conn_set_idle(c, 15000);
                return;
        }
        flags = mbedtls_ssl_get_verify_result(&c->tls.ssl);
        if (flags != 0) {
                brm_warn(MOD, "refused a client certificate not issued by this cluster's CA (flags 0x%x)", flags);
                m->stats.refused[BRM_REFUSE_UNTRUSTED_CERT]++;
                brm_session_refuse(s, 0, -EACCES, "client certificate is not issued by this cluster's CA, or has expired");
                return;
        }
        if (brm_pki_name_get(&peer->subject, "cn", cn, sizeof(cn)) < 0 ||
            brm_pki_name_get(&peer->subject, "o", org, sizeof(org)) < 0) {
                m->stats.refused[BRM_REFUSE_NO_ROLE]++;
                brm_session_refuse(s, 0, -EACCES, "client certificate has no CN or O");
                return;
        }
        if (strcmp(org, BRM_ORG_ADMIN) == 0) {
                admitted(s);
                s->role = BRM_ROLE_ADMIN;
                c->dec.max = m->cfg.max_frame;
                snprintf(s->name, sizeof(s->name), "admin");
                brm_conn_set_idle(c, 300000);
                return;
        }
        if (strcmp(org, BRM_ORG_NODE) != 0) {
                m->stats.refused[BRM_REFUSE_NO_ROLE]++;
                brm_session_refuse(s, 0, -EACCES, "client certificate has no Bramble role");
                return;
        }
        struct brm_node *n = brm_registry_get(&m->reg, cn);
        char pkh[65];
        if (!n || brm_pki_pubkey_hash((mbedtls_pk_context *)&peer->pk, pkh) < 0 || strcmp(pkh, n->pubkey_hash) != 0) {
                char msg[200];
                snprintf(msg, sizeof(msg), "node '%s' is not registered with this master (removed?); join again with a token", cn);
                brm_warn(MOD, "refused node %s: not registered with this key", cn);
                m->stats.refused[BRM_REFUSE_UNKNOWN_NODE]++;
                brm_session_refuse(s, 0, -EACCES, msg);
                return;
        }
        admitted(s);
        s->role = BRM_ROLE_NODE;
        c->dec.max = m->cfg.max_frame;
        snprintf(s->name, sizeof(s->name), "%s", cn);
        /* One session per node: a reconnect replaces a half-dead old one. */
        if (n->session && n->session != s)
                brm_session_close(n->session, -ECONNRESET);
        n->session = s;
        s->node = n;
        uint64_t idle = m->cfg.heartbeat_interval_ms * (m->cfg.grace_intervals + 2);
        brm_conn_set_idle(c, idle < 15000 ? 15000 : idle);
        brm_debug(MOD, "node %s connected", cn);
}

/* ---- accepting ---- */

static void on_connection(uv_stream_t *server, int status)
{
        struct brm_master *m = server->data;

        if (status == UV_EMFILE || status == UV_ENFILE) {
                /* libuv has already dropped the waiting connections through
                 * its reserve descriptor; the listener stays. Free a
                 * descriptor held by a peer that is not getting anywhere. */
                brm_admit_fd_exhausted(&m->admit, brm_mono_ms());
                return;
        }
        if (status < 0) {
                brm_warn(MOD, "accept failed: %s", uv_strerror(status));
                return;
        }
        /* Not accepting makes libuv stop watching the listener until the
         * next uv_accept(), so the backlog stays in the kernel. */
        if (!brm_admit_has_room(&m->admit, m->n_sessions, brm_mono_ms())) {
                m->accept_paused = true;
                return;
        }
        accept_one(m);
}

static void accept_one(struct brm_master *m)
{
        struct brm_session *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s) {
                m->accept_paused = true; /* the liveness timer tries again */
                return;
        }
        /* Until the peer has a certificate it may only join, and a join is
         * small: an anonymous peer cannot make the master hold a full frame. */
        if ((r = brm_conn_init(m->loop, &s->conn, &m->tls, ANON_MAX_FRAME)) < 0) {
                free(s);
                m->accept_paused = true;
                brm_warn(MOD, "session setup failed: %s", brm_strerror(r));
                return;
        }
        s->m = m;
        s->sid = ++m->next_sid;
        s->conn.data = s;
        s->next = m->sessions;
        if (m->sessions)
                m->sessions->prev = s;
        m->sessions = s;
        m->n_sessions++;
        /* From here the session is only freed by its close callback. */
        s->conn.on_closed = session_closed;
        s->conn.idle_timeout_ms = 15000;
        if ((r = uv_accept((uv_stream_t *)&m->listener, (uv_stream_t *)&s->conn.tls.tcp)) < 0) {
                brm_conn_close(&s->conn, r);
                return;
        }
        /* Over its address's bound: closed before any TLS work. */
        if ((r = brm_admit_add(&m->admit, &s->admit, &s->conn, brm_mono_ms())) < 0 ||
            (r = brm_conn_start(&s->conn, on_ready, on_msg, session_closed)) < 0)
                brm_conn_close(&s->conn, r);
}

/* ---- timers and signals ---- */

static void flush(struct brm_master *m)
{
        int r = brm_registry_flush(&m->reg, m->store);

        if (r < 0)
                brm_warn(MOD, "writing last-seen times failed, will retry: %s", brm_strerror(r));
}

static void on_liveness(uv_timer_t *t)
{
        struct brm_master *m = t->data;

        uint64_t now = brm_mono_ms();
        bool stalled = m->last_liveness_mono && now - m->last_liveness_mono > 2000;

        m->last_liveness_mono = now;
        /* After a stall, heartbeats may be waiting unread in the sockets:
         * read them before declaring anyone NotReady. */
        if (!stalled)
                brm_registry_check(&m->reg, m->cfg.heartbeat_interval_ms * m->cfg.grace_intervals);
        brm_containers_expire(m);
        /* NotReady nodes, --reschedule-after and rollout deadlines are
         * judged by time: a pass on the tick when one of them is pending. */
        if (brm_sched_wanted(m))
                brm_sched_pass(m);
        if (brm_mono_ms() - m->last_flush_mono >= FLUSH_EVERY_MS) {
                m->last_flush_mono = brm_mono_ms();
                flush(m);
        }
}

static void on_admit_timer(uv_timer_t *t)
{
        struct brm_master *m = t->data;

        brm_admit_sweep(&m->admit, brm_mono_ms());
        resume_accept(m);
}

static void on_signal(uv_signal_t *sig, int signum)
{
        struct brm_master *m = sig->data;

        brm_info(MOD, "signal %d: stopping", signum);
        brm_server_stop(m);
}

int brm_server_start(struct brm_master *m)
{
        struct sockaddr_storage ss;
        char host[256];
        uint16_t port;
        int r;

        if (brm_parse_hostport(m->cfg.listen, host, sizeof(host), &port) < 0)
                return -EINVAL;
        if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
            uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
                return -EINVAL;
        uv_tcp_init(m->loop, &m->listener);
        m->listener.data = m;
        if ((r = uv_tcp_bind(&m->listener, (struct sockaddr *)&ss, 0)) < 0 ||
            (r = uv_listen((uv_stream_t *)&m->listener, SOMAXCONN, on_connection)) < 0) {
                uv_close((uv_handle_t *)&m->listener, NULL);
                return r;
        }
        brm_admit_init(&m->admit, m->cfg.max_unauth, m->cfg.max_unauth_per_source);
        uv_timer_init(m->loop, &m->admit_timer);
        m->admit_timer.data = m;
        uv_timer_start(&m->admit_timer, on_admit_timer, BRM_ADMIT_SWEEP_MS, BRM_ADMIT_SWEEP_MS);
        uv_timer_init(m->loop, &m->liveness);
        m->liveness.data = m;
        uv_timer_start(&m->liveness, on_liveness, 500, 500);
        m->last_flush_mono = brm_mono_ms();
        uv_signal_init(m->loop, &m->sigint);
        uv_signal_init(m->loop, &m->sigterm);
        m->sigint.data = m->sigterm.data = m;
        uv_signal_start(&m->sigint, on_signal, SIGINT);
        uv_signal_start(&m->sigterm, on_signal, SIGTERM);
        return 0;
}

void brm_server_stop(struct brm_master *m)
{
        if (m->stopping)
                return;
        m->stopping = true;
        flush(m);
        uv_close((uv_handle_t *)&m->listener, NULL);
        uv_close((uv_handle_t *)&m->liveness, NULL);
        uv_close((uv_handle_t *)&m->admit_timer, NULL);
        uv_close((uv_handle_t *)&m->sigint, NULL);
        uv_close((uv_handle_t *)&m->sigterm, NULL);
        brm_snapshots_stop(&m->snap);
        brm_http_stop(m);
        brm_announce_stop(m);
        brm_upgrade_close(m->upgrade);
        m->upgrade = NULL;
        brm_pull_cancel_all(m);
        if (m->svc.kick_open) {
                uv_close((uv_handle_t *)&m->svc.kick, NULL);
                m->svc.kick_open = false;
        }
        for (struct brm_session *s = m->sessions; s; s = s->next)
                brm_session_close(s, 0);
}
