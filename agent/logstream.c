/* The log stream server: streams, their chunks and credit, and the pump
 * that steps them while the link has room. See logstream.h; the sources
 * are in logsource_file.c and logsource_kmsg.c. */
#include "logstream_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logrec.h"
#include "util.h"

#define MAX_STREAMS 32
#define CHUNK_DATA (48 * 1024)   /* a chunk is closed once its estimate passes this */
#define CHUNK_LINES 2048
#define CHUNK_MAX_EST (CHUNK_DATA + BRM_LOG_LINE_MAX + 16 + 64)
#define LINE_EST 16              /* per line: timestamp, flags, length */
#define LINK_LOW (64 * 1024)     /* log frames go out only below this much queued */
#define PUMP_CHUNKS 8            /* chunks per turn of the loop */

/* ---- sending ---- */

static int send_env(struct brm_logstream *L, Bramble__Envelope *env)
{
        if (!L->conn)
                return -ENOTCONN;
        return brm_conn_send(L->conn, env);
}

static void send_end_id(struct brm_logstream *L, uint64_t id, const char *reason, int code, const char *error)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogEnd end = BRAMBLE__LOG_END__INIT;

        end.has_stream_id = 1;
        end.stream_id = id;
        end.reason = (char *)reason;
        if (error) {
                end.error = (char *)error;
                end.has_code = 1;
                end.code = code;
        }
        env.msg_case = BRAMBLE__ENVELOPE__MSG_LOG_END;
        env.log_end = &end;
        send_env(L, &env);
}

void brm_lstream_send_end(struct lstream *s, const char *reason, int code, const char *error)
{
        send_end_id(s->L, s->id, reason, code, error);
}

int brm_lstream_send_chunk(struct lstream *s)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogChunk ch = BRAMBLE__LOG_CHUNK__INIT;
        int r;

        if (s->n == 0 && s->skipped == 0)
                return 0;
        ch.has_stream_id = 1;
        ch.stream_id = s->id;
        if (s->skipped) {
                ch.has_skipped = 1;
                ch.skipped = s->skipped;
        }
        ch.n_ts_ns = ch.n_flags = ch.n_len = s->n;
        ch.ts_ns = s->ts;
        ch.flags = s->flags;
        ch.len = s->lens;
        ch.has_data = 1;
        ch.data.data = s->data;
        ch.data.len = s->dlen;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_LOG_CHUNK;
        env.log_chunk = &ch;
        s->credit -= (int64_t)bramble__envelope__get_packed_size(&env);
        r = send_env(s->L, &env);
        s->n = s->dlen = 0;
        s->skipped = 0;
        return r;
}

static size_t chunk_est(const struct lstream *s)
{
        return s->dlen + s->n * LINE_EST + 64;
}

void brm_lstream_add_line(struct lstream *s, int64_t ts, uint32_t flags, const void *data, size_t len)
{
        s->ts[s->n] = ts;
        s->flags[s->n] = flags;
        s->lens[s->n] = (uint32_t)len;
        memcpy(s->data + s->dlen, data, len);
        s->dlen += len;
        s->n++;
}

bool brm_lstream_full(const struct lstream *s)
{
        return s->n >= CHUNK_LINES || chunk_est(s) >= CHUNK_DATA;
}

/* ---- stream lifetime ---- */

