/* API tokens and dashboard sign-in codes, for operators; see webapi.h. */
#include "webapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "http.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "token.h"
#include "util.h"

#define MOD "webapi"
#define DASHBOARD_TTL_MS (12 * 3600 * 1000ull)
#define TTL_MAX_MS (3650 * 86400000ull)

static void info_of(const struct brm_webtoken *w, Bramble__ApiTokenInfo *ti)
{
        bramble__api_token_info__init(ti);
        ti->id = (char *)w->rec.id;
        ti->role = (char *)w->rec.role;
        ti->has_created_ms = ti->has_expires_ms = ti->has_revoked = ti->has_last_used_ms = 1;
        ti->created_ms = w->rec.created_ms;
        ti->expires_ms = w->rec.expires_ms;
        ti->revoked = w->rec.revoked;
        ti->description = (char *)w->rec.description;
        ti->last_used_ms = w->last_used_ms;
}

/* The tokens live with the HTTPS port; without it there is nothing to
 * use them on, and saying so beats a token that silently does nothing. */
static struct brm_http *need_http(struct brm_session *s, uint64_t id)
{
        if (!s->m->http) {
                brm_session_error(s, id, -ENOTSUP,
                                  "this master serves no HTTPS: start it with --http-listen HOST:PORT");
                return NULL;
        }
        return s->m->http;
}

void brm_webapi_token_create(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__ApiTokenCreateRequest *req = in->api_token_create;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ApiTokenCreateResponse resp = BRAMBLE__API_TOKEN_CREATE_RESPONSE__INIT;
        Bramble__ApiTokenInfo ti;
        struct brm_http *h;
        struct brm_webtoken *w;
        enum brm_web_role role = brm_web_role_parse(req->role);
        char text[BRM_API_TOKEN_MAX_LEN];
        int r;

        if (!(h = need_http(s, in->id)))
                return;
        if (role == BRM_WEB_NONE) {
                brm_session_error(s, in->id, -EINVAL, "--role must be metrics or viewer");
                return;
        }
        if (req->has_ttl_ms && req->ttl_ms > TTL_MAX_MS) {
                brm_session_error(s, in->id, -EINVAL, "--ttl must be at most 3650 days");
                return;
        }
        if (req->description && strlen(req->description) >= sizeof(w->rec.description)) {
                brm_session_error(s, in->id, -EINVAL, "--description must be under 128 bytes");
                return;
        }
        r = brm_webauth_create(&h->auth, s->m->store, role, brm_now_ms(), req->has_ttl_ms ? req->ttl_ms : 0,
                               req->description, text, &w);
        if (r < 0) {
                brm_session_error(s, in->id, r, "storing the API token failed");
                return;
        }
        brm_info(MOD, "API token %s (%s) created", w->rec.id, w->rec.role);
        info_of(w, &ti);
        resp.token = text;
        resp.info = &ti;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_API_TOKEN_CREATED;
        env.api_token_created = &resp;
        brm_session_reply(s, in->id, &env);
        mbedtls_platform_zeroize(text, sizeof(text));
}

void brm_webapi_token_list(struct brm_session *s, const Bramble__Envelope *in)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ApiTokenListResponse resp = BRAMBLE__API_TOKEN_LIST_RESPONSE__INIT;
        Bramble__ApiTokenInfo *infos = NULL, **items = NULL;
        struct brm_http *h;
        size_t n = 0;

        if (!(h = need_http(s, in->id)))
                return;
        for (struct brm_webtoken *w = h->auth.tokens; w; w = w->next)
                n++;
        if (n && (!(infos = calloc(n, sizeof(*infos))) || !(items = calloc(n, sizeof(*items))))) {
                brm_session_error(s, in->id, -ENOMEM, "listing API tokens failed: out of memory");
                goto out;
        }
        n = 0;
        for (struct brm_webtoken *w = h->auth.tokens; w; w = w->next) {
                info_of(w, &infos[n]);
                items[n] = &infos[n];
                n++;
        }
        resp.n_tokens = n;
        resp.tokens = items;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_API_TOKENS;
        env.api_tokens = &resp;
        brm_session_reply(s, in->id, &env);
out:
        free(infos);
        free(items);
}

void brm_webapi_token_revoke(struct brm_session *s, const Bramble__Envelope *in)
{
        const char *id = in->api_token_revoke->id;
        struct brm_http *h;
        char msg[120];
        int r;

        if (!(h = need_http(s, in->id)))
                return;
        if (!id || !brm_token_valid_id(id)) {
                brm_session_error(s, in->id, -EINVAL, "an API token id is 6 characters of a-z and 0-9");
                return;
        }
        r = brm_webauth_revoke(&h->auth, s->m->store, id);
        if (r == -ENOENT) {
                snprintf(msg, sizeof(msg), "no API token with id '%s'", id);
                brm_session_error(s, in->id, r, msg);
                return;
        }
        if (r < 0) {
                brm_session_error(s, in->id, r, "revoking the API token failed");
                return;
        }
        brm_info(MOD, "API token %s revoked", id);
        brm_http_check_streams(h);
        brm_session_reply_ok(s, in->id);
}

void brm_webapi_dashboard(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__DashboardRequest *req = in->dashboard;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__DashboardResponse resp = BRAMBLE__DASHBOARD_RESPONSE__INIT;
        Bramble__ApiTokenInfo ti;
        struct brm_http *h;
        struct brm_webtoken *w;
        char code[BRM_WEB_SECRET_HEX + 1], text[BRM_API_TOKEN_MAX_LEN], msg[160];
        int64_t now = brm_now_ms(), code_until;
        int r;

        if (!(h = need_http(s, in->id)))
                return;
        if (req->token_id && *req->token_id) {
                if (!(w = brm_webauth_valid(&h->auth, req->token_id, now)) || strcmp(w->rec.role, "viewer") != 0) {
                        snprintf(msg, sizeof(msg), "no valid viewer API token with id '%.8s'", req->token_id);
                        brm_session_error(s, in->id, -ENOENT, msg);
                        return;
                }
        } else {
                uint64_t ttl = req->has_ttl_ms && req->ttl_ms ? req->ttl_ms : DASHBOARD_TTL_MS;
                if (ttl > TTL_MAX_MS) {
                        brm_session_error(s, in->id, -EINVAL, "--ttl must be at most 3650 days");
                        return;
                }
                if ((r = brm_webauth_create(&h->auth, m->store, BRM_WEB_VIEWER, now, ttl, "dashboard sign-in", text,
                                            &w)) < 0) {
                        brm_session_error(s, in->id, r, "storing the dashboard's token failed");
                        return;
                }
                /* The browser never sees this token, only a session. */
                mbedtls_platform_zeroize(text, sizeof(text));
        }
        if ((r = brm_webauth_new_code(&h->auth, w->rec.id, now, code, &code_until)) < 0) {
                brm_session_error(s, in->id, r, "making a sign-in code failed");
                return;
        }
        brm_info(MOD, "a dashboard sign-in code was issued for token %s", w->rec.id);
        info_of(w, &ti);
        resp.code = code;
        resp.has_code_ttl_ms = resp.has_http_port = 1;
        resp.code_ttl_ms = (uint64_t)(code_until - now);
        resp.http_port = h->port;
        resp.http_host = h->host;
        resp.token = &ti;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_DASHBOARD_LINK;
        env.dashboard_link = &resp;
        brm_session_reply(s, in->id, &env);
}
