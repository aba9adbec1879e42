#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ca.h"
#include "err.h"
#include "fileio.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define MOD "snapshot"

int brm_snapshot_prune(const char *data_dir, unsigned keep)
{
        char **names, path[4096];
        size_t n;
        int r, removed = 0;

        if ((r = brm_snapshot_list(data_dir, &names, &n)) < 0)
                return r;
        for (size_t i = 0; i + keep < n; i++) {
                if (brm_path(path, sizeof(path), "%s/" BRM_SNAPSHOT_DIR "/%s", data_dir, names[i]) < 0) {
                        r = -ENAMETOOLONG;
                        break;
                }
                if ((r = brm_rmdir_flat(path)) < 0)
                        break;
                removed++;
        }
        brm_snapshot_list_free(names, n);
        return r < 0 ? r : removed;
}

void brm_snapshot_cleanup(const char *data_dir)
{
        char dir[4096], path[4096];
        struct dirent *de;
        DIR *d;

        if (brm_path(dir, sizeof(dir), "%s/" BRM_SNAPSHOT_DIR, data_dir) < 0 || !(d = opendir(dir)))
                return;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, ".tmp-", 5) != 0 ||
                    brm_path(path, sizeof(path), "%s/%s", dir, de->d_name) < 0)
                        continue;
                if (brm_rmdir_flat(path) == 0)
                        brm_info(MOD, "removed %s, an incomplete snapshot of an earlier run", path);
        }
        closedir(d);
}

/* Copies the CA files present in data_dir into dir. */
static int copy_ca(const char *data_dir, const char *dir, char *detail, size_t size)
{
        char src[4096], dst[4096];
        int r;

        for (const struct brm_ca_file *f = brm_ca_files; f->name; f++) {
                if (brm_path(src, sizeof(src), "%s/%s", data_dir, f->name) < 0 ||
                    brm_path(dst, sizeof(dst), "%s/%s", dir, f->name) < 0)
                        return -ENAMETOOLONG;
                r = brm_file_copy(src, dst, f->mode);
                if (r == -ENOENT && !f->required)
                        continue;
                if (r < 0) {
                        snprintf(detail, size, "copying %s: %s", src, strerror(-r));
                        return r;
                }
        }
        return 0;
}

int brm_snapshot_take(struct brm_store *store, const char *data_dir, unsigned keep,
                      char ret_name[BRM_SNAPSHOT_NAME_LEN + 1], char *detail, size_t size)
{
        char top[4096], tmp[4096], final[4096], name[BRM_SNAPSHOT_NAME_LEN + 1];
        int r;

        snprintf(detail, size, "%s", "");
        brm_snapshot_name(time(NULL), name);
        if (brm_path(top, sizeof(top), "%s/" BRM_SNAPSHOT_DIR, data_dir) < 0 ||
            brm_path(tmp, sizeof(tmp), "%s/.tmp-%s", top, name) < 0 ||
            brm_path(final, sizeof(final), "%s/%s", top, name) < 0) {
                snprintf(detail, size, "path too long under %s", data_dir);
                return -ENAMETOOLONG;
        }
        /* The snapshots hold the CA key: only the master's user may enter. */
        if ((mkdir(top, 0700) < 0 && errno != EEXIST) || chmod(top, 0700) < 0) {
                r = -errno;
                snprintf(detail, size, "creating %s: %s", top, strerror(errno));
                return r;
        }
        if (access(final, F_OK) == 0) {
                snprintf(detail, size, "%s exists already", final);
                return -EEXIST;
        }
        brm_rmdir_flat(tmp);
        if (mkdir(tmp, 0700) < 0) {
                r = -errno;
                snprintf(detail, size, "creating %s: %s", tmp, strerror(errno));
                return r;
        }
        if ((r = brm_store_snapshot(store, tmp)) < 0) {
                snprintf(detail, size, "copying the database into %s: %s", tmp, brm_strerror(r));
                goto fail;
        }
        /* A copy that does not check out must not push a good one out. */
        if ((r = brm_store_verify(store->ops, tmp, detail, size)) < 0) {
                char why[400];
                snprintf(why, sizeof(why), "%s", detail);
                snprintf(detail, size, "the copy of the database in %s does not check out: %s", tmp, why);
                goto fail;
        }
        if ((r = copy_ca(data_dir, tmp, detail, size)) < 0)
                goto fail;
        /* Complete on disk before it gets the name that says "complete". */
        r = brm_fsync_dir(tmp);
        if (r == 0 && rename(tmp, final) < 0)
                r = -errno;
        if (r == 0)
                r = brm_fsync_dir(top);
        if (r < 0) {
                snprintf(detail, size, "completing %s: %s", final, strerror(-r));
                goto fail;
        }
        memcpy(ret_name, name, sizeof(name));
        if ((r = brm_snapshot_prune(data_dir, keep)) < 0) {
                /* The snapshot is there; only the old ones stay too. */
                brm_warn(MOD, "removing snapshots beyond the newest %u in %s failed: %s", keep, top, strerror(-r));
        }
        return 0;
fail:
        brm_rmdir_flat(tmp);
        return r;
}

