#include "logstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)

struct chain_file {
        ino_t ino;
        off_t size;
        unsigned idx; /* 0 = "log", i = "log.i" */
};

static int file_path(const struct brm_logcursor *c, unsigned idx, char *out, size_t size)
{
        int n = idx ? snprintf(out, size, "%s/log.%u", c->dir, idx) : snprintf(out, size, "%s/log", c->dir);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The files of the log, oldest first, as one consistent view: every name
 * is looked at twice and both looks must agree, so a rotation while looking
 * (which renames files from under each other) makes it look again. */
static int chain(const struct brm_logcursor *c, struct chain_file *out, unsigned *ret_n)
{
        char path[1100];
        struct stat st;
        ino_t seen[BRM_LOG_MAX_FILES];

        for (int attempt = 0; attempt < 20; attempt++) {
                unsigned n = 0;
                bool stable = true;
                for (unsigned i = c->max_files; i-- > 0;) {
                        if (file_path(c, i, path, sizeof(path)) < 0)
                                return -ENAMETOOLONG;
                        seen[i] = 0;
                        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                                seen[i] = st.st_ino;
                                out[n++] = (struct chain_file){ st.st_ino, st.st_size, i };
                        }
                }
                for (unsigned i = c->max_files; i-- > 0 && stable;) {
                        file_path(c, i, path, sizeof(path));
                        ino_t now = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? st.st_ino : 0;
                        stable = now == seen[i];
                }
                if (stable) {
                        *ret_n = n;
                        return 0;
                }
        }
        return -EAGAIN;
}

static int open_entry(struct brm_logcursor *c, const struct chain_file *f, off_t at)
{
        char path[1100];
        struct stat st;
        int fd;

        file_path(c, f->idx, path, sizeof(path));
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return errno == ENOENT ? -EAGAIN : -errno; /* rotated meanwhile */
        if (fstat(fd, &st) < 0 || st.st_ino != f->ino) {
                close(fd);
                return -EAGAIN; /* rotated meanwhile */
        }
        if (c->fd >= 0)
                close(c->fd);
        c->fd = fd;
        c->ino = st.st_ino;
        c->off = at;
        c->pos = c->len = 0;
        c->drop_first = false;
        if (at > 0) {
                char last;
                if (pread(fd, &last, 1, at - 1) == 1 && last != '\n')
                        c->drop_first = true;
                if (lseek(fd, at, SEEK_SET) < 0)
                        return -errno;
        }
        return 0;
}

/* Header bytes of the line at `start` of file fd: stream and timestamp. */
static bool line_wanted(const struct brm_logcursor *c, const char *hdr, size_t n, bool *older)
{
        int64_t ts;
        int stream;

        *older = false;
        if (n < BRM_LOG_TS_LEN + 8 || hdr[BRM_LOG_TS_LEN] != ' ')
                return false;
        if (memcmp(hdr + BRM_LOG_TS_LEN + 1, "stdout", 6) == 0)
                stream = BRM_LOG_STDOUT;
        else if (memcmp(hdr + BRM_LOG_TS_LEN + 1, "stderr", 6) == 0)
                stream = BRM_LOG_STDERR;
        else
                return false;
        if (!(c->streams & (1u << stream)))
                return false;
        if (c->since_ns != INT64_MIN) {
                if (brm_log_parse_ts(hdr, BRM_LOG_TS_LEN, &ts) < 0)
                        return false;
                if (ts < c->since_ns) {
                        *older = true;
                        return false;
                }
        }
        return true;
}

/* A block of a file read backwards: buf holds [start, end). */
struct backblock {
        char *buf;
        off_t start, end;
        int fd;
};

/* The offset of the last newline before x, or -1 (-2 on a read error). */
static off_t newline_before(struct backblock *bb, off_t x)
{
        for (;;) {
                off_t lim = x < bb->end ? x : bb->end;
                if (lim > bb->start) {
                        char *p = memrchr(bb->buf, '\n', (size_t)(lim - bb->start));
                        if (p)
                                return bb->start + (p - bb->buf);
                }
                if (bb->start == 0)
                        return -1;
                off_t from = bb->start > READ_SIZE ? bb->start - READ_SIZE : 0;
                if (pread(bb->fd, bb->buf, (size_t)(bb->start - from), from) != bb->start - from)
                        return -2;
                bb->end = bb->start;
                bb->start = from;
        }
}

