/* The HTTPS port's routes: sign-in, /metrics, the dashboard's page and its
 * read-only API. The API answers with the same JSON as the CLI's -o json,
 * built by the same handlers the CLI's requests reach (through a session
 * of the master's own that captures the answer) and the same builders
 * (lib/statusjson.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "containers.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "services.h"
#include "session.h"
#include "statusjson.h"
#include "util.h"
#include "webassets.h"
#include "weblogs.h"

#define MOD "web"
#define STATE_REFRESH_MS 15000 /* an unchanged state is sent again this often (a keep-alive) */

static const char unauthorized[] =
        "sign in with the link 'bramble dashboard' prints, or send 'Authorization: Bearer TOKEN' "
        "('bramble api-token create')";

/* ---- the cluster's state as JSON ---- */

struct capture {
        cJSON *out;
        const char *key;
};

static void capture_answer(struct brm_session *s, const Bramble__Envelope *env)
{
        struct capture *c = s->capture_arg;
        cJSON *arr;

        if (c->out == NULL)
                return;
        arr = cJSON_AddArrayToObject(c->out, c->key);
        switch (env->msg_case) {
        case BRAMBLE__ENVELOPE__MSG_NODES:
                for (size_t i = 0; i < env->nodes->n_nodes; i++)
                        cJSON_AddItemToArray(arr, brm_json_node(env->nodes->nodes[i]));
                break;
        case BRAMBLE__ENVELOPE__MSG_PS_RESULT:
                for (size_t i = 0; i < env->ps_result->n_containers; i++)
                        cJSON_AddItemToArray(arr, brm_json_ps_entry(env->ps_result->containers[i]));
                break;
        case BRAMBLE__ENVELOPE__MSG_SERVICES:
                for (size_t i = 0; i < env->services->n_services; i++)
                        cJSON_AddItemToArray(arr, brm_svc_json(env->services->services[i]));
                break;
        case BRAMBLE__ENVELOPE__MSG_ERROR:
                brm_warn(MOD, "listing %s for the dashboard failed: %s", c->key,
                         env->error->message ? env->error->message : "");
                break;
        default:
                break;
        }
}

/* {"time_ms", "heartbeat_interval_ms", "nodes", "containers", "services"},
 * unformatted (no newline: it is sent as one event). */
static char *state_json(struct brm_master *m)
{
        struct capture cap = { 0 };
        struct brm_session self;
        Bramble__Envelope in = BRAMBLE__ENVELOPE__INIT;
        Bramble__NodeListRequest nl = BRAMBLE__NODE_LIST_REQUEST__INIT;
        Bramble__PsRequest ps = BRAMBLE__PS_REQUEST__INIT;
        Bramble__ServiceRequest sl = BRAMBLE__SERVICE_REQUEST__INIT;
        char *text;

        if (!(cap.out = cJSON_CreateObject()))
                return NULL;
        cJSON_AddNumberToObject(cap.out, "time_ms", (double)brm_now_ms());
        cJSON_AddNumberToObject(cap.out, "heartbeat_interval_ms", (double)m->cfg.heartbeat_interval_ms);
        memset(&self, 0, sizeof(self));
        self.m = m;
        self.role = BRM_ROLE_ADMIN;
        snprintf(self.name, sizeof(self.name), "dashboard");
        self.capture = capture_answer;
        self.capture_arg = &cap;
        in.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LIST;
        in.node_list = &nl;
        cap.key = "nodes";
        brm_api_node_list(&self, &in);
        in.msg_case = BRAMBLE__ENVELOPE__MSG_PS;
        in.ps = &ps;
        cap.key = "containers";
        brm_containers_ps(&self, &in);
        in.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_LIST;
        in.service_list = &sl;
        cap.key = "services";
        brm_svc_list(&self, &in);
        text = cJSON_PrintUnformatted(cap.out);
        cJSON_Delete(cap.out);
        return text;
}

static uint64_t fnv1a(const char *s, size_t len)
{
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < len; i++)
                h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
        return h;
}

struct push {
        const char *text;
        size_t len;
};

static void push_one(void *arg, struct brm_http_conn *c)
{
        struct push *p = arg;
        brm_http_stream_send(c, "state", p->text, p->len);
}

static void count_one(void *arg, struct brm_http_conn *c)
{
        *(bool *)arg = true;
}

struct ready_sig {
        uint64_t h;
};

