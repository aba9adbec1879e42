#include "restore.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "datadir.h"
#include "err.h"
#include "fileio.h"
#include "util.h"

#define STAGE ".restore-tmp"

/* One file of the state: its name in the data dir and its mode. */
struct item {
        const char *name;
        mode_t mode;
};

/* The store's files, then the CA's. */
static size_t items(const struct brm_store_ops *ops, struct item *out, size_t max)
{
        size_t n = 0;

        for (const char *const *f = ops->files; *f && n < max; f++)
                out[n++] = (struct item){ *f, 0600 };
        for (const struct brm_ca_file *f = brm_ca_files; f->name && n < max; f++)
                out[n++] = (struct item){ f->name, f->mode };
        return n;
}

static bool exists(const char *dir, const char *name)
{
        char path[4096];

        return brm_path(path, sizeof(path), "%s/%s", dir, name) >= 0 && access(path, F_OK) == 0;
}

static int refuse(const char *snapshot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const char *snapshot, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "bramble-master: --restore %s: ", snapshot);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("; nothing was changed\n", stderr);
        return 1;
}

/* Checks the snapshot in src without changing it. */
static int check_snapshot(const struct brm_store_ops *ops, const char *arg, const char *src)
{
        char detail[600];
        int r;

        r = brm_store_verify(ops, src, detail, sizeof(detail));
        if (r == -ENOENT)
                return refuse(arg, "%s holds no bramble.db: not a snapshot", src);
        if (r == BRM_STORE_DAMAGED)
                return refuse(arg, "the snapshot's database %s/bramble.db is damaged too (quick_check: %s): "
                              "choose an older snapshot", src, detail);
        if (r == -ENODATA)
                return refuse(arg, "the snapshot's database %s/bramble.db is empty (%s)", src, detail);
        if (r < 0)
                return refuse(arg, "cannot read the snapshot's database %s/bramble.db: %s", src, detail);
        if ((r = brm_ca_check(src, detail, sizeof(detail))) < 0)
                return refuse(arg, "the snapshot's CA is unusable: %s: choose another snapshot", detail);
        return 0;
}

/* Copies the snapshot's files into a fresh stage dir in the data dir, so
 * that the data dir's files are later replaced by renames on one file
 * system. */
static int stage(const struct brm_store_ops *ops, const char *arg, const char *src, const char *stage_dir)
{
        struct item it[16];
        size_t n = items(ops, it, 16);
        char from[4096], to[4096], detail[600];
        int r;

        if ((r = brm_rmdir_flat(stage_dir)) < 0 && r != -ENOENT)
                return refuse(arg, "cannot remove the leftover %s: %s", stage_dir, strerror(-r));
        if (mkdir(stage_dir, 0700) < 0)
                return refuse(arg, "cannot create %s: %s", stage_dir, strerror(errno));
        for (size_t i = 0; i < n; i++) {
                if (!exists(src, it[i].name))
                        continue;
                if (brm_path(from, sizeof(from), "%s/%s", src, it[i].name) < 0 ||
                    brm_path(to, sizeof(to), "%s/%s", stage_dir, it[i].name) < 0) {
                        r = -ENAMETOOLONG;
                        goto fail;
                }
                if ((r = brm_file_copy(from, to, it[i].mode)) < 0) {
                        brm_rmdir_flat(stage_dir);
                        return refuse(arg, "copying %s to %s: %s", from, to, strerror(-r));
                }
        }
        /* What is installed is the copy: check it, not only the original. */
        if ((r = brm_store_verify(ops, stage_dir, detail, sizeof(detail))) < 0) {
                brm_rmdir_flat(stage_dir);
                return refuse(arg, "the copy of the database in %s does not check out: %s", stage_dir, detail);
        }
        if ((r = brm_fsync_dir(stage_dir)) < 0)
                goto fail;
        return 0;
fail:
        brm_rmdir_flat(stage_dir);
        return refuse(arg, "staging in %s: %s", stage_dir, strerror(-r));
}

/* A directory name for the replaced state that no earlier restore used. */
static int aside_dir(const char *data_dir, char *buf, size_t size)
{
        char name[BRM_SNAPSHOT_NAME_LEN + 1];

        brm_snapshot_name(time(NULL), name);
        for (int i = 0; i < 100; i++) {
                if ((i ? brm_path(buf, size, "%s/before-restore-%s-%d", data_dir, name, i)
                       : brm_path(buf, size, "%s/before-restore-%s", data_dir, name)) < 0)
                        return -ENAMETOOLONG;
                if (access(buf, F_OK) < 0 && errno == ENOENT)
                        return 0;
        }
        return -EEXIST;
}

static int move(const char *from_dir, const char *to_dir, const char *name)
{
        char from[4096], to[4096];

        if (brm_path(from, sizeof(from), "%s/%s", from_dir, name) < 0 ||
            brm_path(to, sizeof(to), "%s/%s", to_dir, name) < 0)
                return -ENAMETOOLONG;
        return rename(from, to) < 0 ? -errno : 0;
}

