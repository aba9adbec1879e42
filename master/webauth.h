/* Who may use the HTTPS port: API tokens (stored hashed, like join
 * tokens, and kept in memory so a scrape costs no database read), the
 * one-time sign-in codes 'bramble dashboard' hands out, and the browser
 * sessions they turn into. Codes and sessions live in memory only: a
 * master restart signs browsers out. */
#ifndef BRM_WEBAUTH_H
#define BRM_WEBAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define BRM_API_TOKEN_PREFIX "bramble-api1:"
#define BRM_API_TOKEN_MAX_LEN 64
#define BRM_WEB_CODE_TTL_MS 60000
#define BRM_WEB_MAX_CODES 32
#define BRM_WEB_MAX_SESSIONS 256
#define BRM_WEB_SECRET_HEX 64     /* codes and session ids: 32 random bytes */

enum brm_web_role { BRM_WEB_NONE = 0, BRM_WEB_METRICS = 1, BRM_WEB_VIEWER = 2 };

struct brm_webtoken {
        struct brm_api_token_rec rec;
        int64_t last_used_ms;
        struct brm_webtoken *next;
};

struct brm_websecret {            /* a code or a session */
        char hash[65];            /* hex SHA-256 of the secret */
        char token_id[8];
        int64_t expires_ms;
        struct brm_websecret *next;
};

struct brm_webauth {
        struct brm_webtoken *tokens;      /* oldest first */
        struct brm_websecret *codes, *sessions;
        size_t n_codes, n_sessions;
};

/* "metrics" or "viewer"; BRM_WEB_NONE for anything else. */
enum brm_web_role brm_web_role_parse(const char *s);
const char *brm_web_role_name(enum brm_web_role r);

/* Reads the stored tokens. */
int brm_webauth_load(struct brm_webauth *a, struct brm_store *st);
void brm_webauth_free(struct brm_webauth *a);

/* Creates, stores and keeps a token; its text (shown once) goes into
 * text (BRM_API_TOKEN_MAX_LEN bytes). */
int brm_webauth_create(struct brm_webauth *a, struct brm_store *st, enum brm_web_role role, int64_t now_ms,
                       uint64_t ttl_ms, const char *description, char *text, struct brm_webtoken **ret);
/* -ENOENT if there is no such token. Sessions signed in with it end. */
int brm_webauth_revoke(struct brm_webauth *a, struct brm_store *st, const char *id);
struct brm_webtoken *brm_webauth_find(struct brm_webauth *a, const char *id);
/* The token still valid at now (not revoked, not expired), or NULL. */
struct brm_webtoken *brm_webauth_valid(struct brm_webauth *a, const char *id, int64_t now_ms);

/* The token an "Authorization: Bearer ..." value names, valid, or NULL. */
struct brm_webtoken *brm_webauth_bearer(struct brm_webauth *a, const char *authorization, int64_t now_ms);
/* The token behind a Cookie header's session, valid, or NULL. */
struct brm_webtoken *brm_webauth_cookie(struct brm_webauth *a, const char *cookie, int64_t now_ms);

/* A one-time sign-in code for token id (hex, BRM_WEB_SECRET_HEX + 1
 * bytes), valid BRM_WEB_CODE_TTL_MS or until the token expires, if that
 * is sooner (into expires_ms). The oldest code goes when there are too
 * many. -ENOENT: the token is not valid. */
int brm_webauth_new_code(struct brm_webauth *a, const char *token_id, int64_t now_ms, char *code, int64_t *expires_ms);
/* Takes code (once) and opens a session: its id into session
 * (BRM_WEB_SECRET_HEX + 1 bytes) and when it ends into expires_ms.
 * -EACCES for an unknown, used or expired code or a token no longer
 * valid. */
int brm_webauth_redeem(struct brm_webauth *a, const char *code, int64_t now_ms, char *session, int64_t *expires_ms);

#endif
