/* For the tests of the join options (test_bootcfg, test_wifi): runs
 * brm_bootcfg_take_opt over every argument, as the commands do; returns the
 * first refusal, else the number of arguments that were not join options. */
#ifndef BRM_TEST_BOOTCFG_TAKE_H
#define BRM_TEST_BOOTCFG_TAKE_H

#include "bootcfg.h"

static inline int take_all(int argc, char **argv, struct brm_bootcfg *cfg)
{
        int others = 0, r;

        for (int i = 1; i < argc; i++) {
                if ((r = brm_bootcfg_take_opt("test", argc, argv, &i, cfg)) < 0)
                        return r;
                if (r == 0)
                        others++;
        }
        return others;
}

#endif
