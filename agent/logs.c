#include "logs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kmsg.h"
#include "log.h"
#include "logdir.h"
#include "logrec.h"
#include "logstore.h"
#include "util.h"

#define MOD "logs"
#define MAX_STREAMS 32
#define CHUNK_DATA (48 * 1024)   /* a chunk is closed once its estimate passes this */
#define CHUNK_LINES 2048
#define CHUNK_MAX_EST (CHUNK_DATA + BRM_LOG_LINE_MAX + 16 + 64)
#define LINE_EST 16              /* per line: timestamp, flags, length */
#define LINK_LOW (64 * 1024)     /* log frames go out only below this much queued */
#define LAG_MAX (1024 * 1024)    /* a follower further behind than this skips ahead */
#define SWEEP_MS 30000
#define PUMP_CHUNKS 8            /* chunks per turn of the loop */
#define BATCH_MS 10              /* new lines wait this long for more to share a chunk */
#define KMSG_REC_MAX 8192

enum source { SRC_CONTAINER, SRC_AGENT, SRC_KERNEL };

struct lstream {
        struct brm_logs *L;
        uint64_t id;
        enum source src;
        char name[64];
        bool follow;
        unsigned streams;
        int64_t since_ns;
        int64_t credit;
        bool ending;             /* container removed: read to the end, then finish */
        bool dead;               /* finished or closed; freed when its handles are */
        int handles;
        /* files */
        struct brm_logcursor cur;
        bool cur_open;
        uv_fs_event_t watch;
        bool watching;
        /* kernel */
        int kfd;
        uv_poll_t kpoll;
        bool kpoll_open, kpolling;
        int64_t kboot_ns;
        struct brm_kmsg_window kwin; /* the records a --tail read shows */
        uint64_t klast_seq;
        bool khave_seq;
        char *kbuf;
        /* the chunk being built */
        int64_t *ts;
        uint32_t *flags, *lens;
        uint8_t *data;
        size_t n, dlen;
        uint64_t skipped;
        struct lstream *next;
};

struct brm_logs {
        struct brm_logs_opts o;
        struct brm_logdir dir;
        char kmsg[1024];
        struct lstream *streams;
        unsigned n_streams;      /* live streams */
        unsigned allocated;      /* streams not yet freed (dead ones wait for their handles) */
        struct brm_conn *conn;
        uv_timer_t sweep, retry, batch;
        int handles;
        bool closing;
        bool (*known)(void *arg, const char *name);
        void *known_arg;
        struct brm_logwriter agent;
        bool agent_open;
        uint64_t over_budget_warned;
};

static void pump(struct brm_logs *L);

/* ---- sending ---- */

static int send_env(struct brm_logs *L, Bramble__Envelope *env)
{
        if (!L->conn)
                return -ENOTCONN;
        return brm_conn_send(L->conn, env);
}

static void send_end(struct lstream *s, const char *reason, int code, const char *error)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogEnd end = BRAMBLE__LOG_END__INIT;

        end.has_stream_id = 1;
        end.stream_id = s->id;
        end.reason = (char *)reason;
        if (error) {
                end.error = (char *)error;
                end.has_code = 1;
                end.code = code;
        }
        env.msg_case = BRAMBLE__ENVELOPE__MSG_LOG_END;
        env.log_end = &end;
        send_env(s->L, &env);
}

static int send_chunk(struct lstream *s)
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

static void add_line(struct lstream *s, int64_t ts, uint32_t flags, const void *data, size_t len)
{
        s->ts[s->n] = ts;
        s->flags[s->n] = flags;
        s->lens[s->n] = (uint32_t)len;
        memcpy(s->data + s->dlen, data, len);
        s->dlen += len;
        s->n++;
}

static bool chunk_full(const struct lstream *s)
{
        return s->n >= CHUNK_LINES || chunk_est(s) >= CHUNK_DATA;
}

/* ---- stream lifetime ---- */

