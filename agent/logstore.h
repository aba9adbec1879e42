/* Reading a log directory written by brm_logwriter (lib/logrec.h): start at
 * the last N lines and/or a time, read record by record across rotated
 * files, notice rotation while following, and count exactly the lines that
 * were never seen (rotated away or skipped) from the records' counters.
 * Files are read with plain read(): they are local and usually cached. */
#ifndef BRM_LOGSTORE_H
#define BRM_LOGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "logrec.h"

struct brm_logcursor {
        char dir[1024];
        unsigned max_files;
        unsigned streams;        /* bit 0 stdout, bit 1 stderr */
        int64_t since_ns;
        int fd;                  /* the file being read, -1 when none */
        ino_t ino;
        off_t off;               /* file offset of buf[len] */
        char *buf;               /* buf[pos, len): read, not yet returned */
        size_t pos, len, cap;
        bool drop_first;         /* started mid-record: skip to the next newline */
        uint64_t last_n[2];      /* counters of the last record passed */
        bool have_last;
        uint64_t skipped;        /* wanted lines known to be missed, not yet reported */
        ino_t end_ino;           /* where the log ended when the cursor opened */
        off_t end_off;
        bool past_end;           /* has read beyond that point (live data) */
};

/* Opens at the start of the last `tail` wanted lines (tail < 0: all), or the
 * end when tail is 0. Lines older than since_ns are passed over. A missing
 * directory is -ENOENT. */
int brm_logcursor_open(struct brm_logcursor *c, const char *dir, unsigned max_files, unsigned streams,
                       int64_t tail, int64_t since_ns);
/* The next wanted record (valid until the next call): 0, or -EAGAIN when
 * there is nothing more yet, or another -errno. c->skipped grows by the
 * wanted lines that were missed before this record. */
int brm_logcursor_next(struct brm_logcursor *c, struct brm_logrec *rec);
/* Bytes not yet read, up to the end of the newest file. */
uint64_t brm_logcursor_backlog(struct brm_logcursor *c);
/* Moves to the end of the newest file (a viewer fell behind). */
int brm_logcursor_skip_to_end(struct brm_logcursor *c);
/* The log directory moved (the container was removed): go on reading the
 * open file, and find the rest under the new name. */
void brm_logcursor_moved(struct brm_logcursor *c, const char *dir);
void brm_logcursor_close(struct brm_logcursor *c);

#endif
