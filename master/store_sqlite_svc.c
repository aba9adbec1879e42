/* The SQLite store's services and node scheduling (labels, cordon and
 * drain): single-statement writes, each its own transaction. */
#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store_sqlite.h"

static int set_node_text(struct sq *s, const char *sql, const char *name, const char *v)
{
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s, sql, &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, v ? v : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        if (r == 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return r;
}

int brm_sq_node_set_labels(struct brm_store *base, const char *name, const char *labels)
{
        if (labels && strlen(labels) >= sizeof(((struct brm_node_rec *)0)->labels))
                return -E2BIG;
        return set_node_text((struct sq *)base, "UPDATE nodes SET labels=?1 WHERE name=?2", name, labels);
}

int brm_sq_node_set_schedule(struct brm_store *base, const char *name, const char *schedule)
{
        return set_node_text((struct sq *)base, "UPDATE nodes SET schedule=?1 WHERE name=?2", name, schedule);
}

int brm_sq_service_put(struct brm_store *base, const struct brm_service_rec *rec)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r;

        if ((r = brm_sq_prepare(s,
                                "INSERT OR REPLACE INTO services(name,spec,prev,version,update_state,update_reason,"
                                "created_ms,updated_ms,prev_version) VALUES(?,?,?,?,?,?,?,?,?)",
                                &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, rec->name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, rec->spec ? (const void *)rec->spec : "", (int)rec->spec_len, SQLITE_STATIC);
        if (rec->prev)
                sqlite3_bind_blob(st, 3, rec->prev, (int)rec->prev_len, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 3);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)rec->version);
        sqlite3_bind_text(st, 5, rec->update_state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, rec->update_reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, rec->created_ms);
        sqlite3_bind_int64(st, 8, rec->updated_ms);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)rec->prev_version);
        r = brm_sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
        return r;
}

int brm_sq_service_list(struct brm_store *base, int (*cb)(void *arg, const struct brm_service_rec *rec), void *arg)
{
        struct sq *s = (struct sq *)base;
        sqlite3_stmt *st;
        int r, rc;

        if ((r = brm_sq_prepare(s,
                                "SELECT name,spec,prev,version,update_state,update_reason,created_ms,updated_ms,prev_version"
                                " FROM services ORDER BY name",
                                &st)) < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct brm_service_rec rec;
                memset(&rec, 0, sizeof(rec));
                brm_sq_text(rec.name, sizeof(rec.name), st, 0);
                rec.spec = sqlite3_column_blob(st, 1);
                rec.spec_len = (size_t)sqlite3_column_bytes(st, 1);
                rec.prev = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : sqlite3_column_blob(st, 2);
                rec.prev_len = rec.prev ? (size_t)sqlite3_column_bytes(st, 2) : 0;
                rec.version = (uint64_t)sqlite3_column_int64(st, 3);
                brm_sq_text(rec.update_state, sizeof(rec.update_state), st, 4);
                brm_sq_text(rec.update_reason, sizeof(rec.update_reason), st, 5);
                rec.created_ms = sqlite3_column_int64(st, 6);
                rec.updated_ms = sqlite3_column_int64(st, 7);
                rec.prev_version = (uint64_t)sqlite3_column_int64(st, 8);
                if ((r = cb(arg, &rec)) < 0)
                        break;
        }
        if (r >= 0)
                r = brm_sq_err(rc);
        sqlite3_finalize(st);
        return r;
}

int brm_sq_service_remove(struct brm_store *base, const char *name)
{
        return brm_sq_by_key((struct sq *)base, "DELETE FROM services WHERE name=?", name);
}