int brm_restore(const struct brm_store_ops *ops, const char *data_dir, const char *snapshot)
{
        char src[PATH_MAX], real_data[PATH_MAX], stage_dir[4096], marker[4096], aside[4096], moved[512] = "",
             installed[512] = "", text[PATH_MAX + 2], named[4096];
        struct item it[16];
        size_t n = items(ops, it, 16);
        struct stat st;
        int r;

        /* A bare name means one of this data dir's snapshots. */
        if (stat(snapshot, &st) < 0 && errno == ENOENT && !strchr(snapshot, '/') &&
            brm_path(named, sizeof(named), "%s/" BRM_SNAPSHOT_DIR "/%s", data_dir, snapshot) >= 0 &&
            stat(named, &st) == 0)
                snapshot = named;
        if (stat(snapshot, &st) < 0)
                return refuse(snapshot, "%s: expected a snapshot directory such as %s/" BRM_SNAPSHOT_DIR "/<newest>",
                              strerror(errno), data_dir);
        if (!S_ISDIR(st.st_mode))
                return refuse(snapshot, "not a directory: expected a snapshot directory such as %s/" BRM_SNAPSHOT_DIR
                              "/<newest>", data_dir);
        if (!realpath(snapshot, src) || !realpath(data_dir, real_data))
                return refuse(snapshot, "cannot resolve the path: %s", strerror(errno));
        if (strcmp(src, real_data) == 0)
                return refuse(snapshot, "that is the data dir itself, not a snapshot");
        if (check_snapshot(ops, snapshot, src) != 0)
                return 1;
        if (brm_path(stage_dir, sizeof(stage_dir), "%s/" STAGE, data_dir) < 0 ||
            brm_path(marker, sizeof(marker), "%s/" BRM_RESTORE_MARKER, data_dir) < 0)
                return refuse(snapshot, "data dir path too long");
        if (stage(ops, snapshot, src, stage_dir) != 0)
                return 1;

        /* From here on the data dir changes. The marker keeps a master from
         * starting on a half-restored data dir after a crash; running the
         * same --restore again completes it. */
        snprintf(text, sizeof(text), "%s\n", src);
        if ((r = brm_file_write_atomic(marker, text, strlen(text), 0600)) < 0) {
                brm_rmdir_flat(stage_dir);
                return refuse(snapshot, "cannot write %s: %s", marker, strerror(-r));
        }
        if ((r = aside_dir(data_dir, aside, sizeof(aside))) < 0) {
                fprintf(stderr, "bramble-master: --restore %s: no name for the replaced state: %s\n", snapshot,
                        strerror(-r));
                goto failed;
        }
        /* Everything goes aside first, also files the snapshot lacks (an old
         * WAL must never be replayed onto the restored database). */
        for (size_t i = 0; i < n; i++) {
                if (!exists(data_dir, it[i].name))
                        continue;
                if (!moved[0] && mkdir(aside, 0700) < 0) {
                        r = -errno;
                        fprintf(stderr, "bramble-master: --restore %s: cannot create %s: %s\n", snapshot, aside,
                                strerror(errno));
                        goto failed;
                }
                if ((r = move(data_dir, aside, it[i].name)) < 0) {
                        fprintf(stderr, "bramble-master: --restore %s: moving %s/%s to %s: %s\n", snapshot, data_dir,
                                it[i].name, aside, strerror(-r));
                        goto failed;
                }
                snprintf(moved + strlen(moved), sizeof(moved) - strlen(moved), "%s%s", moved[0] ? ", " : "",
                         it[i].name);
        }
        if (moved[0] && (r = brm_fsync_dir(aside)) < 0)
                goto failed;
        for (size_t i = 0; i < n; i++) {
                if (!exists(stage_dir, it[i].name))
                        continue;
                if ((r = move(stage_dir, data_dir, it[i].name)) < 0) {
                        fprintf(stderr, "bramble-master: --restore %s: moving %s/%s into %s: %s\n", snapshot,
                                stage_dir, it[i].name, data_dir, strerror(-r));
                        goto failed;
                }
                snprintf(installed + strlen(installed), sizeof(installed) - strlen(installed), "%s%s",
                         installed[0] ? ", " : "", it[i].name);
        }
        if ((r = brm_fsync_dir(data_dir)) < 0 || rmdir(stage_dir) < 0 || unlink(marker) < 0 ||
            (r = brm_fsync_dir(data_dir)) < 0) {
                fprintf(stderr, "bramble-master: --restore %s: finishing in %s: %s\n", snapshot, data_dir,
                        strerror(r < 0 ? -r : errno));
                goto failed;
        }
        printf("bramble-master: restored %s from the snapshot %s (%s)\n", data_dir, src, installed);
        if (moved[0])
                printf("  the state it replaced is kept in %s (%s)\n", aside, moved);
        printf("  start the master as before: bramble-master --data-dir %s ...\n", data_dir);
        return 0;
failed:
        fprintf(stderr, "bramble-master: the restore into %s is incomplete; the master will not start until "
                "'bramble-master --data-dir %s --restore %s' completes it%s%s\n", data_dir, data_dir, src,
                moved[0] ? "; the replaced files are in " : "", moved[0] ? aside : "");
        return 1;
}
