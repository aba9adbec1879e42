/* The agent's one connection to the master; see link.h. */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "discover.h"
#include "err.h"
#include "join.h"
#include "log.h"
#include "masters.h"
#include "pki.h"
#include "runtime.h"
#include "util.h"

#define MOD "link"

struct brm_link {
        struct brm_link_opts o;
        struct brm_link_handler *handlers; /* o.handlers, copied */
        struct brm_conn *conn;         /* NULL between attempts */
        struct brm_conn *session;      /* conn once the master acked our hello, else NULL */
        mbedtls_ssl_config *tls;       /* owned by the attempt */
        uv_timer_t retry;
        uv_timer_t beat;
        uv_getaddrinfo_t gai;
        bool resolving;
        struct brm_backoff backoff;
        size_t master_idx;
        bool joining;
        bool reconnect_now;
        bool renew_pending;
        bool acked;                    /* the session's master has acked a heartbeat */
        bool closed;
        bool timers_closed;
        int timers_open;
        uint64_t interval_ms;
        uint64_t next_id;
        char addr[300];
        /* "master": "auto" */
        struct brm_masters *masters;   /* the addresses to try; NULL for fixed masters */
        struct brm_discover *browse;   /* bramble-browse running */
        bool found;                    /* addr came from mDNS (else remembered) */
};

static void schedule(struct brm_link *l, uint64_t delay_ms);

/* A node that has joined waits at most 10 s between attempts, with full
 * jitter: a master back from a restart sees its nodes again within about
 * that long, and their handshakes come spread over those 10 s rather than
 * in a burst. A node that has not joined keeps gRPC's slower policy (cap
 * 120 s): it may be a card with a wrong or used-up token, retrying for
 * days. */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_JOINED_CAP_MS 10000
#define BACKOFF_JOINING_CAP_MS 120000

static void backoff_init(struct brm_link *l)
{
        if (l->o.id->joined)
                brm_backoff_init_full(&l->backoff, BACKOFF_BASE_MS, BACKOFF_JOINED_CAP_MS);
        else
                brm_backoff_init(&l->backoff, BACKOFF_BASE_MS, BACKOFF_JOINING_CAP_MS);
}

/* The link is freed once it is stopped and nothing in flight refers to it. */
static bool maybe_free(struct brm_link *l)
{
        if (!l->closed || !l->timers_closed || l->conn || l->resolving)
                return false;
        free(l->masters);
        free(l->handlers);
        free(l);
        return true;
}

static uint64_t new_id(struct brm_link *l)
{
        return ++l->next_id;
}

static void on_beat(uv_timer_t *t);

/* The session begins (CONN) or ends (NULL). The heartbeat timer lives
 * exactly as long as the session: left running after its connection is
 * gone, it would fire into the handshake of the next attempt, whose
 * connection cannot send yet, and abort it. */
static void session(struct brm_link *l, struct brm_conn *conn)
{
        if (conn == l->session)
                return;
        l->session = conn;
        l->acked = false;
        if (conn)
                uv_timer_start(&l->beat, on_beat, l->interval_ms, l->interval_ms);
        else
                uv_timer_stop(&l->beat);
        if (l->o.on_session && !l->closed)
                l->o.on_session(l->o.arg, conn);
}

/* Every connection ends here, whatever closed it: the session ends with it,
 * before the next attempt can be scheduled. */
static void attempt_closed(struct brm_conn *c)
{
        struct brm_link *l = c->data;

        if (l->session == c && c->close_reason == -ETIMEDOUT && !l->closed)
                brm_warn(MOD, "master at %s has not been heard from for %llu ms (4 heartbeat intervals): reconnecting",
                         l->addr, (unsigned long long)(4 * l->interval_ms));
        session(l, NULL);
        mbedtls_ssl_config_free(l->tls);
        free(l->tls);
        free(c);
        l->tls = NULL;
        l->conn = NULL;
        l->renew_pending = false;
        if (l->closed) {
                maybe_free(l);
                return;
        }
        if (l->reconnect_now) {
                l->reconnect_now = false;
                schedule(l, 0);
                return;
        }
        /* Found masters are tried in turn at once; the backoff is between
         * rounds, each of which browses again. */
        if (l->masters && l->masters->idx < l->masters->n) {
                schedule(l, 0);
                return;
        }
        schedule(l, brm_backoff_next(&l->backoff));
}

