/* The scheduling pass: for every service, move replicas off lost nodes,
 * replace failed ones, roll stale ones (an older spec, or on a draining
 * node) and keep the count. It runs when something changes (a kick) and
 * on the liveness timer, and changes the store first, memory next, and
 * pushes each touched node its desired set at the end.
 *
 * A rollout replaces stale replicas --update-parallelism at a time. A new
 * replica is ready once it runs and its check says healthy (without a
 * check: once it has run for --update-monitor). start-first places the
 * new one and removes a stale one only when a new one is ready, so ready
 * replicas never drop below N - parallelism; stop-first (or start-first
 * when no node has room for one more) removes first. A new replica that
 * fails (exits, backs off, fails, is unhealthy, or is not ready within
 * --update-monitor after it started running) counts; more than
 * --update-max-failures roll the service back to the previous spec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "imagestore.h"
#include "log.h"
#include "place.h"
#include "pull.h"
#include "server.h"
#include "services.h"
#include "store.h"
#include "util.h"

#define MOD "sched"
#define PULL_RETRY_MS 30000
#define START_ALLOWANCE_MS 120000 /* to fetch the image and start, before --update-monitor counts */

struct pass {
        struct brm_master *m;
        struct brm_node_view *v;
        size_t n;
        uint64_t now;
};

/* ---- the nodes' view ---- */

struct run_sum {
        uint64_t mem;
        uint32_t cpu;
};

static int sum_run(void *arg, const char *node, const uint8_t *spec, size_t len)
{
        struct run_sum *s = arg;
        Bramble__ContainerSpec *sp = bramble__container_spec__unpack(NULL, len, spec);

        (void)node;
        if (!sp)
                return 0;
        if (!sp->service && !sp->stopped) {
                s->mem += sp->memory_max;
                s->cpu += sp->cpu_millis;
        }
        bramble__container_spec__free_unpacked(sp, NULL);
        return 0;
}

struct view_ctx {
        struct pass *p;
        struct brm_master *m;
};

static void add_view(void *arg, struct brm_node *n)
{
        struct view_ctx *c = arg;
        struct pass *p = c->p;

        if (n->run_dirty) {
                struct run_sum s = { 0 };
                if (brm_store_container_list(c->m->store, n->name, sum_run, &s) == 0) {
                        n->run_mem = s.mem;
                        n->run_cpu = s.cpu;
                        n->run_dirty = false;
                }
        }
        n->sched_mem = 0;
        n->sched_cpu = 0;
        n->sched_count = 0;
        n->sched_view = (int)p->n;
        brm_view_fill(&p->v[p->n++], n);
}

static int build_views(struct pass *p)
{
        struct brm_master *m = p->m;
        struct view_ctx c = { p, m };

        p->v = malloc((m->reg.count ? m->reg.count : 1) * sizeof(*p->v));
        if (!p->v)
                return -ENOMEM;
        brm_registry_foreach(&m->reg, add_view, &c);
        for (struct brm_service *s = m->svc.list; s; s = s->next)
                for (struct brm_replica *r = s->replicas; r; r = r->next) {
                        struct brm_node *n = brm_registry_get(&m->reg, r->node);
                        if (n) {
                                n->sched_mem += r->mem;
                                n->sched_cpu += r->cpu;
                                n->sched_count++;
                        }
                }
        return 0;
}

/* ---- a service's image ---- */

struct svc_ctx {
        struct pass *p;
        struct brm_service *s;
        struct brm_constraint cons[BRM_SERVICE_MAX_CONSTRAINTS];
        size_t n_cons;
        struct {
                char platform[32];
                int r;
        } plat[6];
        size_t n_plat;
        bool absent;       /* the store lacks the image: pull it */
        bool need_pull;    /* a platform it lists was not pulled */
        char why[400];     /* the last failed placement's reason */
};

struct pull_ctx {
        struct brm_master *m;
        char service[48];
};

