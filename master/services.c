/* Services in memory and in the store; replicas; events. See services.h. */
#include "services.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers.h"
#include "err.h"
#include "log.h"
#include "server.h"
#include "util.h"

#define MOD "services"

static void service_free(struct brm_service *s)
{
        while (s->replicas) {
                struct brm_replica *r = s->replicas;
                s->replicas = r->next;
                free(r);
        }
        if (s->spec)
                bramble__service_spec__free_unpacked(s->spec, NULL);
        if (s->prev)
                bramble__service_spec__free_unpacked(s->prev, NULL);
        free(s);
}

struct brm_service *brm_service_find(struct brm_master *m, const char *name)
{
        for (struct brm_service *s = m->svc.list; s; s = s->next)
                if (strcmp(s->name, name) == 0)
                        return s;
        return NULL;
}

/* Into the list, kept by name. */
static void link_service(struct brm_master *m, struct brm_service *s)
{
        struct brm_service **pp = &m->svc.list;

        while (*pp && strcmp((*pp)->name, s->name) < 0)
                pp = &(*pp)->next;
        s->next = *pp;
        *pp = s;
        m->svc.count++;
}

static uint8_t *pack_spec(const Bramble__ServiceSpec *spec, size_t *len)
{
        uint8_t *buf;

        *len = bramble__service_spec__get_packed_size(spec);
        buf = malloc(*len ? *len : 1);
        if (buf)
                bramble__service_spec__pack(spec, buf);
        return buf;
}

int brm_service_save(struct brm_master *m, struct brm_service *s)
{
        struct brm_service_rec rec = { .version = s->version, .prev_version = s->prev_version, .created_ms = s->created_ms, .updated_ms = s->updated_ms };
        uint8_t *spec, *prev = NULL;
        int r = -ENOMEM;

        snprintf(rec.name, sizeof(rec.name), "%s", s->name);
        snprintf(rec.update_state, sizeof(rec.update_state), "%s", s->update_state);
        snprintf(rec.update_reason, sizeof(rec.update_reason), "%s", s->update_reason);
        if (!(spec = pack_spec(s->spec, &rec.spec_len)))
                return -ENOMEM;
        if (s->prev && !(prev = pack_spec(s->prev, &rec.prev_len)))
                goto out;
        rec.spec = spec;
        rec.prev = prev;
        r = brm_store_service_put(m->store, &rec);
        if (r < 0)
                brm_warn(MOD, "storing service %s failed: %s", s->name, brm_strerror(r));
out:
        free(spec);
        free(prev);
        return r;
}

/* ---- loading ---- */

static int load_service(void *arg, const struct brm_service_rec *rec)
{
        struct brm_master *m = arg;
        struct brm_service *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        snprintf(s->name, sizeof(s->name), "%s", rec->name);
        s->spec = bramble__service_spec__unpack(NULL, rec->spec_len, rec->spec);
        s->prev = rec->prev ? bramble__service_spec__unpack(NULL, rec->prev_len, rec->prev) : NULL;
        if (!s->spec || !s->spec->container) {
                brm_warn(MOD, "service %s: its stored spec cannot be read; it is left out", rec->name);
                service_free(s);
                return 0;
        }
        s->version = rec->version;
        s->prev_version = rec->prev_version;
        snprintf(s->update_state, sizeof(s->update_state), "%s", rec->update_state);
        snprintf(s->update_reason, sizeof(s->update_reason), "%s", rec->update_reason);
        s->created_ms = rec->created_ms;
        s->updated_ms = rec->updated_ms;
        link_service(m, s);
        return 0;
}

struct orphan {
        char node[64], name[64];
};

struct load_ctx {
        struct brm_master *m;
        struct orphan *orphans;
        size_t n, cap;
};

static unsigned index_of(const char *name)
{
        const char *dot = strrchr(name, '.');
        return dot ? (unsigned)strtoul(dot + 1, NULL, 10) : 0;
}

