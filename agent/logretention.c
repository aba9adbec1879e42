/* The node's logs within their disk budget and retention; see
 * logretention.h. */
#include "logretention.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MOD "logs"
#define SWEEP_MS 30000
#define FIRST_SWEEP_MS 1000
#define SPACE_MS 1000             /* free space is looked at this often */
#define WARN_EVERY_MS 3600000
#define SHORT_WARN_EVERY_MS 60000

struct brm_logretention {
        struct brm_logdir dir;
        uint64_t budget, retention_ms, reserve;
        uv_timer_t timer;
        uv_timer_t space;
        int open_handles;
        uint64_t over_budget_warned, short_warned;
};

struct victim {
        char path[1800];
        time_t mtime;
        uint64_t size;
        uint64_t disk;    /* what deleting it gives back (its blocks) */
        int rank; /* 0: a removed container's, 1: a rotated file */
};

/* One sweep's findings: every log file's size, and the files it may
 * delete. */
struct sweep {
        struct brm_logretention *r;
        int64_t now;
        uint64_t total;
        struct victim *v;
        size_t n, cap;
};

static void remove_tree(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[1700];

        if (!d)
                return;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                        unlink(path);
                }
        closedir(d);
        rmdir(dir);
}

/* Adds the files of one log directory to the total and the candidates. */
static void scan_log(struct sweep *w, const char *dir, int rank)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        struct stat st;
        char path[1800];

        if (!d)
                return;
        while ((e = readdir(d))) {
                if (strncmp(e->d_name, "log", 3) != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                w->total += (uint64_t)st.st_size;
                if (rank == 1 && strcmp(e->d_name, "log") == 0)
                        continue; /* being written: never deleted */
                if (w->n == w->cap) {
                        size_t nc = w->cap ? w->cap * 2 : 64;
                        struct victim *nv = realloc(w->v, nc * sizeof(*w->v));
                        if (!nv)
                                continue;
                        w->v = nv;
                        w->cap = nc;
                }
                struct victim *x = &w->v[w->n++];
                snprintf(x->path, sizeof(x->path), "%s", path);
                x->mtime = st.st_mtime;
                x->size = (uint64_t)st.st_size;
                x->disk = (uint64_t)st.st_blocks * 512;
                x->rank = rank;
        }
        closedir(d);
}

static void visit(const struct brm_logdir_entry *e, void *arg)
{
        struct sweep *w = arg;

        /* Removed containers' logs past their retention go whole. */
        if (e->kind == BRM_LOGDIR_REMOVED && e->has_removed_ms &&
            e->removed_ms + (long long)w->r->retention_ms <= w->now)
                remove_tree(e->path);
        else
                scan_log(w, e->path, e->kind == BRM_LOGDIR_REMOVED ? 0 : 1);
}

