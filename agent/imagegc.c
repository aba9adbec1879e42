/* Unused images collected when the disk runs short: the timers and the
 * collection's steps on the loop; see imagegc.h. */
#include "imagegc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "util.h"

#define MOD "images"
#define SPACE_MS 1000             /* free space is looked at this often (one statvfs) */
#define STAMP_MS 60000            /* in-use root file systems are stamped this often */
#define RETRY_MS 60000            /* after a collection that could not free enough */
#define SHORT_WARN_EVERY_MS 600000
#define STALE_PART_S 3600         /* a .part untouched this long belongs to no fetch */

/* ---- the daemon ---- */

enum phase { PH_ROOTFS, PH_LAYOUT };

struct brm_imagegc {
        uv_loop_t *loop;
        char images[600];
        uint64_t threshold;
        void (*in_use)(struct brm_imagegc_keep *keep, void *arg);
        void *arg;
        uv_timer_t space, stamp;
        uv_work_t work;
        int open_handles;
        bool busy, closing, sweeping, running;
        /* The collection under way: its phase, what it has removed. */
        enum phase phase;
        char **trash;             /* what the work removes */
        uint64_t before, freed;
        unsigned n_rootfs, n_blobs;
        int64_t next_try, short_warned;
};

/* Free bytes on the images' file system; UINT64_MAX when it cannot tell
 * (nothing is removed on a guess). */
static uint64_t avail(const struct brm_imagegc *gc)
{
        struct statvfs sv;

        return statvfs(gc->images, &sv) < 0 ? UINT64_MAX : (uint64_t)sv.f_bavail * sv.f_frsize;
}

static void maybe_free(struct brm_imagegc *gc)
{
        if (gc->closing && gc->open_handles == 0 && !gc->busy) {
                brm_imagegc_trash_free(gc->trash);
                free(gc);
        }
}

/* The root file systems in use get the time now: the least recently used
 * is the one with the oldest time. Once a minute at most per image (a
 * metadata write, which ext4 batches into its journal commit anyway). */
static void stamp(struct brm_imagegc *gc, const struct brm_imagegc_keep *k)
{
        time_t now = time(NULL);
        char p[800];
        struct stat st;

        for (size_t i = 0; i < k->n_hexes; i++)
                if (brm_path(p, sizeof(p), "%s/rootfs/%s", gc->images, k->hexes[i]) >= 0 && stat(p, &st) == 0 &&
                    S_ISDIR(st.st_mode) && st.st_mtime + STAMP_MS / 1000 <= now)
                        utimensat(AT_FDCWD, p, NULL, 0);
}

static void on_stamp(uv_timer_t *t)
{
        struct brm_imagegc *gc = t->data;
        struct brm_imagegc_keep k = { 0 };

        gc->in_use(&k, gc->arg);
        stamp(gc, &k);
        brm_imagegc_keep_free(&k);
}

static void work_fn(uv_work_t *req)
{
        struct brm_imagegc *gc = req->data;
        uint64_t freed = 0;

        if (gc->sweeping) {
                brm_imagegc_sweep(gc->images);
                return;
        }
        for (char **p = gc->trash; p && *p; p++)
                if (brm_imagegc_remove(*p, &freed) == 0 || freed)
                        gc->freed += freed;
}

static void step(struct brm_imagegc *gc);

static void work_done(uv_work_t *req, int status)
{
        struct brm_imagegc *gc = req->data;

        gc->busy = false;
        gc->sweeping = false;
        brm_imagegc_trash_free(gc->trash);
        gc->trash = NULL;
        if (gc->closing) {
                maybe_free(gc);
                return;
        }
        if (gc->running)
                step(gc);
}

static int queue(struct brm_imagegc *gc)
{
        int r = uv_queue_work(gc->loop, &gc->work, work_fn, work_done);

        if (r == 0)
                gc->busy = true;
        return r;
}

/* The collection ends: one line for what it did, and a warning (now and
 * then) when it could not free enough. */
static void finish(struct brm_imagegc *gc, uint64_t left, int err)
{
        int64_t now = brm_now_ms();

        gc->running = false;
        brm_imagegc_trash_free(gc->trash);
        gc->trash = NULL;
        if (gc->n_rootfs || gc->n_blobs)
                brm_info(MOD, "disk short of space (%llu MiB free, below %llu MiB): removed %u root file systems and %u "
                              "blobs, %llu MiB",
                         (unsigned long long)(gc->before >> 20), (unsigned long long)(gc->threshold >> 20), gc->n_rootfs,
                         gc->n_blobs, (unsigned long long)(gc->freed >> 20));
        if (left >= gc->threshold)
                return;
        /* Nothing more can go until containers change: looked at again a
         * minute later, not every second. */
        gc->next_try = now + RETRY_MS;
        if (gc->short_warned && gc->short_warned + SHORT_WARN_EVERY_MS > now)
                return;
        gc->short_warned = now;
        if (err < 0 && err != -ENOENT)
                brm_warn(MOD, "disk short of space (%llu MiB free, below %llu MiB): unused images cannot be collected: %s",
                         (unsigned long long)(left >> 20), (unsigned long long)(gc->threshold >> 20), brm_strerror(err));
        else
                brm_warn(MOD, "disk short of space: %llu MiB free, below %llu MiB, and no unused image left to remove",
                         (unsigned long long)(left >> 20), (unsigned long long)(gc->threshold >> 20));
}