static void link_replica(struct brm_service *s, struct brm_replica *r)
{
        struct brm_replica **pp = &s->replicas;

        while (*pp && (*pp)->index < r->index)
                pp = &(*pp)->next;
        r->next = *pp;
        *pp = r;
        s->n_replicas++;
}

static int load_replica(void *arg, const char *node, const uint8_t *spec, size_t len)
{
        struct load_ctx *c = arg;
        Bramble__ContainerSpec *sp = bramble__container_spec__unpack(NULL, len, spec);
        struct brm_service *s;
        struct brm_replica *r;
        int rc = 0;

        if (!sp)
                return 0;
        if (!sp->service)
                goto out;
        s = brm_service_find(c->m, sp->service);
        if (!s) {
                if (c->n == c->cap) {
                        size_t nc = c->cap ? c->cap * 2 : 8;
                        struct orphan *o = realloc(c->orphans, nc * sizeof(*o));
                        if (!o) {
                                rc = -ENOMEM;
                                goto out;
                        }
                        c->orphans = o;
                        c->cap = nc;
                }
                snprintf(c->orphans[c->n].node, 64, "%s", node);
                snprintf(c->orphans[c->n].name, 64, "%s", sp->name);
                c->n++;
                goto out;
        }
        if (!(r = calloc(1, sizeof(*r)))) {
                rc = -ENOMEM;
                goto out;
        }
        snprintf(r->name, sizeof(r->name), "%s", sp->name);
        snprintf(r->node, sizeof(r->node), "%s", node);
        r->index = index_of(sp->name);
        r->version = sp->service_version;
        r->mem = sp->memory_max;
        r->cpu = sp->cpu_millis;
        r->placed_mono = brm_mono_ms();
        link_replica(s, r);
out:
        bramble__container_spec__free_unpacked(sp, NULL);
        return rc;
}

int brm_services_open(struct brm_master *m)
{
        struct load_ctx c = { .m = m };
        int r;

        m->svc.start_mono = brm_mono_ms();
        if (!(m->svc.events = calloc(BRM_EVENTS_KEPT, sizeof(*m->svc.events))))
                return -ENOMEM;
        uv_timer_init(m->loop, &m->svc.kick);
        m->svc.kick.data = m;
        m->svc.kick_open = true;
        if ((r = brm_store_service_list(m->store, load_service, m)) < 0 ||
            (r = brm_store_container_list(m->store, NULL, load_replica, &c)) < 0) {
                free(c.orphans);
                return r;
        }
        for (size_t i = 0; i < c.n; i++) {
                brm_info(MOD, "removing %s/%s: its service no longer exists", c.orphans[i].node, c.orphans[i].name);
                if ((r = brm_store_container_remove(m->store, c.orphans[i].node, c.orphans[i].name)) < 0)
                        brm_warn(MOD, "removing %s/%s failed: %s", c.orphans[i].node, c.orphans[i].name,
                                 brm_strerror(r));
        }
        free(c.orphans);
        return 0;
}

void brm_services_close(struct brm_master *m)
{
        while (m->svc.list) {
                struct brm_service *s = m->svc.list;
                m->svc.list = s->next;
                service_free(s);
        }
        m->svc.count = 0;
        free(m->svc.events);
        m->svc.events = NULL;
        free(m->svc.push);
        m->svc.push = NULL;
        m->svc.n_push = m->svc.cap_push = 0;
}

static void on_kick(uv_timer_t *t)
{
        brm_sched_pass(t->data);
}

void brm_services_kick(struct brm_master *m)
{
        if (m->svc.kick_open && !uv_is_active((uv_handle_t *)&m->svc.kick))
                uv_timer_start(&m->svc.kick, on_kick, 5, 0);
}

/* ---- services ---- */

int brm_service_create(struct brm_master *m, Bramble__ServiceSpec *spec, struct brm_service **ret)
{
        struct brm_service *s;
        int r;

        if (brm_service_find(m, spec->name))
                return -EEXIST;
        if (!(s = calloc(1, sizeof(*s))))
                return -ENOMEM;
        snprintf(s->name, sizeof(s->name), "%s", spec->name);
        s->spec = spec;
        s->version = 1;
        s->created_ms = s->updated_ms = brm_now_ms();
        if ((r = brm_service_save(m, s)) < 0) {
                s->spec = NULL;
                service_free(s);
                return r;
        }
        link_service(m, s);
        if (ret)
                *ret = s;
        brm_services_kick(m);
        return 0;
}

