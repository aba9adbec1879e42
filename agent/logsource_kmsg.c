/* The log source that reads the kernel's ring buffer (/dev/kmsg, one
 * record per read). --tail N shows exactly the last N wanted records as
 * they were when the request came (brm_kmsg_tail finds that window,
 * brm_kmsg_window_check keeps the read to it); records the kernel
 * overwrites before they are read count as skipped. Followers are woken by
 * polling the file. */
#include "logstream_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmsg.h"
#include "logrec.h"

#define KMSG_REC_MAX 8192

struct kmsg_stream {
        struct lstream s;         /* first: the stream is allocated as this */
        int fd;
        bool fd_open;
        uv_poll_t poll;
        bool poll_open, polling;
        int64_t boot_ns;          /* wall-clock time of the boot: record times are since then */
        struct brm_kmsg_window win; /* the records a --tail read shows */
        uint64_t last_seq;
        bool have_seq;
        char *buf;
};

static void on_poll(uv_poll_t *h, int status, int events)
{
        struct kmsg_stream *k = h->data;
        (void)status;
        (void)events;
        if (k->s.dead)
                return;
        /* Level-triggered: stop until the stream reads again. */
        uv_poll_stop(h);
        k->polling = false;
        brm_logstream_pump(k->s.L);
}

static int64_t boot_ns(void)
{
        struct timespec rt, mono;
        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        return ((int64_t)rt.tv_sec - mono.tv_sec) * 1000000000 + (rt.tv_nsec - mono.tv_nsec);
}

static bool wanted(const struct kmsg_stream *k, const struct brm_kmsg *rec, int64_t *ts, uint32_t *flags)
{
        *ts = k->boot_ns + (int64_t)(rec->ts_us * 1000);
        *flags = rec->level <= 3 ? BRM_LOG_FLAG_STDERR : 0;
        if (!(k->s.streams & (*flags ? 2u : 1u)))
                return false;
        return *ts >= k->s.since_ns;
}

static ssize_t tail_read(void *arg, char *buf, size_t len)
{
        struct kmsg_stream *k = arg;
        ssize_t got = read(k->fd, buf, len);
        return got < 0 ? -errno : got;
}

static bool tail_want(void *arg, const struct brm_kmsg *rec)
{
        int64_t ts;
        uint32_t flags;
        return wanted(arg, rec, &ts, &flags);
}

static int open_kmsg(struct lstream *s, const Bramble__LogsRequest *req, char *why, size_t why_size)
{
        struct kmsg_stream *k = (struct kmsg_stream *)s;
        int r;

        k->boot_ns = boot_ns();
        if (!(k->buf = malloc(KMSG_REC_MAX)) || (k->fd = open(s->L->kmsg, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
                r = -errno;
                snprintf(why, why_size, "cannot read the kernel log %s: %s", s->L->kmsg,
                         k->buf ? strerror(errno) : "out of memory");
                return r;
        }
        k->fd_open = true;
        /* Without --tail, everything until the reader finds the end. */
        k->win = (struct brm_kmsg_window){ .first_seq = 0, .end_seq = UINT64_MAX, .any = true };
        if (s->tail == 0) {
                lseek(k->fd, 0, SEEK_END);
        } else if (s->tail > 0) {
                if ((r = brm_kmsg_tail(tail_read, k, tail_want, k, k->buf, KMSG_REC_MAX, (uint64_t)s->tail, &k->win)) < 0 ||
                    (r = lseek(k->fd, 0, SEEK_SET) < 0 ? -errno : 0) < 0) {
                        snprintf(why, why_size, "reading the kernel log failed");
                        return r;
                }
        }
        if (uv_poll_init(s->L->loop, &k->poll, k->fd) == 0) {
                k->poll.data = k;
                k->poll_open = true;
        }
        return 0;
}

static bool step(struct lstream *s)
{
        struct kmsg_stream *k = (struct kmsg_stream *)s;
        bool more = true;
        int64_t ts;
        uint32_t flags;

        while (!brm_lstream_full(s)) {
                ssize_t got = read(k->fd, k->buf, KMSG_REC_MAX);
                struct brm_kmsg rec;
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
                        int code = got < 0 ? -errno : -EIO;
                        brm_lstream_send_chunk(s);
                        snprintf(msg, sizeof(msg), "reading the kernel log failed: %s", got < 0 ? strerror(-code) : "end of file");
                        brm_lstream_send_end(s, NULL, code, msg);
                        brm_lstream_finish(s);
                        return false;
                }
                if (brm_kmsg_parse(k->buf, (size_t)got, &rec) < 0)
                        continue;
                enum brm_kmsg_verdict v = brm_kmsg_window_check(&k->win, rec.seq, s->follow);
                if (v == BRM_KMSG_END) {
                        more = false; /* what came after the count is not part of --tail */
                        break;
                }
                /* Records lost to the ring buffer inside the window (the
                 * kernel overwrote them before we read) count as skipped. */
                uint64_t from = k->have_seq ? k->last_seq + 1 : k->win.first_seq;
                if (from < k->win.first_seq)
                        from = k->win.first_seq;
                if (rec.seq > from && (k->have_seq || k->win.first_seq > 0)) {
                        if (s->n)
                                brm_lstream_send_chunk(s);
                        s->skipped += rec.seq - from;
                }
                k->last_seq = rec.seq;
                k->have_seq = true;
                if (v == BRM_KMSG_SKIP || !wanted(k, &rec, &ts, &flags))
                        continue;
                brm_lstream_add_line(s, ts, flags, rec.msg, rec.msg_len < BRM_LOG_LINE_MAX ? rec.msg_len : BRM_LOG_LINE_MAX);
        }
        brm_lstream_send_chunk(s);
        if (!more && !s->follow) {
                brm_lstream_send_end(s, "end of log", 0, NULL);
                brm_lstream_finish(s);
                return false;
        }
        if (!more && !k->polling && k->poll_open) {
                uv_poll_start(&k->poll, UV_READABLE, on_poll);
                k->polling = true;
        }
        return more;
}

static void close_kmsg(struct lstream *s)
{
        struct kmsg_stream *k = (struct kmsg_stream *)s;

        if (k->poll_open)
                brm_lstream_close_handle(s, (uv_handle_t *)&k->poll);
        k->poll_open = false;
        /* Closing the handle has taken the fd out of the loop's poll set. */
        if (k->fd_open)
                close(k->fd);
        k->fd_open = false;
        free(k->buf);
        k->buf = NULL;
}

const struct brm_logsource_ops brm_logsource_kmsg_ops = {
        .name = "kernel",
        .size = sizeof(struct kmsg_stream),
        .open = open_kmsg,
        .step = step,
        .close = close_kmsg,
};