static void after_pull(void *arg, int status, const char *why, const char *name)
{
        struct pull_ctx *c = arg;
        struct brm_service *s = brm_service_find(c->m, c->service);

        (void)name;
        if (s) {
                s->pulling = false;
                if (status < 0) {
                        snprintf(s->image_error, sizeof(s->image_error), "pulling %s failed: %s",
                                 s->spec->container->image, why);
                        s->pull_retry_mono = brm_mono_ms() + PULL_RETRY_MS;
                        brm_event(c->m, s->name, NULL, "%s: %s (retrying in 30 s)", s->name, s->image_error);
                } else {
                        s->image_error[0] = 0;
                        brm_event(c->m, s->name, NULL, "%s: pulled %s", s->name, s->spec->container->image);
                }
                brm_services_kick(c->m);
        }
        free(c);
}

static void start_pull(struct svc_ctx *c)
{
        struct brm_master *m = c->p->m;
        struct brm_service *s = c->s;
        const char *plats[8];
        size_t n = 0;
        struct pull_ctx *pc;
        char why[256];

        if (s->pulling || c->p->now < s->pull_retry_mono)
                return;
        /* Every platform a Ready node has, so any of them can take it. */
        for (size_t i = 0; i < c->p->n && n < 8; i++) {
                const char *pl = c->p->v[i].platform;
                bool seen = !pl[0] || !c->p->v[i].n->ready;
                for (size_t k = 0; !seen && k < n; k++)
                        seen = strcmp(plats[k], pl) == 0;
                if (!seen)
                        plats[n++] = pl;
        }
        if (n == 0 || !(pc = calloc(1, sizeof(*pc))))
                return;
        pc->m = m;
        snprintf(pc->service, sizeof(pc->service), "%s", s->name);
        if (brm_pull_start(m, s->spec->container->image, plats, n, after_pull, pc, 0, 0, why, sizeof(why)) < 0) {
                free(pc);
                snprintf(s->image_error, sizeof(s->image_error), "%s", why);
                s->pull_retry_mono = c->p->now + PULL_RETRY_MS;
                return;
        }
        s->pulling = true;
        brm_event(m, s->name, NULL, "%s: pulling %s for %zu platform%s", s->name, s->spec->container->image, n,
                  n == 1 ? "" : "s");
}

static int platform_ok(void *arg, const char *platform)
{
        struct svc_ctx *c = arg;
        const char *image = c->s->spec->container->image;
        struct brm_oci_desc d;
        char why[256];
        int r;

        if (image[0] == '/')
                return 0;
        if (!platform[0])
                return -EAGAIN;
        if (c->absent)
                return -ENOENT;
        for (size_t i = 0; i < c->n_plat; i++)
                if (strcmp(c->plat[i].platform, platform) == 0)
                        return c->plat[i].r;
        r = brm_imagestore_resolve(&c->p->m->images, image, platform, &d, why, sizeof(why));
        if (r == -ENODATA)
                c->need_pull = true;
        if (c->n_plat < sizeof(c->plat) / sizeof(c->plat[0])) {
                snprintf(c->plat[c->n_plat].platform, sizeof(c->plat[0].platform), "%s", platform);
                c->plat[c->n_plat++].r = r;
        }
        return r;
}

/* ---- placing ---- */

/* Whether some node still reports a container named NAME (one removed
 * a moment ago may still be stopping there). */
static bool reported(struct pass *p, const char *name)
{
        for (size_t i = 0; i < p->n; i++)
                if (brm_registry_brief(p->v[i].n, name))
                        return true;
        return false;
}

/* The lowest index no replica has and no node reports, so a new replica
 * is never judged by the status of an old one of the same name. */
static unsigned fresh_index(struct svc_ctx *c)
{
        const struct brm_replica *r = c->s->replicas; /* kept by index */
        char name[64];

        for (unsigned i = 1;; i++) {
                while (r && r->index < i)
                        r = r->next;
                if (r && r->index == i)
                        continue;
                snprintf(name, sizeof(name), "%s.%u", c->s->name, i);
                if (!reported(c->p, name))
                        return i;
        }
}