static void drop(struct brm_link *l, int reason)
{
        session(l, NULL);
        if (l->conn)
                brm_conn_close(l->conn, reason);
}

static void link_drained(struct brm_conn *c)
{
        struct brm_link *l = c->data;
        if (l->o.on_drained && !l->closed)
                l->o.on_drained(l->o.arg);
}

/* ---- "master": "auto" ---- */

static const char *where(const struct brm_link *l)
{
        return !l->masters ? "" : l->found ? " (found by mDNS)" : " (remembered)";
}

/* The CA hash a master must present: the token's before the join, the
 * stored ca.crt's after. */
static const char *pin(const struct brm_link *l, uint8_t out[32])
{
        const mbedtls_x509_crt *ca = &l->o.id->creds.ca;

        if (l->o.id->joined && ca->raw.len && brm_pki_sha256(ca->raw.p, ca->raw.len, out) == 0)
                return "the stored ca.crt";
        memcpy(out, l->o.token->ca_hash, 32);
        return "the token";
}

static void refused(struct brm_link *l)
{
        uint8_t h[32];
        brm_err(MOD, "master %s%s refused: its CA does not match the one pinned by %s", l->addr, where(l), pin(l, h));
}

static void browsed(void *arg, int status, const struct brm_discover_found *f, size_t n)
{
        struct brm_link *l = arg;
        uint8_t h[32];
        const char *what = pin(l, h);
        uint64_t delay;

        l->browse = NULL;
        if (status < 0 || brm_masters_found(l->masters, f, n, h, what) == 0) {
                delay = brm_backoff_next(&l->backoff);
                if (status < 0)
                        brm_warn(MOD, "browsing for the master failed (see bramble-browse above); again in %llu ms",
                                 (unsigned long long)delay);
                else
                        brm_warn(MOD, "no master of this cluster answered on mDNS (_bramble._tcp.local, %zu announcement%s); "
                                 "browsing again in %llu ms", n, n == 1 ? "" : "s", (unsigned long long)delay);
                schedule(l, delay);
                return;
        }
        schedule(l, 0);
}

static void browse(struct brm_link *l)
{
        char helper[512];
        int r;

        brm_runtime_helper_path("bramble-browse", helper, sizeof(helper));
        brm_debug(MOD, "browsing for the master (_bramble._tcp.local) with %s", helper);
        if ((r = brm_discover_start(l->o.loop, helper, browsed, l, &l->browse)) < 0) {
                uint64_t delay = brm_backoff_next(&l->backoff);
                brm_err(MOD, "cannot run %s to find the master: %s; again in %llu ms", helper, uv_strerror(r),
                        (unsigned long long)delay);
                schedule(l, delay);
        }
}

/* ---- a session: hello, heartbeats, renewal ---- */

/* Returns 0, or < 0 when the heartbeat could not be sent and C is closing. */
static int send_heartbeat(struct brm_link *l, struct brm_conn *c)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        int r;

        if (brm_heartbeat_build(l->o.hb) < 0)
                return 0;
        /* The master answers each heartbeat with an Ok of this id. */
        env.has_id = 1;
        env.id = new_id(l);
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HEARTBEAT;
        env.heartbeat = &l->o.hb->msg;
        r = brm_conn_send(c, &env);
        if (r < 0) {
                brm_warn(MOD, "sending heartbeat failed: %s", brm_strerror(r));
                drop(l, r);
        }
        return r;
}

static void maybe_renew(struct brm_link *l, struct brm_conn *c)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__RenewRequest req = BRAMBLE__RENEW_REQUEST__INIT;
        uint8_t csr[1024];
        int n;

        if (l->renew_pending || !brm_identity_needs_renewal(l->o.id, brm_now_ms()))
                return;
        n = brm_identity_csr(l->o.id, l->o.cfg->name, csr, sizeof(csr));
        if (n < 0) {
                brm_warn(MOD, "cannot make a renewal request: %s", brm_strerror(n));
                return;
        }
        req.has_csr_der = 1;
        req.csr_der.data = csr;
        req.csr_der.len = (size_t)n;
        env.has_id = 1;
        env.id = new_id(l);
        env.msg_case = BRAMBLE__ENVELOPE__MSG_RENEW_REQUEST;
        env.renew_request = &req;
        if (brm_conn_send(c, &env) == 0) {
                l->renew_pending = true;
                brm_info(MOD, "certificate is two thirds through its lifetime; asking the master to renew it");
        }
}