static int cmp_victim(const void *a, const void *b)
{
        const struct victim *x = a, *y = b;
        if (x->rank != y->rank)
                return x->rank - y->rank;
        return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Free bytes on the logs' file system; UINT64_MAX when it cannot tell. */
static uint64_t avail(const struct brm_logretention *r)
{
        struct statvfs sv;

        if (statvfs(r->dir.root, &sv) < 0)
                return UINT64_MAX;
        return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* The file system is short of space: the logs of removed containers go,
 * all of them, whatever their retention; then the oldest rotated files
 * until twice the reserve is free (the writers stop at the reserve itself,
 * so the sweep acts before they have to drop). Files being written are
 * their writers' to free (lib/logrec.h). */
static void free_space(struct sweep *w, uint64_t left)
{
        struct brm_logretention *r = w->r;
        uint64_t before = left, target = 2 * r->reserve;
        size_t removed = 0;

        for (size_t i = 0; i < w->n && (left < target || w->v[i].rank == 0); i++) {
                if (!w->v[i].path[0] || unlink(w->v[i].path) < 0)
                        continue;
                left += w->v[i].disk;
                removed++;
                if (w->v[i].rank == 0) {
                        /* The removed container's directory, once empty. */
                        char *slash = strrchr(w->v[i].path, '/');
                        *slash = '\0';
                        rmdir(w->v[i].path);
                }
        }
        if (removed)
                brm_info(MOD, "disk short of space (%llu KiB free, %llu KiB kept for the node's state): removed %zu "
                              "log files, %llu KiB",
                         (unsigned long long)(before >> 10), (unsigned long long)(r->reserve >> 10), removed,
                         (unsigned long long)((left - before) >> 10));
        if (left < target && r->short_warned + SHORT_WARN_EVERY_MS < (uint64_t)w->now) {
                r->short_warned = (uint64_t)w->now;
                brm_warn(MOD, "disk short of space: %llu KiB free and no more log files to remove (only files being "
                              "written, which their writers keep small); logs are dropped rather than take the last "
                              "%llu KiB",
                         (unsigned long long)(left >> 10), (unsigned long long)(r->reserve >> 10));
        }
}

void brm_logretention_sweep(struct brm_logretention *r)
{
        struct sweep w = { .r = r, .now = brm_now_ms() };
        uint64_t before, left;
        size_t removed = 0;

        brm_logdir_walk(&r->dir, visit, &w);
        if (w.n)
                qsort(w.v, w.n, sizeof(*w.v), cmp_victim);
        if (w.total > r->budget) {
                before = w.total;
                for (size_t i = 0; i < w.n && w.total > r->budget; i++)
                        if (unlink(w.v[i].path) == 0) {
                                w.total -= w.v[i].size;
                                w.v[i].path[0] = '\0';
                                removed++;
                        }
                brm_info(MOD, "logs took %llu bytes, over the budget of %llu: removed %zu oldest files",
                         (unsigned long long)before, (unsigned long long)r->budget, removed);
                if (w.total > r->budget && r->over_budget_warned + WARN_EVERY_MS < (uint64_t)w.now) {
                        r->over_budget_warned = (uint64_t)w.now;
                        brm_warn(MOD, "logs still take %llu bytes, over the budget of %llu: only files being "
                                      "written are left (lower log_max_size or raise log_budget)",
                                 (unsigned long long)w.total, (unsigned long long)r->budget);
                }
        }
        if (r->reserve && (left = avail(r)) < 2 * r->reserve)
                free_space(&w, left);
        free(w.v);
}

static void on_timer(uv_timer_t *t)
{
        brm_logretention_sweep(t->data);
}

/* One statvfs a second; a sweep only when space is short. */
static void on_space(uv_timer_t *t)
{
        struct brm_logretention *r = t->data;

        if (avail(r) < 2 * r->reserve)
                brm_logretention_sweep(r);
}

int brm_logretention_open(const struct brm_logretention_opts *opts, struct brm_logretention **ret)
{
        struct brm_logretention *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        r->dir = *opts->dir;
        r->budget = opts->budget;
        r->retention_ms = opts->retention_ms;
        r->reserve = opts->reserve;
        uv_timer_init(opts->loop, &r->timer);
        r->timer.data = r;
        uv_timer_start(&r->timer, on_timer, FIRST_SWEEP_MS, SWEEP_MS);
        uv_timer_init(opts->loop, &r->space);
        r->space.data = r;
        if (r->reserve)
                uv_timer_start(&r->space, on_space, SPACE_MS, SPACE_MS);
        r->open_handles = 2;
        *ret = r;
        return 0;
}

static void timer_closed(uv_handle_t *h)
{
        struct brm_logretention *r = h->data;

        if (--r->open_handles == 0)
                free(r);
}

void brm_logretention_close(struct brm_logretention *r)
{
        if (!r)
                return;
        uv_close((uv_handle_t *)&r->timer, timer_closed);
        uv_close((uv_handle_t *)&r->space, timer_closed);
}
