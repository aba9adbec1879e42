/* SQLite store. Every write is one transaction with synchronous=FULL, so a
 * power cut loses nothing that was acknowledged; heartbeat times are
 * batched by the registry instead of written per heartbeat. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_sqlite.h"
#include "util.h"


/* The database and, while it is open or after a crash, its WAL and index. */
static const char *const sq_files[] = { "bramble.db", "bramble.db-wal", "bramble.db-shm", NULL };

#define SCHEMA_VERSION 4

static const char *const migrations[] = {
        /* 1: tokens and nodes */
        "CREATE TABLE tokens ("
        " id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        " expires_ms INTEGER NOT NULL, uses_max INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0,"
        " revoked INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE nodes ("
        " name TEXT PRIMARY KEY, pubkey_hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        " last_seen_ms INTEGER NOT NULL DEFAULT 0, cert_not_after_ms INTEGER NOT NULL DEFAULT 0,"
        " info BLOB, joined_with TEXT);",
        /* 2: desired containers; removing a node removes its containers */
        "CREATE TABLE containers ("
        " node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE, name TEXT NOT NULL,"
        " spec BLOB NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(node, name));",
        /* 3: services (their replicas are containers whose spec names the
         * service); node labels and scheduling */
        "CREATE TABLE services ("
        " name TEXT PRIMARY KEY, spec BLOB NOT NULL, prev BLOB, version INTEGER NOT NULL, prev_version INTEGER NOT NULL,"
        " update_state TEXT NOT NULL DEFAULT '', update_reason TEXT NOT NULL DEFAULT '',"
        " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
        "ALTER TABLE nodes ADD COLUMN labels TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE nodes ADD COLUMN schedule TEXT NOT NULL DEFAULT '';",
        /* 4: API tokens for the HTTPS port (metrics, dashboard) */
        "CREATE TABLE api_tokens ("
        " id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        " expires_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL DEFAULT '');",
};

int brm_sq_err(int rc)
{
        switch (rc) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
        case SQLITE_PERM:
                return -EACCES;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return BRM_STORE_DAMAGED;
        default:
                return -EIO;
        }
}

int brm_sq_fail(int rc)
{
        int r = brm_sq_err(rc);

        return r < 0 ? r : -EIO;
}

