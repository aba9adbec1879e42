/* The SQLite store's integrity check and snapshot (store.h's verify and
 * snapshot ops): read-only work on connections of their own, apart from
 * the store's queries in store_sqlite.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_sqlite.h"
#include "util.h"

/* Sets detail to "what: SQLite's message". */
static void say(char *detail, size_t size, const char *what, sqlite3 *db)
{
        snprintf(detail, size, "%s%s%s", what, *what ? ": " : "", db ? sqlite3_errmsg(db) : "out of memory");
}

static int quick_check(sqlite3 *db, char *detail, size_t size)
{
        sqlite3_stmt *st;
        char first[256] = "";
        int rc, rows = 0;

        if ((rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL)) != SQLITE_OK) {
                say(detail, size, "", db);
                return brm_sq_fail(rc);
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(st, 0);
                if (rows++ == 0)
                        snprintf(first, sizeof(first), "%s", t ? (const char *)t : "");
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                say(detail, size, "", db);
                return brm_sq_fail(rc);
        }
        if (rows == 1 && strcmp(first, "ok") == 0)
                return 0;
        if (rows > 1)
                snprintf(detail, size, "%s (and %d more problems)", first, rows - 1);
        else
                snprintf(detail, size, "%s", rows ? first : "no answer");
        return BRM_STORE_DAMAGED;
}

int brm_sq_verify(const char *dir, char *detail, size_t size)
{
        char path[4096];
        struct stat stb;
        sqlite3 *db = NULL;
        sqlite3_stmt *st;
        int rc, r;

        snprintf(detail, size, "%s", "");
        if (brm_path(path, sizeof(path), "%s/bramble.db", dir) < 0)
                return -ENAMETOOLONG;
        if (stat(path, &stb) < 0) {
                r = -errno;
                snprintf(detail, size, "%s", strerror(errno));
                return r;
        }
        if (!S_ISREG(stb.st_mode)) {
                snprintf(detail, size, "not a regular file");
                return -EINVAL;
        }
        if (stb.st_size == 0) {
                snprintf(detail, size, "empty (0 bytes)");
                return -ENODATA;
        }
        /* Read-write without create, so that a WAL left by a crash can be
         * read; nothing is written (no checkpoint at close either). */
        rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                say(detail, size, "cannot open", db);
                r = brm_sq_fail(rc);
                goto out;
        }
        sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_busy_timeout(db, 5000);
        if ((r = quick_check(db, detail, size)) < 0)
                goto out;
        /* Sound, but is there anything in it? */
        if ((rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL)) != SQLITE_OK) {
                say(detail, size, "", db);
                r = brm_sq_fail(rc);
                goto out;
        }
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 0) {
                snprintf(detail, size, "no tables");
                r = -ENODATA;
        } else if (rc != SQLITE_ROW) {
                say(detail, size, "", db);
                r = brm_sq_fail(rc);
        }
        sqlite3_finalize(st);
out:
        sqlite3_close(db);
        return r;
}

int brm_sq_snapshot(struct brm_store *base, const char *dir)
{
        struct sq *s = (struct sq *)base;
        char dest[4096];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int fd, rc, r;

        if (brm_path(dest, sizeof(dest), "%s/bramble.db", dir) < 0)
                return -ENAMETOOLONG;
        /* A connection of its own: the snapshot may run on another thread,
         * and its read transaction (WAL) does not block the store's writes.
         * VACUUM INTO writes a compact copy in rollback-journal mode, so the
         * snapshot is one file. */
        rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_busy_timeout(db, 5000);
                rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
        }
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
                rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        if (rc != SQLITE_DONE && rc != SQLITE_OK)
                return brm_sq_fail(rc);
        /* VACUUM INTO does not sync its output. */
        if ((fd = open(dest, O_RDONLY | O_CLOEXEC)) < 0)
                return -errno;
        r = fchmod(fd, 0600) < 0 || fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}
