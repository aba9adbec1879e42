/* The on-node log format, its writer (with rotation) and the line splitter.
 *
 * Container output (written by bramble-shim) and the agent's own log
 * (written by the agent) are stored as one record per line:
 *
 *   2026-11-22T10:00:00.123456789Z stdout F 41 3 the line's bytes
 *
 * TIMESTAMP  RFC 3339 UTC with nanoseconds, always 30 characters: when the
 *            bytes were read from the container.
 * STREAM     "stdout" or "stderr".
 * FLAG       F: a whole line (its newline is not stored). P: part of a line
 *            (a line longer than BRM_LOG_LINE_MAX is cut into pieces, and
 *            output that ends without a newline is kept as a piece).
 * NOUT NERR  how many stdout and stderr records this log has had, this one
 *            included. They never go back, also across restarts and
 *            rotations, so a reader that sees a jump knows exactly how many
 *            lines of each stream it did not see.
 * DATA       the bytes as written, unchanged (only the newline removed).
 *
 * A log is a directory: "log" is being written, "log.1" is older, up to
 * "log.N-1"; rotation renames and drops the oldest. Does not log. */
#ifndef BRM_LOGREC_H
#define BRM_LOGREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRM_LOG_LINE_MAX 16384   /* longer lines are split into P pieces */
#define BRM_LOG_TS_LEN 30        /* "2026-11-22T10:00:00.123456789Z" */
#define BRM_LOG_HDR_MAX 96       /* timestamp, stream, flag, two counters, spaces */
#define BRM_LOG_REC_MAX (BRM_LOG_HDR_MAX + BRM_LOG_LINE_MAX + 1)
#define BRM_LOG_MAX_FILES 100
/* A log stream may have this many bytes of frames between node and viewer. */
#define BRM_LOG_WINDOW (256 * 1024)

enum { BRM_LOG_STDOUT = 0, BRM_LOG_STDERR = 1 };

/* Flags of a line on the wire (LogChunk.flags). */
#define BRM_LOG_FLAG_STDERR 1u
#define BRM_LOG_FLAG_PARTIAL 2u

struct brm_logrec {
        int64_t ts_ns;
        int stream;        /* BRM_LOG_STDOUT or BRM_LOG_STDERR */
        bool partial;
        uint64_t n[2];     /* records of each stream so far, this one included */
        const char *data;  /* points into the parsed line */
        size_t len;
};

/* Parses one record (without its newline). -EBADMSG if it is not one. */
int brm_logrec_parse(const char *line, size_t len, struct brm_logrec *r);

/* Formats ts_ns as the 30-character timestamp plus a NUL. */
void brm_log_format_ts(int64_t ts_ns, char out[BRM_LOG_TS_LEN + 1]);
/* Parses exactly the 30-character form (-EBADMSG outside what ts_ns can
 * hold: 1677-09-21 to 2262-04-11). */
int brm_log_parse_ts(const char *s, size_t len, int64_t *ret_ns);

/* Days since 1970-01-01 of a proleptic Gregorian date, and a month's days. */
int64_t brm_days_from_civil(int y, unsigned m, unsigned d);
unsigned brm_days_in_month(unsigned y, unsigned m);

/* Exactly n decimal digits at s: 0, or -EBADMSG. */
int brm_fixed_digits(const char *s, int n, unsigned *ret);

/* Wall-clock time in nanoseconds. */
int64_t brm_now_ns(void);

/* ---- writer ---- */

