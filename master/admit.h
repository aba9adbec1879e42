/* Admission of unauthenticated connections: the ones still in their TLS
 * handshake, and the certificate-less ones that may only join. Anyone on
 * the LAN can open them, so they are bounded per source address and in
 * total, must show progress within short deadlines, and give way to
 * newcomers when they stall. Authenticated sessions (node and admin
 * certificates) are not counted here.
 *
 * The bounds keep what the old fixed cap of 64 handshakes in flight was
 * for: a master restart brings every node back at once, and each
 * handshake costs milliseconds of ECC; were all of them in flight together
 * they could pass the handshake time limit together. While the set is full
 * of peers that make progress, the server stops accepting and the rest wait
 * in the kernel's accept queue, where no deadline of ours runs. What is new
 * is who may hold a place: a peer that sends nothing for 3 s, or stalls a
 * handshake step (or, joining, its request) for 5 s, is closed; when the
 * set is full, a newcomer takes the place of one that has completed no
 * handshake step 100 ms after it was accepted, or of one that has made no
 * progress for 1 s; and one address may hold only a few places. So a slow
 * or silent peer can no longer make the master stop accepting. A peer whose
 * bytes wait unread in our socket is never judged slow: the delay is ours.
 *
 * Functions return 0 or a negative errno value. */
#ifndef BRM_ADMIT_H
#define BRM_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

#define BRM_ADMIT_MAX_DEFAULT 64
#define BRM_ADMIT_PER_SOURCE_DEFAULT 8
/* How often brm_admit_sweep() should run. */
#define BRM_ADMIT_SWEEP_MS 250

/* One unauthenticated connection; embedded in its session. */
struct brm_admit_entry {
        struct brm_conn *conn;
        struct brm_admit_entry *prev, *next;
        uint8_t src[16];          /* the peer's address: 4 or 16 bytes */
        uint8_t src_len;
        char src_text[48];        /* for log lines */
        uint64_t accepted_ms;     /* monotonic */
        uint64_t progress_ms;     /* last handshake step or join message */
        uint32_t progress_seen;   /* steps + messages counted at progress_ms */
        uint32_t messages;        /* frames received without a certificate */
        bool listed;
};

struct brm_admit {
        struct brm_admit_entry *head;
        unsigned count;
        unsigned max;             /* in total */
        unsigned max_per_source;
        uint64_t fd_limit;        /* open-file limit, re-read every sweep */
        unsigned fd_base;         /* descriptors open before the first session */
        unsigned sessions_at_limit;
        uint64_t last_fd_warn_ms;
        uint64_t last_sweep_ms;
        uint64_t last_report_ms;
        /* Since the last report line. */
        unsigned refused, evicted, timed_out, fd_exhausted;
        char refused_from[48];
};

void brm_admit_init(struct brm_admit *a, unsigned max, unsigned max_per_source);

/* Lists a freshly accepted connection, reading its source address.
 * -EADDRINUSE if that source already holds max_per_source places (the
 * caller closes the connection; it was not listed). If the set is full, an
 * entry that is getting nowhere is closed to make room; the caller asks
 * brm_admit_has_room() before accepting. */
int brm_admit_add(struct brm_admit *a, struct brm_admit_entry *e, struct brm_conn *c, uint64_t now_ms);
/* Leaves the set: authenticated, or closed. No-op when not listed. */
void brm_admit_remove(struct brm_admit *a, struct brm_admit_entry *e);
/* A message arrived on a connection without a certificate. */
void brm_admit_message(struct brm_admit_entry *e);
/* True when a newcomer can be accepted: a free place or one to evict, and
 * a descriptor for it. sessions is the number of sessions open (one
 * descriptor each). Near the open-file limit it closes the stalest
 * unauthenticated connection waiting for its peer, whatever its age, and
 * is false when there is none: the newcomer then waits in the kernel's
 * accept queue instead of being dropped by accept() failing. */
bool brm_admit_has_room(struct brm_admit *a, size_t sessions, uint64_t now_ms);
/* Closes entries past their deadlines and logs a summary at most every
 * 10 s. Returns how many it closed. */
unsigned brm_admit_sweep(struct brm_admit *a, uint64_t now_ms);
/* accept() ran out of descriptors anyway (libuv has dropped the waiting
 * connections through its reserve descriptor; the listener stays): closes
 * the stalest unauthenticated connection waiting for its peer. True if it
 * closed one. */
bool brm_admit_fd_exhausted(struct brm_admit *a, uint64_t now_ms);

/* Raises the soft limit on open files to the hard limit, so the listener
 * does not run out long before the system would. Sets *ret_limit to the
 * limit now in force. */
int brm_admit_raise_nofile(uint64_t *ret_limit);

#endif
