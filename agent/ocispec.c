/* config.json for one container; see ocispec.h for what it contains and why. */
#include "ocispec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctrspec.h"
#include "seccomp.h"
#include "util.h"

/* Podman's default set: Docker's minus NET_RAW, MKNOD and AUDIT_WRITE. */
static const char *const default_caps[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
};

/* runc's and Docker's defaults. */
static const char *const masked[] = {
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const readonly[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

struct mount_def {
        const char *dest, *type, *source;
        const char *opts[6];
};

static const struct mount_def mounts[] = {
        { "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
        { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
        { "/dev/pts", "devpts", "devpts", { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } },
        { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
        { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
        { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
        { "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime", "ro" } },
        /* The root is read-only; these are the places programs expect to write. */
        { "/tmp", "tmpfs", "tmpfs", { "nosuid", "nodev", "mode=1777", "size=65536k" } },
        { "/run", "tmpfs", "tmpfs", { "nosuid", "nodev", "mode=755", "size=16384k" } },
};

/* The kernel only lets a process mount a new sysfs from its own network
 * namespace. With the host's network (the default on a Pi cluster), /sys
 * is the host's, bind-mounted; runc works around it on its own, crun (the
 * Pi image's runtime) does not. The bind is read-only recursively ("rro",
 * mount_setattr with AT_RECURSIVE, Linux 5.12): a plain read-only bind
 * would leave the file systems mounted below it (debugfs, tracefs,
 * configfs, the host's cgroups) writable. On an older kernel the container
 * gets no /sys at all rather than that. */
static const struct mount_def sys_bind = { "/sys", "bind", "/sys", { "rbind", "nosuid", "noexec", "nodev", "ro", "rro" } };

/* jansson's *_new calls take the value's reference even when they fail,
 * so a child attached this way is freed with its parent or at once. A NULL
 * json_string() is out of memory or a string that is not UTF-8. */
static json_t *add_obj(json_t *parent, const char *key)
{
        json_t *o = json_object();
        return json_object_set_new(parent, key, o) < 0 ? NULL : o;
}

static json_t *add_arr(json_t *parent, const char *key)
{
        json_t *a = json_array();
        return json_object_set_new(parent, key, a) < 0 ? NULL : a;
}

static json_t *push_obj(json_t *arr)
{
        json_t *o = json_object();
        return json_array_append_new(arr, o) < 0 ? NULL : o;
}

static int push_str(json_t *arr, const char *s)
{
        return json_array_append_new(arr, json_string(s)) < 0 ? -ENOMEM : 0;
}

static int set_str(json_t *o, const char *key, const char *v)
{
        return json_object_set_new(o, key, json_string(v)) < 0 ? -ENOMEM : 0;
}

static int set_int(json_t *o, const char *key, json_int_t v)
{
        return json_object_set_new(o, key, json_integer(v)) < 0 ? -ENOMEM : 0;
}

static int set_bool(json_t *o, const char *key, bool v)
{
        return json_object_set_new(o, key, json_boolean(v)) < 0 ? -ENOMEM : 0;
}

static int push_strs(json_t *arr, const char *const *v, size_t n)
{
        for (size_t i = 0; i < n && v[i]; i++)
                if (push_str(arr, v[i]) < 0)
                        return -ENOMEM;
        return 0;
}

/* "NAME" or "NAME:GROUP", each numeric or looked up in the image's
 * /etc/passwd and /etc/group (as runc does, inside the root). */
static int lookup_id(const char *rootfs, const char *file, const char *name, unsigned long *ret)
{
        char path[1200], line[512];
        char *end;
        FILE *f;
        int r = -EINVAL;

        *ret = strtoul(name, &end, 10);
        if (*name && *end == '\0')
                return 0;
        if (brm_path(path, sizeof(path), "%s/etc/%s", rootfs, file) < 0 || !(f = fopen(path, "re")))
                return -EINVAL;
        while (fgets(line, sizeof(line), f)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (c2 && (size_t)(c1 - line) == strlen(name) && strncmp(line, name, (size_t)(c1 - line)) == 0) {
                        *ret = strtoul(c2 + 1, NULL, 10);
                        r = 0;
                        break;
                }
        }
        fclose(f);
        return r;
}

static int parse_user(const struct brm_image_config *img, unsigned long *ret_uid, unsigned long *ret_gid)
{
        char u[64], *colon;
        unsigned long uid = 0, gid = 0;

        if (!img || !img->user[0])
                goto done;
        snprintf(u, sizeof(u), "%s", img->user);
        colon = strchr(u, ':');
        if (colon)
                *colon++ = '\0';
        if (lookup_id(img->rootfs, "passwd", u, &uid) < 0)
                return -EINVAL;
        if (colon && lookup_id(img->rootfs, "group", colon, &gid) < 0)
                return -EINVAL;
        if (!colon) {
                /* The user's primary group: field 4 of its passwd line. */
                char path[1200], line[512];
                FILE *f;
                if (brm_path(path, sizeof(path), "%s/etc/passwd", img->rootfs) >= 0 && (f = fopen(path, "re"))) {
                        while (fgets(line, sizeof(line), f)) {
                                unsigned long lu, lg;
                                if (sscanf(line, "%*[^:]:%*[^:]:%lu:%lu:", &lu, &lg) == 2 && lu == uid) {
                                        gid = lg;
                                        break;
                                }
                        }
                        fclose(f);
                }
        }
done:
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}

static bool env_overridden(char *const *env, const char *entry)
{
        size_t klen = strcspn(entry, "=");
        for (size_t i = 0; i < BRM_MAX_ENV && env[i]; i++)
                if (strncmp(env[i], entry, klen) == 0 && env[i][klen] == '=')
                        return true;
        return false;
}

uint64_t brm_ocispec_caps(const struct brm_container_spec *s)
{
        uint64_t defaults = 0;

        for (size_t i = 0; i < BRM_ARRAY_SIZE(default_caps); i++)
                defaults |= brm_ctrspec_cap_bits(default_caps[i]);
        return brm_ctrspec_caps(defaults, s->cap_add, s->cap_drop);
}

static int build_process(json_t *root, const struct brm_ocispec_params *p)
{
        const struct brm_container_spec *s = p->spec;
        const struct brm_image_config *img = p->image;
        json_t *proc, *user, *args, *env, *capo, *rl, *nofile;
        unsigned long uid, gid;
        bool has_path = false;
        const char *cwd;

        if (parse_user(img, &uid, &gid) < 0)
                return -EINVAL;
        if (!(proc = add_obj(root, "process")))
                return -ENOMEM;
        if (set_bool(proc, "terminal", false) < 0 || !(user = add_obj(proc, "user")) ||
            set_int(user, "uid", (json_int_t)uid) < 0 || set_int(user, "gid", (json_int_t)gid) < 0)
                return -ENOMEM;
        if (!(args = add_arr(proc, "args")))
                return -ENOMEM;
        if (s->args[0]) {
                if (push_strs(args, (const char *const *)s->args, BRM_MAX_ARGS) < 0)
                        return -ENOMEM;
        } else if (img) {
                if (push_strs(args, (const char *const *)img->entrypoint, BRM_MAX_ARGS) < 0 ||
                    push_strs(args, (const char *const *)img->cmd, BRM_MAX_ARGS) < 0)
                        return -ENOMEM;
        }
        if (json_array_size(args) == 0)
                return -EINVAL;
        if (!(env = add_arr(proc, "env")))
                return -ENOMEM;
        for (size_t i = 0; img && i < BRM_MAX_ENV && img->env[i]; i++) {
                if (env_overridden(s->env, img->env[i]))
                        continue;
                has_path |= strncmp(img->env[i], "PATH=", 5) == 0;
                if (push_str(env, img->env[i]) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < BRM_MAX_ENV && s->env[i]; i++) {
                has_path |= strncmp(s->env[i], "PATH=", 5) == 0;
                if (push_str(env, s->env[i]) < 0)
                        return -ENOMEM;
        }
        if (!has_path && push_str(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
                return -ENOMEM;
        cwd = s->workdir[0] ? s->workdir : img && img->workdir[0] ? img->workdir : "/";
        if (set_str(proc, "cwd", cwd) < 0 || !(capo = add_obj(proc, "capabilities")))
                return -ENOMEM;
        static const char *const sets[] = { "bounding", "effective", "permitted" };
        uint64_t bits = brm_ocispec_caps(s);
        for (size_t i = 0; i < BRM_ARRAY_SIZE(sets); i++) {
                json_t *a = add_arr(capo, sets[i]);
                if (!a)
                        return -ENOMEM;
                for (unsigned k = 0; k < BRM_CTRSPEC_NCAPS; k++) {
                        char name[40];
                        snprintf(name, sizeof(name), "CAP_%s", brm_ctrspec_cap_name(k));
                        if ((bits >> k) & 1 && push_str(a, name) < 0)
                                return -ENOMEM;
                }
        }
        if (!(rl = add_arr(proc, "rlimits")) || !(nofile = push_obj(rl)) ||
            set_str(nofile, "type", "RLIMIT_NOFILE") < 0 || set_int(nofile, "hard", 1024) < 0 ||
            set_int(nofile, "soft", 1024) < 0 || set_bool(proc, "noNewPrivileges", true) < 0)
                return -ENOMEM;
        /* The agent runs with a low oom_score_adj to protect itself; the
         * container must not inherit it through the shim and the runtime. */
        return set_int(proc, "oomScoreAdj", 0);
}

static int build_mounts(json_t *root, bool host_network, bool recursive_ro)
{
        json_t *arr = add_arr(root, "mounts");

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < BRM_ARRAY_SIZE(mounts); i++) {
                const struct mount_def *d = &mounts[i];
                json_t *m, *o;
                if (host_network && strcmp(d->type, "sysfs") == 0) {
                        if (!recursive_ro)
                                continue;
                        d = &sys_bind;
                }
                if (!(m = push_obj(arr)) || set_str(m, "destination", d->dest) < 0 ||
                    set_str(m, "type", d->type) < 0 || set_str(m, "source", d->source) < 0 ||
                    !(o = add_arr(m, "options")) || push_strs(o, d->opts, BRM_ARRAY_SIZE(d->opts)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int add_u64(json_t *o, const char *key, uint64_t v)
{
        /* Limits are far below 2^63. */
        return set_int(o, key, (json_int_t)v);
}

static int build_resources(json_t *linux_, const struct brm_ocispec_params *p)
{
        const struct brm_container_spec *s = p->spec;
        json_t *res = add_obj(linux_, "resources"), *dev, *devs, *mem, *cpu, *pids, *uni;

        if (!res || !(devs = add_arr(res, "devices")) || !(dev = push_obj(devs)) || set_bool(dev, "allow", false) < 0 ||
            set_str(dev, "access", "rwm") < 0)
                return -ENOMEM;
        if (s->memory_max || s->memory_high) {
                if (!(mem = add_obj(res, "memory")))
                        return -ENOMEM;
                /* swap = memory + swap: equal to the limit means no swap,
                 * so the limit is what the container gets. */
                if (s->memory_max &&
                    (add_u64(mem, "limit", s->memory_max) < 0 || (p->swap && add_u64(mem, "swap", s->memory_max) < 0)))
                        return -ENOMEM;
                /* memory.high (throttle, then reclaim) exists on v2 only;
                 * v1's nearest is the soft limit, reclaimed under pressure. */
                if (s->memory_high && p->cgroup_version == 1 && add_u64(mem, "reservation", s->memory_high) < 0)
                        return -ENOMEM;
        }
        if (s->memory_high && p->cgroup_version == 2) {
                char v[32];
                snprintf(v, sizeof(v), "%" PRIu64, s->memory_high);
                if (!(uni = add_obj(res, "unified")) || set_str(uni, "memory.high", v) < 0)
                        return -ENOMEM;
        }
        if (s->cpu_millis) {
                /* --cpus 0.2 -> 20 ms of every 100 ms period (cpu.max "20000 100000"). */
                if (!(cpu = add_obj(res, "cpu")) || add_u64(cpu, "quota", (uint64_t)s->cpu_millis * 100) < 0 ||
                    add_u64(cpu, "period", 100000) < 0)
                        return -ENOMEM;
        }
        if (s->pids_max) {
                if (!(pids = add_obj(res, "pids")) || add_u64(pids, "limit", s->pids_max) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The spec's profile, or the node's default made as strict as Docker's
 * (seccomp.h); none with "unconfined". */
static int build_seccomp(json_t *lx, const struct brm_ocispec_params *p, char *why, size_t why_size)
{
        const struct brm_container_spec *s = p->spec;
        struct brm_seccomp_host host;
        uint64_t caps = brm_ocispec_caps(s);
        json_t *sc = NULL;
        char reason[200];
        int r;

        if (s->seccomp && strcmp(s->seccomp, "unconfined") == 0)
                return 0;
        brm_seccomp_host(&host);
        if (!s->seccomp) {
                r = brm_seccomp_translate_file(p->seccomp_profile ? p->seccomp_profile : BRM_SECCOMP_DEFAULT_PROFILE, caps,
                                               true, &host, &sc, why, why_size);
        } else {
                r = brm_seccomp_translate(s->seccomp, strlen(s->seccomp), caps, false, &host, &sc, reason, sizeof(reason));
                if (r == -EINVAL)
                        snprintf(why, why_size, "the container's seccomp profile: %s", reason);
        }
        if (r < 0)
                return r == -ENOMEM ? r : -EPROTO;
        return json_object_set_new(lx, "seccomp", sc) < 0 ? -ENOMEM : 0;
}

int brm_ocispec_seccomp_check(const struct brm_container_spec *s, const char *profile, char *why, size_t why_size)
{
        struct brm_ocispec_params p = { .spec = s, .seccomp_profile = profile };
        json_t *lx = json_object();
        int r;

        if (!lx)
                return -ENOMEM;
        r = build_seccomp(lx, &p, why, why_size);
        json_decref(lx);
        brm_heap_trim();
        return r == -EPROTO ? -EINVAL : r;
}

static int build_linux(json_t *root, const struct brm_ocispec_params *p, char *why, size_t why_size)
{
        /* cgroup: the container sees its own cgroup as the root of
         * /sys/fs/cgroup (mounted read-only), not the node's tree. */
        static const char *const ns_host[] = { "pid", "mount", "uts", "ipc", "cgroup" };
        json_t *lx = add_obj(root, "linux"), *ns, *a;

        if (!lx || !(ns = add_arr(lx, "namespaces")))
                return -ENOMEM;
        for (size_t i = 0; i < BRM_ARRAY_SIZE(ns_host) + (p->spec->network == BRM_NET_NONE); i++) {
                json_t *n = push_obj(ns);
                if (!n || set_str(n, "type", i < BRM_ARRAY_SIZE(ns_host) ? ns_host[i] : "network") < 0)
                        return -ENOMEM;
        }
        if (set_str(lx, "cgroupsPath", p->cgroups_path) < 0 || build_resources(lx, p) < 0)
                return -ENOMEM;
        if (!(a = add_arr(lx, "maskedPaths")) || push_strs(a, masked, BRM_ARRAY_SIZE(masked)) < 0)
                return -ENOMEM;
        if (!(a = add_arr(lx, "readonlyPaths")) || push_strs(a, readonly, BRM_ARRAY_SIZE(readonly)) < 0)
                return -ENOMEM;
        return build_seccomp(lx, p, why, why_size);
}

int brm_ocispec_build(const struct brm_ocispec_params *p, char **ret_json, char *why, size_t why_size)
{
        struct brm_seccomp_host host;
        json_t *root = json_object(), *r, *ann;
        char *json;
        int rc = -ENOMEM;

        snprintf(why, why_size, "out of memory");
        if (!root)
                return -ENOMEM;
        if (!p->image || !p->image->rootfs[0] || !p->cgroups_path) {
                snprintf(why, why_size, "no root file system or cgroup path");
                rc = -EINVAL;
                goto out;
        }
        if (set_str(root, "ociVersion", "1.0.2") < 0)
                goto out;
        if ((rc = build_process(root, p)) < 0) {
                snprintf(why, why_size, "%s", rc == -EINVAL ? "nothing to run (no args, no entrypoint) or a user that the image does not define" : strerror(-rc));
                goto out;
        }
        rc = -ENOMEM;
        if (!(r = add_obj(root, "root")) || set_str(r, "path", p->image->rootfs) < 0 || set_bool(r, "readonly", true) < 0 ||
            set_str(root, "hostname", p->spec->name) < 0)
                goto out;
        brm_seccomp_host(&host);
        if (build_mounts(root, p->spec->network == BRM_NET_HOST,
                         host.kernel[0] > 5 || (host.kernel[0] == 5 && host.kernel[1] >= 12)) < 0)
                goto out;
        if ((rc = build_linux(root, p, why, why_size)) < 0) {
                if (rc == -ENOMEM)
                        snprintf(why, why_size, "out of memory");
                goto out;
        }
        snprintf(why, why_size, "out of memory");
        rc = -ENOMEM;
        if (!(ann = add_obj(root, "annotations")))
                goto out;
        if (set_str(ann, "org.bramble.container", p->spec->name) < 0 ||
            (p->image->digest[0] && set_str(ann, "org.opencontainers.image.digest", p->image->digest) < 0))
                goto out;
        if (!(json = json_dumps(root, JSON_COMPACT)))
                goto out;
        *ret_json = json;
        rc = 0;
out:
        json_decref(root);
        return rc;
}

/* ---- the container spec, persisted ---- */

static const char *const restart_names[] = {
        [BRM_RESTART_ALWAYS] = "always", [BRM_RESTART_ON_FAILURE] = "on-failure", [BRM_RESTART_NEVER] = "never",
};
static const char *const network_names[] = { [BRM_NET_HOST] = "host", [BRM_NET_NONE] = "none" };

static int encode_caps(json_t *o, const char *key, uint64_t bits)
{
        json_t *a;

        if (!bits)
                return 0;
        if (!(a = add_arr(o, key)))
                return -ENOMEM;
        if (bits == BRM_CTRSPEC_CAPS_ALL)
                return push_str(a, "ALL");
        for (unsigned k = 0; k < BRM_CTRSPEC_NCAPS; k++)
                if ((bits >> k) & 1 && push_str(a, brm_ctrspec_cap_name(k)) < 0)
                        return -ENOMEM;
        return 0;
}

/* Only what differs from the defaults, so that the records of specs
 * without it stay as they were. */
static int encode_security(json_t *o, const struct brm_container_spec *s)
{
        if (encode_caps(o, "cap_add", s->cap_add) < 0 || encode_caps(o, "cap_drop", s->cap_drop) < 0)
                return -ENOMEM;
        return s->seccomp ? set_str(o, "seccomp", s->seccomp) : 0;
}

/* The health check and the on-disconnect time, also only when set. */
static int encode_service(json_t *o, const struct brm_container_spec *s)
{
        const struct brm_health_spec *h = &s->health;
        json_t *ho;

        if (s->disconnect_stop_ms && add_u64(o, "disconnect_stop_ms", s->disconnect_stop_ms) < 0)
                return -ENOMEM;
        if (!s->has_health)
                return 0;
        if (!(ho = add_obj(o, "health")))
                return -ENOMEM;
        if ((h->cmd && set_str(ho, "cmd", h->cmd) < 0) || add_u64(ho, "http_port", h->http_port) < 0 ||
            set_str(ho, "http_path", h->http_path) < 0 || add_u64(ho, "tcp_port", h->tcp_port) < 0 ||
            add_u64(ho, "interval_ms", h->interval_ms) < 0 || add_u64(ho, "timeout_ms", h->timeout_ms) < 0 ||
            add_u64(ho, "retries", h->retries) < 0 || add_u64(ho, "start_period_ms", h->start_period_ms) < 0)
                return -ENOMEM;
        return 0;
}

json_t *brm_ocispec_encode_spec(const struct brm_container_spec *s, bool with_stopped)
{
        json_t *o = json_object(), *a;

        if (!o)
                return NULL;
        if (set_str(o, "name", s->name) < 0 || set_str(o, "image", s->image) < 0 ||
            add_u64(o, "memory_max", s->memory_max) < 0 || add_u64(o, "memory_high", s->memory_high) < 0 ||
            add_u64(o, "cpu_millis", s->cpu_millis) < 0 || add_u64(o, "pids_max", s->pids_max) < 0 ||
            set_str(o, "restart", restart_names[s->restart]) < 0 || set_str(o, "network", network_names[s->network]) < 0 ||
            set_str(o, "workdir", s->workdir) < 0 || !(a = add_arr(o, "args")) ||
            push_strs(a, (const char *const *)s->args, BRM_MAX_ARGS) < 0 || !(a = add_arr(o, "env")) ||
            push_strs(a, (const char *const *)s->env, BRM_MAX_ENV) < 0 ||
            (with_stopped && set_bool(o, "stopped", s->stopped) < 0) ||
            encode_security(o, s) < 0 || encode_service(o, s) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static int get_str(const json_t *o, const char *key, char *out, size_t size)
{
        const json_t *v = json_object_get(o, key);
        if (!json_is_string(v) || json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
                return -EINVAL;
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
        return 0;
}

static int get_num(const json_t *o, const char *key, double max, uint64_t *ret)
{
        const json_t *v = json_object_get(o, key);
        double d = json_number_value(v);
        if (!json_is_number(v) || d < 0 || d > max)
                return -EINVAL;
        *ret = (uint64_t)d;
        return 0;
}

static int get_enum(const json_t *o, const char *key, const char *const *names, size_t n, int *ret)
{
        const json_t *v = json_object_get(o, key);
        for (size_t i = 0; json_is_string(v) && i < n; i++)
                if (strcmp(json_string_value(v), names[i]) == 0) {
                        *ret = (int)i;
                        return 0;
                }
        return -EINVAL;
}

static int get_strv(const json_t *o, const char *key, char **out, size_t max)
{
        const json_t *a = json_object_get(o, key), *v;
        size_t i;

        if (!json_is_array(a) || json_array_size(a) >= max)
                return -EINVAL;
        json_array_foreach(a, i, v) {
                if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                        return -EINVAL;
                if (!(out[i] = strdup(json_string_value(v))))
                        return -ENOMEM;
        }
        return 0;
}

static int get_caps(const json_t *o, const char *key, uint64_t *ret)
{
        const json_t *a = json_object_get(o, key), *v;
        size_t i;

        *ret = 0;
        if (!a)
                return 0;
        if (!json_is_array(a))
                return -EINVAL;
        json_array_foreach(a, i, v) {
                uint64_t b = json_is_string(v) ? brm_ctrspec_cap_bits(json_string_value(v)) : 0;
                if (!b)
                        return -EINVAL;
                *ret |= b;
        }
        return 0;
}

static int decode_service(const json_t *o, struct brm_container_spec *s)
{
        const json_t *ho = json_object_get(o, "health"), *v;
        struct brm_health_spec *h = &s->health;
        uint64_t d = 0, hp, tp, iv, to, re, sp;

        if (json_object_get(o, "disconnect_stop_ms") && get_num(o, "disconnect_stop_ms", 9007199254740992.0, &d) < 0)
                return -EINVAL;
        s->disconnect_stop_ms = d;
        if (!ho)
                return 0;
        if (!json_is_object(ho) || get_num(ho, "http_port", 65535, &hp) < 0 || get_num(ho, "tcp_port", 65535, &tp) < 0 ||
            get_str(ho, "http_path", h->http_path, sizeof(h->http_path)) < 0 ||
            get_num(ho, "interval_ms", 4294967295.0, &iv) < 0 || get_num(ho, "timeout_ms", 4294967295.0, &to) < 0 ||
            get_num(ho, "retries", 4294967295.0, &re) < 0 || get_num(ho, "start_period_ms", 4294967295.0, &sp) < 0)
                return -EINVAL;
        v = json_object_get(ho, "cmd");
        if (v && (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)))
                return -EINVAL;
        if (v && !(h->cmd = strdup(json_string_value(v))))
                return -ENOMEM;
        h->http_port = (uint16_t)hp;
        h->tcp_port = (uint16_t)tp;
        h->interval_ms = (uint32_t)iv;
        h->timeout_ms = (uint32_t)to;
        h->retries = (uint32_t)re;
        h->start_period_ms = (uint32_t)sp;
        s->has_health = true;
        return 0;
}

void brm_ocispec_spec_free(struct brm_container_spec *s)
{
        if (!s)
                return;
        free(s->seccomp);
        s->seccomp = NULL;
        free(s->health.cmd);
        s->health.cmd = NULL;
        for (size_t i = 0; i < BRM_MAX_ARGS; i++) {
                free(s->args[i]);
                s->args[i] = NULL;
        }
        for (size_t i = 0; i < BRM_MAX_ENV; i++) {
                free(s->env[i]);
                s->env[i] = NULL;
        }
}

int brm_ocispec_decode_spec(const json_t *o, struct brm_container_spec *ret)
{
        struct brm_container_spec s;
        const json_t *st;
        uint64_t cpu, pids;
        int restart, net, r;

        memset(&s, 0, sizeof(s));
        if (!json_is_object(o) || get_str(o, "name", s.name, sizeof(s.name)) < 0 || !brm_valid_container_name(s.name) ||
            get_str(o, "image", s.image, sizeof(s.image)) < 0 ||
            get_num(o, "memory_max", 9007199254740992.0, &s.memory_max) < 0 ||
            get_num(o, "memory_high", 9007199254740992.0, &s.memory_high) < 0 ||
            get_num(o, "cpu_millis", 1e6, &cpu) < 0 || get_num(o, "pids_max", 4194304, &pids) < 0 ||
            get_enum(o, "restart", restart_names, BRM_ARRAY_SIZE(restart_names), &restart) < 0 ||
            get_enum(o, "network", network_names, BRM_ARRAY_SIZE(network_names), &net) < 0 ||
            get_str(o, "workdir", s.workdir, sizeof(s.workdir)) < 0)
                return -EINVAL;
        s.cpu_millis = (uint32_t)cpu;
        s.pids_max = (uint32_t)pids;
        s.restart = (enum brm_restart)restart;
        s.network = (enum brm_network)net;
        st = json_object_get(o, "stopped");
        s.stopped = json_is_true(st);
        if (get_caps(o, "cap_add", &s.cap_add) < 0 || get_caps(o, "cap_drop", &s.cap_drop) < 0)
                return -EINVAL;
        st = json_object_get(o, "seccomp");
        if (st && (!json_is_string(st) || strlen(json_string_value(st)) != json_string_length(st) ||
                   json_string_length(st) == 0 || json_string_length(st) > BRM_CTRSPEC_MAX_SECCOMP))
                return -EINVAL;
        if (st && !(s.seccomp = strdup(json_string_value(st))))
                return -ENOMEM;
        if ((r = get_strv(o, "args", s.args, BRM_MAX_ARGS)) < 0 || (r = get_strv(o, "env", s.env, BRM_MAX_ENV)) < 0 ||
            (r = decode_service(o, &s)) < 0) {
                brm_ocispec_spec_free(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int brm_ocispec_spec_dup(const struct brm_container_spec *s, struct brm_container_spec *ret)
{
        struct brm_container_spec d = *s;

        memset(d.args, 0, sizeof(d.args));
        memset(d.env, 0, sizeof(d.env));
        d.seccomp = NULL;
        d.health.cmd = NULL;
        if (s->seccomp && !(d.seccomp = strdup(s->seccomp)))
                goto oom;
        if (s->health.cmd && !(d.health.cmd = strdup(s->health.cmd)))
                goto oom;
        for (size_t i = 0; i < BRM_MAX_ARGS - 1 && s->args[i]; i++)
                if (!(d.args[i] = strdup(s->args[i])))
                        goto oom;
        for (size_t i = 0; i < BRM_MAX_ENV - 1 && s->env[i]; i++)
                if (!(d.env[i] = strdup(s->env[i])))
                        goto oom;
        *ret = d;
        return 0;
oom:
        brm_ocispec_spec_free(&d);
        return -ENOMEM;
}