struct brm_logwriter {
        char dir[1024];
        int fd;                 /* "log", opened for append */
        uint64_t size;          /* of "log" */
        uint64_t max_size;      /* rotate when "log" would grow past this */
        unsigned max_files;     /* "log" plus max_files - 1 older ones */
        uint64_t n[2];          /* counters of the last record written */
        char *buf;              /* records not yet written */
        size_t len, cap;
        int64_t ts_sec;         /* cache of the timestamp's seconds part */
        char ts_prefix[20];
        int error;              /* first write error since the last flush, as -errno */
        bool dirty;             /* written since the last brm_logwriter_sync() */
        /* Keeping free space for the node's state (brm_logwriter_set_reserve). */
        uint64_t reserve;       /* bytes left free on the file system; 0 = none kept */
        uint64_t room;          /* bytes that may be written before free space is looked at again */
        uint64_t short_since;   /* monotonic ms since when the reserve has been reached; 0 = not short */
        uint64_t short_checked; /* monotonic ms of the last look while short */
        /* Records dropped (a full disk, a failed write) and not yet told in
         * a marker record, and the marker queued to tell them. */
        uint64_t dropped;
        int drop_error;         /* why the last ones were dropped: -ENOSPC also for the reserve */
        bool drop_reserve;      /* dropped to keep the reserve */
        size_t marker_off;      /* where the queued marker starts in buf; SIZE_MAX = none */
        uint64_t marker_told;   /* how many drops it tells */
};

/* Opens (creating the directory's "log" if needed) and recovers the
 * counters from the newest record on disk. max_files >= 1. */
int brm_logwriter_open(struct brm_logwriter *w, const char *dir, uint64_t max_size, unsigned max_files);
/* Queues one record; data must not contain a newline and len must be at
 * most BRM_LOG_LINE_MAX. Flushes by itself when the buffer is full (a
 * failed flush there only shows in w->error: the record is still queued). */
int brm_logwriter_add(struct brm_logwriter *w, int stream, bool partial, int64_t ts_ns, const void *data, size_t len);
/* Writes what is queued: whole records into "log" up to max_size, then
 * rotation and the rest into the new "log" (one write per file; a single
 * record longer than max_size gets a file of its own). On an error (a full
 * disk) what is queued is dropped, never retried: the counters show the gap. */
int brm_logwriter_flush(struct brm_logwriter *w);
/* Makes what was written durable (fdatasync), if anything was: a power
 * cut then loses at most what came after. */
int brm_logwriter_sync(struct brm_logwriter *w);
/* Flushes, syncs and closes. */
int brm_logwriter_close(struct brm_logwriter *w);

/* Keeps RESERVE bytes free on the log's file system (0: none): a write
 * that would take them is not made, and what is queued is dropped, as on
 * a full disk. Free space is looked at when "log" is rotated and every so
 * many bytes written (an eighth of what is left above the reserve, at most
 * 1 MiB), so one writer cannot overrun it between two looks. When the
 * reserve has been reached for FREE_OWN_MS (2 s: time for whoever keeps
 * the logs in order to delete others' older files first) the writer frees
 * its own oldest data: its oldest rotated file, else it rotates "log" away.
 *
 * Every dropped record is still counted (readers see the gap), and once a
 * write succeeds again a marker record on stderr says how many were
 * dropped and why ("bramble: N lines of output dropped here: ..."), so
 * nothing is lost silently. */
void brm_logwriter_set_reserve(struct brm_logwriter *w, uint64_t reserve);

/* Reads the counters of the newest parseable record in the log directory
 * ("log", else the newest rotated file); zero when there is none. */
int brm_log_last_counters(const char *dir, unsigned max_files, uint64_t ret_n[2]);

/* ---- splitting a byte stream into records ---- */

struct brm_logsplit {
        int stream;
        size_t len;                      /* bytes of an unfinished line held */
        char buf[BRM_LOG_LINE_MAX];
};

/* Feeds bytes read from the stream at ts_ns: every complete line becomes an
 * F record and every BRM_LOG_LINE_MAX bytes without a newline a P record. */
int brm_logsplit_feed(struct brm_logsplit *s, struct brm_logwriter *w, int64_t ts_ns, const char *data, size_t len);
/* Emits a held unfinished line as a P record (end of stream, or it has
 * waited long enough). */
int brm_logsplit_flush(struct brm_logsplit *s, struct brm_logwriter *w, int64_t ts_ns);

#endif