/* Places replica INDEX of the service (0: the lowest free index). */
static int place(struct svc_ctx *c, unsigned index, const char *avoid, const char *exclude)
{
        struct brm_master *m = c->p->m;
        struct brm_service *s = c->s;
        const Bramble__ContainerSpec *ct = s->spec->container;
        struct brm_place_req req = {
                .mem = ct->memory_max, .cpu = ct->cpu_millis, .cons = c->cons, .n_cons = c->n_cons,
                .max_per_node = s->spec->max_per_node, .reserve = m->cfg.memory_reserve, .avoid = avoid,
                .exclude = exclude, .platform_ok = platform_ok, .platform_arg = c,
                /* A node silent for over one and a half intervals may be
                 * down already, not yet NotReady: the last choice. */
                .now_mono = c->p->now, .quiet_ms = m->cfg.heartbeat_interval_ms * 3 / 2,
        };
        struct brm_replica *r;
        struct brm_node_view *v;
        int i, rc;

        if (c->absent) {
                snprintf(c->why, sizeof(c->why), "%s",
                         s->image_error[0] ? s->image_error : "waiting for its image to be pulled");
                return -EAGAIN;
        }
        i = brm_place(c->p->v, c->p->n, &req, c->why, sizeof(c->why));
        if (i < 0)
                return -ENOSPC;
        v = &c->p->v[i];
        if (!index)
                index = fresh_index(c);
        rc = brm_replica_add(m, s, v->n->name, index, &r);
        if (rc < 0) {
                snprintf(c->why, sizeof(c->why), "placing %s.%u on %s failed: %s", s->name, index, v->n->name,
                         rc == -EEXIST ? "a container of that name is there" : brm_strerror(rc));
                return rc;
        }
        if (!avoid && !exclude) /* a move says so itself */
                brm_event(m, s->name, v->n->name, "placed %s on %s", r->name, v->n->name);
        v->svc_count++;
        v->n->sched_mem += r->mem;
        v->n->sched_cpu += r->cpu;
        v->n->sched_count++;
        return 0;
}

static void unreserve(struct pass *p, struct brm_replica *r)
{
        struct brm_node *n = brm_registry_get(&p->m->reg, r->node);

        if (!n)
                return;
        n->sched_mem -= r->mem < n->sched_mem ? r->mem : n->sched_mem;
        n->sched_cpu -= r->cpu < n->sched_cpu ? r->cpu : n->sched_cpu;
        if (n->sched_count)
                n->sched_count--;
        if (n->sched_view >= 0 && p->v[n->sched_view].svc_count)
                p->v[n->sched_view].svc_count--;
}

static void drop(struct svc_ctx *c, struct brm_replica *r)
{
        unreserve(c->p, r);
        brm_replica_remove(c->p->m, c->s, r);
}

/* ---- judging replicas ---- */

static bool node_lost(struct pass *p, const struct brm_node *n)
{
        struct brm_master *m = p->m;
        uint64_t grace = m->cfg.heartbeat_interval_ms * m->cfg.grace_intervals;
        uint64_t since;

        if (!n)
                return true;
        if (n->ready)
                return false;
        /* A node not seen since the master started is given the grace from
         * the start, so a master restart moves nothing. */
        since = n->notready_mono ? n->notready_mono : m->svc.start_mono + grace;
        return p->now >= since + m->cfg.reschedule_after_ms;
}

static bool has_check(const struct brm_service *s)
{
        return s->spec->container->health != NULL;
}

/* Ready: running, and healthy (or, without a check, running for
 * --update-monitor). Updates running_mono. */
static bool replica_ready(struct svc_ctx *c, struct brm_replica *r, const struct brm_brief *b)
{
        uint32_t monitor = brm_update_monitor(c->s->spec->update);

        if (!b || b->state != BRM_BRIEF_RUNNING) {
                r->running_mono = 0;
                return false;
        }
        if (!r->running_mono)
                r->running_mono = c->p->now;
        if (has_check(c->s))
                return b->health == BRM_HEALTH_HEALTHY;
        return c->p->now - r->running_mono >= monitor;
}

/* Why a new replica of a rollout failed, or NULL while it may still
 * become ready. */
