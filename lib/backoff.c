#include "backoff.h"

#include "util.h"

void brm_backoff_init(struct brm_backoff *b, uint64_t base_ms, uint64_t cap_ms)
{
        b->base_ms = base_ms;
        b->cap_ms = cap_ms;
        b->factor = 1.6;
        b->jitter = 0.2;
        b->full = false;
        b->current_ms = (double)base_ms;
}

void brm_backoff_init_full(struct brm_backoff *b, uint64_t base_ms, uint64_t cap_ms)
{
        brm_backoff_init(b, base_ms, cap_ms);
        b->full = true;
}

/* Uniform in [0, 1]. */
static double uniform(void)
{
        uint32_t rnd = 0;

        brm_random(&rnd, sizeof(rnd));
        return (double)rnd / (double)UINT32_MAX;
}

uint64_t brm_backoff_next(struct brm_backoff *b)
{
        double delay;

        if (b->full)
                delay = b->current_ms * uniform();
        else
                delay = b->current_ms * (1.0 + (uniform() * 2.0 - 1.0) * b->jitter);
        b->current_ms *= b->factor;
        if (b->current_ms > (double)b->cap_ms)
                b->current_ms = (double)b->cap_ms;
        if (delay > (double)b->cap_ms)
                delay = (double)b->cap_ms;
        return delay < 1 ? 1 : (uint64_t)delay;
}

void brm_backoff_reset(struct brm_backoff *b)
{
        b->current_ms = (double)b->base_ms;
}
