/* Joins, certificate renewal and operator calls. Each request is checked
 * completely before anything is stored, and answered with either its reply
 * or one Error naming what was wrong. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "place.h"
#include "relay.h"
#include "server.h"
#include "session.h"
#include "token.h"
#include "util.h"

#define MOD "api"

void brm_api_join(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__JoinRequest *req = in->join_request;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__JoinResponse resp = BRAMBLE__JOIN_RESPONSE__INIT;
        struct brm_node_rec rec;
        mbedtls_x509_csr csr;
        uint8_t der[BRM_CERT_MAX_DER];
        char secret_hash[65], msg[256];
        const char *why = NULL;
        int64_t not_after = 0;
        int r, n = -1, result = BRM_JOIN_R_ERROR;

        mbedtls_x509_csr_init(&csr);
        if (!req->token_id || !brm_token_valid_id(req->token_id) || !req->token_secret ||
            strlen(req->token_secret) != BRM_TOKEN_SECRET_LEN) {
                brm_session_error(s, id, -EINVAL, "join request has a malformed token");
                result = BRM_JOIN_R_MALFORMED;
                goto refuse;
        }
        if (!req->node_name || !brm_valid_node_name(req->node_name)) {
                brm_session_error(s, id, -EINVAL,
                                    "node name must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'");
                result = BRM_JOIN_R_MALFORMED;
                goto refuse;
        }
        if (!req->has_csr_der || brm_pki_csr_check(req->csr_der.data, req->csr_der.len, req->node_name, &csr, &why) < 0) {
                snprintf(msg, sizeof(msg), "certificate request refused: %s", why ? why : "missing");
                brm_session_error(s, id, -EACCES, msg);
                result = BRM_JOIN_R_BAD_CSR;
                goto refuse;
        }
        memset(&rec, 0, sizeof(rec));
        snprintf(rec.name, sizeof(rec.name), "%s", req->node_name);
        if (brm_pki_pubkey_hash(&csr.pk, rec.pubkey_hash) < 0)
                goto internal;
        n = brm_ca_sign_client(&m->ca, &csr.pk, req->node_name, BRM_ORG_NODE, (int64_t)m->cfg.cert_validity_ms, der,
                               sizeof(der), &not_after);
        if (n < 0)
                goto internal;
        rec.created_ms = brm_now_ms();
        rec.cert_not_after_ms = not_after;
        brm_token_hash_secret(req->token_secret, secret_hash);
        r = brm_store_join(m->store, req->token_id, secret_hash, rec.created_ms, &rec);
        switch (r) {
        case 0:
                break;
        case BRM_JOIN_NO_TOKEN:
                brm_warn(MOD, "join of %s refused: unknown token or wrong secret (id %s)", req->node_name, req->token_id);
                brm_session_error(s, id, -EACCES, "join token is not valid for this cluster (unknown id or wrong secret)");
                result = BRM_JOIN_R_BAD_TOKEN;
                goto refuse;
        case BRM_JOIN_EXPIRED:
                snprintf(msg, sizeof(msg), "join token %s has expired; create a new one with 'bramble token create'", req->token_id);
                brm_warn(MOD, "join of %s refused: token %s expired", req->node_name, req->token_id);
                brm_session_error(s, id, -EACCES, msg);
                result = BRM_JOIN_R_TOKEN_EXPIRED;
                goto refuse;
        case BRM_JOIN_USED_UP:
                snprintf(msg, sizeof(msg), "join token %s has no uses left; create a new one with 'bramble token create'", req->token_id);
                brm_warn(MOD, "join of %s refused: token %s used up", req->node_name, req->token_id);
                brm_session_error(s, id, -EACCES, msg);
                result = BRM_JOIN_R_TOKEN_USED_UP;
                goto refuse;
        case BRM_JOIN_REVOKED:
                snprintf(msg, sizeof(msg), "join token %s was revoked", req->token_id);
                brm_warn(MOD, "join of %s refused: token %s revoked", req->node_name, req->token_id);
                brm_session_error(s, id, -EACCES, msg);
                result = BRM_JOIN_R_TOKEN_REVOKED;
                goto refuse;
        case BRM_JOIN_NAME_TAKEN:
                snprintf(msg, sizeof(msg),
                         "node name '%s' is already held by another node's key; free it with 'bramble node rm %s' or choose another name",
                         req->node_name, req->node_name);
                brm_warn(MOD, "join of %s refused: name held by another key", req->node_name);
                brm_session_error(s, id, -EEXIST, msg);
                result = BRM_JOIN_R_NAME_TAKEN;
                goto refuse;
        default:
                brm_err(MOD, "join of %s failed in the store: %s", req->node_name, brm_strerror(r));
                goto internal;
        }
        if (brm_registry_put(&m->reg, &rec, NULL) < 0)
                goto internal;
        brm_info(MOD, "node %s joined with token %s", req->node_name, req->token_id);
        resp.has_cert_der = 1;
        resp.cert_der.data = der;
        resp.cert_der.len = (size_t)n;
        resp.has_ca_der = 1;
        resp.ca_der.data = m->ca.der;
        resp.ca_der.len = m->ca.der_len;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_JOIN_RESPONSE;
        env.join_response = &resp;
        brm_session_reply(s, id, &env);
        m->stats.joins[BRM_JOIN_R_OK]++;
        mbedtls_x509_csr_free(&csr);
        return;
internal:
        brm_session_error(s, id, -EIO, "the master could not complete the join; see its log");
refuse:
        m->stats.joins[result]++;
        mbedtls_x509_csr_free(&csr);
        brm_session_close(s, -EACCES);
}

void brm_api_renew(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__RenewRequest *req = in->renew_request;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__RenewResponse resp = BRAMBLE__RENEW_RESPONSE__INIT;
        mbedtls_x509_csr csr;
        uint8_t der[BRM_CERT_MAX_DER];
        char pkh[65], msg[200];
        const char *why = NULL;
        int64_t not_after;
        int n;

        mbedtls_x509_csr_init(&csr);
        if (!req->has_csr_der || brm_pki_csr_check(req->csr_der.data, req->csr_der.len, s->name, &csr, &why) < 0) {
                snprintf(msg, sizeof(msg), "renewal refused: %s", why ? why : "no certificate request");
                brm_session_error(s, id, -EACCES, msg);
                goto out;
        }
        /* The node keeps its key: a renewal for another key is refused. */
        if (brm_pki_pubkey_hash(&csr.pk, pkh) < 0 || strcmp(pkh, s->node->pubkey_hash) != 0) {
                brm_session_error(s, id, -EACCES, "renewal refused: the request is for a different key");
                goto out;
        }
        n = brm_ca_sign_client(&m->ca, &csr.pk, s->name, BRM_ORG_NODE, (int64_t)m->cfg.cert_validity_ms, der, sizeof(der),
                               &not_after);
        if (n < 0 || brm_store_node_set_cert(m->store, s->name, not_after) < 0) {
                brm_session_error(s, id, -EIO, "renewal failed on the master; see its log");
                goto out;
        }
        s->node->cert_not_after_ms = not_after;
        brm_info(MOD, "renewed the certificate of node %s", s->name);
        resp.has_cert_der = 1;
        resp.cert_der.data = der;
        resp.cert_der.len = (size_t)n;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_RENEW_RESPONSE;
        env.renew_response = &resp;
        brm_session_reply(s, id, &env);
