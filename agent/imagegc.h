/* Unused images off a node whose disk runs short: when free space on the
 * images' file system (STATE/images) falls below a threshold, what no
 * container uses goes, the least recently used first, until the threshold
 * is free again:
 *
 *   1. unpacked root file systems, IMAGES/rootfs/HEX (bramble-unpack
 *      makes them again from the layout or the archive when needed);
 *   2. entries of the node's layout (fetchstore.h) whose manifest no
 *      container uses, then every blob no remaining entry reaches (the
 *      master sends them again when needed), and .part files left for an
 *      hour by a fetch that no longer runs.
 *
 * Kept always: whatever a container in the node's records uses (running,
 * stopped, or waiting to start: its bundle's root file system and image
 * digest, and the layout entries of its cluster reference), and the blobs
 * of fetches under way.
 *
 * Nothing is ever half there under its own name: a root file system is
 * renamed to rootfs/.gc-HEX before its files are removed, and a blob or
 * part to layout/tmp/HEX.gc; an index.json entry is written out (temporary
 * file, fsync, rename) before its blobs are moved, so a crash at any point
 * leaves whole images and some garbage, which the next start sweeps.
 *
 * The choices and the renames are made on the loop thread, where the
 * supervisor and the fetch change what is in use, so nothing can start
 * using an image between its choice and its rename; the removal of what
 * was renamed (thousands of files for a root file system) runs in the
 * thread pool. Only the daemon layer (brm_imagegc_open's timers) logs. */
#ifndef BRM_IMAGEGC_H
#define BRM_IMAGEGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* What must stay. Filled by the caller with the functions below; an
 * allocation that failed is remembered (error), and nothing is collected
 * with an incomplete set. */
struct brm_imagegc_keep {
        char **refs;              /* cluster references containers name */
        size_t n_refs;
        char **hexes;             /* manifests, root file systems, blobs in flight */
        size_t n_hexes;
        bool hold_rootfs;         /* a local image is being resolved: no root file system goes */
        int error;                /* -ENOMEM when the set is incomplete */
};

/* Adds a cluster reference ("example.com/app:1"). */
void brm_imagegc_keep_ref(struct brm_imagegc_keep *k, const char *ref);
/* Adds a digest: "sha256:HEX", HEX, or the path of a root file system in
 * the store (".../rootfs/HEX/rootfs"); anything else is ignored. */
void brm_imagegc_keep_digest(struct brm_imagegc_keep *k, const char *digest);
/* Frees the set's contents (not K itself). */
void brm_imagegc_keep_free(struct brm_imagegc_keep *k);

/* ---- the steps, blocking, for the daemon below and the tests ---- */

/* Removes what an interrupted collection left in IMAGES (rootfs/.gc-*,
 * layout/tmp/ *.gc). Blocking: the thread pool's. The number of things
 * removed, or -errno. */
int brm_imagegc_sweep(const char *images_dir);

/* Renames the least recently used root file system KEEP does not name
 * (nor any layout entry KEEP keeps) to rootfs/.gc-HEX; its path into
 * ret_trash. 0, -ENOENT when there is none, -EBADMSG when the layout's
 * index.json cannot be read (then which entries KEEP keeps is unknown), or
 * -errno. A few directory reads and one rename: for the loop thread. */
int brm_imagegc_take_rootfs(const char *images_dir, const struct brm_imagegc_keep *keep, char *ret_trash,
                            size_t size);

/* From the layout in IMAGES: removes the least recently used index.json
 * entry whose manifest and references KEEP does not name (written out
 * first), then renames every blob no remaining entry reaches and KEEP does
 * not name, and every .part file older than STALE_S seconds KEEP does not
 * name, to tmp/HEX.gc (removed by brm_imagegc_remove). The paths renamed
 * into *ret_trash (a NULL-terminated array, free with
 * brm_imagegc_trash_free), and 1 when an entry was removed, 0 when there
 * was none to remove (blobs may still have been taken), -ENOENT when
 * nothing at all was taken, or -errno (an index.json that cannot be read
 * or written: then no blob is taken). Small files: for the loop thread. */
int brm_imagegc_take_layout(const char *images_dir, const struct brm_imagegc_keep *keep, unsigned stale_s,
                            char ***ret_trash);
void brm_imagegc_trash_free(char **trash);

/* Removes PATH, a file or a whole tree (no symbolic link is followed); the
 * bytes of disk it gave back into *ret_freed. Blocking: the thread
 * pool's. 0 or the first -errno (what could be removed is). */
int brm_imagegc_remove(const char *path, uint64_t *ret_freed);

/* ---- the daemon ---- */

struct brm_imagegc_opts {
        uv_loop_t *loop;
        const char *images_dir;   /* STATE/images */
        uint64_t threshold;       /* free bytes below which collection runs; 0: never */
        /* Fills KEEP with what is in use now; called on the loop before
         * each choice. */
        void (*in_use)(struct brm_imagegc_keep *keep, void *arg);
        void *arg;
};

struct brm_imagegc;

/* Sweeps what a collection left (in the thread pool), then looks at free
 * space every second (unless the threshold is 0). 0, -ENOMEM or
 * -ENAMETOOLONG. */
int brm_imagegc_open(const struct brm_imagegc_opts *opts, struct brm_imagegc **ret);
/* Stops; frees everything once its timers are closed and its work in the
 * thread pool is done (a removal under way finishes). Accepts NULL. */
void brm_imagegc_close(struct brm_imagegc *gc);

#endif