static void stream_free(struct lstream *s)
{
        struct brm_logstream *L = s->L;

        for (struct lstream **p = &L->streams; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        free(s->ts);
        free(s->flags);
        free(s->lens);
        free(s->data);
        free(s);
        L->allocated--;
        if (L->closing && --L->handles == 0)
                free(L);
}

static void stream_handle_closed(uv_handle_t *h)
{
        struct lstream *s = h->data;
        if (--s->handles == 0)
                stream_free(s);
}

void brm_lstream_close_handle(struct lstream *s, uv_handle_t *h)
{
        s->handles++;
        h->data = s;
        uv_close(h, stream_handle_closed);
}

void brm_lstream_finish(struct lstream *s)
{
        if (s->dead)
                return;
        s->dead = true;
        s->L->n_streams--;
        s->handles = 1; /* this function's own reference */
        s->ops->close(s);
        if (--s->handles == 0)
                stream_free(s);
}

static struct lstream *find(struct brm_logstream *L, uint64_t id)
{
        for (struct lstream *s = L->streams; s; s = s->next)
                if (s->id == id && !s->dead)
                        return s;
        return NULL;
}

/* ---- pumping ---- */

static bool link_busy(struct brm_logstream *L)
{
        return brm_conn_backlog(L->conn) >= LINK_LOW;
}

static void on_retry(uv_timer_t *t)
{
        brm_logstream_pump(t->data);
}

void brm_logstream_pump(struct brm_logstream *L)
{
        bool progress = true;
        int budget = PUMP_CHUNKS;

        if (!L->conn || L->closing)
                return;
        while (progress) {
                progress = false;
                for (struct lstream *s = L->streams, *next; s; s = next) {
                        next = s->next;
                        if (s->dead || s->credit < CHUNK_MAX_EST)
                                continue;
                        if (link_busy(L)) {
                                /* The kernel drains the socket without telling
                                 * us; look again shortly. */
                                if (!uv_is_active((uv_handle_t *)&L->retry))
                                        uv_timer_start(&L->retry, on_retry, 5, 0);
                                return;
                        }
                        if (budget-- == 0) {
                                /* Let timers (heartbeats) and messages run
                                 * first; go on in the next loop iteration. */
                                uv_timer_start(&L->retry, on_retry, 0, 0);
                                return;
                        }
                        if (s->ops->step(s))
                                progress = true;
                }
        }
}

static void on_batch(uv_timer_t *t)
{
        brm_logstream_pump(t->data);
}

void brm_logstream_pump_soon(struct brm_logstream *L)
{
        if (!uv_is_active((uv_handle_t *)&L->batch))
                uv_timer_start(&L->batch, on_batch, BRM_LOGSTREAM_BATCH_MS, 0);
}

void brm_logstream_drained(struct brm_logstream *L)
{
        brm_logstream_pump(L);
}

/* ---- requests ---- */

static const struct brm_logsource_ops *source_of(const Bramble__LogsRequest *req)
{
        if (req->has_source && req->source == BRAMBLE__LOG_SOURCE__LOG_AGENT)
                return &brm_logsource_agent_ops;
        if (req->has_source && req->source == BRAMBLE__LOG_SOURCE__LOG_KERNEL)
                return &brm_logsource_kmsg_ops;
        return &brm_logsource_container_ops;
}

static int alloc_chunk(struct lstream *s)
{
        s->ts = malloc(CHUNK_LINES * sizeof(*s->ts));
        s->flags = malloc(CHUNK_LINES * sizeof(*s->flags));
        s->lens = malloc(CHUNK_LINES * sizeof(*s->lens));
        s->data = malloc(CHUNK_DATA + BRM_LOG_LINE_MAX);
        return s->ts && s->flags && s->lens && s->data ? 0 : -ENOMEM;
}

static void open_stream(struct brm_logstream *L, const Bramble__LogsRequest *req)
{
        const struct brm_logsource_ops *ops = source_of(req);
        char why[1400];
        struct lstream *s;
        int r;

        if (!req->has_stream_id || find(L, req->stream_id))
                return;
        if (req->has_tail && req->tail < 0) {
                send_end_id(L, req->stream_id, NULL, -EINVAL, "--tail must not be negative");
                return;
        }
        if (L->n_streams >= MAX_STREAMS) {
                send_end_id(L, req->stream_id, NULL, -EBUSY, "this node already serves its maximum of log streams");
                return;
        }
        if (!(s = calloc(1, ops->size))) {
                send_end_id(L, req->stream_id, NULL, -ENOMEM, "out of memory on the node");
                return;
        }
        s->L = L;
        s->ops = ops;
        s->id = req->stream_id;
        s->follow = req->has_follow && req->follow;
        s->streams = req->has_streams && (req->streams & 3) ? req->streams & 3 : 3;
        s->since_ns = req->has_since_ns ? req->since_ns : INT64_MIN;
        s->tail = req->has_tail ? req->tail : -1;
        s->credit = BRM_LOG_WINDOW;
        s->next = L->streams;
        L->streams = s;
        L->n_streams++;
        L->allocated++;
        why[0] = '\0';
        if ((r = alloc_chunk(s)) < 0)
                snprintf(why, sizeof(why), "out of memory on the node");
        else
                r = ops->open(s, req, why, sizeof(why));
        if (r < 0) {
                brm_lstream_send_end(s, NULL, r, why[0] ? why : strerror(-r));
                brm_lstream_finish(s);
                return;
        }
        brm_logstream_pump(L);
}

void brm_logstream_handle(void *arg, struct brm_conn *conn, const Bramble__Envelope *env)
{
        struct brm_logstream *L = arg;
        struct lstream *s;

        if (!L)
                return;
        switch (env->msg_case) {
        case BRAMBLE__ENVELOPE__MSG_LOGS:
                open_stream(L, env->logs);
                return;
        case BRAMBLE__ENVELOPE__MSG_LOG_CREDIT:
                if ((s = find(L, env->log_credit->stream_id))) {
                        s->credit += env->log_credit->bytes;
                        if (s->credit > BRM_LOG_WINDOW)
                                s->credit = BRM_LOG_WINDOW;
                        brm_logstream_pump(L);
                }
                return;
        case BRAMBLE__ENVELOPE__MSG_LOG_CLOSE:
                if ((s = find(L, env->log_close->stream_id)))
                        brm_lstream_finish(s);
                return;
        default:
                return;
        }
}

void brm_logstream_attach(struct brm_logstream *L, struct brm_conn *conn)
{
        L->conn = conn;
        if (!conn)
                for (struct lstream *s = L->streams, *next; s; s = next) {
                        next = s->next;
                        brm_lstream_finish(s);
                }
}

void brm_logstream_container_removed(struct brm_logstream *L, const char *name, const char *moved_to)
{
        for (struct lstream *s = L->streams; s; s = s->next) {
                if (s->dead || s->ops != &brm_logsource_container_ops || strcmp(s->name, name) != 0)
                        continue;
                s->ending = true;
                brm_logsource_file_moved(s, moved_to);
        }
        brm_logstream_pump(L);
}

unsigned brm_logstream_active(const struct brm_logstream *L)
{
        return L->n_streams;
}

void brm_logstream_set_known(struct brm_logstream *L, bool (*known)(void *arg, const char *name), void *arg)
{
        L->known = known;
        L->known_arg = arg;
}

/* ---- open and close ---- */

int brm_logstream_open(const struct brm_logstream_opts *opts, struct brm_logstream **ret)
{
        struct brm_logstream *L = calloc(1, sizeof(*L));

        if (!L)
                return -ENOMEM;
        if (brm_path(L->kmsg, sizeof(L->kmsg), "%s", opts->kmsg ? opts->kmsg : "/dev/kmsg") < 0) {
                free(L);
                return -ENAMETOOLONG;
        }
        L->loop = opts->loop;
        L->dir = *opts->dir;
        L->max_files = opts->max_files;
        uv_timer_init(opts->loop, &L->retry);
        uv_timer_init(opts->loop, &L->batch);
        L->retry.data = L->batch.data = L;
        *ret = L;
        return 0;
}

static void timer_closed(uv_handle_t *h)
{
        struct brm_logstream *L = h->data;
        if (--L->handles == 0)
                free(L);
}

void brm_logstream_close(struct brm_logstream *L)
{
        if (!L || L->closing)
                return;
        L->conn = NULL;
        L->closing = true;
        L->handles = 2 + L->allocated;
        uv_close((uv_handle_t *)&L->retry, timer_closed);
        uv_close((uv_handle_t *)&L->batch, timer_closed);
        for (struct lstream *s = L->streams, *next; s; s = next) {
                next = s->next;
                brm_lstream_finish(s);
        }
}