out:
        mbedtls_x509_csr_free(&csr);
}

static void token_info(const struct brm_token_rec *t, Bramble__TokenInfo *ti)
{
        bramble__token_info__init(ti);
        ti->id = (char *)t->id;
        ti->has_created_ms = ti->has_expires_ms = ti->has_uses_max = ti->has_uses = ti->has_revoked = 1;
        ti->created_ms = t->created_ms;
        ti->expires_ms = t->expires_ms;
        ti->uses_max = t->uses_max;
        ti->uses = t->uses;
        ti->revoked = t->revoked;
        ti->description = (char *)t->description;
}

void brm_api_token_create(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__TokenCreateRequest *req = in->token_create;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__TokenCreateResponse resp = BRAMBLE__TOKEN_CREATE_RESPONSE__INIT;
        Bramble__TokenInfo ti;
        struct brm_token tok;
        struct brm_token_rec rec;
        char text[BRM_TOKEN_MAX_LEN];
        int r;

        memset(&rec, 0, sizeof(rec));
        if (brm_token_generate(m->ca.hash, &tok) < 0) {
                brm_session_error(s, id, -EIO, "no randomness for a token");
                return;
        }
        snprintf(rec.id, sizeof(rec.id), "%s", tok.id);
        brm_token_hash_secret(tok.secret, rec.secret_hash);
        rec.created_ms = brm_now_ms();
        rec.expires_ms = req->ttl_ms ? rec.created_ms + (int64_t)req->ttl_ms : 0;
        rec.uses_max = req->uses;
        if (req->description)
                snprintf(rec.description, sizeof(rec.description), "%s", req->description);
        r = brm_store_token_add(m->store, &rec);
        if (r < 0) {
                brm_session_error(s, id, r, "storing the token failed");
                return;
        }
        brm_info(MOD, "token %s created", rec.id);
        brm_token_format(&tok, text);
        token_info(&rec, &ti);
        resp.token = text;
        resp.info = &ti;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_TOKEN_CREATED;
        env.token_created = &resp;
        brm_session_reply(s, id, &env);
}

