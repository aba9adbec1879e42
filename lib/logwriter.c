/* The log writer (rotation, the free-space reserve, the drop line) and the
 * line splitter that feeds it; the record format is logrec.c's. See
 * logrec.h. Plain libc: bramble-shim stores container output with it. */
#include "logrec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "logrec_internal.h"
#include "util.h"

#define ROOM_MAX (1u << 20)      /* bytes written between two looks at free space, at most */
#define FREE_OWN_MS 2000         /* the reserve reached this long: free our own oldest data */
#define SHORT_CHECK_MS 20        /* while short, look at free space at most this often */

static const char *const stream_names[2] = { "stdout", "stderr" };

/* v in decimal at p, no NUL; returns the digits written. The writer's
 * hot path: sprintf cost more than the rest of a record together, and
 * several times that with musl (the shim's libc). */
static size_t put_u64(char *p, uint64_t v)
{
        char tmp[20];
        size_t n = 0;

        do {
                tmp[n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        for (size_t i = 0; i < n; i++)
                p[i] = tmp[n - 1 - i];
        return n;
}

/* ---- writer ---- */

static int log_path(const struct brm_logwriter *w, unsigned i, char *out, size_t size)
{
        int n = i ? snprintf(out, size, "%s/log.%u", w->dir, i) : snprintf(out, size, "%s/log", w->dir);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The last complete, parseable record of one file, scanning backwards. */
static int file_last_counters(const char *path, uint64_t ret_n[2])
{
        char *buf;
        struct stat st;
        size_t want = 2 * BRM_LOG_REC_MAX;
        ssize_t got;
        off_t from;
        int fd, r = -ENOENT;

        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !(buf = malloc(want))) {
                close(fd);
                return -ENOMEM;
        }
        from = st.st_size > (off_t)want ? st.st_size - (off_t)want : 0;
        got = pread(fd, buf, want, from);
        close(fd);
        if (got > 0) {
                size_t end = (size_t)got;
                /* Drop a torn last record (no newline yet). */
                while (end > 0 && buf[end - 1] != '\n')
                        end--;
                while (end > 0) {
                        size_t start = end - 1;
                        struct brm_logrec rec;
                        while (start > 0 && buf[start - 1] != '\n')
                                start--;
                        if ((start > 0 || from == 0) && brm_logrec_parse(buf + start, end - 1 - start, &rec) == 0) {
                                ret_n[0] = rec.n[0];
                                ret_n[1] = rec.n[1];
                                r = 0;
                                break;
                        }
                        end = start;
                }
        }
        free(buf);
        return r;
}

int brm_log_last_counters(const char *dir, unsigned max_files, uint64_t ret_n[2])
{
        struct brm_logwriter tmp;
        char path[1100];

        ret_n[0] = ret_n[1] = 0;
        if (snprintf(tmp.dir, sizeof(tmp.dir), "%s", dir) >= (int)sizeof(tmp.dir))
                return -ENAMETOOLONG;
        for (unsigned i = 0; i < max_files && i < BRM_LOG_MAX_FILES; i++) {
                if (log_path(&tmp, i, path, sizeof(path)) < 0)
                        return -ENAMETOOLONG;
                if (file_last_counters(path, ret_n) == 0)
                        return 0;
        }
        return 0;
}

/* Opens "log" for append. A record torn by a crash or a failed write gets
 * its newline so the next one starts on a line of its own (the torn one
 * then fails to parse and is passed over by readers). */
static int open_current(struct brm_logwriter *w)
{
        char path[1100];
        struct stat st;
        int r;

        if ((r = log_path(w, 0, path, sizeof(path))) < 0)
                return r;
        w->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (w->fd < 0)
                return -errno;
        if (fstat(w->fd, &st) < 0) {
                r = -errno;
                close(w->fd);
                w->fd = -1;
                return r;
        }
        w->size = (uint64_t)st.st_size;
        if (w->size > 0) {
                char last;
                if (pread(w->fd, &last, 1, (off_t)w->size - 1) == 1 && last != '\n' && write(w->fd, "\n", 1) == 1)
                        w->size++;
        }
        return 0;
}

int brm_logwriter_open(struct brm_logwriter *w, const char *dir, uint64_t max_size, unsigned max_files)
{
        int r;

        memset(w, 0, sizeof(*w));
        w->fd = -1;
        w->ts_sec = INT64_MIN;
        w->marker_off = SIZE_MAX;
        if (max_files < 1 || max_files > BRM_LOG_MAX_FILES || max_size < 4096)
                return -EINVAL;
        if (snprintf(w->dir, sizeof(w->dir), "%s", dir) >= (int)sizeof(w->dir))
                return -ENAMETOOLONG;
        w->max_size = max_size;
        w->max_files = max_files;
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        if ((r = brm_log_last_counters(dir, max_files, w->n)) < 0)
                return r;
        if ((r = open_current(w)) < 0)
                return r;
        w->cap = 64 * 1024 + BRM_LOG_REC_MAX;
        if (!(w->buf = malloc(w->cap))) {
                close(w->fd);
                w->fd = -1;
                return -ENOMEM;
        }
        return 0;
}

int brm_logwriter_sync(struct brm_logwriter *w)
{
        if (!w->dirty || w->fd < 0)
                return 0;
        w->dirty = false;
        return fdatasync(w->fd) < 0 ? -errno : 0;
}

static int rotate(struct brm_logwriter *w)
{
        char from[1100], to[1100];
        int r;

        if (w->fd >= 0)
                close(w->fd);
        w->fd = -1;
        if (w->max_files == 1) {
                log_path(w, 0, from, sizeof(from));
                if (unlink(from) < 0 && errno != ENOENT)
                        return -errno;
        } else {
                log_path(w, w->max_files - 1, from, sizeof(from));
                if (unlink(from) < 0 && errno != ENOENT)
                        return -errno;
                for (unsigned i = w->max_files - 1; i > 0; i--) {
                        log_path(w, i - 1, from, sizeof(from));
                        log_path(w, i, to, sizeof(to));
                        if (rename(from, to) < 0 && errno != ENOENT)
                                return -errno;
                }
        }
        if ((r = open_current(w)) < 0)
                return r;
        w->room = 0; /* a new file: look at free space before filling it */
        return 0;
}

/* ---- the reserve ---- */

void brm_logwriter_set_reserve(struct brm_logwriter *w, uint64_t reserve)
{
        w->reserve = reserve;
        w->room = 0;
        w->short_since = 0;
}

/* Frees the oldest data of this log: its oldest rotated file, else "log"
 * itself rotated away (readers that have it open keep reading it; rotating
 * rather than truncating keeps their offsets true). -ENOSPC when the log
 * has nothing left to give. */
static int free_oldest(struct brm_logwriter *w)
{
        char path[1100];

        for (unsigned i = w->max_files - 1; i > 0; i--) {
                log_path(w, i, path, sizeof(path));
                if (unlink(path) == 0)
                        return 0;
        }
        if (w->size == 0)
                return -ENOSPC;
        return rotate(w);
}

/* Whether NEED more bytes may be written without taking the reserve; frees
 * our own oldest data when the shortage has lasted. 0, or -ENOSPC. */
static int make_room(struct brm_logwriter *w, size_t need)
{
        struct statvfs sv;
        uint64_t avail, now;

        if (w->room >= need) {
                w->room -= need;
                return 0;
        }
        now = brm_mono_ms();
        if (w->short_since && now - w->short_checked < SHORT_CHECK_MS)
                return -ENOSPC;
        for (;;) {
                /* A file system that cannot tell is written as without a
                 * reserve: the write itself then says whether it fits. */
                if (statvfs(w->dir, &sv) < 0)
                        return 0;
                avail = (uint64_t)sv.f_bavail * sv.f_frsize;
                if (avail >= w->reserve + need)
                        break;
                if (!w->short_since)
                        w->short_since = now;
                w->short_checked = now;
                w->room = 0;
                if (now - w->short_since < FREE_OWN_MS || free_oldest(w) < 0)
                        return -ENOSPC;
        }
        w->short_since = 0;
        /* Others write to the same file system: take at most an eighth of
         * what is left before looking again. */
        avail = (avail - w->reserve - need) / 8;
        w->room = avail < ROOM_MAX ? avail : ROOM_MAX;
        return 0;
}

/* Counts what a failed flush dropped (from OFF to the end of the buffer)
 * and settles the queued marker: written before OFF, it told its drops;
 * dropped itself, it is no record of the container's. */
static void count_dropped(struct brm_logwriter *w, size_t off, int r)
{
        const char *p = w->buf + off, *end = w->buf + w->len;
        uint64_t n = 0;

        while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
                n++;
                p++;
        }
        if (w->marker_off != SIZE_MAX) {
                if (w->marker_off < off)
                        w->dropped -= w->marker_told;
                else if (n > 0)
                        n--;
                w->marker_off = SIZE_MAX;
        }
        w->dropped += n;
        w->drop_error = r;
        w->drop_reserve = r == -ENOSPC && w->short_since != 0;
}

/* Appends whole records to "log". A short write (a full disk) is cut back
 * to where it started, so no torn record is left for the next one to run
 * into; if even that fails, the file is closed and reopening repairs it. */
static int write_records(struct brm_logwriter *w, const char *p, size_t len)
{
        uint64_t start = w->size;
        size_t off = 0;

        while (off < len) {
                ssize_t n = write(w->fd, p + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        if (off > 0) {
                                if (ftruncate(w->fd, (off_t)start) == 0) {
                                        w->size = start;
                                } else {
                                        close(w->fd);
                                        w->fd = -1;
                                }
                        }
                        return r;
                }
                off += (size_t)n;
                w->size += (uint64_t)n;
                w->dirty = true;
        }
        return 0;
}

int brm_logwriter_flush(struct brm_logwriter *w)
{
        size_t off = 0;
        int r;

        if (w->len == 0)
                return 0;
        while (off < w->len) {
                size_t chunk = w->len - off;

                if (w->fd < 0 && (r = open_current(w)) < 0)
                        goto fail;
                if (w->reserve && (r = make_room(w, chunk)) < 0)
                        goto fail;
                if (w->size + chunk > w->max_size) {
                        /* The whole records that still fit go to "log", the
                         * rest to the next file. */
                        size_t room = w->size < w->max_size ? (size_t)(w->max_size - w->size) : 0;
                        const char *nl = room ? memrchr(w->buf + off, '\n', room) : NULL;
                        if (nl) {
                                chunk = (size_t)(nl - (w->buf + off)) + 1;
                        } else if (w->size > 0) {
                                if ((r = rotate(w)) < 0)
                                        goto fail;
                                continue;
                        } else {
                                /* A record longer than max_size: alone in a file. */
                                nl = memchr(w->buf + off, '\n', chunk);
                                chunk = (size_t)(nl - (w->buf + off)) + 1;
                        }
                }
                if ((r = write_records(w, w->buf + off, chunk)) < 0)
                        goto fail;
                off += chunk;
        }
        if (w->marker_off != SIZE_MAX) {
                w->dropped -= w->marker_told;
                w->marker_off = SIZE_MAX;
        }
        w->len = 0;
        return 0;
fail:
        /* Whole records or nothing: a full disk drops what is queued rather
         * than blocking the container (the counters still count them, so
         * readers see the gap, and a marker says why). */
        count_dropped(w, off, r);
        w->len = 0;
        if (!w->error)
                w->error = r;
        return r;
}

#define MARKER_MAX 200

/* Formats one record at the end of the buffer, which has room for it. */
static void add_record(struct brm_logwriter *w, int stream, bool partial, int64_t ts_ns, const void *data, size_t len)
{
        int64_t sec, nsec;
        char *p;

        brm_logrec_split_ns(ts_ns, &sec, &nsec);
        if (sec != w->ts_sec) {
                brm_logrec_ts_prefix(sec, w->ts_prefix);
                w->ts_sec = sec;
        }
        w->n[stream]++;
        p = w->buf + w->len;
        memcpy(p, w->ts_prefix, 20);
        brm_logrec_put_digits(p + 20, (uint64_t)nsec, 9);
        p[29] = 'Z';
        p[30] = ' ';
        memcpy(p + 31, stream_names[stream], 6);
        p[37] = ' ';
        p[38] = partial ? 'P' : 'F';
        p += 39;
        *p++ = ' ';
        p += put_u64(p, w->n[0]);
        *p++ = ' ';
        p += put_u64(p, w->n[1]);
        if (len) {
                *p++ = ' ';
                memcpy(p, data, len);
                p += len;
        }
        *p++ = '\n';
        w->len = (size_t)(p - w->buf);
}

static bool marker_due(const struct brm_logwriter *w)
{
        return w->dropped && w->marker_off == SIZE_MAX;
}

/* Queues the record that tells of the drops so far where the next record
 * goes: the place of the gap, as near as the writer knows it. The buffer
 * has room for MARKER_MAX more bytes. */
static void add_marker(struct brm_logwriter *w, int64_t ts_ns)
{
        char text[MARKER_MAX - BRM_LOG_HDR_MAX];
        int n;

        if (w->drop_reserve)
                n = snprintf(text, sizeof(text), "bramble: %llu lines of output dropped here: the disk is full (%llu KiB are kept for the node's state)",
                             (unsigned long long)w->dropped, (unsigned long long)(w->reserve >> 10));
        else
                n = snprintf(text, sizeof(text), "bramble: %llu lines of output dropped here: the log could not be written (%s)",
                             (unsigned long long)w->dropped, strerror(w->drop_error < 0 ? -w->drop_error : EIO));
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(text))
                n = (int)sizeof(text) - 1;
        w->marker_off = w->len;
        w->marker_told = w->dropped;
        add_record(w, BRM_LOG_STDERR, false, ts_ns, text, (size_t)n);
}