bool brm_service_differs(const Bramble__ServiceSpec *a, const Bramble__ServiceSpec *b)
{
        Bramble__ServiceSpec x = *a, y = *b;
        uint8_t *pa, *pb;
        size_t la, lb;
        bool d = true;

        x.has_replicas = y.has_replicas = 0;
        x.replicas = y.replicas = 0;
        pa = pack_spec(&x, &la);
        pb = pack_spec(&y, &lb);
        if (pa && pb)
                d = la != lb || memcmp(pa, pb, la) != 0;
        free(pa);
        free(pb);
        return d;
}

int brm_service_change(struct brm_master *m, struct brm_service *s, Bramble__ServiceSpec *spec, bool *ret_rollout)
{
        Bramble__ServiceSpec *old = s->spec, *old_prev = s->prev;
        uint64_t old_version = s->version, old_prev_version = s->prev_version, top = s->version;
        char old_state[sizeof(s->update_state)], old_reason[sizeof(s->update_reason)];
        bool rollout = brm_service_differs(old, spec);
        int r;

        memcpy(old_state, s->update_state, sizeof(old_state));
        memcpy(old_reason, s->update_reason, sizeof(old_reason));
        s->spec = spec;
        if (rollout) {
                /* A version no replica has run, even one of a spec that
                 * was rolled back. */
                if (s->prev_version > top)
                        top = s->prev_version;
                for (struct brm_replica *rp = s->replicas; rp; rp = rp->next)
                        if (rp->version > top)
                                top = rp->version;
                s->prev = old;
                s->prev_version = old_version;
                s->version = top + 1;
                s->update_failures = 0;
                snprintf(s->update_state, sizeof(s->update_state), "updating");
                s->update_reason[0] = 0;
        }
        s->updated_ms = brm_now_ms();
        if ((r = brm_service_save(m, s)) < 0) {
                s->spec = old;
                s->prev = old_prev;
                s->version = old_version;
                s->prev_version = old_prev_version;
                memcpy(s->update_state, old_state, sizeof(old_state));
                memcpy(s->update_reason, old_reason, sizeof(old_reason));
                return r;
        }
        if (rollout) {
                if (old_prev)
                        bramble__service_spec__free_unpacked(old_prev, NULL);
        } else {
                bramble__service_spec__free_unpacked(old, NULL);
        }
        if (ret_rollout)
                *ret_rollout = rollout;
        brm_services_kick(m);
        return 0;
}

int brm_service_rollback(struct brm_master *m, struct brm_service *s, const char *reason)
{
        Bramble__ServiceSpec *spec = s->spec;
        uint64_t version = s->version;
        int r;

        if (!s->prev)
                return -ENOENT;
        s->spec = s->prev;
        s->prev = spec;
        s->version = s->prev_version;
        s->prev_version = version;
        s->update_failures = 0;
        snprintf(s->update_state, sizeof(s->update_state), "rolling-back");
        snprintf(s->update_reason, sizeof(s->update_reason), "%s", reason);
        s->updated_ms = brm_now_ms();
        if ((r = brm_service_save(m, s)) < 0)
                return r;
        brm_services_kick(m);
        return 0;
}

int brm_service_remove(struct brm_master *m, struct brm_service *s)
{
        struct brm_service **pp;
        int r;

        while (s->replicas)
                if ((r = brm_replica_remove(m, s, s->replicas)) < 0)
                        return r;
        if ((r = brm_store_service_remove(m->store, s->name)) < 0 && r != -ENOENT)
                return r;
        for (pp = &m->svc.list; *pp && *pp != s; pp = &(*pp)->next)
                ;
        if (*pp)
                *pp = s->next;
        m->svc.count--;
        service_free(s);
        brm_services_push(m);
        return 0;
}