static void stream_free(struct lstream *s)
{
        struct brm_logs *L = s->L;

        for (struct lstream **p = &L->streams; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        if (s->cur_open)
                brm_logcursor_close(&s->cur);
        if (s->kfd >= 0)
                close(s->kfd);
        free(s->kbuf);
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

/* Ends a stream (after its last frame was sent, or silently). */
static void finish(struct lstream *s)
{
        if (s->dead)
                return;
        s->dead = true;
        s->L->n_streams--;
        s->handles = 1; /* this function's own reference */
        if (s->watching) {
                s->handles++;
                uv_close((uv_handle_t *)&s->watch, stream_handle_closed);
        }
        if (s->kpoll_open) {
                s->handles++;
                uv_close((uv_handle_t *)&s->kpoll, stream_handle_closed);
        }
        if (--s->handles == 0)
                stream_free(s);
}

static struct lstream *find(struct brm_logs *L, uint64_t id)
{
        for (struct lstream *s = L->streams; s; s = s->next)
                if (s->id == id && !s->dead)
                        return s;
        return NULL;
}

/* ---- files (containers, the agent) ---- */

static void on_batch(uv_timer_t *t)
{
        pump(t->data);
}

static void on_watch(uv_fs_event_t *h, const char *filename, int events, int status)
{
        struct lstream *s = h->data;
        (void)filename;
        (void)events;
        (void)status;
        /* A shim writes once per read of its pipes, so a slow writer wakes
         * us per line: gather what comes within a few milliseconds into one
         * chunk. */
        if (!s->dead && !uv_is_active((uv_handle_t *)&s->L->batch))
                uv_timer_start(&s->L->batch, on_batch, BATCH_MS, 0);
}

/* One step of a file stream: fills and sends at most one chunk. Returns
 * true if it might do more right away. */
static bool step_file(struct lstream *s)
{
        struct brm_logrec rec;
        bool more = true, end = false;
        int r = 0;

        if (s->follow && !s->ending && s->cur.past_end && brm_logcursor_backlog(&s->cur) > LAG_MAX) {
                /* The viewer fell behind live output: skip to the newest
                 * lines; the counters will say exactly how many were left. */
                if ((r = brm_logcursor_skip_to_end(&s->cur)) < 0) {
                        send_end(s, NULL, r, "reading the log failed");
                        finish(s);
                        return false;
                }
                s->skipped += s->cur.skipped; /* said now, even if no line follows */
                s->cur.skipped = 0;
        }
        while (!chunk_full(s)) {
                r = brm_logcursor_next(&s->cur, &rec);
                if (r < 0)
                        break;
                if (!s->follow && s->cur.past_end) {
                        r = -ENODATA;
                        break;
                }
                if (s->cur.skipped) {
                        /* The marker goes where the gap is. */
                        if (s->n)
                                send_chunk(s);
                        s->skipped += s->cur.skipped;
                        s->cur.skipped = 0;
                }
                add_line(s, rec.ts_ns, (rec.stream == BRM_LOG_STDERR ? BRM_LOG_FLAG_STDERR : 0) |
                                               (rec.partial ? BRM_LOG_FLAG_PARTIAL : 0),
                         rec.data, rec.len);
        }
        if (r == -EAGAIN || r == -ENODATA) {
                more = false;
                end = !s->follow || s->ending || r == -ENODATA;
        } else if (r < 0) {
                char msg[160];
                send_chunk(s);
                snprintf(msg, sizeof(msg), "reading the log failed: %s", strerror(-r));
                send_end(s, NULL, r, msg);
                finish(s);
                return false;
        }
        send_chunk(s);
        if (end) {
                send_end(s, s->ending ? "container removed" : "end of log", 0, NULL);
                finish(s);
                return false;
        }
        return more;
}

/* ---- the kernel log ---- */

static void on_kpoll(uv_poll_t *h, int status, int events)
{
        struct lstream *s = h->data;
        (void)status;
        (void)events;
        if (s->dead)
                return;
        /* Level-triggered: stop until the stream reads again. */
        uv_poll_stop(h);
        s->kpolling = false;
        pump(s->L);
}

static int64_t kboot_ns(void)
{
        struct timespec rt, mono;
        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        return ((int64_t)rt.tv_sec - mono.tv_sec) * 1000000000 + (rt.tv_nsec - mono.tv_nsec);
}

static bool kmsg_wanted(const struct lstream *s, const struct brm_kmsg *k, int64_t *ts, uint32_t *flags)
{
        *ts = s->kboot_ns + (int64_t)(k->ts_us * 1000);
        *flags = k->level <= 3 ? BRM_LOG_FLAG_STDERR : 0;
        if (!(s->streams & (*flags ? 2u : 1u)))
                return false;
        return *ts >= s->since_ns;
}

static ssize_t kmsg_read(void *arg, char *buf, size_t len)
{
        struct lstream *s = arg;
        ssize_t got = read(s->kfd, buf, len);
        return got < 0 ? -errno : got;
}

static bool kmsg_want(void *arg, const struct brm_kmsg *k)
{
        int64_t ts;
        uint32_t flags;
        return kmsg_wanted(arg, k, &ts, &flags);
}

static bool step_kernel(struct lstream *s)
{
        bool more = true;
        int64_t ts;
        uint32_t flags;

        while (!chunk_full(s)) {
                ssize_t got = read(s->kfd, s->kbuf, KMSG_REC_MAX);
                struct brm_kmsg k;
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0 && errno == EPIPE)
                        continue; /* overwritten while we waited: the sequence numbers count it */
                if (got < 0 && errno == EAGAIN) {
                        more = false;
                        break;
                }
                if (got <= 0) {
                        char msg[160];
                        send_chunk(s);
                        snprintf(msg, sizeof(msg), "reading the kernel log failed: %s", got < 0 ? strerror(errno) : "end of file");
                        send_end(s, NULL, got < 0 ? -errno : -EIO, msg);
                        finish(s);
                        return false;
                }
                if (brm_kmsg_parse(s->kbuf, (size_t)got, &k) < 0)
                        continue;
                enum brm_kmsg_verdict v = brm_kmsg_window_check(&s->kwin, k.seq, s->follow);
                if (v == BRM_KMSG_END) {
                        more = false; /* what came after the count is not part of --tail */
                        break;
                }
                /* Records lost to the ring buffer inside the window (the
                 * kernel overwrote them before we read) count as skipped. */
                uint64_t from = s->khave_seq ? s->klast_seq + 1 : s->kwin.first_seq;
                if (from < s->kwin.first_seq)
                        from = s->kwin.first_seq;
                if (k.seq > from && (s->khave_seq || s->kwin.first_seq > 0)) {
                        if (s->n)
                                send_chunk(s);
                        s->skipped += k.seq - from;
                }
                s->klast_seq = k.seq;
                s->khave_seq = true;
                if (v == BRM_KMSG_SKIP || !kmsg_wanted(s, &k, &ts, &flags))
                        continue;
                add_line(s, ts, flags, k.msg, k.msg_len < BRM_LOG_LINE_MAX ? k.msg_len : BRM_LOG_LINE_MAX);
        }
        send_chunk(s);
        if (!more && !s->follow) {
                send_end(s, "end of log", 0, NULL);
                finish(s);
                return false;
        }
        if (!more && !s->kpolling && s->kpoll_open) {
                uv_poll_start(&s->kpoll, UV_READABLE, on_kpoll);
                s->kpolling = true;
        }
        return more;
}

/* ---- pumping ---- */

static bool link_busy(struct brm_logs *L)
{
        return brm_conn_backlog(L->conn) >= LINK_LOW;
}

static void on_retry(uv_timer_t *t)
{
        pump(t->data);
}

static void pump(struct brm_logs *L)
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
                        if (s->src == SRC_KERNEL ? step_kernel(s) : step_file(s))
                                progress = true;
                }
        }
}