struct token_list {
        Bramble__TokenInfo **items;
        struct brm_token_rec *recs;
        size_t n, cap;
};

static int collect_token(void *arg, const struct brm_token_rec *t)
{
        struct token_list *l = arg;

        if (l->n == l->cap) {
                size_t nc = l->cap ? l->cap * 2 : 16;
                struct brm_token_rec *nr = realloc(l->recs, nc * sizeof(*nr));
                if (!nr)
                        return -ENOMEM;
                l->recs = nr;
                l->cap = nc;
        }
        l->recs[l->n++] = *t;
        return 0;
}

void brm_api_token_list(struct brm_session *s, const Bramble__Envelope *in)
{
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__TokenListResponse resp = BRAMBLE__TOKEN_LIST_RESPONSE__INIT;
        struct token_list l = { 0 };
        Bramble__TokenInfo *infos = NULL;
        int r = brm_store_token_list(m->store, collect_token, &l);

        if (r < 0 || (l.n && (!(infos = calloc(l.n, sizeof(*infos))) || !(l.items = calloc(l.n, sizeof(*l.items)))))) {
                brm_session_error(s, id, r < 0 ? r : -ENOMEM, "listing tokens failed");
                goto out;
        }
        for (size_t i = 0; i < l.n; i++) {
                token_info(&l.recs[i], &infos[i]);
                l.items[i] = &infos[i];
        }
        resp.n_tokens = l.n;
        resp.tokens = l.items;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_TOKENS;
        env.tokens = &resp;
        brm_session_reply(s, id, &env);
out:
        free(infos);
        free(l.items);
        free(l.recs);
}

void brm_api_token_revoke(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__TokenRevokeRequest *req = in->token_revoke;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        char msg[128];
        int r;

        if (!req->id || !brm_token_valid_id(req->id)) {
                brm_session_error(s, id, -EINVAL, "token id must be 6 characters of a-z and 0-9");
                return;
        }
        r = brm_store_token_revoke(m->store, req->id);
        if (r == -ENOENT) {
                snprintf(msg, sizeof(msg), "no token with id %s", req->id);
                brm_session_error(s, id, r, msg);
                return;
        }
        if (r < 0) {
                brm_session_error(s, id, r, "revoking the token failed");
                return;
        }
        brm_info(MOD, "token %s revoked", req->id);
        brm_session_reply_ok(s, id);
}

struct node_list {
        Bramble__NodeStatus *st;
        struct brm_node_view *views;
        Bramble__NodeStatus **items;
        Bramble__NodeInfo **infos;
        Bramble__Heartbeat **hbs;
        size_t n, cap;
        struct brm_master *m;
};