/* ---- replicas ---- */

static void queue_push(struct brm_master *m, const char *node)
{
        struct brm_services *v = &m->svc;

        for (size_t i = 0; i < v->n_push; i++)
                if (strcmp(v->push[i], node) == 0)
                        return;
        if (v->n_push == v->cap_push) {
                size_t nc = v->cap_push ? v->cap_push * 2 : 16;
                char(*np)[64] = realloc(v->push, nc * sizeof(*np));
                if (!np) {
                        brm_containers_push(m, node); /* now rather than lost */
                        return;
                }
                v->push = np;
                v->cap_push = nc;
        }
        snprintf(v->push[v->n_push++], 64, "%s", node);
}

void brm_services_push(struct brm_master *m)
{
        for (size_t i = 0; i < m->svc.n_push; i++)
                brm_containers_push(m, m->svc.push[i]);
        m->svc.n_push = 0;
}

int brm_replica_add(struct brm_master *m, struct brm_service *s, const char *node, unsigned index,
                    struct brm_replica **ret)
{
        Bramble__ContainerSpec *c = s->spec->container;
        char *saved_name = c->name, *saved_service = c->service;
        protobuf_c_boolean saved_has_version = c->has_service_version;
        uint64_t saved_version = c->service_version;
        struct brm_replica *r = calloc(1, sizeof(*r));
        uint8_t *buf;
        size_t len;
        int rc;

        if (!r)
                return -ENOMEM;
        snprintf(r->name, sizeof(r->name), "%s.%u", s->name, index);
        snprintf(r->node, sizeof(r->node), "%s", node);
        r->index = index;
        r->version = s->version;
        r->mem = c->memory_max;
        r->cpu = c->cpu_millis;
        r->placed_mono = brm_mono_ms();
        c->name = r->name;
        c->service = s->name;
        c->has_service_version = 1;
        c->service_version = s->version;
        len = bramble__container_spec__get_packed_size(c);
        if ((buf = malloc(len ? len : 1)))
                bramble__container_spec__pack(c, buf);
        c->name = saved_name;
        c->service = saved_service;
        c->has_service_version = saved_has_version;
        c->service_version = saved_version;
        if (!buf) {
                free(r);
                return -ENOMEM;
        }
        rc = brm_store_container_add(m->store, node, r->name, buf, len);
        free(buf);
        if (rc < 0) {
                free(r);
                return rc;
        }
        link_replica(s, r);
        queue_push(m, node);
        if (ret)
                *ret = r;
        return 0;
}

int brm_replica_remove(struct brm_master *m, struct brm_service *s, struct brm_replica *r)
{
        struct brm_replica **pp;
        int rc = brm_store_container_remove(m->store, r->node, r->name);

        if (rc < 0 && rc != -ENOENT) {
                brm_warn(MOD, "removing replica %s from %s failed: %s", r->name, r->node, brm_strerror(rc));
                return rc;
        }
        queue_push(m, r->node);
        for (pp = &s->replicas; *pp && *pp != r; pp = &(*pp)->next)
                ;
        if (*pp)
                *pp = r->next;
        s->n_replicas--;
        free(r);
        return 0;
}

/* ---- events ---- */

void brm_event(struct brm_master *m, const char *service, const char *node, const char *fmt, ...)
{
        struct brm_services *v = &m->svc;
        struct brm_event *e;
        va_list ap;

        if (!v->events)
                return;
        e = &v->events[(v->ev_head + v->ev_n) % BRM_EVENTS_KEPT];
        if (v->ev_n == BRM_EVENTS_KEPT)
                v->ev_head = (v->ev_head + 1) % BRM_EVENTS_KEPT;
        else
                v->ev_n++;
        memset(e, 0, sizeof(*e));
        e->seq = ++v->ev_seq;
        e->time_ms = brm_now_ms();
        snprintf(e->service, sizeof(e->service), "%s", service ? service : "");
        snprintf(e->node, sizeof(e->node), "%s", node ? node : "");
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        brm_info("event", "%s", e->msg);
}
