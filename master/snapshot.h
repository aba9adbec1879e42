/* Snapshots of the master's state into DATA_DIR/snapshots/NAME/: the
 * store's files (a consistent copy taken while the master runs) and the CA
 * files, so that a damaged database or CA can be put back with
 * `bramble-master --restore`. A timer takes one every interval on libuv's
 * thread pool, so the loop never waits for the copy or its fsyncs; only
 * the newest `keep` are kept. */
#ifndef BRM_SNAPSHOT_H
#define BRM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "datadir.h"

struct brm_store;

struct brm_snapshots {
        uv_loop_t *loop;
        uv_timer_t timer;
        uv_work_t work;
        struct brm_store *store;
        const char *data_dir;
        uint64_t interval_ms; /* 0: none */
        unsigned keep;
        bool running;  /* the timer is started */
        bool busy;     /* a snapshot is being taken on the pool */
        /* The result of the one on the pool. */
        int result;
        char name[BRM_SNAPSHOT_NAME_LEN + 1];
        char detail[600];
        uint64_t took_ms;
};

/* Takes one snapshot of store and the CA files in data_dir now, on the
 * calling thread, then removes all but the newest keep (keep >= 1). On
 * success ret_name holds its name; on failure detail says which step
 * failed, and nothing that looks like a snapshot was left behind. Returns
 * 0 or -errno (-EEXIST: one with this second's name exists already). */
int brm_snapshot_take(struct brm_store *store, const char *data_dir, unsigned keep,
                      char ret_name[BRM_SNAPSHOT_NAME_LEN + 1], char *detail, size_t size);

/* Removes all but the newest keep snapshots. Returns how many were
 * removed, or -errno. */
int brm_snapshot_prune(const char *data_dir, unsigned keep);

/* Removes the temporary directories a process that died while taking a
 * snapshot left in DATA_DIR/snapshots. Call with the data dir locked. */
void brm_snapshot_cleanup(const char *data_dir);

/* Starts taking a snapshot every interval_ms (0: does nothing). Returns 0
 * or a libuv error. */
int brm_snapshots_start(struct brm_snapshots *sn, uv_loop_t *loop, struct brm_store *store, const char *data_dir,
                        uint64_t interval_ms, unsigned keep);

/* Stops the timer (a snapshot under way completes; the loop runs until it
 * has). Idempotent. */
void brm_snapshots_stop(struct brm_snapshots *sn);

#endif