static const char *replica_failed(struct svc_ctx *c, const struct brm_replica *r, const struct brm_brief *b)
{
        uint32_t monitor = brm_update_monitor(c->s->spec->update);

        if (b && (b->state == BRM_BRIEF_FAILED || b->state == BRM_BRIEF_BACKOFF || b->state == BRM_BRIEF_EXITED))
                return b->state == BRM_BRIEF_FAILED ? "failed" : b->state == BRM_BRIEF_BACKOFF ? "exited and is in restart backoff" : "exited";
        if (b && b->health == BRM_HEALTH_UNHEALTHY)
                return "unhealthy";
        if (r->running_mono && c->p->now - r->running_mono > monitor + (has_check(c->s) ? 0 : monitor))
                return "not healthy within --update-monitor";
        if (!r->running_mono && c->p->now - r->placed_mono > monitor + START_ALLOWANCE_MS)
                return "not running within --update-monitor after its image could have been fetched";
        return NULL;
}

static const struct brm_brief *brief_of(struct pass *p, const struct brm_replica *r)
{
        struct brm_node *n = brm_registry_get(&p->m->reg, r->node);
        return n ? brm_registry_brief(n, r->name) : NULL;
}

static bool stale(struct svc_ctx *c, const struct brm_replica *r)
{
        struct brm_node *n;

        if (r->version != c->s->version)
                return true;
        n = brm_registry_get(&c->p->m->reg, r->node);
        return n && strcmp(n->schedule, "draining") == 0;
}

static void set_state(struct brm_master *m, struct brm_service *s, const char *state, const char *reason)
{
        if (reason != s->update_reason)
                snprintf(s->update_reason, sizeof(s->update_reason), "%s", reason ? reason : "");
        snprintf(s->update_state, sizeof(s->update_state), "%s", state);
        s->updated_ms = brm_now_ms();
        brm_service_save(m, s);
}

static void rollback(struct svc_ctx *c, const char *reason)
{
        if (brm_service_rollback(c->p->m, c->s, reason) == 0)
                brm_event(c->p->m, c->s->name, NULL, "rollout of %s: %s; rolling back to the previous spec", c->s->name,
                          reason);
}

/* ---- one service ---- */

static struct brm_replica *find_index(struct brm_service *s, unsigned index, const char *not_on)
{
        for (struct brm_replica *r = s->replicas; r; r = r->next)
                if (r->index == index && strcmp(r->node, not_on) != 0)
                        return r;
        return NULL;
}

/* Moves replicas off lost nodes and replaces failed ones. A replica that
 * fits nowhere else stays where it is (its node may come back), and the
 * service says why. */
static void heal(struct svc_ctx *c)
{
        struct pass *p = c->p;
        struct brm_service *s = c->s;
        struct brm_replica *r, *next;

        for (r = s->replicas; r; r = next) {
                struct brm_node *n = brm_registry_get(&p->m->reg, r->node);
                const struct brm_brief *b = n ? brm_registry_brief(n, r->name) : NULL;
                struct brm_replica *moved;
                bool lost = node_lost(p, n);
                bool failed = !lost && b && b->state == BRM_BRIEF_FAILED && r->version == s->version;

                next = r->next;
                if (!lost && !failed)
                        continue;
                if (place(c, r->index, failed ? r->node : NULL, lost ? r->node : NULL) < 0) {
                        char why[sizeof(c->why)];
                        snprintf(why, sizeof(why), "%s on %s (%s) cannot move: %.240s", r->name, r->node,
                                 lost ? "NotReady" : "failed", c->why);
                        snprintf(c->why, sizeof(c->why), "%s", why);
                        continue;
                }
                moved = find_index(s, r->index, r->node);
                if (!moved) /* a failed one placed back on its own node */
                        continue;
                if (lost)
                        brm_event(p->m, s->name, r->node, "node %s NotReady, moved %s to %s", r->node, r->name,
                                  moved->node);
                else
                        brm_event(p->m, s->name, r->node, "%s failed on %s, replaced on %s", r->name, r->node,
                                  moved->node);
                snprintf(moved->avoid, sizeof(moved->avoid), "%s", r->node);
                if (next == moved)
                        next = moved->next;
                drop(c, r);
        }
}