/* One removal: the choice and the rename here, on the loop, with what is
 * in use now; the removal in the thread pool, which comes back here. */
static void step(struct brm_imagegc *gc)
{
        struct brm_imagegc_keep k = { 0 };
        uint64_t left = avail(gc);
        char trash[900];
        int r;

        if (left >= gc->threshold) {
                finish(gc, left, 0);
                return;
        }
        gc->in_use(&k, gc->arg);
        if (k.error) {
                r = k.error;
                goto out;
        }
        stamp(gc, &k);
        if (gc->phase == PH_ROOTFS) {
                if ((r = brm_imagegc_take_rootfs(gc->images, &k, trash, sizeof(trash))) == 0) {
                        if (!(gc->trash = calloc(2, sizeof(*gc->trash))) || !(gc->trash[0] = strdup(trash))) {
                                r = -ENOMEM; /* renamed: the next start sweeps it */
                                goto out;
                        }
                        if ((r = queue(gc)) < 0)
                                goto out;
                        gc->n_rootfs++;
                        brm_imagegc_keep_free(&k);
                        return;
                }
                if (r != -ENOENT)
                        goto out;
                gc->phase = PH_LAYOUT;
        }
        if ((r = brm_imagegc_take_layout(gc->images, &k, STALE_PART_S, &gc->trash)) >= 0) {
                for (char **p = gc->trash; *p; p++)
                        gc->n_blobs++;
                if (!gc->trash[0]) {
                        brm_imagegc_trash_free(gc->trash);
                        gc->trash = NULL;
                        brm_imagegc_keep_free(&k);
                        step(gc); /* an entry went, no blob with it yet */
                        return;
                }
                if ((r = queue(gc)) == 0) {
                        brm_imagegc_keep_free(&k);
                        return;
                }
        }
out:
        brm_imagegc_keep_free(&k);
        finish(gc, left, r);
}

static void on_space(uv_timer_t *t)
{
        struct brm_imagegc *gc = t->data;
        uint64_t left;

        if (gc->busy || gc->running || brm_now_ms() < gc->next_try || (left = avail(gc)) >= gc->threshold)
                return;
        gc->running = true;
        gc->phase = PH_ROOTFS;
        gc->before = left;
        gc->freed = 0;
        gc->n_rootfs = gc->n_blobs = 0;
        step(gc);
}

int brm_imagegc_open(const struct brm_imagegc_opts *o, struct brm_imagegc **ret)
{
        struct brm_imagegc *gc = calloc(1, sizeof(*gc));

        if (!gc)
                return -ENOMEM;
        if (brm_path(gc->images, sizeof(gc->images), "%s", o->images_dir) < 0) {
                free(gc);
                return -ENAMETOOLONG;
        }
        gc->loop = o->loop;
        gc->threshold = o->threshold;
        gc->in_use = o->in_use;
        gc->arg = o->arg;
        gc->work.data = gc;
        uv_timer_init(gc->loop, &gc->space);
        uv_timer_init(gc->loop, &gc->stamp);
        gc->space.data = gc->stamp.data = gc;
        gc->open_handles = 2;
        if (gc->threshold) {
                uv_timer_start(&gc->space, on_space, SPACE_MS, SPACE_MS);
                uv_timer_start(&gc->stamp, on_stamp, STAMP_MS, STAMP_MS);
        }
        /* What a collection the agent did not finish left (a crash, a
         * power cut mid-removal) goes first, off the loop. */
        gc->sweeping = true;
        if (queue(gc) < 0)
                gc->sweeping = false;
        *ret = gc;
        return 0;
}

static void timer_closed(uv_handle_t *h)
{
        struct brm_imagegc *gc = h->data;

        gc->open_handles--;
        maybe_free(gc);
}

void brm_imagegc_close(struct brm_imagegc *gc)
{
        if (!gc || gc->closing)
                return;
        gc->closing = true;
        uv_close((uv_handle_t *)&gc->space, timer_closed);
        uv_close((uv_handle_t *)&gc->stamp, timer_closed);
}
