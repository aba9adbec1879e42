/* cgroup v2 (the unified hierarchy): the target on the Raspberry Pi image.
 * Also the module's shared part: detection and small file readers, so the
 * v1 backend stays only what differs. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

/* Cgroup files are tiny; a bounded read keeps a broken tree from costing us. */
#define CG_FILE_MAX 65536

int brm_cgroup_read_u64(const char *path, uint64_t *ret)
{
        uint8_t *data;
        size_t len;
        uint64_t v;
        int r = brm_file_read(path, CG_FILE_MAX, &data, &len);

        if (r < 0)
                return r;
        if (strncmp((char *)data, "max", 3) == 0)
                v = UINT64_MAX;
        else if (sscanf((char *)data, "%" SCNu64, &v) != 1)
                r = -EINVAL;
        free(data);
        if (r == 0)
                *ret = v;
        return r;
}

int brm_cgroup_read_key(const char *path, const char *key, uint64_t *ret)
{
        uint8_t *data;
        size_t len, klen = strlen(key);
        int r = brm_file_read(path, CG_FILE_MAX, &data, &len);

        if (r < 0)
                return r;
        r = -ENOENT;
        for (char *line = (char *)data; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                uint64_t v;
                if (strncmp(line, key, klen) == 0 && line[klen] == ' ' &&
                    sscanf(line + klen + 1, "%" SCNu64, &v) == 1) {
                        *ret = v;
                        r = 0;
                        break;
                }
        }
        free(data);
        return r;
}

static bool exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0;
}

/* Writes a short value to a cgroup file; cgroup files take one write. */
static int write_str(const char *path, const char *s)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (write(fd, s, strlen(s)) < 0)
                r = -errno;
        close(fd);
        return r;
}

/* Picks the agent's base cgroup from /proc/self/cgroup: the unified line
 * ("0::/x") on v2; on v1 the memory controller's line (where the limits that
 * matter live; the other controllers get the same path created by the
 * runtime), else the cpu one, else "/". A previous incarnation's own leaf is
 * stripped, so an agent re-executed from inside its leaf keeps the same base. */
static int parse_base(const char *text, unsigned version, char *out, size_t size)
{
        const char *pick = NULL, *cpu = NULL;
        size_t n;
        char *p;

        for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                if (version == 2 && c1 == line + 1 && line[0] == '0' && c2 == c1 + 1)
                        pick = c2 + 1;
                if (version == 1) {
                        const char *ctl = c1 + 1;
                        for (const char *s = ctl; s < c2;) {
                                const char *e = memchr(s, ',', (size_t)(c2 - s));
                                size_t l = e ? (size_t)(e - s) : (size_t)(c2 - s);
                                if (l == 6 && strncmp(s, "memory", 6) == 0)
                                        pick = c2 + 1;
                                if (l == 3 && strncmp(s, "cpu", 3) == 0)
                                        cpu = c2 + 1;
                                s += l + 1;
                        }
                }
        }
        if (!pick)
                pick = cpu ? cpu : "/";
        n = strcspn(pick, "\n");
        if (n + 1 > size)
                return -ENAMETOOLONG;
        memcpy(out, pick, n);
        out[n] = '\0';
        if (n == 0)
                strcpy(out, "/");
        p = strstr(out, "/" BRM_CGROUP_SUBTREE "/" BRM_CGROUP_AGENT_LEAF);
        if (p && strcmp(p, "/" BRM_CGROUP_SUBTREE "/" BRM_CGROUP_AGENT_LEAF) == 0)
                *p = '\0';
        if (out[0] == '\0')
                strcpy(out, "/");
        return 0;
}

int brm_cgroup_open(const char *root, const char *proc_self_cgroup, struct brm_cgroup *ret)
{
        struct brm_cgroup cg;
        char path[512];
        uint8_t *text = NULL;
        size_t len;
        int r;

        memset(&cg, 0, sizeof(cg));
        if (!root)
                root = "/sys/fs/cgroup";
        if (brm_path(cg.root, sizeof(cg.root), "%s", root) < 0)
                return -ENAMETOOLONG;
        if (brm_path(path, sizeof(path), "%s/cgroup.controllers", root) < 0)
                return -ENAMETOOLONG;
        if (exists(path)) {
                cg.ops = &brm_cgroup_v2_ops;
        } else {
                cg.ops = &brm_cgroup_v1_ops;
                if (brm_path(path, sizeof(path), "%s/unified/cgroup.controllers", root) >= 0 && exists(path))
                        cg.hybrid = true;
        }
        if (!proc_self_cgroup) {
                r = brm_file_read("/proc/self/cgroup", CG_FILE_MAX, &text, &len);
                if (r < 0)
                        return r;
                proc_self_cgroup = (const char *)text;
        }
        r = parse_base(proc_self_cgroup, cg.ops->version, cg.base, sizeof(cg.base));
        free(text);
        if (r < 0)
                return r;
        r = cg.ops->probe(&cg);
        if (r < 0)
                return r;
        *ret = cg;
        return 0;
}