/* The stale replica to remove first: on a lost or draining node, then not
 * ready, then the highest index. */
static struct brm_replica *pick_stale(struct svc_ctx *c)
{
        struct brm_replica *best = NULL;
        int best_rank = -1;

        for (struct brm_replica *r = c->s->replicas; r; r = r->next) {
                const struct brm_brief *b;
                int rank;
                if (!stale(c, r))
                        continue;
                b = brief_of(c->p, r);
                rank = !b || b->state != BRM_BRIEF_RUNNING ? 2 : 1;
                if (node_lost(c->p, brm_registry_get(&c->p->m->reg, r->node)))
                        rank = 3;
                if (rank >= best_rank) {
                        best = r;
                        best_rank = rank;
                }
        }
        return best;
}

/* An extra replica to remove on a scale down: not running first, then the
 * highest index. */
static struct brm_replica *pick_extra(struct svc_ctx *c)
{
        struct brm_replica *best = NULL;
        unsigned long best_rank = 0;

        for (struct brm_replica *r = c->s->replicas; r; r = r->next) {
                const struct brm_brief *b = brief_of(c->p, r);
                unsigned long rank = (!b || b->state != BRM_BRIEF_RUNNING ? 1ul << 32 : 0) + r->index;
                if (!best || rank > best_rank) {
                        best = r;
                        best_rank = rank;
                }
        }
        return best;
}

/* Replaces one stale replica stop-first: true when the new one is placed. */
static bool stop_first(struct svc_ctx *c, unsigned *stale_n)
{
        struct brm_replica *r = pick_stale(c);

        if (!r)
                return false;
        drop(c, r);
        (*stale_n)--;
        return place(c, 0, NULL, NULL) == 0;
}

static void converge(struct svc_ctx *c)
{
        struct brm_master *m = c->p->m;
        struct brm_service *s = c->s;
        uint32_t desired = s->spec->replicas;
        bool updating = strcmp(s->update_state, "updating") == 0;
        bool rolling_back = strcmp(s->update_state, "rolling-back") == 0;
        unsigned stale_n = 0, ready_new = 0, flight = 0, new_n = 0, version_stale = 0;
        uint32_t par;
        struct brm_replica *r, *next;

        /* Judge the new replicas; fail those that will not do. */
        for (r = s->replicas; r; r = next) {
                const struct brm_brief *b = brief_of(c->p, r);
                const char *why;
                next = r->next;
                if (stale(c, r)) {
                        stale_n++;
                        version_stale += r->version != s->version;
                        continue;
                }
                if (replica_ready(c, r, b)) {
                        ready_new++;
                        new_n++;
                        continue;
                }
                if ((updating || rolling_back) && (why = replica_failed(c, r, b))) {
                        char reason[300];
                        snprintf(reason, sizeof(reason), "new replica %s on %s %s", r->name, r->node, why);
                        s->update_failures++;
                        brm_event(m, s->name, r->node, "rollout of %s: %s", s->name, reason);
                        drop(c, r);
                        if (updating && s->update_failures > (s->spec->update ? s->spec->update->max_failures : 0)) {
                                rollback(c, reason);
                                return; /* the next pass rolls to the previous spec */
                        }
                        continue;
                }
                new_n++;
                flight++;
        }
        par = version_stale ? brm_update_parallelism(s->spec->update) : 1;
        if (stale_n && brm_update_stop_first(s->spec->update)) {
                while (stale_n && flight < par && stop_first(c, &stale_n)) {
                        flight++;
                        new_n++;
                }
        } else if (stale_n) {
                /* Start-first: up to parallelism replicas above N; when no
                 * node has room for one more, stop-first for that one. */
                while (flight < par && new_n < desired && new_n + stale_n < desired + par &&
                       (place(c, 0, NULL, NULL) == 0 || stop_first(c, &stale_n))) {
                        flight++;
                        new_n++;
                }
                while (stale_n && ready_new + stale_n > desired && (r = pick_stale(c))) {
                        drop(c, r);
                        stale_n--;
                }
        }
        /* The count. */
        while (new_n + stale_n < desired) {
                if (place(c, 0, NULL, NULL) < 0)
                        break;
                new_n++;
        }
        while ((new_n + stale_n > desired + (stale_n ? par : 0) || (!stale_n && new_n > desired)) &&
               (r = stale_n ? pick_stale(c) : pick_extra(c))) {
                if (stale(c, r))
                        stale_n--;
                else
                        new_n--;
                drop(c, r);
        }
        if ((updating || rolling_back) && !stale_n && ready_new >= desired) {
                set_state(m, s, updating ? "completed" : "rolled-back", s->update_reason);
                brm_event(m, s->name, NULL, updating ? "rollout of %s completed: %u replicas of version %llu"
                                                     : "rollback of %s completed: %u replicas of version %llu",
                          s->name, desired, (unsigned long long)s->version);
        }
}