int brm_sq_exec(struct sq *s, const char *sql)
{
        return brm_sq_err(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static int migrate(struct sq *s)
{
        sqlite3_stmt *st;
        int version = 0, r;

        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        if (sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (version > SCHEMA_VERSION)
                return -EPROTONOSUPPORT; /* written by a newer master */
        for (int v = version; v < SCHEMA_VERSION; v++) {
                char pragma[64];
                if ((r = brm_sq_exec(s, "BEGIN IMMEDIATE")) < 0)
                        return r;
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", v + 1);
                if ((r = brm_sq_exec(s, migrations[v])) < 0 || (r = brm_sq_exec(s, pragma)) < 0) {
                        brm_sq_exec(s, "ROLLBACK");
                        return r;
                }
                if ((r = brm_sq_exec(s, "COMMIT")) < 0)
                        return r;
        }
        return 0;
}

static void sq_close(struct brm_store *base)
{
        struct sq *s = (struct sq *)base;

        if (!s)
                return;
        sqlite3_close(s->db);
        free(s);
}

static int sq_open(const char *dir, struct brm_store **ret)
{
        extern const struct brm_store_ops brm_store_sqlite;
        char path[4096];
        struct sq *s;
        int r;

        if (brm_path(path, sizeof(path), "%s/bramble.db", dir) < 0)
                return -ENAMETOOLONG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->base.ops = &brm_store_sqlite;
        snprintf(s->path, sizeof(s->path), "%s", path);
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK) {
                r = brm_sq_fail(sqlite3_errcode(s->db));
                goto fail;
        }
        sqlite3_busy_timeout(s->db, 5000);
        if ((r = brm_sq_exec(s, "PRAGMA journal_mode=WAL")) < 0 || (r = brm_sq_exec(s, "PRAGMA synchronous=FULL")) < 0 ||
            (r = brm_sq_exec(s, "PRAGMA foreign_keys=ON")) < 0)
                goto fail;
        if ((r = migrate(s)) < 0)
                goto fail;
        *ret = &s->base;
        return 0;
fail:
        sq_close(&s->base);
        return r;
}

int brm_sq_prepare(struct sq *s, const char *sql, sqlite3_stmt **st)
{
        int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

        return rc == SQLITE_OK ? 0 : brm_sq_fail(rc);
}

void brm_sq_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
        const unsigned char *t = sqlite3_column_text(st, col);
        snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int sq_token_add(struct brm_store *base, const struct brm_token_rec *t)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s,
                         "INSERT INTO tokens(id,secret_hash,created_ms,expires_ms,uses_max,uses,revoked,description)"
                         " VALUES(?,?,?,?,?,0,0,?)",
                         &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->secret_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, t->created_ms);
        sqlite3_bind_int64(st, 4, t->expires_ms);
        sqlite3_bind_int64(st, 5, t->uses_max);
        sqlite3_bind_text(st, 6, t->description, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        return r;
}

static void row_token(sqlite3_stmt *st, struct brm_token_rec *t)
{
        memset(t, 0, sizeof(*t));
        brm_sq_text(t->id, sizeof(t->id), st, 0);
        brm_sq_text(t->secret_hash, sizeof(t->secret_hash), st, 1);
        t->created_ms = sqlite3_column_int64(st, 2);
        t->expires_ms = sqlite3_column_int64(st, 3);
        t->uses_max = (uint32_t)sqlite3_column_int64(st, 4);
        t->uses = (uint32_t)sqlite3_column_int64(st, 5);
        t->revoked = sqlite3_column_int(st, 6) != 0;
        brm_sq_text(t->description, sizeof(t->description), st, 7);
}

static int sq_token_list(struct brm_store *base, int (*cb)(void *, const struct brm_token_rec *), void *arg)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s,
                         "SELECT id,secret_hash,created_ms,expires_ms,uses_max,uses,revoked,description"
                         " FROM tokens ORDER BY created_ms",
                         &st)) < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct brm_token_rec t;
                row_token(st, &t);
                if ((r = cb(arg, &t)) < 0)
                        break;
        }
        if (r >= 0)
                r = brm_sq_err(rc);
        sqlite3_finalize(st);
        return r;
}