static void sig_one(void *arg, struct brm_node *n)
{
        struct ready_sig *g = arg;
        uint64_t x = fnv1a(n->name, strlen(n->name)) ^ (n->ready ? 0x9e3779b97f4a7c15ull : 0);

        g->h += x * 0xff51afd7ed558ccdull; /* order-free: the registry has no order */
}

/* Once a second while a dashboard follows the state: the state is built
 * (nodes, containers, services) once a heartbeat interval, since nothing it
 * shows changes faster, or at once when a node turned Ready or NotReady;
 * it is sent when it changed, and every 15 s regardless. */
void brm_web_tick(struct brm_http *h)
{
        struct brm_master *m = h->m;
        struct ready_sig sig = { 0 };
        struct push p;
        char *text;
        uint64_t hash, now = brm_mono_ms(), every = m->cfg.heartbeat_interval_ms;
        bool any = false;

        brm_http_foreach_stream(h, BRM_WEB_STREAM_STATE, count_one, &any);
        if (!any)
                return;
        brm_registry_foreach(&m->reg, sig_one, &sig);
        if (sig.h == h->ready_sig && now - h->state_built_ms < (every > 1000 ? every : 1000))
                return;
        h->ready_sig = sig.h;
        h->state_built_ms = now;
        if (!(text = state_json(m)))
                return;
        p.text = text;
        p.len = strlen(text);
        /* The time changes every call: hash what follows it. */
        {
                const char *rest = strchr(text, ',');
                hash = rest ? fnv1a(rest, strlen(rest)) : 0;
        }
        if (hash != h->state_hash || now - h->state_pushed_ms >= STATE_REFRESH_MS) {
                h->state_hash = hash;
                h->state_pushed_ms = now;
                brm_http_foreach_stream(h, BRM_WEB_STREAM_STATE, push_one, &p);
        }
        cJSON_free(text);
}

/* ---- routes ---- */

static void send_json(struct brm_http_conn *c, int status, cJSON *o)
{
        char *text = o ? cJSON_PrintUnformatted(o) : NULL;

        if (!text) {
                brm_http_error(c, 500, "out of memory");
        } else {
                brm_http_respond(c, status, "application/json", NULL, text, strlen(text));
                cJSON_free(text);
        }
        cJSON_Delete(o);
}

void brm_web_json_error(struct brm_http_conn *c, int status, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", msg);
        send_json(c, status, o);
}

bool brm_web_query(const char *query, const char *name, char *out, size_t size)
{
        size_t nlen = strlen(name);
        const char *p = query;

        while (p && *p) {
                const char *end = p + strcspn(p, "&");
                if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
                        size_t o = 0;
                        for (const char *q = p + nlen + 1; q < end; q++) {
                                int ch = (unsigned char)*q;
                                if (ch == '%') {
                                        uint8_t b;
                                        if (end - q < 3 || brm_unhex(q + 1, &b, 1) < 0)
                                                return false;
                                        ch = b;
                                        q += 2;
                                } else if (ch == '+') {
                                        ch = ' ';
                                }
                                if (ch == 0 || o + 1 >= size)
                                        return false;
                                out[o++] = (char)ch;
                        }
                        out[o] = '\0';
                        return true;
                }
                p = *end ? end + 1 : NULL;
        }
        return false;
}

static void login(struct brm_http *h, struct brm_http_conn *c, const struct brm_http_req *r)
{
        static const char page[] = "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url=/\">"
                                   "<title>Bramble</title><a href=\"/\">Signed in: open the dashboard</a>\n";
        char code[BRM_WEB_SECRET_HEX + 2], session[BRM_WEB_SECRET_HEX + 1], headers[300];
        int64_t now = brm_now_ms(), until;

        if (!brm_web_query(r->query, "code", code, sizeof(code)) ||
            brm_webauth_redeem(&h->auth, code, now, session, &until) < 0) {
                brm_info(MOD, "a sign-in with an unknown, used or expired code was refused");
                brm_http_error(c, 401, "this sign-in link is not valid (used, expired or unknown): "
                                       "run 'bramble dashboard' for a new one");
                return;
        }
        /* The page, not a redirect, sets the cookie: the browser then goes to
         * "/" on its own, a same-site navigation that carries a SameSite=Strict
         * cookie even when the link was opened from another site. */
        snprintf(headers, sizeof(headers),
                 "Set-Cookie: bramble_session=%s; Path=/; Max-Age=%lld; HttpOnly; Secure; SameSite=Strict\r\n",
                 session, (long long)((until - now) / 1000));
        brm_info(MOD, "a browser signed in");
        brm_http_respond(c, 200, "text/html; charset=utf-8", headers, page, sizeof(page) - 1);
}