static void work_cb(uv_work_t *w)
{
        struct brm_snapshots *sn = w->data;
        uint64_t t0 = brm_mono_ms();

        sn->result = brm_snapshot_take(sn->store, sn->data_dir, sn->keep, sn->name, sn->detail, sizeof(sn->detail));
        sn->took_ms = brm_mono_ms() - t0;
}

static void after_cb(uv_work_t *w, int status)
{
        struct brm_snapshots *sn = w->data;

        sn->busy = false;
        if (status < 0)
                brm_warn(MOD, "snapshot not taken: %s", uv_strerror(status));
        else if (sn->result < 0)
                brm_warn(MOD, "snapshot failed, the previous ones are kept: %s", sn->detail);
        if (status == 0 && sn->result == BRM_STORE_DAMAGED) {
                char hint[1200];
                brm_datadir_recovery_hint(sn->data_dir, hint, sizeof(hint));
                brm_err(MOD, "the database in %s is damaged: stop the master and %s", sn->data_dir, hint);
        }
        else
                brm_info(MOD, "%s/" BRM_SNAPSHOT_DIR "/%s written in %llu ms", sn->data_dir, sn->name,
                         (unsigned long long)sn->took_ms);
}

static void on_timer(uv_timer_t *t)
{
        struct brm_snapshots *sn = t->data;
        int r;

        if (sn->busy) {
                brm_warn(MOD, "the previous snapshot is still being written; skipping this one");
                return;
        }
        /* SQLite built without threads cannot be used from the pool. */
        if (!sqlite3_threadsafe()) {
                sn->work.data = sn;
                work_cb(&sn->work);
                after_cb(&sn->work, 0);
                return;
        }
        sn->work.data = sn;
        if ((r = uv_queue_work(sn->loop, &sn->work, work_cb, after_cb)) < 0) {
                brm_warn(MOD, "snapshot not taken: %s", uv_strerror(r));
                return;
        }
        sn->busy = true;
}

int brm_snapshots_start(struct brm_snapshots *sn, uv_loop_t *loop, struct brm_store *store, const char *data_dir,
                        uint64_t interval_ms, unsigned keep)
{
        int r;

        sn->loop = loop;
        sn->store = store;
        sn->data_dir = data_dir;
        sn->interval_ms = interval_ms;
        sn->keep = keep;
        if (interval_ms == 0)
                return 0;
        if ((r = uv_timer_init(loop, &sn->timer)) < 0)
                return r;
        sn->timer.data = sn;
        if ((r = uv_timer_start(&sn->timer, on_timer, interval_ms, interval_ms)) < 0) {
                uv_close((uv_handle_t *)&sn->timer, NULL);
                return r;
        }
        sn->running = true;
        return 0;
}

void brm_snapshots_stop(struct brm_snapshots *sn)
{
        if (!sn->running)
                return;
        sn->running = false;
        uv_close((uv_handle_t *)&sn->timer, NULL);
}