static void service_pass(struct pass *p, struct brm_service *s)
{
        struct svc_ctx *c = calloc(1, sizeof(*c));
        struct brm_oci_desc d;
        char old[sizeof(s->pending_reason)];
        const char *image = s->spec->container->image;

        if (!c)
                return;
        c->p = p;
        c->s = s;
        for (size_t i = 0; i < s->spec->n_constraints && c->n_cons < BRM_SERVICE_MAX_CONSTRAINTS; i++)
                if (brm_constraint_parse(s->spec->constraints[i], &c->cons[c->n_cons], c->why, sizeof(c->why)) == 0)
                        c->n_cons++;
        c->why[0] = 0;
        if (image[0] != '/' && brm_imagestore_lookup(&p->m->images, image, &d) == -ENOENT)
                c->absent = true;
        for (struct brm_replica *r = s->replicas; r; r = r->next) {
                struct brm_node *n = brm_registry_get(&p->m->reg, r->node);
                if (n && n->sched_view >= 0)
                        p->v[n->sched_view].svc_count++;
        }
        heal(c);
        converge(c);
        if (c->absent || c->need_pull)
                start_pull(c);
        memcpy(old, s->pending_reason, sizeof(old));
        if (s->n_replicas < s->spec->replicas || c->why[0])
                snprintf(s->pending_reason, sizeof(s->pending_reason), "%.290s",
                         c->why[0] ? c->why : "waiting for a node");
        else
                s->pending_reason[0] = 0;
        if (s->pending_reason[0] && strcmp(old, s->pending_reason) != 0)
                brm_event(p->m, s->name, NULL, "%s: %s", s->name, s->pending_reason);
        for (struct brm_replica *r = s->replicas; r; r = r->next) {
                struct brm_node *n = brm_registry_get(&p->m->reg, r->node);
                if (n && n->sched_view >= 0)
                        p->v[n->sched_view].svc_count = 0;
        }
        free(c);
}

bool brm_sched_wanted(struct brm_master *m)
{
        for (struct brm_service *s = m->svc.list; s; s = s->next) {
                if (s->update_state[0] && strcmp(s->update_state, "completed") != 0 &&
                    strcmp(s->update_state, "rolled-back") != 0)
                        return true;
                if (s->pending_reason[0] || s->n_replicas != s->spec->replicas)
                        return true;
                for (struct brm_replica *r = s->replicas; r; r = r->next) {
                        struct brm_node *n = brm_registry_get(&m->reg, r->node);
                        if (!n || !n->ready || n->schedule[0] == 'd')
                                return true;
                }
        }
        return false;
}

void brm_sched_pass(struct brm_master *m)
{
        struct pass p = { .m = m, .now = brm_mono_ms() };

        if (m->stopping || !m->svc.list)
                return;
        if (build_views(&p) < 0) {
                brm_warn(MOD, "out of memory for a scheduling pass; the next one tries again");
                return;
        }
        for (struct brm_service *s = m->svc.list; s; s = s->next)
                service_pass(&p, s);
        brm_services_push(m);
        for (size_t i = 0; i < p.n; i++)
                p.v[i].n->sched_view = -1;
        free(p.v);
}
