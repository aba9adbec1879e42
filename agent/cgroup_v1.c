/* cgroup v1: one hierarchy per controller (memory, cpu, cpuacct, pids),
 * for hosts that still boot with it — Raspberry Pi OS kernels before
 * bookworm, and "hybrid" hosts whose unified hierarchy carries no
 * controllers. The runtime creates the container's directory, with the same
 * path, in every hierarchy; we read each controller's files in its own. */
#include "cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static bool exists_at(const struct brm_cgroup *cg, const char *ctl, const char *path, const char *file)
{
        char p[1024];
        struct stat st;

        if (brm_path(p, sizeof(p), "%s/%s%s/%s", cg->root, ctl, path, file) < 0)
                return false;
        return stat(p, &st) == 0;
}

static int v1_probe(struct brm_cgroup *cg)
{
        /* A controller counts only if the file that enforces the limit is
         * there: a kernel without CFS bandwidth control has a cpu hierarchy
         * but no cfs_quota, and cannot honour --cpus. */
        cg->memory = exists_at(cg, "memory", "", "memory.limit_in_bytes");
        cg->cpu = exists_at(cg, "cpu", "", "cpu.cfs_quota_us");
        cg->pids = exists_at(cg, "pids", "", "cgroup.procs");
        cg->swap = cg->memory && exists_at(cg, "memory", "", "memory.memsw.limit_in_bytes");
        return 0;
}

/* v1 has no memory protection (memory.min is v2 only), and moving the agent
 * into a leaf of its own would buy nothing else, so the agent stays where it
 * was started; the supervisor's oom_score_adj is its protection here. */
static int v1_protect_self(struct brm_cgroup *cg, uint64_t memory_min)
{
        return 0;
}

static int v1_stats(const struct brm_cgroup *cg, const char *cgpath, struct brm_cgroup_stats *ret)
{
        struct brm_cgroup_stats s;
        char path[1024];
        uint64_t v, inactive;
        bool any = false;

        memset(&s, 0, sizeof(s));
        if (cg->memory) {
                if (brm_path(path, sizeof(path), "%s/memory%s/memory.usage_in_bytes", cg->root, cgpath) < 0)
                        return -ENAMETOOLONG;
                if (brm_cgroup_read_u64(path, &v) == 0) {
                        any = true;
                        snprintf(path, sizeof(path), "%s/memory%s/memory.stat", cg->root, cgpath);
                        if (brm_cgroup_read_key(path, "total_inactive_file", &inactive) == 0 && inactive < v)
                                v -= inactive;
                        s.has_memory = true;
                        s.memory_bytes = v;
                }
                /* The oom_kill line appeared in Linux 4.13; older kernels
                 * leave OOM kills unreported (has_oom false), never zero. */
                snprintf(path, sizeof(path), "%s/memory%s/memory.oom_control", cg->root, cgpath);
                if (brm_cgroup_read_key(path, "oom_kill", &v) == 0) {
                        s.has_oom = true;
                        s.oom_kills = v;
                }
        }
        if (brm_path(path, sizeof(path), "%s/cpuacct%s/cpuacct.usage", cg->root, cgpath) < 0)
                return -ENAMETOOLONG;
        if (brm_cgroup_read_u64(path, &v) == 0) {
                any = true;
                s.has_cpu = true;
                s.cpu_usage_ns = v;
        }
        snprintf(path, sizeof(path), "%s/pids%s/pids.current", cg->root, cgpath);
        if (brm_cgroup_read_u64(path, &v) == 0) {
                any = true;
                s.has_pids = true;
                s.pids = v;
        }
        if (!any)
                return -ENOENT;
        *ret = s;
        return 0;
}

const struct brm_cgroup_ops brm_cgroup_v1_ops = {
        .name = "v1",
        .version = 1,
        .probe = v1_probe,
        .protect_self = v1_protect_self,
        .stats = v1_stats,
};
