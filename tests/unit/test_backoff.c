/* Reconnect backoff: gRPC's policy (+-20 %) and full jitter, their bounds,
 * the cap, and that full jitter really spreads the delays over the whole
 * window. */
#include "backoff.h"
#include "check.h"

#define DRAWS 2000

/* gRPC's policy: 1 s x 1.6, +-20 %, capped at 120 s. */
static void test_spread(void)
{
        struct brm_backoff b;
        double expect = 1000;

        brm_backoff_init(&b, 1000, 120000);
        for (int i = 0; i < 20; i++) {
                uint64_t d = brm_backoff_next(&b);
                CHECK_U64(d, >=, (uint64_t)(expect * 0.8) - 1);
                CHECK_U64(d, <=, (uint64_t)(expect * 1.2 > 120000 ? 120000 : expect * 1.2) + 1);
                expect = expect * 1.6 > 120000 ? 120000 : expect * 1.6;
        }
        brm_backoff_reset(&b);
        CHECK_U64(brm_backoff_next(&b), <=, 1200);
}

/* Full jitter: attempt n waits between 1 ms and min(cap, base x 1.6^n),
 * never longer than the cap. */
static void test_full_bounds(void)
{
        struct brm_backoff b;

        for (int run = 0; run < 200; run++) {
                double bound = 1000;

                brm_backoff_init_full(&b, 1000, 10000);
                for (int i = 0; i < 15; i++) {
                        uint64_t d = brm_backoff_next(&b);
                        CHECK_U64(d, >=, 1);
                        CHECK_U64(d, <=, (uint64_t)bound);
                        bound = bound * 1.6 > 10000 ? 10000 : bound * 1.6;
                }
                brm_backoff_reset(&b);
                CHECK_U64(brm_backoff_next(&b), <=, 1000);
        }
        /* A cap below the base still holds. */
        brm_backoff_init_full(&b, 5000, 1000);
        for (int i = 0; i < 100; i++)
                CHECK_U64(brm_backoff_next(&b), <=, 1000);
        brm_backoff_init(&b, 5000, 1000);
        for (int i = 0; i < 100; i++)
                CHECK_U64(brm_backoff_next(&b), <=, 1000);
}

/* Once at the cap, the delays cover the whole window [0, cap] evenly: the
 * mean is cap / 2 (its standard error over DRAWS draws is about 65 ms),
 * and both ends of the window are reached. Nodes that lost the master
 * together are therefore spread over the window, not bunched. */
static void test_full_spread(void)
{
        struct brm_backoff b;
        uint64_t lo = UINT64_MAX, hi = 0;
        double sum = 0;

        brm_backoff_init_full(&b, 1000, 10000);
        for (int i = 0; i < 10; i++)
                brm_backoff_next(&b);
        for (int i = 0; i < DRAWS; i++) {
                uint64_t d = brm_backoff_next(&b);
                sum += (double)d;
                lo = d < lo ? d : lo;
                hi = d > hi ? d : hi;
        }
        CHECK_DBL(sum / DRAWS, 5000, 500);
        CHECK_U64(lo, <, 500);
        CHECK_U64(hi, >, 9500);
}

int main(void)
{
        test_spread();
        test_full_bounds();
        test_full_spread();
        return 0;
}