static void metrics(struct brm_http *h, struct brm_http_conn *c, const struct brm_http_req *r)
{
        char *text;
        size_t len;

        if (brm_metrics_render(h->m, &text, &len) < 0) {
                brm_http_error(c, 500, "rendering the metrics failed: out of memory");
                return;
        }
        brm_http_respond(c, 200, BRM_METRICS_CONTENT_TYPE, NULL, text, len);
        free(text);
}

static void whoami(struct brm_http_conn *c, const struct brm_webtoken *w)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "role", w->rec.role);
        cJSON_AddStringToObject(o, "token", w->rec.id);
        cJSON_AddNumberToObject(o, "expires_ms", (double)w->rec.expires_ms);
        send_json(c, 200, o);
}

static void state(struct brm_http *h, struct brm_http_conn *c)
{
        char *text = state_json(h->m);

        if (!text) {
                brm_http_error(c, 500, "out of memory");
                return;
        }
        brm_http_respond(c, 200, "application/json", NULL, text, strlen(text));
        cJSON_free(text);
}

static void stream(struct brm_http *h, struct brm_http_conn *c)
{
        char *text;

        if (brm_http_stream_start(c, BRM_WEB_STREAM_STATE, NULL, NULL) < 0)
                return;
        if ((text = state_json(h->m))) {
                brm_http_stream_send(c, "state", text, strlen(text));
                cJSON_free(text);
        }
}

/* The page's files: revalidated by their ETag (a hash of the content), so a
 * browser asks each time (no-cache) and gets 304 for what it has. */
static void asset(struct brm_http_conn *c, const struct brm_http_req *r)
{
        static const char csp[] = "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
                                  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'\r\n";
        const struct brm_asset *a = brm_asset_find(r->path);
        char headers[400];

        if (!a) {
                brm_http_error(c, 404, "no such page");
                return;
        }
        snprintf(headers, sizeof(headers), "%sETag: %s\r\n", csp, a->etag);
        if (r->if_none_match[0] && strstr(r->if_none_match, a->etag)) {
                brm_http_respond_cached(c, 304, a->content_type, headers, NULL, 0);
                return;
        }
        brm_http_respond_cached(c, 200, a->content_type, headers, a->data, a->len);
}

void brm_web_handle(struct brm_http *h, struct brm_http_conn *c, const struct brm_http_req *r)
{
        int64_t now = brm_now_ms();
        struct brm_webtoken *w;

        if (strcmp(r->path, "/login") == 0) {
                login(h, c, r);
                return;
        }
        w = r->authorization[0] ? brm_webauth_bearer(&h->auth, r->authorization, now)
                                : brm_webauth_cookie(&h->auth, r->cookie, now);
        if (!w) {
                brm_http_error(c, 401, unauthorized);
                return;
        }
        brm_http_set_token(c, w->rec.id);
        if (strcmp(r->path, "/metrics") == 0) {
                metrics(h, c, r);
                return;
        }
        /* Everything else is the dashboard: viewers only. */
        if (strcmp(w->rec.role, "viewer") != 0) {
                brm_http_error(c, 403, "a metrics token reads /metrics only; the dashboard needs a viewer token");
                return;
        }
        if (strcmp(r->path, "/api/whoami") == 0)
                whoami(c, w);
        else if (strcmp(r->path, "/api/state") == 0)
                state(h, c);
        else if ((strcmp(r->path, "/api/stream") == 0 || strcmp(r->path, "/api/logs") == 0) &&
                 h->n_streams >= h->max_conns / 2)
                /* Streams are never closed for room: half the places at
                 * most, so requests always have the other half. */
                brm_http_error(c, 503, "too many event streams are open on this port; close a dashboard");
        else if (strcmp(r->path, "/api/stream") == 0)
                stream(h, c);
        else if (strcmp(r->path, "/api/logs") == 0)
                brm_weblogs_open(h, c, r);
        else if (strncmp(r->path, "/api/", 5) == 0)
                brm_web_json_error(c, 404, "no such API");
        else
                asset(c, r);
}
