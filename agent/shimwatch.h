/* Watching a container's bramble-shim: the one process whose end means the
 * container's run has ended. A shim this agent spawned is watched as its
 * child; a shim found running after an agent restart is re-adopted through
 * a pidfd, after its start time (field 22 of /proc/PID/stat) has shown
 * that the pid still names the shim that wrote shim.pid and not a later
 * process. Stopping the watch never touches the shim: it and its container
 * keep running for the next agent. Does not log. */
#ifndef BRM_SHIMWATCH_H
#define BRM_SHIMWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "runtime.h"

struct brm_shimwatch;
typedef void (*brm_shimwatch_cb)(struct brm_shimwatch *w);

/* Embedded in its owner. The handles are the owner's memory: the owner
 * counts each open handle and is freed only after on_closed ran for all. */
struct brm_shimwatch {
        int pid;                  /* the shim's pid, 0 before any watch */
        void *data;               /* the owner's */
        brm_shimwatch_cb on_exit;   /* the shim ended (once per watch) */
        brm_shimwatch_cb on_closed; /* one of the handles below is closed */
        /* Private. */
        uv_process_t proc;        /* when the shim is our child */
        uv_poll_t poll;           /* the pidfd of an adopted shim */
        int pidfd;
        bool proc_open, poll_open;
};

void brm_shimwatch_init(struct brm_shimwatch *w, brm_shimwatch_cb on_exit, brm_shimwatch_cb on_closed, void *data);

/* Spawns SHIM for container ID (brm_runtime_spawn_shim) and watches it.
 * Either way the process handle was opened, and on_closed runs once for it:
 * after brm_shimwatch_stop when this returns 0, by itself when it returns
 * -errno (the shim did not start; on_exit is never called then). */
int brm_shimwatch_spawn(struct brm_shimwatch *w, uv_loop_t *loop, const struct brm_runtime *rt, const char *shim,
                        const char *id, const char *dir, const char *log_dir, uint64_t log_max_size,
                        unsigned log_max_files, uint64_t log_reserve);

/* Watches the running shim PID whose start time was START_TIME. 0 and one
 * handle open (on_closed runs after brm_shimwatch_stop); -ESRCH when that
 * shim is gone or the pid names another process now, or another -errno:
 * then nothing was opened. */
int brm_shimwatch_adopt(struct brm_shimwatch *w, uv_loop_t *loop, int pid, unsigned long long start_time);

/* Stops watching (the shim is not touched); no on_exit after this. */
void brm_shimwatch_stop(struct brm_shimwatch *w);

/* Where bramble-shim is: beside this executable (an installed or a build
 * tree) if it is there, else the bare name, for PATH. */
/* Whether a shim is being watched (it has not been seen to end). */
bool brm_shimwatch_active(const struct brm_shimwatch *w);

#endif