static void on_beat(uv_timer_t *t)
{
        struct brm_link *l = t->data;
        struct brm_conn *c = l->session;

        /* A session whose connection is closing ends in attempt_closed(),
         * on one of the next turns of the loop: nothing to send until then. */
        if (!c || c->closing)
                return;
        if (send_heartbeat(l, c) == 0)
                maybe_renew(l, c);
}

static void send_hello(struct brm_link *l)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Hello hello = BRAMBLE__HELLO__INIT;

        brm_heartbeat_hello(l->o.hb);
        hello.info = &l->o.hb->info.msg;
        env.has_id = 1;
        env.id = new_id(l);
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HELLO;
        env.hello = &hello;
        if (brm_conn_send(l->conn, &env) < 0)
                drop(l, -EIO);
}

static void hello_acked(struct brm_link *l, struct brm_conn *c, const Bramble__HelloAck *ack)
{
        if (ack->has_heartbeat_interval_ms && ack->heartbeat_interval_ms >= 100)
                l->interval_ms = ack->heartbeat_interval_ms;
        brm_backoff_reset(&l->backoff);
        brm_info(MOD, "connected to master at %s%s; heartbeat every %llu ms", l->addr, where(l),
                 (unsigned long long)l->interval_ms);
        if (l->masters)
                brm_masters_good(l->masters, l->addr);
        /* The heartbeats say which interface and address this link uses. */
        struct sockaddr_storage local;
        int len = sizeof(local);
        bool known = uv_tcp_getsockname(&c->tls.tcp, (struct sockaddr *)&local, &len) == 0;
        brm_heartbeat_set_link(l->o.hb, known ? (struct sockaddr *)&local : NULL);
        if (send_heartbeat(l, c) < 0)
                return;
        session(l, c);
        if (l->o.on_drained)
                brm_conn_set_drain(c, link_drained);
        maybe_renew(l, c);
}

static void renewed(struct brm_link *l, const Bramble__RenewResponse *rr)
{
        int r;

        l->renew_pending = false;
        if (!rr->has_cert_der)
                return;
        r = brm_identity_store(l->o.id, rr->cert_der.data, rr->cert_der.len, NULL, 0);
        if (r < 0)
                brm_err(MOD, "renewed certificate does not fit our key or CA: %s", brm_strerror(r));
        else
                brm_info(MOD, "certificate renewed; valid for another %lld s",
                         (long long)(l->o.id->not_after_ms - brm_now_ms()) / 1000);
}

/* ---- the join ---- */

static void send_join(struct brm_link *l)
{
        uint8_t csr[1024];
        char want[65], got[65];
        int n, r;

        n = brm_identity_csr(l->o.id, l->o.cfg->name, csr, sizeof(csr));
        if (n < 0) {
                brm_err(MOD, "cannot make a certificate request: %s", brm_strerror(n));
                drop(l, n);
                return;
        }
        r = brm_join_send(l->conn, l->o.token, l->o.cfg->name, csr, (size_t)n, new_id(l));
        if (r == -EACCES && l->masters) {
                refused(l);
                drop(l, -EACCES);
                return;
        }
        if (r == -EACCES) {
                brm_hex(l->o.token->ca_hash, 32, want);
                brm_join_peer_ca_hash(l->conn, got);
                brm_err(MOD,
                        "join refused locally: the master at %s does not present the CA pinned by the token "
                        "(token CA hash %.16s..., master's CA %.16s...); the token secret was not sent",
                        l->addr, want, got);
                drop(l, -EACCES);
                return;
        }
        if (r < 0) {
                drop(l, -EIO);
                return;
        }
        brm_info(MOD, "master at %s verified against the token's CA; joining as %s", l->addr, l->o.cfg->name);
}