int brm_logwriter_add(struct brm_logwriter *w, int stream, bool partial, int64_t ts_ns, const void *data, size_t len)
{
        if ((stream != BRM_LOG_STDOUT && stream != BRM_LOG_STDERR) || len > BRM_LOG_LINE_MAX)
                return -EINVAL;
        if (!w->buf)
                return -EBADF;
        /* A failed flush empties the buffer too (the error is kept in
         * w->error): the record is still queued and counted, so a full disk
         * shows as a gap in the counters rather than as lines never seen. */
        if (w->len + BRM_LOG_HDR_MAX + len + 1 + (marker_due(w) ? MARKER_MAX : 0) > w->cap)
                brm_logwriter_flush(w);
        if (marker_due(w))
                add_marker(w, ts_ns);
        add_record(w, stream, partial, ts_ns, data, len);
        return 0;
}

int brm_logwriter_close(struct brm_logwriter *w)
{
        int r = 0;

        if (w->buf) {
                /* Drops not told yet are told at the end. */
                if (marker_due(w) && w->len + MARKER_MAX > w->cap)
                        brm_logwriter_flush(w);
                if (marker_due(w))
                        add_marker(w, brm_now_ns());
                r = brm_logwriter_flush(w);
        }
        brm_logwriter_sync(w);
        free(w->buf);
        w->buf = NULL;
        if (w->fd >= 0 && close(w->fd) < 0 && r == 0)
                r = -errno;
        w->fd = -1;
        return r;
}

