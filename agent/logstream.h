/* Log streams on the node: containers' stored output, the agent's own log
 * and the kernel log, sent to the master on request (LogsRequest) in
 * LogChunk frames, within the credit the master gives back as its viewer
 * reads.
 *
 * Nothing here can slow a container: containers' output is captured and
 * stored by their bramble-shim; this only reads the files. Log frames go
 * out only while the link to the master has little queued, so heartbeats
 * and replies never wait behind more than about LINK_LOW bytes of logs.
 * Where the logs live is logdir.h's business; keeping them within their
 * budget is logretention.h's. */
#ifndef BRM_LOGSTREAM_H
#define BRM_LOGSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bramble.pb-c.h"
#include "conn.h"
#include "logdir.h"

struct brm_logstream_opts {
        uv_loop_t *loop;
        const struct brm_logdir *dir;
        const char *kmsg;         /* "/dev/kmsg" when NULL */
        unsigned max_files;       /* files kept per log, as the writers rotate them */
};

struct brm_logstream;

/* 0, -ENOMEM or -ENAMETOOLONG. */
int brm_logstream_open(const struct brm_logstream_opts *opts, struct brm_logstream **ret);
/* Whether a container is on this node (its log may not exist yet). */
void brm_logstream_set_known(struct brm_logstream *L, bool (*known)(void *arg, const char *name), void *arg);
/* The link is up (conn) or down (NULL: every stream ends silently). */
void brm_logstream_attach(struct brm_logstream *L, struct brm_conn *conn);
/* A link handler (link.h) for LogsRequest, LogCredit and LogClose from the
 * master; L is the struct brm_logstream, or NULL when the node's logs are
 * unusable (the message is then ignored). Other messages are ignored. */
void brm_logstream_handle(void *L, struct brm_conn *conn, const Bramble__Envelope *env);
/* The link has sent everything it had queued. */
void brm_logstream_drained(struct brm_logstream *L);
/* A container was removed and its log moved to MOVED_TO (or is gone):
 * its followers read to the end and finish. */
void brm_logstream_container_removed(struct brm_logstream *L, const char *name, const char *moved_to);
/* Streams being served. */
unsigned brm_logstream_active(const struct brm_logstream *L);
/* Ends every stream and frees everything once its handles are closed.
 * Accepts NULL. */
void brm_logstream_close(struct brm_logstream *L);

#endif
