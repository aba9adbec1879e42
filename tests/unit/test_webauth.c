/* Who may use the master's HTTPS port (master/webauth.c) over a real
 * SQLite store: API tokens created, stored hashed, read back at start,
 * checked as bearer credentials (the right secret only, not revoked, not
 * expired); one-time codes that work once and not past their token;
 * sessions from cookies, ended when their token is revoked; bounds on
 * codes and sessions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "store.h"
#include "webauth.h"

static const int64_t T0 = 1800000000000;

static void bearer(struct brm_webauth *a, struct brm_store *st)
{
        char text[BRM_API_TOKEN_MAX_LEN], hdr[200], wrong[BRM_API_TOKEN_MAX_LEN];
        struct brm_webtoken *w, *got;

        CHECK_INT(brm_webauth_create(a, st, BRM_WEB_NONE, T0, 0, "x", text, &w), ==, -EINVAL);
        CHECK_INT(brm_webauth_create(a, st, BRM_WEB_METRICS, T0, 0, "prometheus", text, &w), ==, 0);
        CHECK(strncmp(text, BRM_API_TOKEN_PREFIX, strlen(BRM_API_TOKEN_PREFIX)) == 0);
        CHECK_INT(strlen(text), ==, strlen(BRM_API_TOKEN_PREFIX) + 6 + 1 + 32);
        CHECK_STR(w->rec.role, "metrics");
        /* Only the hash is kept. */
        CHECK(strstr(text, w->rec.secret_hash) == NULL);
        CHECK(strstr(text, w->rec.id) != NULL);
        snprintf(hdr, sizeof(hdr), "Bearer %s", text);
        CHECK((got = brm_webauth_bearer(a, hdr, T0 + 1)) == w);
        CHECK_INT(w->last_used_ms, ==, T0 + 1);
        snprintf(hdr, sizeof(hdr), "bearer   %s  ", text);
        CHECK(brm_webauth_bearer(a, hdr, T0) == w);
        /* One character of the secret changed, cut short, another scheme. */
        snprintf(wrong, sizeof(wrong), "%s", text);
        wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == 'a' ? 'b' : 'a';
        snprintf(hdr, sizeof(hdr), "Bearer %s", wrong);
        CHECK(brm_webauth_bearer(a, hdr, T0) == NULL);
        snprintf(hdr, sizeof(hdr), "Bearer %.*s", (int)strlen(text) - 1, text);
        CHECK(brm_webauth_bearer(a, hdr, T0) == NULL);
        snprintf(hdr, sizeof(hdr), "Basic %s", text);
        CHECK(brm_webauth_bearer(a, hdr, T0) == NULL);
        CHECK(brm_webauth_bearer(a, "", T0) == NULL);
        CHECK(brm_webauth_bearer(a, NULL, T0) == NULL);
        /* Revoked: refused, and stored so. */
        CHECK_INT(brm_webauth_revoke(a, st, w->rec.id), ==, 0);
        snprintf(hdr, sizeof(hdr), "Bearer %s", text);
        CHECK(brm_webauth_bearer(a, hdr, T0) == NULL);
        CHECK_INT(brm_webauth_revoke(a, st, "nosuch"), ==, -ENOENT);
        /* Expired: valid up to its last millisecond only. */
        CHECK_INT(brm_webauth_create(a, st, BRM_WEB_METRICS, T0, 1000, "short", text, &w), ==, 0);
        snprintf(hdr, sizeof(hdr), "Bearer %s", text);
        CHECK(brm_webauth_bearer(a, hdr, T0 + 999) == w);
        CHECK(brm_webauth_bearer(a, hdr, T0 + 1000) == NULL);
}

