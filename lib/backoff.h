/* Reconnect backoff after gRPC's connection backoff: the first delay is
 * base, each next one is factor times longer, capped, with +-jitter spread so
 * that a hundred nodes do not reconnect to a restarted master in lockstep. */
#ifndef BRM_BACKOFF_H
#define BRM_BACKOFF_H

#include <stdint.h>

struct brm_backoff {
        uint64_t base_ms;   /* 1000 */
        uint64_t cap_ms;    /* 120000 */
        double factor;      /* 1.6 */
        double jitter;      /* 0.2 */
        double current_ms;  /* un-jittered delay for the next attempt */
};

void brm_backoff_init(struct brm_backoff *b, uint64_t base_ms, uint64_t cap_ms);
/* Returns the delay before the next attempt and advances the sequence. */
uint64_t brm_backoff_next(struct brm_backoff *b);
/* Back to base after a successful connection. */
void brm_backoff_reset(struct brm_backoff *b);

#endif