static void collect_node(void *arg, struct brm_node *n)
{
        struct node_list *l = arg;
        Bramble__NodeStatus *st;
        size_t i;

        if (l->n >= l->cap)
                return;
        i = l->n++;
        st = &l->st[i];
        bramble__node_status__init(st);
        st->name = n->name;
        st->state = n->ready ? "Ready" : "NotReady";
        st->has_created_ms = st->has_last_seen_ms = st->has_connected = 1;
        st->created_ms = n->created_ms;
        st->last_seen_ms = n->last_seen_ms;
        st->connected = n->session != NULL;
        st->has_log_streams = 1;
        st->log_streams = brm_relay_count(l->m, n->name);
        if (n->info)
                l->infos[i] = bramble__node_info__unpack(NULL, n->info_len, n->info);
        if (n->last_hb)
                l->hbs[i] = bramble__heartbeat__unpack(NULL, n->last_hb_len, n->last_hb);
        st->info = l->infos[i];
        st->last = l->hbs[i];
        brm_view_fill(&l->views[i], n);
        st->n_labels = l->views[i].n_labels;
        st->labels = (char **)l->views[i].labels;
        st->schedule = n->schedule;
        l->items[i] = st;
}

static int cmp_status(const void *a, const void *b)
{
        return strcmp((*(Bramble__NodeStatus *const *)a)->name, (*(Bramble__NodeStatus *const *)b)->name);
}

void brm_api_node_list(struct brm_session *s, const Bramble__Envelope *in)
{
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__NodeListResponse resp = BRAMBLE__NODE_LIST_RESPONSE__INIT;
        struct node_list l = { .cap = m->reg.count, .m = m };

        if (l.cap && (!(l.st = calloc(l.cap, sizeof(*l.st))) || !(l.items = calloc(l.cap, sizeof(*l.items))) ||
                      !(l.infos = calloc(l.cap, sizeof(*l.infos))) || !(l.hbs = calloc(l.cap, sizeof(*l.hbs))) ||
                      !(l.views = malloc(l.cap * sizeof(*l.views))))) {
                brm_session_error(s, id, -ENOMEM, "listing nodes failed: out of memory");
                goto out;
        }
        brm_registry_foreach(&m->reg, collect_node, &l);
        if (l.n > 1)
                qsort(l.items, l.n, sizeof(*l.items), cmp_status);
        resp.n_nodes = l.n;
        resp.nodes = l.items;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_NODES;
        env.nodes = &resp;
        brm_session_reply(s, id, &env);
out:
        for (size_t i = 0; i < l.n; i++) {
                if (l.infos[i])
                        bramble__node_info__free_unpacked(l.infos[i], NULL);
                if (l.hbs[i])
                        bramble__heartbeat__free_unpacked(l.hbs[i], NULL);
        }
        free(l.st);
        free(l.views);
        free(l.items);
        free(l.infos);
        free(l.hbs);
}

void brm_api_node_remove(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__NodeRemoveRequest *req = in->node_remove;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        struct brm_node *n;
        char msg[160];
        int r;

        if (!req->name || !brm_valid_node_name(req->name)) {
                brm_session_error(s, id, -EINVAL, "node name must be 1-63 characters of a-z, 0-9 and '-'");
                return;
        }
        r = brm_store_node_remove(m->store, req->name);
        if (r == -ENOENT) {
                snprintf(msg, sizeof(msg), "no node named '%s'", req->name);
                brm_session_error(s, id, r, msg);
                return;
        }
        if (r < 0) {
                brm_session_error(s, id, r, "removing the node failed");
                return;
        }
        n = brm_registry_get(&m->reg, req->name);
        if (n && n->session) {
                brm_session_refuse(n->session, 0, -EACCES, "this node was removed from the cluster; join again with a token");
        }
        brm_registry_remove(&m->reg, req->name);
        brm_info(MOD, "node %s removed", req->name);
        brm_services_kick(m); /* its replicas go elsewhere */
        brm_session_reply_ok(s, id);
}
