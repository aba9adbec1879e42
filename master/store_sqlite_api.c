/* The SQLite store's API tokens (the HTTPS port's metrics and dashboard
 * access): single-statement writes, each its own transaction. */
#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store_sqlite.h"

int brm_sq_api_token_add(struct brm_store *base, const struct brm_api_token_rec *t)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s,
                                "INSERT INTO api_tokens(id,secret_hash,role,created_ms,expires_ms,revoked,description)"
                                " VALUES(?,?,?,?,?,?,?)",
                                &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->secret_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, t->role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, t->created_ms);
        sqlite3_bind_int64(st, 5, t->expires_ms);
        sqlite3_bind_int(st, 6, t->revoked);
        sqlite3_bind_text(st, 7, t->description, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        return r;
}

int brm_sq_api_token_list(struct brm_store *base, int (*cb)(void *arg, const struct brm_api_token_rec *t), void *arg)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s,
                                "SELECT id,secret_hash,role,created_ms,expires_ms,revoked,description"
                                " FROM api_tokens ORDER BY created_ms, id",
                                &st)) < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct brm_api_token_rec t;
                memset(&t, 0, sizeof(t));
                brm_sq_text(t.id, sizeof(t.id), st, 0);
                brm_sq_text(t.secret_hash, sizeof(t.secret_hash), st, 1);
                brm_sq_text(t.role, sizeof(t.role), st, 2);
                t.created_ms = sqlite3_column_int64(st, 3);
                t.expires_ms = sqlite3_column_int64(st, 4);
                t.revoked = sqlite3_column_int(st, 5) != 0;
                brm_sq_text(t.description, sizeof(t.description), st, 6);
                if ((r = cb(arg, &t)) < 0)
                        break;
        }
        if (r >= 0)
                r = brm_sq_err(rc);
        sqlite3_finalize(st);
        return r;
}

int brm_sq_api_token_revoke(struct brm_store *base, const char *id)
{
        return brm_sq_by_key((struct sq *)base, "UPDATE api_tokens SET revoked=1 WHERE id=?", id);
}