static void joined(struct brm_link *l, const Bramble__JoinResponse *jr)
{
        int r;

        if (!l->joining || !jr->has_cert_der || !jr->has_ca_der) {
                drop(l, -EPROTO);
                return;
        }
        r = brm_identity_store(l->o.id, jr->cert_der.data, jr->cert_der.len, jr->ca_der.data, jr->ca_der.len);
        if (r < 0) {
                brm_err(MOD, "the master's join reply does not fit our key or CA: %s", brm_strerror(r));
                drop(l, r);
                return;
        }
        brm_info(MOD, "joined the cluster as %s; identity stored in %s", l->o.cfg->name, l->o.id->dir);
        l->reconnect_now = true;
        if (l->masters)
                brm_masters_again(l->masters);
        backoff_init(l);
        drop(l, 0);
}

/* ---- the connection ---- */

static void on_ready(struct brm_conn *c, int status)
{
        struct brm_link *l = c->data;

        if (status < 0) {
                if (status == -EACCES && l->masters)
                        refused(l);
                else if (status == -EACCES)
                        brm_err(MOD, "master at %s is not trusted: its certificate does not chain to our cluster CA", l->addr);
                else
                        brm_warn(MOD, "cannot reach master at %s: %s", l->addr, brm_strerror(status));
                return;
        }
        if (l->joining)
                send_join(l);
        else
                send_hello(l);
}

static void on_msg(struct brm_conn *c, Bramble__Envelope *env)
{
        struct brm_link *l = c->data;

        switch (env->msg_case) {
        case BRAMBLE__ENVELOPE__MSG_ERROR:
                if (env->id >= BRM_LINK_MODULE_IDS && !l->joining)
                        break; /* a module's request was refused: its handler says so */
                brm_err(MOD, "master at %s refused %s: %s", l->addr, l->joining ? "the join" : "this node",
                        env->error->message ? env->error->message : "(no reason given)");
                if (l->renew_pending && env->id) {
                        l->renew_pending = false;
                        return;
                }
                drop(l, env->error->has_code ? env->error->code : -EPROTO);
                return;
        case BRAMBLE__ENVELOPE__MSG_JOIN_RESPONSE:
                joined(l, env->join_response);
                return;
        case BRAMBLE__ENVELOPE__MSG_HELLO_ACK:
                hello_acked(l, c, env->hello_ack);
                return;
        case BRAMBLE__ENVELOPE__MSG_RENEW_RESPONSE:
                renewed(l, env->renew_response);
                return;
        case BRAMBLE__ENVELOPE__MSG_OK:
                if (env->id >= BRM_LINK_MODULE_IDS)
                        break;
                /* A heartbeat's ack. The master acks every heartbeat, so a
                 * session that hears nothing for 4 intervals has a master
                 * that is gone or frozen (a hung process, a half-open TCP
                 * connection): it is closed, and the link reconnects. Set
                 * at the first ack (which answers the heartbeat sent with
                 * the hello's ack), so that a master that does not ack yet
                 * is not dropped every 4 intervals. */
                if (c == l->session && !l->acked) {
                        l->acked = true;
                        brm_conn_set_idle(c, 4 * l->interval_ms);
                }
                return;
        default:
                break;
        }
        /* The rest belongs to other modules, and only to a session. */
        for (size_t i = 0; i < l->o.n_handlers && !l->joining; i++)
                if (l->handlers[i].msg == env->msg_case) {
                        l->handlers[i].fn(l->handlers[i].arg, c, env);
                        return;
                }
        brm_debug(MOD, "ignoring message %d", env->msg_case);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
        struct brm_link *l = req->data;
        struct brm_conn *c = NULL;
        mbedtls_ssl_config *tls = NULL;
        int r;

        l->resolving = false;
        if (l->closed) {
                uv_freeaddrinfo(res);
                maybe_free(l);
                return;
        }
        if (status < 0) {
                brm_warn(MOD, "cannot resolve master %s: %s", l->addr, uv_strerror(status));
                goto retry;
        }
        l->joining = !l->o.id->joined;
        tls = calloc(1, sizeof(*tls));
        c = calloc(1, sizeof(*c));
        if (!tls || !c)
                goto retry;
        mbedtls_ssl_config_init(tls);
        r = brm_tls_config(tls, false, l->joining ? BRM_TLS_VERIFY_PIN : BRM_TLS_VERIFY_REQUIRED,
                           l->joining ? NULL : &l->o.id->creds);
        if (r < 0 || (r = brm_conn_init(l->o.loop, c, tls, 0)) < 0) {
                brm_err(MOD, "TLS setup failed: %s", brm_strerror(r));
                mbedtls_ssl_config_free(tls);
                goto retry;
        }
        c->data = l;
        l->conn = c;
        l->tls = tls;
        r = brm_conn_connect(c, res->ai_addr, on_ready, on_msg, attempt_closed);
        uv_freeaddrinfo(res);
        if (r < 0) {
                brm_warn(MOD, "cannot connect to %s: %s", l->addr, uv_strerror(r));
                c->on_closed = attempt_closed;
                brm_conn_close(c, r);
        }
        return;
retry:
        free(tls);
        free(c);
        uv_freeaddrinfo(res);
        schedule(l, brm_backoff_next(&l->backoff));
}

