/* Log sources that read stored logs (lib/logrec.h, through the cursor of
 * logstore.h): a container's, by name (also what is left of a removed
 * one), and the agent's own. Followers are woken by inotify on the log's
 * directory. */
#include "logstream_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "logrec.h"
#include "logstore.h"
#include "util.h"

#define LAG_MAX (1024 * 1024)    /* a follower further behind than this skips ahead */

struct file_stream {
        struct lstream s;         /* first: the stream is allocated as this */
        struct brm_logcursor cur;
        bool cur_open;
        uv_fs_event_t watch;
        bool watching;
};

static void on_watch(uv_fs_event_t *h, const char *filename, int events, int status)
{
        struct lstream *s = h->data;
        (void)filename;
        (void)events;
        (void)status;
        /* A shim writes once per read of its pipes, so a slow writer wakes
         * us per line: gather what comes within a few milliseconds into one
         * chunk. */
        if (!s->dead)
                brm_logstream_pump_soon(s->L);
}

/* Opens the cursor on DIR and, for a follower, watches DIR. */
static int open_dir(struct file_stream *f, const char *dir, char *why, size_t why_size)
{
        struct lstream *s = &f->s;
        int r;

        r = brm_logcursor_open(&f->cur, dir, s->L->max_files, s->streams, s->tail, s->since_ns);
        if (r < 0) {
                snprintf(why, why_size, "cannot open the log: %s", strerror(-r));
                return r;
        }
        f->cur_open = true;
        if (s->follow && !s->ending && uv_fs_event_init(s->L->loop, &f->watch) == 0) {
                f->watch.data = s;
                f->watching = true;
                if ((r = uv_fs_event_start(&f->watch, on_watch, dir, 0)) < 0) {
                        snprintf(why, why_size, "cannot watch the log for new lines: %s", uv_strerror(r));
                        return r;
                }
        }
        return 0;
}

static int open_agent(struct lstream *s, const Bramble__LogsRequest *req, char *why, size_t why_size)
{
        char dir[1200];
        int r;

        if ((r = brm_logdir_agent(&s->L->dir, dir, sizeof(dir))) < 0)
                return r;
        return open_dir((struct file_stream *)s, dir, why, why_size);
}

static int open_container(struct lstream *s, const Bramble__LogsRequest *req, char *why, size_t why_size)
{
        struct brm_logstream *L = s->L;
        char dir[1200];
        struct stat st;

        if (!req->container || brm_logdir_container(&L->dir, req->container, dir, sizeof(dir)) < 0) {
                snprintf(why, why_size, "bad container name");
                return -EINVAL;
        }
        snprintf(s->name, sizeof(s->name), "%s", req->container);
        if (stat(dir, &st) < 0) {
                if (L->known && L->known(L->known_arg, s->name)) {
                        /* Not started yet: its log will appear here. */
                        mkdir(dir, 0750);
                } else if (brm_logdir_find_removed(&L->dir, s->name, dir, sizeof(dir)) == 0) {
                        s->ending = true; /* what is left of a removed container */
                } else {
                        snprintf(why, why_size, "no container '%s' on this node", s->name);
                        return -ENOENT;
                }
        }
        return open_dir((struct file_stream *)s, dir, why, why_size);
}

static bool step(struct lstream *s)
{
        struct file_stream *f = (struct file_stream *)s;
        struct brm_logrec rec;
        bool more = true, end = false;
        int r = 0;

        if (s->follow && !s->ending && f->cur.past_end && brm_logcursor_backlog(&f->cur) > LAG_MAX) {
                /* The viewer fell behind live output: skip to the newest
                 * lines; the counters will say exactly how many were left. */
                if ((r = brm_logcursor_skip_to_end(&f->cur)) < 0) {
                        brm_lstream_send_end(s, NULL, r, "reading the log failed");
                        brm_lstream_finish(s);
                        return false;
                }
                s->skipped += f->cur.skipped; /* said now, even if no line follows */
                f->cur.skipped = 0;
        }
        while (!brm_lstream_full(s)) {
                r = brm_logcursor_next(&f->cur, &rec);
                if (r < 0)
                        break;
                if (!s->follow && f->cur.past_end) {
                        r = -ENODATA;
                        break;
                }
                if (f->cur.skipped) {
                        /* The marker goes where the gap is. */
                        if (s->n)
                                brm_lstream_send_chunk(s);
                        s->skipped += f->cur.skipped;
                        f->cur.skipped = 0;
                }
                brm_lstream_add_line(s, rec.ts_ns, (rec.stream == BRM_LOG_STDERR ? BRM_LOG_FLAG_STDERR : 0) |
                                                           (rec.partial ? BRM_LOG_FLAG_PARTIAL : 0),
                                     rec.data, rec.len);
        }
        if (r == -EAGAIN || r == -ENODATA) {
                more = false;
                end = !s->follow || s->ending || r == -ENODATA;
        } else if (r < 0) {
                char msg[160];
                brm_lstream_send_chunk(s);
                snprintf(msg, sizeof(msg), "reading the log failed: %s", strerror(-r));
                brm_lstream_send_end(s, NULL, r, msg);
                brm_lstream_finish(s);
                return false;
        }
        brm_lstream_send_chunk(s);
        if (end) {
                brm_lstream_send_end(s, s->ending ? "container removed" : "end of log", 0, NULL);
                brm_lstream_finish(s);
                return false;
        }
        return more;
}

static void close_file(struct lstream *s)
{
        struct file_stream *f = (struct file_stream *)s;

        if (f->watching)
                brm_lstream_close_handle(s, (uv_handle_t *)&f->watch);
        if (f->cur_open)
                brm_logcursor_close(&f->cur);
        f->cur_open = false;
}

const struct brm_logsource_ops brm_logsource_container_ops = {
        .name = "container",
        .size = sizeof(struct file_stream),
        .open = open_container,
        .step = step,
        .close = close_file,
};

const struct brm_logsource_ops brm_logsource_agent_ops = {
        .name = "agent",
        .size = sizeof(struct file_stream),
        .open = open_agent,
        .step = step,
        .close = close_file,
};

void brm_logsource_file_moved(struct lstream *s, const char *moved_to)
{
        struct file_stream *f = (struct file_stream *)s;

        if (moved_to && f->cur_open)
                brm_logcursor_moved(&f->cur, moved_to);
}
