/* The master's data dir as a whole: one master (or restore) at a time, and
 * the snapshots kept under DATA_DIR/snapshots, one directory per snapshot
 * named by its UTC time (YYYYMMDDTHHMMSSZ), so names sort by age. A
 * snapshot directory appears under its name only once complete. */
#ifndef BRM_DATADIR_H
#define BRM_DATADIR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define BRM_SNAPSHOT_DIR "snapshots"
#define BRM_SNAPSHOT_NAME_LEN 16 /* 20261201T143000Z */
/* Written before a restore changes the data dir and removed when it is
 * done: a master refuses to start while it exists. */
#define BRM_RESTORE_MARKER "restore-in-progress"

/* Takes the data dir's lock (DIR/master.lock, flock) for as long as the
 * process lives, and writes our pid into it. Returns 0 and the descriptor
 * to keep, -EBUSY if another process holds it (*ret_holder = its pid, or
 * 0 if unknown), or another -errno. */
int brm_datadir_lock(const char *dir, int *ret_fd, long *ret_holder);

/* Formats t as a snapshot name (UTC) into buf of at least
 * BRM_SNAPSHOT_NAME_LEN + 1 bytes. */
void brm_snapshot_name(time_t t, char *buf);

/* Whether name has the form of a snapshot name. */
bool brm_snapshot_name_valid(const char *name);

/* The names of the complete snapshots in DATA_DIR/snapshots, oldest first,
 * in an array the caller frees with brm_snapshot_list_free. None (or no
 * directory) is 0 with *ret_n = 0. */
int brm_snapshot_list(const char *data_dir, char ***ret_names, size_t *ret_n);
void brm_snapshot_list_free(char **names, size_t n);

/* What an operator should do about damaged state in data_dir, as the end
 * of a one-line message: the --restore command for the newest snapshot,
 * or that there is none. */
void brm_datadir_recovery_hint(const char *data_dir, char *buf, size_t size);

/* Removes a directory holding only files (a snapshot, or a temporary
 * one). Returns 0 or -errno; -ENOENT if it does not exist. */
int brm_rmdir_flat(const char *path);

#endif