/* Scans a file backwards counting wanted lines. Returns 1 with *ret_at when
 * the start is in this file, 0 when the whole file was counted, or -errno. */
static int scan_back(struct brm_logcursor *c, int fd, off_t size, int64_t tail, int64_t *count, off_t *ret_at)
{
        struct backblock bb = { c->buf, size, size, fd };
        off_t x = newline_before(&bb, size); /* ends the current line; a torn tail is ignored */
        bool older;

        if (x == -2)
                return -EIO;
        while (x >= 0) {
                off_t p = newline_before(&bb, x);
                if (p == -2)
                        return -EIO;
                off_t start = p + 1;
                char hdr[BRM_LOG_TS_LEN + 8];
                size_t hn = (size_t)(x - start) < sizeof(hdr) ? (size_t)(x - start) : sizeof(hdr);
                if (start >= bb.start && start + (off_t)hn <= bb.end)
                        memcpy(hdr, bb.buf + (start - bb.start), hn);
                else if (pread(fd, hdr, hn, start) != (ssize_t)hn)
                        return -EIO;
                if (line_wanted(c, hdr, hn, &older)) {
                        if (++*count >= tail) {
                                *ret_at = start;
                                return 1;
                        }
                } else if (older) {
                        *ret_at = x + 1; /* everything before is older still */
                        return 1;
                }
                x = p;
        }
        return 0;
}

int brm_logcursor_open(struct brm_logcursor *c, const char *dir, unsigned max_files, unsigned streams,
                       int64_t tail, int64_t since_ns)
{
        struct chain_file files[BRM_LOG_MAX_FILES];
        unsigned n = 0;
        int r;

        memset(c, 0, sizeof(*c));
        c->fd = -1;
        if (max_files < 1 || max_files > BRM_LOG_MAX_FILES)
                return -EINVAL;
        if (snprintf(c->dir, sizeof(c->dir), "%s", dir) >= (int)sizeof(c->dir))
                return -ENAMETOOLONG;
        c->max_files = max_files;
        c->streams = streams & 3 ? streams & 3 : 3;
        c->since_ns = since_ns;
        c->cap = READ_SIZE + BRM_LOG_REC_MAX;
        if (!(c->buf = malloc(c->cap)))
                return -ENOMEM;
        for (int attempt = 0; attempt < 10; attempt++) {
                if ((r = chain(c, files, &n)) < 0)
                        goto fail;
                if (n == 0) {
                        struct stat st;
                        r = stat(dir, &st) < 0 ? -ENOENT : 0;
                        if (r < 0)
                                goto fail;
                        /* An empty log: wait for "log" to appear. */
                        c->end_ino = 0;
                        c->past_end = true;
                        return 0;
                }
                c->end_ino = files[n - 1].ino;
                c->end_off = files[n - 1].size;
                if (tail == 0) {
                        r = open_entry(c, &files[n - 1], files[n - 1].size);
                        if (r == -EAGAIN)
                                continue;
                        if (r < 0)
                                goto fail;
                        c->past_end = true;
                        return 0;
                }
                if (tail < 0 && since_ns == INT64_MIN) {
                        r = open_entry(c, &files[0], 0);
                        if (r == -EAGAIN)
                                continue;
                        if (r < 0)
                                goto fail;
                        return 0;
                }
                /* Walk back from the newest file. */
                int64_t count = 0;
                bool found = false, raced = false;
                for (unsigned k = n; k-- > 0 && !found;) {
                        off_t at = 0;
                        if ((r = open_entry(c, &files[k], 0)) == -EAGAIN) {
                                raced = true;
                                break;
                        }
                        if (r < 0)
                                goto fail;
                        r = scan_back(c, c->fd, files[k].size, tail < 0 ? INT64_MAX : tail, &count, &at);
                        if (r < 0)
                                goto fail;
                        if (r == 0 && k > 0)
                                continue; /* all of this file counted: go back further */
                        /* The start is in this file, or it is the oldest. */
                        r = open_entry(c, &files[k], r == 1 ? at : 0);
                        if (r == -EAGAIN) {
                                raced = true;
                                break;
                        }
                        if (r < 0)
                                goto fail;
                        found = true;
                }
                if (raced)
                        continue;
                return 0;
        }
        r = -EAGAIN;
fail:
        brm_logcursor_close(c);
        return r;
}