/* ---- splitter ---- */

int brm_logsplit_feed(struct brm_logsplit *s, struct brm_logwriter *w, int64_t ts_ns, const char *data, size_t len)
{
        int r;

        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t take = nl ? (size_t)(nl - data) : len;

                if (s->len == 0 && nl && take <= BRM_LOG_LINE_MAX) {
                        /* The common case: a whole line, no copy. */
                        if ((r = brm_logwriter_add(w, s->stream, false, ts_ns, data, take)) < 0)
                                return r;
                        data += take + 1;
                        len -= take + 1;
                        continue;
                }
                size_t room = BRM_LOG_LINE_MAX - s->len;
                size_t n = take < room ? take : room;
                memcpy(s->buf + s->len, data, n);
                s->len += n;
                data += n;
                len -= n;
                if (s->len == BRM_LOG_LINE_MAX && !(nl && n == take)) {
                        /* Full and the line goes on: a piece. */
                        if ((r = brm_logwriter_add(w, s->stream, true, ts_ns, s->buf, s->len)) < 0)
                                return r;
                        s->len = 0;
                } else if (nl && n == take) {
                        if ((r = brm_logwriter_add(w, s->stream, false, ts_ns, s->buf, s->len)) < 0)
                                return r;
                        s->len = 0;
                        data++;
                        len--;
                }
        }
        return 0;
}

int brm_logsplit_flush(struct brm_logsplit *s, struct brm_logwriter *w, int64_t ts_ns)
{
        int r;

        if (s->len == 0)
                return 0;
        r = brm_logwriter_add(w, s->stream, true, ts_ns, s->buf, s->len);
        s->len = 0;
        return r;
}
