/* API tokens, sign-in codes and browser sessions; see webauth.h. */
#include "webauth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "token.h"
#include "util.h"

#define SESSION_MAX_MS (7 * 86400000LL)

enum brm_web_role brm_web_role_parse(const char *s)
{
        if (s && strcmp(s, "metrics") == 0)
                return BRM_WEB_METRICS;
        if (s && strcmp(s, "viewer") == 0)
                return BRM_WEB_VIEWER;
        return BRM_WEB_NONE;
}

const char *brm_web_role_name(enum brm_web_role r)
{
        return r == BRM_WEB_METRICS ? "metrics" : r == BRM_WEB_VIEWER ? "viewer" : "";
}

static int keep(void *arg, const struct brm_api_token_rec *t)
{
        struct brm_webauth *a = arg;
        struct brm_webtoken *w = calloc(1, sizeof(*w)), **p;

        if (!w)
                return -ENOMEM;
        w->rec = *t;
        for (p = &a->tokens; *p; p = &(*p)->next)
                ;
        *p = w;
        return 0;
}

int brm_webauth_load(struct brm_webauth *a, struct brm_store *st)
{
        return brm_store_api_token_list(st, keep, a);
}

static void free_secrets(struct brm_websecret *s)
{
        while (s) {
                struct brm_websecret *next = s->next;
                free(s);
                s = next;
        }
}

void brm_webauth_free(struct brm_webauth *a)
{
        while (a->tokens) {
                struct brm_webtoken *next = a->tokens->next;
                free(a->tokens);
                a->tokens = next;
        }
        free_secrets(a->codes);
        free_secrets(a->sessions);
        memset(a, 0, sizeof(*a));
}

struct brm_webtoken *brm_webauth_find(struct brm_webauth *a, const char *id)
{
        for (struct brm_webtoken *w = a->tokens; w; w = w->next)
                if (strcmp(w->rec.id, id) == 0)
                        return w;
        return NULL;
}

struct brm_webtoken *brm_webauth_valid(struct brm_webauth *a, const char *id, int64_t now_ms)
{
        struct brm_webtoken *w = brm_webauth_find(a, id);

        if (!w || w->rec.revoked || (w->rec.expires_ms && now_ms >= w->rec.expires_ms))
                return NULL;
        return w;
}

int brm_webauth_create(struct brm_webauth *a, struct brm_store *st, enum brm_web_role role, int64_t now_ms,
                       uint64_t ttl_ms, const char *description, char *text, struct brm_webtoken **ret)
{
        static const uint8_t no_ca[32];
        struct brm_api_token_rec rec;
        struct brm_token tok;
        int r = -EEXIST;

        if (role == BRM_WEB_NONE)
                return -EINVAL;
        for (int tries = 0; tries < 4 && r == -EEXIST; tries++) {
                memset(&rec, 0, sizeof(rec));
                if ((r = brm_token_generate(no_ca, &tok)) < 0)
                        return r;
                if (brm_webauth_find(a, tok.id)) {
                        r = -EEXIST;
                        continue;
                }
                snprintf(rec.id, sizeof(rec.id), "%s", tok.id);
                brm_token_hash_secret(tok.secret, rec.secret_hash);
                snprintf(rec.role, sizeof(rec.role), "%s", brm_web_role_name(role));
                rec.created_ms = now_ms;
                rec.expires_ms = ttl_ms ? now_ms + (int64_t)ttl_ms : 0;
                snprintf(rec.description, sizeof(rec.description), "%s", description ? description : "");
                r = brm_store_api_token_add(st, &rec);
        }
        if (r < 0)
                return r;
        if ((r = keep(a, &rec)) < 0)
                return r;
        snprintf(text, BRM_API_TOKEN_MAX_LEN, BRM_API_TOKEN_PREFIX "%s.%s", tok.id, tok.secret);
        mbedtls_platform_zeroize(&tok, sizeof(tok));
        if (ret)
                *ret = brm_webauth_find(a, rec.id);
        return 0;
}

static void drop_sessions_of(struct brm_webauth *a, const char *id)
{
        for (struct brm_websecret **p = &a->sessions; *p;) {
                if (strcmp((*p)->token_id, id) == 0) {
                        struct brm_websecret *gone = *p;
                        *p = gone->next;
                        free(gone);
                        a->n_sessions--;
                } else {
                        p = &(*p)->next;
                }
        }
}

int brm_webauth_revoke(struct brm_webauth *a, struct brm_store *st, const char *id)
{
        struct brm_webtoken *w = brm_webauth_find(a, id);
        int r;

        if (!w)
                return -ENOENT;
        if ((r = brm_store_api_token_revoke(st, id)) < 0)
                return r;
        w->rec.revoked = true;
        drop_sessions_of(a, id);
        return 0;
}

/* "bramble-api1:ID.SECRET" → the token, checked in constant time against
 * its stored hash. */
static struct brm_webtoken *by_text(struct brm_webauth *a, const char *s, size_t len, int64_t now_ms)
{
        const size_t plen = sizeof(BRM_API_TOKEN_PREFIX) - 1;
        char id[BRM_TOKEN_ID_LEN + 1], secret[BRM_TOKEN_SECRET_LEN + 1], hash[65];
        struct brm_webtoken *w;