/* Moves to the file after the current one, or returns -EAGAIN if the
 * current one is still being written. */
/* Whether the cursor's file is still "log", the one being written (one
 * stat: the common case while following). Fills *size if so. */
static bool on_current(const struct brm_logcursor *c, off_t *size)
{
        char path[1100];
        struct stat st;

        if (c->fd < 0 || file_path(c, 0, path, sizeof(path)) < 0 || stat(path, &st) < 0 || st.st_ino != c->ino)
                return false;
        *size = st.st_size;
        return true;
}

static int advance_once(struct brm_logcursor *c)
{
        struct chain_file files[BRM_LOG_MAX_FILES];
        unsigned n, k;
        off_t size;
        int r;

        if (on_current(c, &size))
                return -EAGAIN;

        if ((r = chain(c, files, &n)) < 0)
                return r;
        if (n == 0)
                return -EAGAIN;
        if (c->fd < 0) {
                r = open_entry(c, &files[0], 0);
                return r == -EAGAIN ? -EINTR : r < 0 ? r : 1;
        }
        for (k = 0; k < n && files[k].ino != c->ino; k++)
                ;
        if (k == n - 1 && files[k].idx == 0)
                return -EAGAIN; /* still the file being written */
        /* Rotated: read what the writer finished in it before moving on. */
        ssize_t got;
        if (c->len < c->cap && (got = read(c->fd, c->buf + c->len, c->cap - c->len)) > 0) {
                c->len += (size_t)got;
                c->off += got;
                return 1;
        }
        if (c->ino == c->end_ino)
                c->past_end = true;
        /* Next: the one after ours, or if ours is gone, the oldest left. */
        unsigned next = k < n ? k + 1 : 0;
        if (next >= n)
                return -EAGAIN; /* "log" is being recreated */
        r = open_entry(c, &files[next], 0);
        if (r == -EAGAIN)
                return -EINTR; /* rotated while looking: look again */
        if (r < 0)
                return r;
        return 1;
}

static int advance(struct brm_logcursor *c)
{
        int r = -EINTR;
        for (int attempt = 0; attempt < 10 && r == -EINTR; attempt++)
                r = advance_once(c);
        return r == -EINTR ? -EAGAIN : r;
}

int brm_logcursor_next(struct brm_logcursor *c, struct brm_logrec *rec)
{
        int r;

        for (;;) {
                char *line = c->buf + c->pos;
                char *nl = c->len > c->pos ? memchr(line, '\n', c->len - c->pos) : NULL;

                if (nl) {
                        size_t llen = (size_t)(nl - line);
                        off_t line_off = c->off - (off_t)(c->len - c->pos);
                        struct brm_logrec r2;

                        c->pos += llen + 1;
                        if (c->drop_first) {
                                c->drop_first = false;
                                continue;
                        }
                        if (c->ino == c->end_ino && line_off >= c->end_off)
                                c->past_end = true;
                        if (brm_logrec_parse(line, llen, &r2) < 0)
                                continue;
                        if (c->have_last)
                                for (int s = 0; s < 2; s++) {
                                        uint64_t expect = c->last_n[s] + (r2.stream == s);
                                        if (r2.n[s] > expect && (c->streams & (1u << s)))
                                                c->skipped += r2.n[s] - expect;
                                }
                        c->last_n[0] = r2.n[0];
                        c->last_n[1] = r2.n[1];
                        c->have_last = true;
                        if (!(c->streams & (1u << r2.stream)) ||
                            (c->since_ns != INT64_MIN && r2.ts_ns < c->since_ns))
                                continue;
                        *rec = r2;
                        return 0;
                }
                /* Keep an unfinished record at the front and read more. */
                if (c->pos > 0) {
                        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
                        c->len -= c->pos;
                        c->pos = 0;
                }
                if (c->len == c->cap) {
                        /* No record is this long: not a log; drop it. */
                        c->len = 0;
                        c->drop_first = true;
                }
                if (c->fd >= 0) {
                        ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got < 0)
                                return -errno;
                        if (got > 0) {
                                c->len += (size_t)got;
                                c->off += got;
                                continue;
                        }
                }
                if ((r = advance(c)) < 0)
                        return r;
        }
}