void brm_logs_drained(struct brm_logs *L)
{
        pump(L);
}

/* ---- requests ---- */

static int alloc_chunk(struct lstream *s)
{
        s->ts = malloc(CHUNK_LINES * sizeof(*s->ts));
        s->flags = malloc(CHUNK_LINES * sizeof(*s->flags));
        s->lens = malloc(CHUNK_LINES * sizeof(*s->lens));
        s->data = malloc(CHUNK_DATA + BRM_LOG_LINE_MAX);
        return s->ts && s->flags && s->lens && s->data ? 0 : -ENOMEM;
}

static void reject(struct brm_logs *L, uint64_t id, int code, const char *msg)
{
        struct lstream tmp = { .L = L, .id = id };
        send_end(&tmp, NULL, code, msg);
}

static void open_stream(struct brm_logs *L, const Bramble__LogsRequest *req)
{
        enum source src = !req->has_source ? SRC_CONTAINER
                          : req->source == BRAMBLE__LOG_SOURCE__LOG_AGENT ? SRC_AGENT
                          : req->source == BRAMBLE__LOG_SOURCE__LOG_KERNEL ? SRC_KERNEL
                                                                           : SRC_CONTAINER;
        int64_t tail = req->has_tail ? req->tail : -1;
        char dir[1200], msg[1400];
        struct lstream *s;
        int r;

        if (!req->has_stream_id || find(L, req->stream_id))
                return;
        if (req->has_tail && req->tail < 0)
                return reject(L, req->stream_id, -EINVAL, "--tail must not be negative");
        if (L->n_streams >= MAX_STREAMS)
                return reject(L, req->stream_id, -EBUSY, "this node already serves its maximum of log streams");
        if (!(s = calloc(1, sizeof(*s))))
                return reject(L, req->stream_id, -ENOMEM, "out of memory on the node");
        s->L = L;
        s->id = req->stream_id;
        s->src = src;
        s->follow = req->has_follow && req->follow;
        s->streams = req->has_streams && (req->streams & 3) ? req->streams & 3 : 3;
        s->since_ns = req->has_since_ns ? req->since_ns : INT64_MIN;
        s->credit = BRM_LOG_WINDOW;
        s->kfd = -1;
        s->next = L->streams;
        L->streams = s;
        L->n_streams++;
        L->allocated++;
        if (alloc_chunk(s) < 0) {
                send_end(s, NULL, -ENOMEM, "out of memory on the node");
                return finish(s);
        }

        if (src == SRC_KERNEL) {
                s->kboot_ns = kboot_ns();
                if (!(s->kbuf = malloc(KMSG_REC_MAX)) || (s->kfd = open(L->kmsg, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
                        snprintf(msg, sizeof(msg), "cannot read the kernel log %s: %s", L->kmsg,
                                 s->kbuf ? strerror(errno) : "out of memory");
                        send_end(s, NULL, -errno, msg);
                        return finish(s);
                }
                /* Without --tail, everything until the reader finds the end. */
                s->kwin = (struct brm_kmsg_window){ .first_seq = 0, .end_seq = UINT64_MAX, .any = true };
                if (tail == 0) {
                        lseek(s->kfd, 0, SEEK_END);
                } else if (tail > 0) {
                        if ((r = brm_kmsg_tail(kmsg_read, s, kmsg_want, s, s->kbuf, KMSG_REC_MAX, (uint64_t)tail, &s->kwin)) < 0 ||
                            lseek(s->kfd, 0, SEEK_SET) < 0) {
                                send_end(s, NULL, r < 0 ? r : -errno, "reading the kernel log failed");
                                return finish(s);
                        }
                }
                if (uv_poll_init(L->o.loop, &s->kpoll, s->kfd) == 0) {
                        s->kpoll.data = s;
                        s->kpoll_open = true;
                }
                return pump(L);
        }

        if (src == SRC_AGENT) {
                brm_logdir_agent(&L->dir, dir, sizeof(dir));
        } else {
                if (!req->container || brm_logdir_container(&L->dir, req->container, dir, sizeof(dir)) < 0) {
                        send_end(s, NULL, -EINVAL, "bad container name");
                        return finish(s);
                }
                snprintf(s->name, sizeof(s->name), "%s", req->container);
                struct stat st;
                if (stat(dir, &st) < 0) {
                        if (L->known && L->known(L->known_arg, s->name)) {
                                /* Not started yet: its log will appear here. */
                                mkdir(dir, 0750);
                        } else if (brm_logdir_find_removed(&L->dir, s->name, dir, sizeof(dir)) == 0) {
                                s->ending = true; /* what is left of a removed container */
                        } else {
                                snprintf(msg, sizeof(msg), "no container '%s' on this node", s->name);
                                send_end(s, NULL, -ENOENT, msg);
                                return finish(s);
                        }
                }
        }
        r = brm_logcursor_open(&s->cur, dir, L->o.max_files, s->streams, tail, s->since_ns);
        if (r < 0) {
                snprintf(msg, sizeof(msg), "cannot open the log: %s", strerror(-r));
                send_end(s, NULL, r, msg);
                return finish(s);
        }
        s->cur_open = true;
        if (s->follow && !s->ending && uv_fs_event_init(L->o.loop, &s->watch) == 0) {
                s->watch.data = s;
                s->watching = true;
                if ((r = uv_fs_event_start(&s->watch, on_watch, dir, 0)) < 0) {
                        snprintf(msg, sizeof(msg), "cannot watch the log for new lines: %s", uv_strerror(r));
                        send_end(s, NULL, r, msg);
                        return finish(s);
                }
        }
        pump(L);
}

void brm_logs_msg(struct brm_logs *L, const Bramble__Envelope *env)
{
        struct lstream *s;

        switch (env->msg_case) {
        case BRAMBLE__ENVELOPE__MSG_LOGS:
                open_stream(L, env->logs);
                return;
        case BRAMBLE__ENVELOPE__MSG_LOG_CREDIT:
                if ((s = find(L, env->log_credit->stream_id))) {
                        s->credit += env->log_credit->bytes;
                        if (s->credit > BRM_LOG_WINDOW)
                                s->credit = BRM_LOG_WINDOW;
                        pump(L);
                }
                return;
        case BRAMBLE__ENVELOPE__MSG_LOG_CLOSE:
                if ((s = find(L, env->log_close->stream_id)))
                        finish(s);
                return;
        default:
                return;
        }
}

void brm_logs_attach(struct brm_logs *L, struct brm_conn *conn)
{
        L->conn = conn;
        if (!conn)
                for (struct lstream *s = L->streams, *next; s; s = next) {
                        next = s->next;
                        finish(s);
                }
}

void brm_logs_container_removed(struct brm_logs *L, const char *name, const char *moved_to)
{
        for (struct lstream *s = L->streams; s; s = s->next) {
                if (s->dead || s->src != SRC_CONTAINER || strcmp(s->name, name) != 0)
                        continue;
                s->ending = true;
                if (moved_to && s->cur_open)
                        brm_logcursor_moved(&s->cur, moved_to);
        }
        pump(L);
        brm_logs_sweep(L);
}

unsigned brm_logs_active(const struct brm_logs *L)
{
        return L->n_streams;
}

void brm_logs_set_known(struct brm_logs *L, bool (*known)(void *arg, const char *name), void *arg)
{
        L->known = known;
        L->known_arg = arg;
}

/* ---- the agent's own log ---- */

static void agent_sink(void *arg, enum brm_log_level level, const char *line, size_t len)
{
        struct brm_logs *L = arg;

        if (!L->agent_open)
                return;
        if (len > BRM_LOG_LINE_MAX)
                len = BRM_LOG_LINE_MAX;
        if (brm_logwriter_add(&L->agent, level <= BRM_LOG_WARN ? BRM_LOG_STDERR : BRM_LOG_STDOUT, false,
                              brm_now_ns(), line, len) == 0)
                brm_logwriter_flush(&L->agent);
}

void brm_logs_capture_agent(struct brm_logs *L)
{
        char dir[1200];
        int r;

        brm_logdir_agent(&L->dir, dir, sizeof(dir));
        if ((r = brm_logwriter_open(&L->agent, dir, L->o.max_size, L->o.max_files)) < 0) {
                brm_warn(MOD, "cannot store the agent's log in %s: %s", dir, strerror(-r));
                return;
        }
        L->agent_open = true;
        brm_log_set_sink(agent_sink, L);
}

/* ---- disk budget and retention ---- */

struct victim {
        char path[1800];
        time_t mtime;
        uint64_t size;
        int rank; /* 0: a removed container's, 1: a rotated file */
};

static void remove_tree(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[1700];

        if (!d)
                return;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                        unlink(path);
                }
        closedir(d);
        rmdir(dir);
}

/* One sweep's findings: every log file's size, and the files it may
 * delete. */
struct sweep {
        struct brm_logs *L;
        int64_t now;
        uint64_t total;
        struct victim *v;
        size_t n, cap;
};

/* Adds the files of one log directory to the total and the candidates. */
static void scan_log(struct sweep *w, const char *dir, int rank)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        struct stat st;
        char path[1800];

        if (!d)
                return;
        while ((e = readdir(d))) {
                if (strncmp(e->d_name, "log", 3) != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                w->total += (uint64_t)st.st_size;
                if (rank == 1 && strcmp(e->d_name, "log") == 0)
                        continue; /* being written: never deleted */
                if (w->n == w->cap) {
                        size_t nc = w->cap ? w->cap * 2 : 64;
                        struct victim *nv = realloc(w->v, nc * sizeof(*w->v));
                        if (!nv)
                                continue;
                        w->v = nv;
                        w->cap = nc;
                }
                struct victim *x = &w->v[w->n++];
                snprintf(x->path, sizeof(x->path), "%s", path);
                x->mtime = st.st_mtime;
                x->size = (uint64_t)st.st_size;
                x->rank = rank;
        }
        closedir(d);
}

static void visit(const struct brm_logdir_entry *e, void *arg)
{
        struct sweep *w = arg;

        /* Removed containers' logs past their retention go whole. */
        if (e->kind == BRM_LOGDIR_REMOVED && e->has_removed_ms &&
            e->removed_ms + (long long)w->L->o.retention_ms <= w->now)
                remove_tree(e->path);
        else
                scan_log(w, e->path, e->kind == BRM_LOGDIR_REMOVED ? 0 : 1);
}

static int cmp_victim(const void *a, const void *b)
{
        const struct victim *x = a, *y = b;
        if (x->rank != y->rank)
                return x->rank - y->rank;
        return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

void brm_logs_sweep(struct brm_logs *L)
{
        struct sweep w = { .L = L, .now = brm_now_ms() };
        uint64_t before;
        size_t removed = 0;

        brm_logdir_walk(&L->dir, visit, &w);
        if (w.total > L->o.budget) {
                before = w.total;
                qsort(w.v, w.n, sizeof(*w.v), cmp_victim);
                for (size_t i = 0; i < w.n && w.total > L->o.budget; i++)
                        if (unlink(w.v[i].path) == 0) {
                                w.total -= w.v[i].size;
                                removed++;
                        }
                brm_info(MOD, "logs took %llu bytes, over the budget of %llu: removed %zu oldest files",
                         (unsigned long long)before, (unsigned long long)L->o.budget, removed);
                if (w.total > L->o.budget && L->over_budget_warned + 3600000 < (uint64_t)w.now) {
                        L->over_budget_warned = (uint64_t)w.now;
                        brm_warn(MOD, "logs still take %llu bytes, over the budget of %llu: only files being "
                                      "written are left (lower log_max_size or raise log_budget)",
                                 (unsigned long long)w.total, (unsigned long long)L->o.budget);
                }
        }
        free(w.v);
}

static void on_sweep(uv_timer_t *t)
{
        brm_logs_sweep(t->data);
}

/* ---- open and close ---- */

int brm_logs_open(const struct brm_logs_opts *opts, struct brm_logs **ret)
{
        struct brm_logs *L = calloc(1, sizeof(*L));
        int r;

        if (!L)
                return -ENOMEM;
        L->o = *opts;
        snprintf(L->kmsg, sizeof(L->kmsg), "%s", opts->kmsg ? opts->kmsg : "/dev/kmsg");
        L->o.kmsg = L->kmsg;
        L->o.dir = NULL; /* L->dir from here on */
        if ((r = brm_logdir_init(&L->dir, opts->dir)) < 0 || (r = brm_logdir_create(&L->dir)) < 0) {
                free(L);
                return r;
        }
        uv_timer_init(opts->loop, &L->sweep);
        uv_timer_init(opts->loop, &L->retry);
        uv_timer_init(opts->loop, &L->batch);
        L->sweep.data = L->retry.data = L->batch.data = L;
        uv_timer_start(&L->sweep, on_sweep, 1000, SWEEP_MS);
        *ret = L;
        return 0;
}

static void timer_closed(uv_handle_t *h)
{
        struct brm_logs *L = h->data;
        if (--L->handles == 0)
                free(L);
}

void brm_logs_close(struct brm_logs *L)
{
        if (!L || L->closing)
                return;
        if (L->agent_open) {
                brm_log_set_sink(NULL, NULL);
                brm_logwriter_close(&L->agent);
                L->agent_open = false;
        }
        L->conn = NULL;
        L->closing = true;
        L->handles = 3 + L->allocated;
        uv_close((uv_handle_t *)&L->sweep, timer_closed);
        uv_close((uv_handle_t *)&L->retry, timer_closed);
        uv_close((uv_handle_t *)&L->batch, timer_closed);
        for (struct lstream *s = L->streams, *next; s; s = next) {
                next = s->next;
                finish(s);
        }
}
