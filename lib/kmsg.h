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

#endif
