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

/* The verify and snapshot ops (store.h). */
int brm_sq_verify(const char *dir, char *detail, size_t size);
int brm_sq_snapshot(struct brm_store *base, const char *dir);

#endif