static void browse(struct brm_link *l);

static void on_retry(uv_timer_t *t)
{
        struct brm_link *l = t->data;
        const struct brm_agent_config *cfg = l->o.cfg;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
        char host[256], port[8];
        const char *next;
        uint16_t p;

        if (l->masters) {
                if (!(next = brm_masters_next(l->masters, &l->found))) {
                        browse(l);
                        return;
                }
                snprintf(l->addr, sizeof(l->addr), "%s", next);
                brm_info(MOD, "trying master at %s%s", l->addr, where(l));
        } else {
                snprintf(l->addr, sizeof(l->addr), "%s", cfg->masters[l->master_idx % cfg->n_masters]);
                l->master_idx++;
        }
        brm_parse_hostport(l->addr, host, sizeof(host), &p);
        snprintf(port, sizeof(port), "%u", p);
        l->gai.data = l;
        if (uv_getaddrinfo(l->o.loop, &l->gai, on_resolved, host, port, &hints) < 0) {
                schedule(l, brm_backoff_next(&l->backoff));
                return;
        }
        l->resolving = true;
}

static void schedule(struct brm_link *l, uint64_t delay_ms)
{
        if (delay_ms)
                brm_debug(MOD, "next attempt in %llu ms", (unsigned long long)delay_ms);
        uv_timer_start(&l->retry, on_retry, delay_ms, 0);
}

int brm_link_start(const struct brm_link_opts *opts, struct brm_link **ret)
{
        struct brm_link *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->o = *opts;
        if (opts->n_handlers) {
                if (!(l->handlers = calloc(opts->n_handlers, sizeof(*l->handlers)))) {
                        free(l);
                        return -ENOMEM;
                }
                memcpy(l->handlers, opts->handlers, opts->n_handlers * sizeof(*l->handlers));
        }
        l->o.handlers = NULL;
        if (opts->cfg->master_auto) {
                if (!(l->masters = malloc(sizeof(*l->masters)))) {
                        free(l->handlers);
                        free(l);
                        return -ENOMEM;
                }
                brm_masters_init(l->masters, opts->cfg->state_dir);
        }
        l->interval_ms = opts->cfg->heartbeat_interval_ms;
        backoff_init(l);
        uv_timer_init(opts->loop, &l->retry);
        uv_timer_init(opts->loop, &l->beat);
        l->retry.data = l->beat.data = l;
        schedule(l, 0);
        *ret = l;
        return 0;
}

static void timer_closed(uv_handle_t *h)
{
        struct brm_link *l = h->data;

        /* libuv gives no order among close callbacks: count them. */
        if (--l->timers_open == 0) {
                l->timers_closed = true;
                maybe_free(l);
        }
}

void brm_link_stop(struct brm_link *l)
{
        if (!l || l->closed)
                return;
        l->closed = true;
        brm_discover_cancel(l->browse);
        l->browse = NULL;
        if (l->resolving)
                uv_cancel((uv_req_t *)&l->gai);
        l->timers_open = 2;
        uv_close((uv_handle_t *)&l->retry, timer_closed);
        uv_close((uv_handle_t *)&l->beat, timer_closed);
        if (l->conn)
                brm_conn_close(l->conn, 0);
}
