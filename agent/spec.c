/* The rules a container spec must meet on this node; see spec.h. */
#include "spec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgroup.h"
#include "util.h"

int brm_spec_validate(const struct brm_container_spec *s, char *why, size_t size)
{
        if (!brm_valid_container_name(s->name)) {
                snprintf(why, size, "name '%s' is not valid: expected [a-z0-9][a-z0-9_.-]{0,62}", s->name);
                return -EINVAL;
        }
        if (!s->image[0]) {
                snprintf(why, size, "%s: image is empty", s->name);
                return -EINVAL;
        }
        if ((unsigned)s->restart > BRM_RESTART_NEVER || (unsigned)s->network > BRM_NET_NONE) {
                snprintf(why, size, "%s: restart or network out of range", s->name);
                return -EINVAL;
        }
        if (s->memory_high && s->memory_max && s->memory_high > s->memory_max) {
                snprintf(why, size, "%s: memory_high is above memory_max", s->name);
                return -EINVAL;
        }
        for (size_t i = 0; i < BRM_MAX_ENV && s->env[i]; i++)
                if (!strchr(s->env[i], '=') || s->env[i][0] == '=') {
                        snprintf(why, size, "%s: env '%s' is not KEY=VALUE", s->name, s->env[i]);
                        return -EINVAL;
                }
        return 0;
}

const char *brm_spec_unenforceable(const struct brm_container_spec *s, const struct brm_cgroup *cg, bool at_check)
{
        if ((s->memory_max || s->memory_high) && !cg->memory)
                return at_check ? "memory limit refused: this node has no memory cgroup controller"
                                : "memory limit requested but the memory cgroup controller is not available "
                                  "on this node (enable it: cgroup_enable=memory on the kernel command line)";
        if (s->cpu_millis && !cg->cpu)
                return at_check ? "--cpus refused: this node has no cpu controller"
                                : "--cpus requested but the cpu controller (CFS bandwidth) is not available";
        if (s->pids_max && !cg->pids)
                return at_check ? "--pids refused: this node has no pids controller"
                                : "--pids requested but the pids cgroup controller is not available";
        return NULL;
}