int brm_cgroup_container_path(const struct brm_cgroup *cg, const char *name, char *out, size_t size)
{
        int r = brm_path(out, size, "%s/%s/%s", strcmp(cg->base, "/") == 0 ? "" : cg->base, BRM_CGROUP_SUBTREE,
                         name);
        return r < 0 ? r : 0;
}

/* ---- v2 ---- */

static bool has_word(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

static int v2_probe(struct brm_cgroup *cg)
{
        char path[768];
        uint8_t *text;
        size_t len;
        int r;

        if (brm_path(path, sizeof(path), "%s/cgroup.controllers", cg->root) < 0)
                return -ENAMETOOLONG;
        r = brm_file_read(path, CG_FILE_MAX, &text, &len);
        if (r < 0)
                return r;
        cg->memory = has_word((char *)text, "memory");
        cg->cpu = has_word((char *)text, "cpu");
        cg->pids = has_word((char *)text, "pids");
        free(text);
        /* memory.swap.max exists only with swap accounting; the root has no
         * memory.* files, so look in the base (or init.scope on a node). */
        if (cg->memory) {
                if (brm_path(path, sizeof(path), "%s%s/memory.swap.max", cg->root,
                             strcmp(cg->base, "/") == 0 ? "/init.scope" : cg->base) >= 0)
                        cg->swap = exists(path);
        }
        return 0;
}

static int v2_protect_self(struct brm_cgroup *cg, uint64_t memory_min)
{
        char sub[768], leaf[768], path[900], num[32];
        const char *base = strcmp(cg->base, "/") == 0 ? "" : cg->base;
        int r = 0, w;

        if (brm_path(sub, sizeof(sub), "%s%s/%s", cg->root, base, BRM_CGROUP_SUBTREE) < 0 ||
            brm_path(leaf, sizeof(leaf), "%s/%s", sub, BRM_CGROUP_AGENT_LEAF) < 0)
                return -ENAMETOOLONG;
        if (mkdir(sub, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
                return -errno;
        /* Leave the base first: v2 lets a cgroup hand controllers to its
         * children only while it holds no processes itself. */
        snprintf(path, sizeof(path), "%s/cgroup.procs", leaf);
        if ((w = write_str(path, "0")) < 0)
                return w;
        /* The root cgroup (a node without systemd) may always delegate; a
         * non-root base that other processes share cannot, and its owner
         * must delegate for us. */
        snprintf(path, sizeof(path), "%s%s/cgroup.subtree_control", cg->root, base);
        if ((w = write_str(path, "+memory +cpu +pids")) < 0 && r == 0)
                r = w;
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", sub);
        if ((w = write_str(path, "+memory +cpu +pids")) < 0 && r == 0)
                r = w;
        if (!cg->memory || memory_min == 0)
                return r;
        /* Protection is bounded by every ancestor's, so the subtree gets the
         * same memory.min as the leaf; containers get none. */
        snprintf(num, sizeof(num), "%" PRIu64, memory_min);
        snprintf(path, sizeof(path), "%s/memory.min", sub);
        if ((w = write_str(path, num)) < 0 && r == 0)
                r = w;
        snprintf(path, sizeof(path), "%s/memory.min", leaf);
        if ((w = write_str(path, num)) < 0 && r == 0)
                r = w;
        return r;
}

static int v2_stats(const struct brm_cgroup *cg, const char *cgpath, struct brm_cgroup_stats *ret)
{
        struct brm_cgroup_stats s;
        char dir[768], path[900];
        uint64_t v, inactive;

        memset(&s, 0, sizeof(s));
        if (brm_path(dir, sizeof(dir), "%s%s", cg->root, cgpath) < 0)
                return -ENAMETOOLONG;
        if (!exists(dir))
                return -ENOENT;
        snprintf(path, sizeof(path), "%s/memory.current", dir);
        if (brm_cgroup_read_u64(path, &v) == 0) {
                snprintf(path, sizeof(path), "%s/memory.stat", dir);
                if (brm_cgroup_read_key(path, "inactive_file", &inactive) == 0 && inactive < v)
                        v -= inactive;
                s.has_memory = true;
                s.memory_bytes = v;
        }
        snprintf(path, sizeof(path), "%s/cpu.stat", dir);
        if (brm_cgroup_read_key(path, "usage_usec", &v) == 0) {
                s.has_cpu = true;
                s.cpu_usage_ns = v * 1000;
        }
        /* memory.events counts OOM kills in the subtree too (unless the
         * memory_localevents mount option is set): a container's children are
         * the container. */
        snprintf(path, sizeof(path), "%s/memory.events", dir);
        if (brm_cgroup_read_key(path, "oom_kill", &v) == 0) {
                s.has_oom = true;
                s.oom_kills = v;
        }
        snprintf(path, sizeof(path), "%s/pids.current", dir);
        if (brm_cgroup_read_u64(path, &v) == 0) {
                s.has_pids = true;
                s.pids = v;
        }
        *ret = s;
        return 0;
}

const struct brm_cgroup_ops brm_cgroup_v2_ops = {
        .name = "v2",
        .version = 2,
        .probe = v2_probe,
        .protect_self = v2_protect_self,
        .stats = v2_stats,
};