        if (len != plen + BRM_TOKEN_ID_LEN + 1 + BRM_TOKEN_SECRET_LEN || memcmp(s, BRM_API_TOKEN_PREFIX, plen) != 0 ||
            s[plen + BRM_TOKEN_ID_LEN] != '.')
                return NULL;
        memcpy(id, s + plen, BRM_TOKEN_ID_LEN);
        id[BRM_TOKEN_ID_LEN] = '\0';
        memcpy(secret, s + plen + BRM_TOKEN_ID_LEN + 1, BRM_TOKEN_SECRET_LEN);
        secret[BRM_TOKEN_SECRET_LEN] = '\0';
        if (!(w = brm_webauth_valid(a, id, now_ms)))
                return NULL;
        if (brm_token_hash_secret(secret, hash) < 0 || brm_memeq_ct(hash, w->rec.secret_hash, 64) != 0)
                return NULL;
        w->last_used_ms = now_ms;
        return w;
}

struct brm_webtoken *brm_webauth_bearer(struct brm_webauth *a, const char *authorization, int64_t now_ms)
{
        const char *p = authorization;
        size_t len;

        if (!p || strncasecmp(p, "Bearer ", 7) != 0)
                return NULL;
        p += 7;
        while (*p == ' ')
                p++;
        len = strlen(p);
        while (len && p[len - 1] == ' ')
                len--;
        return by_text(a, p, len, now_ms);
}

static void expire(struct brm_websecret **list, size_t *n, int64_t now_ms)
{
        for (struct brm_websecret **p = list; *p;) {
                if (now_ms >= (*p)->expires_ms) {
                        struct brm_websecret *gone = *p;
                        *p = gone->next;
                        free(gone);
                        (*n)--;
                } else {
                        p = &(*p)->next;
                }
        }
}

/* The entry whose secret hashes to hash; unlinked when take. */
static struct brm_websecret *lookup(struct brm_websecret **list, const char *secret, bool take)
{
        char hash[65];

        if (strlen(secret) != BRM_WEB_SECRET_HEX || brm_token_hash_secret(secret, hash) < 0)
                return NULL;
        for (struct brm_websecret **p = list; *p; p = &(*p)->next)
                if (brm_memeq_ct((*p)->hash, hash, 64) == 0) {
                        struct brm_websecret *s = *p;
                        if (take)
                                *p = s->next;
                        return s;
                }
        return NULL;
}

/* A new secret at the end of list (oldest first), the oldest dropped past
 * max. */
static int add_secret(struct brm_websecret **list, size_t *n, size_t max, const char *token_id, int64_t expires_ms,
                      char *out)
{
        uint8_t raw[BRM_WEB_SECRET_HEX / 2];
        struct brm_websecret *s, **p;

        if (brm_random(raw, sizeof(raw)) < 0)
                return -EIO;
        brm_hex(raw, sizeof(raw), out);
        if (!(s = calloc(1, sizeof(*s))))
                return -ENOMEM;
        brm_token_hash_secret(out, s->hash);
        snprintf(s->token_id, sizeof(s->token_id), "%s", token_id);
        s->expires_ms = expires_ms;
        if (*n >= max && *list) {
                struct brm_websecret *old = *list;
                *list = old->next;
                free(old);
                (*n)--;
        }
        for (p = list; *p; p = &(*p)->next)
                ;
        *p = s;
        (*n)++;
        return 0;
}

int brm_webauth_new_code(struct brm_webauth *a, const char *token_id, int64_t now_ms, char *code, int64_t *expires_ms)
{
        struct brm_webtoken *w = brm_webauth_valid(a, token_id, now_ms);
        int64_t until = now_ms + BRM_WEB_CODE_TTL_MS;

        if (!w)
                return -ENOENT;
        /* A code is worth no more than its token. */
        if (w->rec.expires_ms && w->rec.expires_ms < until)
                until = w->rec.expires_ms;
        expire(&a->codes, &a->n_codes, now_ms);
        *expires_ms = until;
        return add_secret(&a->codes, &a->n_codes, BRM_WEB_MAX_CODES, token_id, until, code);
}

int brm_webauth_redeem(struct brm_webauth *a, const char *code, int64_t now_ms, char *session, int64_t *expires_ms)
{
        struct brm_websecret *c;
        struct brm_webtoken *w;
        int64_t until;
        int r;

        expire(&a->codes, &a->n_codes, now_ms);
        expire(&a->sessions, &a->n_sessions, now_ms);
        if (!code || !(c = lookup(&a->codes, code, true)))
                return -EACCES;
        a->n_codes--;
        w = brm_webauth_valid(a, c->token_id, now_ms);
        free(c);
        if (!w || w->rec.role[0] != 'v')
                return -EACCES;
        until = now_ms + SESSION_MAX_MS;
        if (w->rec.expires_ms && w->rec.expires_ms < until)
                until = w->rec.expires_ms;
        if ((r = add_secret(&a->sessions, &a->n_sessions, BRM_WEB_MAX_SESSIONS, w->rec.id, until, session)) < 0)
                return r;
        *expires_ms = until;
        return 0;
}

struct brm_webtoken *brm_webauth_cookie(struct brm_webauth *a, const char *cookie, int64_t now_ms)
{
        const char *p = cookie;
        char id[BRM_WEB_SECRET_HEX + 1];
        struct brm_websecret *s;
        struct brm_webtoken *w;

        /* "a=1; bramble_session=HEX; b=2" */
        while (p && *p) {
                while (*p == ' ' || *p == ';')
                        p++;
                if (strncmp(p, "bramble_session=", 16) == 0) {
                        size_t len = strcspn(p + 16, "; ");
                        if (len != BRM_WEB_SECRET_HEX)
                                return NULL;
                        memcpy(id, p + 16, len);
                        id[len] = '\0';
                        if (!(s = lookup(&a->sessions, id, false)) || now_ms >= s->expires_ms)
                                return NULL;
                        if (!(w = brm_webauth_valid(a, s->token_id, now_ms)))
                                return NULL;
                        w->last_used_ms = now_ms;
                        return w;
                }
                p = strchr(p, ';');
        }
        return NULL;
}
