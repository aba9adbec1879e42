/* Log streams on the node: containers' stored output, the agent's own log
 * and the kernel log, sent to the master on request (LogsRequest) in
 * LogChunk frames, within the credit the master gives back as its viewer
 * reads. Also keeps the node's logs within their disk budget, removes the
 * logs of removed containers after the retention time, and stores the
 * agent's own log lines.
 *
 * Nothing here can slow a container: containers' output is captured and
 * stored by their bramble-shim; this only reads the files. Log frames go
 * out only while the link to the master has little queued, so heartbeats
 * and replies never wait behind more than about LINK_LOW bytes of logs. */
#ifndef BRM_LOGS_H
#define BRM_LOGS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bramble.pb-c.h"
#include "conn.h"

struct brm_logs_opts {
        uv_loop_t *loop;
        const char *dir;          /* STATE/logs: containers/, removed/, agent/ */
        const char *kmsg;         /* "/dev/kmsg" */
        uint64_t max_size;
        unsigned max_files;
        uint64_t budget;
        uint64_t retention_ms;
};

struct brm_logs;

int brm_logs_open(const struct brm_logs_opts *opts, struct brm_logs **ret);
/* Stores the agent's own log lines (from now on) under agent/. */
void brm_logs_capture_agent(struct brm_logs *L);
/* Whether a container is on this node (its log may not exist yet). */
void brm_logs_set_known(struct brm_logs *L, bool (*known)(void *arg, const char *name), void *arg);
/* The link is up (conn) or down (NULL: every stream ends silently). */
void brm_logs_attach(struct brm_logs *L, struct brm_conn *conn);
/* LogsRequest, LogCredit or LogClose from the master. */
void brm_logs_msg(struct brm_logs *L, const Bramble__Envelope *env);
/* The link has sent everything it had queued. */
void brm_logs_drained(struct brm_logs *L);
/* A container was removed and its log moved to moved_to (or is gone):
 * its followers read to the end and finish. */
void brm_logs_container_removed(struct brm_logs *L, const char *name, const char *moved_to);
unsigned brm_logs_active(const struct brm_logs *L);
/* Runs the budget and retention sweep now (also runs every 30 s). */
void brm_logs_sweep(struct brm_logs *L);
/* Ends every stream and frees everything once its handles are closed. */
void brm_logs_close(struct brm_logs *L);

#endif