int brm_sq_by_key(struct sq *s, const char *sql, const char *key)
{
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s, sql, &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        if (r == 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return r;
}

static int sq_token_revoke(struct brm_store *base, const char *id)
{
        return brm_sq_by_key((struct sq *)base, "UPDATE tokens SET revoked=1 WHERE id=?", id);
}

static void row_node(sqlite3_stmt *st, struct brm_node_rec *n)
{
        const void *blob;
        int len;

        memset(n, 0, sizeof(*n));
        brm_sq_text(n->name, sizeof(n->name), st, 0);
        brm_sq_text(n->pubkey_hash, sizeof(n->pubkey_hash), st, 1);
        n->created_ms = sqlite3_column_int64(st, 2);
        n->last_seen_ms = sqlite3_column_int64(st, 3);
        n->cert_not_after_ms = sqlite3_column_int64(st, 4);
        blob = sqlite3_column_blob(st, 5);
        len = sqlite3_column_bytes(st, 5);
        if (blob && len > 0 && (size_t)len <= sizeof(n->info)) {
                memcpy(n->info, blob, (size_t)len);
                n->info_len = (size_t)len;
        }
        brm_sq_text(n->labels, sizeof(n->labels), st, 6);
        brm_sq_text(n->schedule, sizeof(n->schedule), st, 7);
}

#define NODE_COLS "name,pubkey_hash,created_ms,last_seen_ms,cert_not_after_ms,info,labels,schedule"

static int node_get(struct sq *s, const char *name, struct brm_node_rec *ret)
{
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s, "SELECT " NODE_COLS " FROM nodes WHERE name=?", &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                row_node(st, ret);
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : brm_sq_err(rc);
        sqlite3_finalize(st);
        return r;
}

static int sq_node_get(struct brm_store *base, const char *name, struct brm_node_rec *ret)
{
        return node_get((struct sq *)base, name, ret);
}

static int join_txn(struct sq *s, const char *token_id, const char *secret_hash, int64_t now_ms,
                    const struct brm_node_rec *node)
{
        struct brm_token_rec t;
        struct brm_node_rec old;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s,
                         "SELECT id,secret_hash,created_ms,expires_ms,uses_max,uses,revoked,description"
                         " FROM tokens WHERE id=?",
                         &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, token_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                row_token(st, &t);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
                return rc == SQLITE_DONE ? BRM_JOIN_NO_TOKEN : brm_sq_err(rc);
        if (brm_memeq_ct(t.secret_hash, secret_hash, 64) != 0)
                return BRM_JOIN_NO_TOKEN;
        if (t.revoked)
                return BRM_JOIN_REVOKED;
        if (t.expires_ms && now_ms >= t.expires_ms)
                return BRM_JOIN_EXPIRED;
        if (t.uses_max && t.uses >= t.uses_max)
                return BRM_JOIN_USED_UP;
        r = node_get(s, node->name, &old);
        if (r == 0 && strcmp(old.pubkey_hash, node->pubkey_hash) != 0)
                return BRM_JOIN_NAME_TAKEN;
        if (r < 0 && r != -ENOENT)
                return r;
        if ((r = brm_sq_prepare(s, "UPDATE tokens SET uses=uses+1 WHERE id=?", &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, token_id, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        if ((r = brm_sq_prepare(s,
                         "INSERT INTO nodes(name,pubkey_hash,created_ms,last_seen_ms,cert_not_after_ms,joined_with)"
                         " VALUES(?1,?2,?3,?3,?4,?5) ON CONFLICT(name) DO UPDATE SET"
                         " cert_not_after_ms=excluded.cert_not_after_ms, joined_with=excluded.joined_with",
                         &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, node->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, node->pubkey_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, node->created_ms);
        sqlite3_bind_int64(st, 4, node->cert_not_after_ms);
        sqlite3_bind_text(st, 5, token_id, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        return r;
}

static int sq_join(struct brm_store *base, const char *token_id, const char *secret_hash, int64_t now_ms,
                   const struct brm_node_rec *node)
{
        struct sq *s = (struct sq *)base;
        int r;

        if ((r = brm_sq_exec(s, "BEGIN IMMEDIATE")) < 0)
                return r;
        r = join_txn(s, token_id, secret_hash, now_ms, node);
        if (r == 0) {
                int c = brm_sq_exec(s, "COMMIT");
                if (c < 0) {
                        brm_sq_exec(s, "ROLLBACK");
                        return c;
                }
                return r;
        }
        brm_sq_exec(s, "ROLLBACK");
        return r;
}

static int sq_node_list(struct brm_store *base, int (*cb)(void *, const struct brm_node_rec *), void *arg)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s, "SELECT " NODE_COLS " FROM nodes ORDER BY name", &st)) < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct brm_node_rec n;
                row_node(st, &n);
                if ((r = cb(arg, &n)) < 0)
                        break;
        }
        if (r >= 0)
                r = brm_sq_err(rc);
        sqlite3_finalize(st);
        return r;
}

static int update_one(struct sq *s, const char *sql, const char *name, const void *blob, size_t len, int64_t v)
{
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s, sql, &st)) < 0)
                return r;
        if (blob)
                sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_STATIC);
        else
                sqlite3_bind_int64(st, 1, v);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        if (r == 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return r;
}

static int sq_node_remove(struct brm_store *base, const char *name)
{
        return brm_sq_by_key((struct sq *)base, "DELETE FROM nodes WHERE name=?", name);
}

static int sq_node_set_info(struct brm_store *base, const char *name, const uint8_t *info, size_t len)
{
        return update_one((struct sq *)base, "UPDATE nodes SET info=?1 WHERE name=?2", name, info ? info : (const uint8_t *)"", len, 0);
}

static int sq_node_set_cert(struct brm_store *base, const char *name, int64_t not_after_ms)
{
        return update_one((struct sq *)base, "UPDATE nodes SET cert_not_after_ms=?1 WHERE name=?2", name, NULL, 0,
                          not_after_ms);
}

static int sq_node_touch(struct brm_store *base, const char *const *names, const int64_t *seen_ms, size_t n)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r;

        if (n == 0)
                return 0;
        if ((r = brm_sq_exec(s, "BEGIN")) < 0)
                return r;
        if ((r = brm_sq_prepare(s, "UPDATE nodes SET last_seen_ms=?1 WHERE name=?2", &st)) < 0) {
                brm_sq_exec(s, "ROLLBACK");
                return r;
        }
        for (size_t i = 0; i < n && r == 0; i++) {
                sqlite3_bind_int64(st, 1, seen_ms[i]);
                sqlite3_bind_text(st, 2, names[i], -1, SQLITE_STATIC);
                r = brm_sq_err(sqlite3_step(st));
                sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        if (r < 0) {
                brm_sq_exec(s, "ROLLBACK");
                return r;
        }
        return brm_sq_exec(s, "COMMIT");
}

