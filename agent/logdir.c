/* The node's log directory; see logdir.h for the layout. */
#include "logdir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "util.h"

static const char *const subdirs[] = { "containers", "removed", "agent" };

int brm_logdir_init(struct brm_logdir *d, const char *root)
{
        char copy[sizeof(d->root)];
        int r = brm_path(copy, sizeof(copy), "%s", root);

        if (r < 0)
                return r;
        memcpy(d->root, copy, sizeof(copy));
        return 0;
}

int brm_logdir_create(const struct brm_logdir *d)
{
        char path[1100];
        int r;

        if ((r = brm_mkdir_p(d->root, 0750)) < 0)
                return r;
        for (size_t i = 0; i < BRM_ARRAY_SIZE(subdirs); i++) {
                if ((r = brm_path(path, sizeof(path), "%s/%s", d->root, subdirs[i])) < 0)
                        return r;
                if (mkdir(path, 0750) < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

/* Copies PATH out only whole. */
static int put(const char *path, char *ret_path, size_t size)
{
        size_t n = strlen(path);

        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(ret_path, path, n + 1);
        return 0;
}

int brm_logdir_container(const struct brm_logdir *d, const char *name, char *ret_path, size_t size)
{
        char path[1200];

        if (!brm_valid_container_name(name))
                return -EINVAL;
        if (brm_path(path, sizeof(path), "%s/containers/%s", d->root, name) < 0)
                return -ENAMETOOLONG;
        return put(path, ret_path, size);
}

int brm_logdir_agent(const struct brm_logdir *d, char *ret_path, size_t size)
{
        char path[1200];

        if (brm_path(path, sizeof(path), "%s/agent", d->root) < 0)
                return -ENAMETOOLONG;
        return put(path, ret_path, size);
}

/* The time in a removed directory's name NAME.MS, if it is one. */
static bool removed_ms(const char *dot, int64_t *ret)
{
        char *end;
        long long ms;

        errno = 0;
        ms = strtoll(dot + 1, &end, 10);
        if (end == dot + 1 || *end || errno)
                return false;
        *ret = ms;
        return true;
}

int brm_logdir_find_removed(const struct brm_logdir *d, const char *name, char *ret_path, size_t size)
{
        char dir[1100], best_path[1400];
        size_t nl = strlen(name);
        int64_t best = -1, ms;
        struct dirent *e;
        DIR *dh;

        if (brm_path(dir, sizeof(dir), "%s/removed", d->root) < 0 || !(dh = opendir(dir)))
                return -ENOENT;
        while ((e = readdir(dh))) {
                if (strncmp(e->d_name, name, nl) != 0 || e->d_name[nl] != '.' || !removed_ms(e->d_name + nl, &ms) ||
                    ms <= best)
                        continue;
                if (brm_path(best_path, sizeof(best_path), "%s/%s", dir, e->d_name) >= 0)
                        best = ms;
        }
        closedir(dh);
        return best < 0 ? -ENOENT : put(best_path, ret_path, size);
}

int brm_logdir_move_removed(const struct brm_logdir *d, const char *name, int64_t now_ms, char *ret_path, size_t size)
{
        char from[1100], to[1200];
        int r;

        if ((r = brm_logdir_container(d, name, from, sizeof(from))) < 0)
                return r;
        if (brm_path(to, sizeof(to), "%s/removed/%s.%lld", d->root, name, (long long)now_ms) < 0 || strlen(to) >= size)
                return -ENAMETOOLONG;
        if (rename(from, to) < 0)
                return -errno;
        return put(to, ret_path, size);
}

static bool is_dir(const char *path, const struct dirent *e)
{
        struct stat st;

        if (e->d_type != DT_UNKNOWN)
                return e->d_type == DT_DIR;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void walk_one(const char *dir, enum brm_logdir_kind kind,
                     void (*each)(const struct brm_logdir_entry *e, void *arg), void *arg)
{
        char path[1400];
        struct dirent *e;
        DIR *dh;

        if (!(dh = opendir(dir)))
                return;
        while ((e = readdir(dh))) {
                struct brm_logdir_entry ent = { .kind = kind, .name = e->d_name, .path = path };
                const char *dot = strrchr(e->d_name, '.');

                if (e->d_name[0] == '.' || (kind == BRM_LOGDIR_REMOVED && !dot))
                        continue;
                if (brm_path(path, sizeof(path), "%s/%s", dir, e->d_name) < 0 || !is_dir(path, e))
                        continue;
                if (kind == BRM_LOGDIR_REMOVED)
                        ent.has_removed_ms = removed_ms(dot, &ent.removed_ms);
                each(&ent, arg);
        }
        closedir(dh);
}

void brm_logdir_walk(const struct brm_logdir *d, void (*each)(const struct brm_logdir_entry *e, void *arg), void *arg)
{
        struct brm_logdir_entry agent = { .kind = BRM_LOGDIR_AGENT, .name = "agent" };
        char path[1100];

        if (brm_path(path, sizeof(path), "%s/removed", d->root) >= 0)
                walk_one(path, BRM_LOGDIR_REMOVED, each, arg);
        if (brm_path(path, sizeof(path), "%s/containers", d->root) >= 0)
                walk_one(path, BRM_LOGDIR_CONTAINER, each, arg);
        if (brm_logdir_agent(d, path, sizeof(path)) == 0) {
                agent.path = path;
                each(&agent, arg);
        }
}