static void sessions(struct brm_webauth *a, struct brm_store *st)
{
        char text[BRM_API_TOKEN_MAX_LEN], code[BRM_WEB_SECRET_HEX + 1], session[BRM_WEB_SECRET_HEX + 1];
        char cookie[300], first_code[BRM_WEB_SECRET_HEX + 1];
        struct brm_webtoken *viewer, *metrics;
        int64_t until, code_until;

        CHECK_INT(brm_webauth_create(a, st, BRM_WEB_VIEWER, T0, 3600000, "dashboard", text, &viewer), ==, 0);
        CHECK_INT(brm_webauth_create(a, st, BRM_WEB_METRICS, T0, 0, "m", text, &metrics), ==, 0);
        CHECK_INT(brm_webauth_new_code(a, viewer->rec.id, T0, code, &code_until), ==, 0);
        CHECK_INT(code_until, ==, T0 + BRM_WEB_CODE_TTL_MS);
        CHECK_INT(strlen(code), ==, BRM_WEB_SECRET_HEX);
        CHECK_INT(brm_webauth_redeem(a, code, T0 + 10, session, &until), ==, 0);
        CHECK_INT(until, ==, T0 + 3600000); /* the session lasts as long as its token */
        /* Once only. */
        CHECK_INT(brm_webauth_redeem(a, code, T0 + 20, session, &until), ==, -EACCES);
        snprintf(cookie, sizeof(cookie), "theme=dark; bramble_session=%s; other=1", session);
        CHECK(brm_webauth_cookie(a, cookie, T0 + 30) == viewer);
        snprintf(cookie, sizeof(cookie), "bramble_session=%s", session);
        CHECK(brm_webauth_cookie(a, cookie, T0 + 30) == viewer);
        CHECK(brm_webauth_cookie(a, cookie, T0 + 3600000) == NULL); /* the token expired */
        snprintf(cookie, sizeof(cookie), "bramble_session=%.63s", session);
        CHECK(brm_webauth_cookie(a, cookie, T0) == NULL);
        CHECK(brm_webauth_cookie(a, "bramble_session=", T0) == NULL);
        CHECK(brm_webauth_cookie(a, "", T0) == NULL);
        /* Expired code. */
        CHECK_INT(brm_webauth_new_code(a, viewer->rec.id, T0, code, &code_until), ==, 0);
        CHECK_INT(brm_webauth_redeem(a, code, T0 + BRM_WEB_CODE_TTL_MS, session, &until), ==, -EACCES);
        /* A metrics token cannot sign a browser in. */
        CHECK_INT(brm_webauth_new_code(a, metrics->rec.id, T0, code, &code_until), ==, 0);
        CHECK_INT(brm_webauth_redeem(a, code, T0 + 1, session, &until), ==, -EACCES);
        /* A code is worth no more than its token. */
        CHECK_INT(brm_webauth_create(a, st, BRM_WEB_VIEWER, T0, 5000, "short", text, &viewer), ==, 0);
        CHECK_INT(brm_webauth_new_code(a, viewer->rec.id, T0, code, &code_until), ==, 0);
        CHECK_INT(code_until, ==, T0 + 5000);
        CHECK_INT(brm_webauth_redeem(a, code, T0 + 5000, session, &until), ==, -EACCES);
        /* Too many codes: the oldest goes. */
        CHECK_INT(brm_webauth_create(a, st, BRM_WEB_VIEWER, T0, 0, "many", text, &viewer), ==, 0);
        CHECK_INT(brm_webauth_new_code(a, viewer->rec.id, T0, first_code, &code_until), ==, 0);
        for (int i = 0; i < BRM_WEB_MAX_CODES; i++)
                CHECK_INT(brm_webauth_new_code(a, viewer->rec.id, T0, code, &code_until), ==, 0);
        CHECK_INT(a->n_codes, <=, BRM_WEB_MAX_CODES);
        CHECK_INT(brm_webauth_redeem(a, first_code, T0 + 1, session, &until), ==, -EACCES);
        CHECK_INT(brm_webauth_redeem(a, code, T0 + 1, session, &until), ==, 0);
        /* Sessions are bounded; revoking ends every session of the token. */
        for (int i = 0; i < BRM_WEB_MAX_SESSIONS + 10; i++) {
                CHECK_INT(brm_webauth_new_code(a, viewer->rec.id, T0, code, &code_until), ==, 0);
                CHECK_INT(brm_webauth_redeem(a, code, T0 + 1, session, &until), ==, 0);
        }
        CHECK_INT(a->n_sessions, <=, BRM_WEB_MAX_SESSIONS);
        snprintf(cookie, sizeof(cookie), "bramble_session=%s", session);
        CHECK(brm_webauth_cookie(a, cookie, T0 + 2) == viewer);
        CHECK_INT(brm_webauth_revoke(a, st, viewer->rec.id), ==, 0);
        CHECK(brm_webauth_cookie(a, cookie, T0 + 2) == NULL);
        CHECK_INT(a->n_sessions, ==, 0);
        CHECK_INT(brm_webauth_new_code(a, viewer->rec.id, T0, code, &code_until), ==, -ENOENT);
}

static int count(void *arg, const struct brm_api_token_rec *t)
{
        (*(int *)arg)++;
        return 0;
}

int main(void)
{
        char dir[] = "/tmp/brm-webauth-XXXXXX", cmd[64];
        struct brm_store *st;
        struct brm_webauth a, again;
        int n = 0, revoked = 0;

        CHECK(mkdtemp(dir) != NULL);
        CHECK_INT(brm_store_open(&brm_store_sqlite, dir, &st), ==, 0);
        memset(&a, 0, sizeof(a));
        CHECK_INT(brm_webauth_load(&a, st), ==, 0);
        CHECK(a.tokens == NULL);
        bearer(&a, st);
        sessions(&a, st);
        /* What was stored is what a restarted master reads. */
        memset(&again, 0, sizeof(again));
        CHECK_INT(brm_webauth_load(&again, st), ==, 0);
        for (struct brm_webtoken *w = a.tokens; w; w = w->next) {
                struct brm_webtoken *x = brm_webauth_find(&again, w->rec.id);
                CHECK(x != NULL);
                CHECK_STR(w->rec.secret_hash, x->rec.secret_hash);
                CHECK_STR(w->rec.role, x->rec.role);
                CHECK_INT(w->rec.expires_ms, ==, x->rec.expires_ms);
                CHECK_INT(w->rec.revoked, ==, x->rec.revoked);
                revoked += x->rec.revoked;
                n++;
        }
        CHECK_INT(n, ==, 6);
        n = 0;
        CHECK_INT(revoked, ==, 2);
        CHECK(again.codes == NULL && again.sessions == NULL); /* memory only */
        CHECK_INT(brm_store_api_token_list(st, count, &n), ==, 0);
        CHECK_INT(n, ==, 6);
        brm_webauth_free(&a);
        brm_webauth_free(&again);
        brm_store_close(st);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INT(system(cmd), ==, 0);
        printf("webauth: ok\n");
        return 0;
}