uint64_t brm_logcursor_backlog(struct brm_logcursor *c)
{
        struct chain_file files[BRM_LOG_MAX_FILES];
        unsigned n, k;
        uint64_t total = 0;
        struct stat st;

        off_t done = c->off - (off_t)(c->len - c->pos), size;

        if (on_current(c, &size))
                return size > done ? (uint64_t)(size - done) : 0;
        if (c->fd < 0 || chain(c, files, &n) < 0)
                return 0;
        for (k = 0; k < n && files[k].ino != c->ino; k++)
                ;
        if (k == n) {
                if (fstat(c->fd, &st) == 0 && st.st_size > done)
                        total += (uint64_t)(st.st_size - done);
                k = 0;
        } else {
                if (files[k].size > done)
                        total += (uint64_t)(files[k].size - done);
                k++;
        }
        for (; k < n; k++)
                total += (uint64_t)files[k].size;
        return total;
}

/* The counters of the last whole record before offset `at` of the open
 * file: what a reader that starts at `at` has passed over. */
static int counters_before(struct brm_logcursor *c, off_t at, uint64_t ret_n[2])
{
        size_t want = 2 * BRM_LOG_REC_MAX < c->cap ? 2 * BRM_LOG_REC_MAX : c->cap;
        off_t from = at > (off_t)want ? at - (off_t)want : 0;
        ssize_t got = pread(c->fd, c->buf, (size_t)(at - from), from);
        struct brm_logrec rec;

        if (got != at - from)
                return -EIO;
        size_t end = (size_t)got;
        while (end > 0 && c->buf[end - 1] != '\n')
                end--; /* a record cut at `at` is not passed yet */
        while (end > 0) {
                size_t start = end - 1;
                while (start > 0 && c->buf[start - 1] != '\n')
                        start--;
                if ((start > 0 || from == 0) && brm_logrec_parse(c->buf + start, end - 1 - start, &rec) == 0) {
                        ret_n[0] = rec.n[0];
                        ret_n[1] = rec.n[1];
                        return 0;
                }
                end = start;
        }
        return -ENOENT;
}

int brm_logcursor_skip_to_end(struct brm_logcursor *c)
{
        struct chain_file files[BRM_LOG_MAX_FILES];
        uint64_t n_end[2];
        unsigned n;
        int r = -EAGAIN;

        for (int attempt = 0; attempt < 10 && r == -EAGAIN; attempt++) {
                if ((r = chain(c, files, &n)) < 0)
                        return r;
                if (n == 0)
                        return 0;
                r = open_entry(c, &files[n - 1], files[n - 1].size);
        }
        if (r < 0)
                return r;
        /* Count what was passed over now, not when the next line comes: the
         * container may have gone quiet. */
        if (c->have_last && counters_before(c, c->off, n_end) == 0) {
                for (int s = 0; s < 2; s++)
                        if (n_end[s] > c->last_n[s] && (c->streams & (1u << s)))
                                c->skipped += n_end[s] - c->last_n[s];
                c->last_n[0] = n_end[0];
                c->last_n[1] = n_end[1];
        }
        return 0;
}

void brm_logcursor_moved(struct brm_logcursor *c, const char *dir)
{
        snprintf(c->dir, sizeof(c->dir), "%s", dir);
}

void brm_logcursor_close(struct brm_logcursor *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        free(c->buf);
        c->buf = NULL;
}