static int sq_container_add(struct brm_store *base, const char *node, const char *name, const uint8_t *spec, size_t len)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s, "INSERT INTO containers(node,name,spec,created_ms) VALUES(?,?,?,?)", &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, spec, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, brm_now_ms());
        rc = sqlite3_step(st);
        /* The primary key says "taken", the foreign key says "no such node". */
        if (rc == SQLITE_CONSTRAINT)
                r = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : -EEXIST;
        else
                r = brm_sq_err(rc);
        sqlite3_finalize(st);
        return r;
}

static int sq_container_update(struct brm_store *base, const char *node, const char *name, const uint8_t *spec,
                               size_t len)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s, "UPDATE containers SET spec=? WHERE node=? AND name=?", &st)) < 0)
                return r;
        sqlite3_bind_blob(st, 1, spec, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        if (r == 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return r;
}

static int sq_container_remove(struct brm_store *base, const char *node, const char *name)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s, "DELETE FROM containers WHERE node=? AND name=?", &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        if (r == 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return r;
}

static int sq_container_get(struct brm_store *base, const char *node, const char *name, uint8_t **ret_spec,
                            size_t *ret_len)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s, "SELECT spec FROM containers WHERE node=? AND name=?", &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const void *blob = sqlite3_column_blob(st, 0);
                int len = sqlite3_column_bytes(st, 0);
                uint8_t *copy = malloc(len > 0 ? (size_t)len : 1);
                if (!copy) {
                        r = -ENOMEM;
                } else {
                        if (len > 0)
                                memcpy(copy, blob, (size_t)len);
                        *ret_spec = copy;
                        *ret_len = len > 0 ? (size_t)len : 0;
                        r = 0;
                }
        } else {
                r = rc == SQLITE_DONE ? -ENOENT : brm_sq_err(rc);
        }
        sqlite3_finalize(st);
        return r;
}

static int sq_container_list(struct brm_store *base, const char *node,
                             int (*cb)(void *, const char *, const uint8_t *, size_t), void *arg)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s,
                         node ? "SELECT node,spec FROM containers WHERE node=? ORDER BY name"
                              : "SELECT node,spec FROM containers ORDER BY node,name",
                         &st)) < 0)
                return r;
        if (node)
                sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const uint8_t *blob = sqlite3_column_blob(st, 1);
                int len = sqlite3_column_bytes(st, 1);
                if ((r = cb(arg, (const char *)sqlite3_column_text(st, 0), blob ? blob : (const uint8_t *)"",
                            (size_t)(len > 0 ? len : 0))) < 0)
                        break;
        }
        if (r >= 0)
                r = brm_sq_err(rc);
        sqlite3_finalize(st);
        return r;
}

const struct brm_store_ops brm_store_sqlite = {
        .name = "sqlite",
        .files = sq_files,
        .verify = brm_sq_verify,
        .open = sq_open,
        .snapshot = brm_sq_snapshot,
        .close = sq_close,
        .token_add = sq_token_add,
        .token_list = sq_token_list,
        .token_revoke = sq_token_revoke,
        .join = sq_join,
        .node_get = sq_node_get,
        .node_list = sq_node_list,
        .node_remove = sq_node_remove,
        .node_set_info = sq_node_set_info,
        .node_set_cert = sq_node_set_cert,
        .node_touch = sq_node_touch,
        .container_add = sq_container_add,
        .container_update = sq_container_update,
        .container_remove = sq_container_remove,
        .container_get = sq_container_get,
        .container_list = sq_container_list,
        .node_set_labels = brm_sq_node_set_labels,
        .node_set_schedule = brm_sq_node_set_schedule,
        .service_put = brm_sq_service_put,
        .service_list = brm_sq_service_list,
        .service_remove = brm_sq_service_remove,
        .api_token_add = brm_sq_api_token_add,
        .api_token_list = brm_sq_api_token_list,
        .api_token_revoke = brm_sq_api_token_revoke,
};
