/* Reconnect backoff: the first delay is base, each next one factor (1.6)
 * times longer, capped. Two ways to spread the delays, so that a hundred
 * nodes do not reconnect to a restarted master in lockstep:
 *
 *  - gRPC's connection backoff (brm_backoff_init): each delay +-20 %. The
 *    delays stay close to the schedule, and nodes that lost the master at
 *    the same moment stay close together.
 *  - full jitter (brm_backoff_init_full): each delay uniform in
 *    [0, scheduled delay]. Nodes lose their common phase after the first
 *    attempt, so their attempts (and a returning master's handshakes) are
 *    spread over the whole window; the mean delay is half the scheduled
 *    one. */
#ifndef BRM_BACKOFF_H
#define BRM_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct brm_backoff {
        uint64_t base_ms;   /* 1000 */
        uint64_t cap_ms;    /* no delay is longer */
        double factor;      /* 1.6 */
        double jitter;      /* 0.2: +-20 %, unless full */
        bool full;          /* full jitter */
        double current_ms;  /* un-jittered delay for the next attempt */
};

/* gRPC's policy: base x 1.6^n, +-20 %, capped. */
void brm_backoff_init(struct brm_backoff *b, uint64_t base_ms, uint64_t cap_ms);
/* Full jitter: uniform in [0, min(cap, base x 1.6^n)]. */
void brm_backoff_init_full(struct brm_backoff *b, uint64_t base_ms, uint64_t cap_ms);
/* Returns the delay before the next attempt (at least 1 ms, at most cap)
 * and advances the sequence. */
uint64_t brm_backoff_next(struct brm_backoff *b);
/* Back to base after a successful connection. */
void brm_backoff_reset(struct brm_backoff *b);

#endif
