/* Writing a layer's entries into a root file system (image.c's second pass)
 * and applying its whiteouts (the first), without ever leaving the root.
 *
 * Every path is resolved inside the root, as chroot would: a symbolic link
 * the image holds is followed (merged /usr: "bin/foo" lands in "usr/bin/foo"
 * when bin -> usr/bin), an absolute target starts again at the root and ".."
 * stops at it. Only the parent directory of an entry is resolved that way;
 * the entry itself is created with *at() calls relative to it and never
 * followed, so an existing symbolic link at that name is replaced, not
 * written through. Resolving uses openat2(2) with RESOLVE_IN_ROOT (Linux 5.6
 * and later) and, where the kernel lacks it or a seccomp filter refuses it,
 * a walk that reads each link itself (at most 40 of them per path, as the
 * kernel allows). Device nodes and FIFOs are made as the layer says. */
#ifndef BRM_UNPACKFS_H
#define BRM_UNPACKFS_H

#include <stdbool.h>
#include <stddef.h>

#include <archive.h>
#include <archive_entry.h>

/* Resolve by hand even where openat2 works (set by tests only). */
extern bool brm_unpackfs_walk_only;

/* The directories of a layer, whose times are set once its files are in:
 * making a file in a directory changes the directory's mtime. Start it
 * zeroed; brm_unpackfs_dir_times sets the times and empties it. */
struct brm_unpackfs_dirs {
        struct brm_unpackfs_dir *v;
        size_t n, cap;
};

/* A descriptor of the directory ROOT for the calls below (O_PATH), or
 * -errno. */
int brm_unpackfs_open_root(const char *root);

/* Creates the entry E, whose cleaned name is NAME (relative, no ".."
 * component), below ROOTFD: missing parent directories are made (0755), what
 * is at NAME is replaced unless both are directories, and the data is read
 * from A. LINK is the cleaned target of a hard link (NULL otherwise), also
 * resolved inside the root. Owner, mode (with set-id bits), extended
 * attributes and times come from E; a directory's times go on DIRS. 0, or
 * -errno with "what: why" in WHY. */
int brm_unpackfs_write(int rootfd, struct brm_unpackfs_dirs *dirs, const char *name, const char *link,
                       struct archive *a, struct archive_entry *e, char *why, size_t why_size);

/* Sets the times of the directories on DIRS that are still directories,
 * then empties it. 0, or -errno with the reason in WHY. */
int brm_unpackfs_dir_times(int rootfd, struct brm_unpackfs_dirs *dirs, char *why, size_t why_size);

void brm_unpackfs_dirs_free(struct brm_unpackfs_dirs *dirs);

/* Applies the whiteout NAME (".../.wh.FILE" removes FILE, whatever it is;
 * ".../.wh..wh..opq" empties the directory). Nothing to remove is not an
 * error. 0, or -errno with the reason in WHY. */
int brm_unpackfs_whiteout(int rootfd, const char *name, char *why, size_t why_size);

#endif
