/* Shared by the SQLite store's files: store_sqlite.c (open, migrations,
 * queries) and store_sqlite_check.c (integrity check, snapshot). */
#ifndef BRM_STORE_SQLITE_H
#define BRM_STORE_SQLITE_H

#include <stddef.h>

#include <sqlite3.h>

#include "store.h"

struct sq {
        struct brm_store base;
        sqlite3 *db;
        char path[4096];
};

/* An SQLite result code as 0 or a negative errno (BRM_STORE_DAMAGED for
 * corrupt data); brm_sq_fail is for a call that failed: never 0. */
int brm_sq_err(int rc);
int brm_sq_fail(int rc);

/* sqlite3_prepare_v2 and sqlite3_exec as 0 or -errno; a text column
 * copied (NULL as ""). */
int brm_sq_prepare(struct sq *s, const char *sql, sqlite3_stmt **st);
int brm_sq_exec(struct sq *s, const char *sql);
void brm_sq_text(char *dst, size_t size, sqlite3_stmt *st, int col);
/* Runs SQL with KEY bound to its one parameter: 0, -ENOENT when it
 * changed no row, or -errno. */
int brm_sq_by_key(struct sq *s, const char *sql, const char *key);

/* The node-scheduling and service ops (store_sqlite_svc.c). */
int brm_sq_node_set_labels(struct brm_store *base, const char *name, const char *labels);
int brm_sq_node_set_schedule(struct brm_store *base, const char *name, const char *schedule);
int brm_sq_service_put(struct brm_store *base, const struct brm_service_rec *rec);
int brm_sq_service_list(struct brm_store *base, int (*cb)(void *arg, const struct brm_service_rec *rec), void *arg);
int brm_sq_service_remove(struct brm_store *base, const char *name);

/* The API-token ops (store_sqlite_api.c). */
int brm_sq_api_token_add(struct brm_store *base, const struct brm_api_token_rec *t);
int brm_sq_api_token_list(struct brm_store *base, int (*cb)(void *arg, const struct brm_api_token_rec *t), void *arg);
int brm_sq_api_token_revoke(struct brm_store *base, const char *id);

/* The verify and snapshot ops (store.h). */
int brm_sq_verify(const char *dir, char *detail, size_t size);
int brm_sq_snapshot(struct brm_store *base, const char *dir);

#endif
