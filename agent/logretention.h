/* Keeps the node's logs (logdir.h) within their disk budget and deletes the
 * logs of removed containers once their retention time has passed. A
 * sweep runs a second after opening, every 30 s after, and on request
 * (when a container was removed). Over the budget, the oldest files go
 * first: removed containers' logs before rotated files, and never a file
 * still being written.
 *
 * With a reserve, free space on the logs' file system is looked at every
 * second too: below twice the reserve, removed containers' logs go first
 * whatever their retention, then the oldest rotated files, until twice the
 * reserve is free again. The log writers themselves never write into the
 * reserve (lib/logrec.h), so the node's state can always be written. */
#ifndef BRM_LOGRETENTION_H
#define BRM_LOGRETENTION_H

#include <stdint.h>

#include <uv.h>

#include "logdir.h"

struct brm_logretention_opts {
        uv_loop_t *loop;
        const struct brm_logdir *dir;
        uint64_t budget;          /* bytes for all logs together */
        uint64_t retention_ms;    /* how long a removed container's log is kept */
        uint64_t reserve;         /* free bytes kept for the node's state; 0 = not looked at */
};

struct brm_logretention;

/* 0 or -ENOMEM. */
int brm_logretention_open(const struct brm_logretention_opts *opts, struct brm_logretention **ret);
/* Sweeps now. */
void brm_logretention_sweep(struct brm_logretention *r);
/* Stops sweeping; frees everything once its timer is closed. Accepts NULL. */
void brm_logretention_close(struct brm_logretention *r);

#endif
