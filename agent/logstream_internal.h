/* Inside the log stream server, shared by logstream.c (streams, chunks,
 * credit, the pump) and its sources, and no other module. A source is an
 * ops table, like the cgroup backends: logsource_file.c reads stored logs
 * (a container's, the agent's), logsource_kmsg.c the kernel's ring buffer.
 *
 * A stream is allocated with its source's size: the source's own struct
 * begins with struct lstream. It is freed when it has finished and its
 * source's handles are closed (each counted in s->handles). */
#ifndef BRM_LOGSTREAM_INTERNAL_H
#define BRM_LOGSTREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bramble.pb-c.h"
#include "conn.h"
#include "logdir.h"
#include "logstream.h"

#define BRM_LOGSTREAM_BATCH_MS 10 /* new lines wait this long for more to share a chunk */

struct lstream;

struct brm_logsource_ops {
        const char *name;
        size_t size;              /* of the source's stream struct */
        /* Sets the stream up for REQ (after the common fields are set). 0,
         * or -errno and a one-line reason: the stream then ends with it. */
        int (*open)(struct lstream *s, const Bramble__LogsRequest *req, char *why, size_t why_size);
        /* Fills and sends at most one chunk; true if it may do more right
         * away. May end the stream (brm_lstream_finish). */
        bool (*step)(struct lstream *s);
        /* The stream has ended: closes the source's handles through
         * brm_lstream_close_handle and releases what else it holds. */
        void (*close)(struct lstream *s);
};

extern const struct brm_logsource_ops brm_logsource_container_ops;
/* A container stream's log directory was moved (removed containers). */
void brm_logsource_file_moved(struct lstream *s, const char *moved_to);
extern const struct brm_logsource_ops brm_logsource_agent_ops;
extern const struct brm_logsource_ops brm_logsource_kmsg_ops;

struct lstream {
        struct brm_logstream *L;
        const struct brm_logsource_ops *ops;
        struct lstream *next;
        uint64_t id;
        char name[64];            /* the container, for a container's log */
        bool follow;
        unsigned streams;         /* 1 stdout, 2 stderr */
        int64_t since_ns;
        int64_t tail;             /* lines to show before the end; -1: all */
        int64_t credit;
        bool ending;              /* container removed: read to the end, then finish */
        bool dead;                /* finished or closed; freed when its handles are */
        int handles;
        /* The chunk being built. */
        int64_t *ts;
        uint32_t *flags, *lens;
        uint8_t *data;
        size_t n, dlen;
        uint64_t skipped;         /* lines lost before the next one */
};

struct brm_logstream {
        uv_loop_t *loop;
        struct brm_logdir dir;
        char kmsg[1024];
        unsigned max_files;
        struct lstream *streams;
        unsigned n_streams;       /* live streams */
        unsigned allocated;       /* streams not yet freed (dead ones wait for their handles) */
        struct brm_conn *conn;
        uv_timer_t retry, batch;
        int handles;              /* while closing: the timers and the streams left */
        bool closing;
        bool (*known)(void *arg, const char *name);
        void *known_arg;
};

/* logstream.c */

/* Adds one line to the chunk being built; only while !brm_lstream_full. */
void brm_lstream_add_line(struct lstream *s, int64_t ts, uint32_t flags, const void *data, size_t len);
bool brm_lstream_full(const struct lstream *s);
/* Sends the chunk built so far (if it has lines or a skip count). */
int brm_lstream_send_chunk(struct lstream *s);
/* Sends the stream's end: a REASON, or an ERROR with its CODE. */
void brm_lstream_send_end(struct lstream *s, const char *reason, int code, const char *error);
/* Ends the stream (after its last frame was sent, or silently). */
void brm_lstream_finish(struct lstream *s);
/* Closes one of the source's handles; the stream waits for it. */
void brm_lstream_close_handle(struct lstream *s, uv_handle_t *h);
/* New data may be there: steps the streams within credit and link room. */
void brm_logstream_pump(struct brm_logstream *L);
/* The same in BRM_LOGSTREAM_BATCH_MS, so that lines written one at a time
 * share a chunk. */
void brm_logstream_pump_soon(struct brm_logstream *L);

#endif
