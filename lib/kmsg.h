/* One record of /dev/kmsg, as a single read() returns it:
 *
 *   PRI,SEQ,TS_USEC,FLAGS[,MORE...];MESSAGE\n
 *   [ KEY=VALUE\n]...
 *
 * PRI is facility << 3 | level, SEQ the record's sequence number,
 * TS_USEC microseconds since boot (CLOCK_MONOTONIC), FLAGS '-', or 'c'
 * when the record continues the previous one ('+' on old kernels); newer
 * kernels add fields such as "caller=T123" after FLAGS. The kernel has
 * already escaped the message's non-printable bytes as \xNN. Does not log. */
#ifndef BRM_KMSG_H
#define BRM_KMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct brm_kmsg {
        unsigned level;         /* 0 emerg .. 7 debug */
        unsigned facility;
        uint64_t seq;
        uint64_t ts_us;         /* since boot */
        bool continuation;      /* flag 'c' */
        const char *msg;        /* points into the parsed buffer; not NUL-terminated */
        size_t msg_len;
};

/* Parses one record of len bytes (buf need not be NUL-terminated). The
 * message is everything after the first ';' up to the first '\n' (or the
 * end), bytes unchanged; continuation lines are not looked at. 0, or
 * -EBADMSG (r untouched) when a field is missing, not a number or too
 * large, or there is no ';'. */
int brm_kmsg_parse(const char *buf, size_t len, struct brm_kmsg *r);

/* Reads one record into buf like read(2) on /dev/kmsg: its length, or
 * -EAGAIN when no record is left, -EPIPE when the next one was overwritten
 * (the next read goes on with the oldest kept), another -errno on failure. */
typedef ssize_t (*brm_kmsg_read_fn)(void *arg, char *buf, size_t len);
/* Whether a record is one the reader asked for (level, time filters). */
typedef bool (*brm_kmsg_want_fn)(void *arg, const struct brm_kmsg *k);

/* The records a "last N" read shows, by sequence number. The kernel keeps
 * writing while the log is counted, so a count of records is not enough:
 * the window is pinned to the sequence numbers that were there. */
struct brm_kmsg_window {
        uint64_t first_seq;     /* show wanted records from this one on (0: all) */
        uint64_t end_seq;       /* the last record present when counted */
        bool any;               /* false: the log was empty */
};

/* What to do with a record read after brm_kmsg_tail. */
enum brm_kmsg_verdict { BRM_KMSG_SKIP, BRM_KMSG_SHOW, BRM_KMSG_END };

/* Reads the log to its end through rd, finding where its last n wanted
 * records start and where it ended. buf (buf_len bytes, at least one
 * record) is scratch space. 0 and *ret set, or a negative errno from rd
 * or -ENOMEM (*ret untouched). Records that arrive while it reads are
 * counted too: the window ends where the read found the end. */
int brm_kmsg_tail(brm_kmsg_read_fn rd, void *rd_arg, brm_kmsg_want_fn want, void *want_arg,
                  char *buf, size_t buf_len, uint64_t n, struct brm_kmsg_window *ret);

/* For a record with sequence number seq read after rewinding: SKIP before
 * the window, SHOW inside it, END past its end when not following (a
 * follower shows what comes later too). */
enum brm_kmsg_verdict brm_kmsg_window_check(const struct brm_kmsg_window *w, uint64_t seq, bool follow);

#endif
