/* The operator's calls for services, node labels and scheduling, and
 * events. Every request is checked whole against the contract
 * (lib/svcspec.c) before anything is stored; the scheduler (sched.c) then
 * acts on what was stored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "place.h"
#include "pull.h"
#include "server.h"
#include "services.h"
#include "session.h"
#include "svcspec.h"
#include "util.h"

#define MOD "services"

/* A copy of spec the master owns, with the image's full name and the
 * services' default restart policy; NULL (and why) when it breaks the
 * contract. */
static Bramble__ServiceSpec *own_spec(const Bramble__ServiceSpec *in, char *why, size_t why_size, int *code)
{
        Bramble__ServiceSpec *spec;
        size_t len;
        uint8_t *buf;

        *code = -EINVAL;
        if (brm_svcspec_check(in, why, why_size) < 0)
                return NULL;
        *code = -ENOMEM;
        snprintf(why, why_size, "out of memory");
        len = bramble__service_spec__get_packed_size(in);
        if (!(buf = malloc(len ? len : 1)))
                return NULL;
        bramble__service_spec__pack(in, buf);
        spec = bramble__service_spec__unpack(NULL, len, buf);
        free(buf);
        if (!spec)
                return NULL;
        if (spec->container->image[0] != '/') {
                char full[BRM_IMAGE_REF_MAX];
                char *dup;
                brm_pull_normalize(spec->container->image, full, sizeof(full));
                if (!(dup = strdup(full)))
                        goto fail;
                free(spec->container->image);
                spec->container->image = dup;
        }
        if (!spec->container->restart && !(spec->container->restart = strdup("always")))
                goto fail;
        free(spec->container->name);
        spec->container->name = NULL;
        *code = 0;
        return spec;
fail:
        bramble__service_spec__free_unpacked(spec, NULL);
        return NULL;
}

static struct brm_service *named(struct brm_session *s, uint64_t id, const char *name)
{
        struct brm_service *svc = name ? brm_service_find(s->m, name) : NULL;
        char msg[160];

        if (!svc) {
                snprintf(msg, sizeof(msg), "no service named '%.48s' (see 'bramble service ls')", name ? name : "");
                brm_session_error(s, id, -ENOENT, msg);
        }
        return svc;
}

void brm_svc_create(struct brm_session *s, const Bramble__Envelope *in)
{
        Bramble__ServiceSpec *spec;
        char why[400];
        int r;

        if (!(spec = own_spec(in->service_create, why, sizeof(why), &r))) {
                brm_session_error(s, in->id, r, why);
                return;
        }
        r = brm_service_create(s->m, spec, NULL);
        if (r < 0) {
                snprintf(why, sizeof(why), r == -EEXIST ? "a service named '%s' exists (change it with 'bramble service update')"
                                                        : "storing service %s failed; see the master's log",
                         spec->name);
                bramble__service_spec__free_unpacked(spec, NULL);
                brm_session_error(s, in->id, r, why);
                return;
        }
        brm_event(s->m, spec->name, NULL, "service %s created: %u replica%s of %s", spec->name, spec->replicas,
                  spec->replicas == 1 ? "" : "s", spec->container->image);
        brm_session_reply_ok(s, in->id);
}

static int change(struct brm_session *s, uint64_t id, struct brm_service *svc, Bramble__ServiceSpec *spec)
{
        bool rollout = false;
        unsigned old_replicas = svc->spec->replicas;
        int r = brm_service_change(s->m, svc, spec, &rollout);

        if (r < 0) {
                bramble__service_spec__free_unpacked(spec, NULL);
                if (id)
                        brm_session_error(s, id, r, "storing the service failed; see the master's log");
                return r;
        }
        if (rollout)
                brm_event(s->m, svc->name, NULL, "rollout of %s started: version %llu, %u at a time", svc->name,
                          (unsigned long long)svc->version, brm_update_parallelism(svc->spec->update));
        else if (old_replicas != svc->spec->replicas)
                brm_event(s->m, svc->name, NULL, "%s scaled from %u to %u", svc->name, old_replicas,
                          svc->spec->replicas);
        return 0;
}

void brm_svc_update(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__ServiceSpec *req = in->service_update;
        struct brm_service *svc;
        Bramble__ServiceSpec *spec;
        char why[400];
        int r;

        if (!(svc = named(s, in->id, req ? req->name : NULL)))
                return;
        if (!(spec = own_spec(req, why, sizeof(why), &r))) {
                brm_session_error(s, in->id, r, why);
                return;
        }
        if (change(s, in->id, svc, spec) == 0)
                brm_session_reply_ok(s, in->id);
}

void brm_svc_scale(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__ServiceRequest *req = in->service_scale;
        struct brm_service *svc;
        Bramble__ServiceSpec copy, *spec;
        char why[400];
        int r;

        if (!(svc = named(s, in->id, req->name)))
                return;
        if (!req->has_replicas || req->replicas > BRM_SERVICE_MAX_REPLICAS) {
                snprintf(why, sizeof(why), "replicas must be from 0 to %d", BRM_SERVICE_MAX_REPLICAS);
                brm_session_error(s, in->id, -EINVAL, why);
                return;
        }
        copy = *svc->spec;
        copy.has_replicas = 1;
        copy.replicas = req->replicas;
        if (!(spec = own_spec(&copy, why, sizeof(why), &r))) {
                brm_session_error(s, in->id, r, why);
                return;
        }
        if (change(s, in->id, svc, spec) == 0)
                brm_session_reply_ok(s, in->id);
}

void brm_svc_rollback(struct brm_session *s, const Bramble__Envelope *in)
{
        struct brm_service *svc;
        char why[200];
        int r;

        if (!(svc = named(s, in->id, in->service_rollback->name)))
                return;
        r = brm_service_rollback(s->m, svc, "rolled back by hand");
        if (r < 0) {
                snprintf(why, sizeof(why), r == -ENOENT ? "service %s has no previous spec to roll back to"
                                                        : "storing service %s failed; see the master's log",
                         svc->name);
                brm_session_error(s, in->id, r, why);
                return;
        }
        brm_event(s->m, svc->name, NULL, "%s: rolling back by hand to version %llu", svc->name,
                  (unsigned long long)svc->version);
        brm_session_reply_ok(s, in->id);
}

void brm_svc_remove(struct brm_session *s, const Bramble__Envelope *in)
{
        struct brm_service *svc;
        char name[48];

        if (!(svc = named(s, in->id, in->service_remove->name)))
                return;
        snprintf(name, sizeof(name), "%s", svc->name);
        if (brm_service_remove(s->m, svc) < 0) {
                brm_session_error(s, in->id, -EIO, "removing the service failed; see the master's log");
                return;
        }
        brm_event(s->m, name, NULL, "service %s removed", name);
        brm_session_reply_ok(s, in->id);
}

/* ---- listing ---- */

struct hb_cache {
        struct brm_master *m;
        struct brm_hb_cache hbc;
};

static const Bramble__ContainerStatus *status_of(struct hb_cache *c, const char *node, const char *name)
{
        const Bramble__Heartbeat *hb = brm_hb_cache_get(&c->hbc, &c->m->reg, node);

        for (size_t k = 0; hb && k < hb->n_containers; k++)
                if (hb->containers[k]->name && strcmp(hb->containers[k]->name, name) == 0)
                        return hb->containers[k];
        return NULL;
}

struct info_buf {
        Bramble__ServiceInfo info;
        Bramble__ServiceReplica *reps;
        Bramble__ServiceReplica **rep_ptrs;
        Bramble__ContainerStatus *sts;
};

static int fill_info(struct hb_cache *c, struct brm_service *svc, struct info_buf *b)
{
        size_t pending = svc->spec->replicas > svc->n_replicas ? svc->spec->replicas - svc->n_replicas : 0;
        size_t n = svc->n_replicas + pending, i = 0;
        Bramble__ServiceInfo *info = &b->info;

        bramble__service_info__init(info);
        info->spec = svc->spec;
        info->previous = svc->prev;
        info->has_version = info->has_running = info->has_healthy = info->has_created_ms = info->has_updated_ms = 1;
        info->version = svc->version;
        info->created_ms = svc->created_ms;
        info->updated_ms = svc->updated_ms;
        info->update_state = svc->update_state;
        info->update_reason = svc->update_reason[0] ? svc->update_reason : NULL;
        info->pending_reason = svc->pending_reason[0] ? svc->pending_reason : NULL;
        b->reps = calloc(n ? n : 1, sizeof(*b->reps));
        b->rep_ptrs = calloc(n ? n : 1, sizeof(*b->rep_ptrs));
        b->sts = calloc(n ? n : 1, sizeof(*b->sts));
        if (!b->reps || !b->rep_ptrs || !b->sts)
                return -ENOMEM;
        for (struct brm_replica *r = svc->replicas; r; r = r->next, i++) {
                Bramble__ServiceReplica *rep = &b->reps[i];
                const Bramble__ContainerStatus *st = status_of(c, r->node, r->name);
                struct brm_node *nd = brm_registry_get(&c->m->reg, r->node);
                bramble__service_replica__init(rep);
                rep->name = r->name;
                rep->node = r->node;
                rep->has_version = 1;
                rep->version = r->version;
                if (st) {
                        rep->status = (Bramble__ContainerStatus *)st;
                } else {
                        bramble__container_status__init(&b->sts[i]);
                        b->sts[i].name = r->name;
                        b->sts[i].state = "pending";
                        b->sts[i].reason = nd && nd->ready ? "waiting for the node to report it" : "node is not Ready";
                        rep->status = &b->sts[i];
                }
                if (rep->status->state && strcmp(rep->status->state, "running") == 0) {
                        info->running++;
                        if (!rep->status->health || strcmp(rep->status->health, "healthy") == 0)
                                info->healthy++;
                }
                b->rep_ptrs[i] = rep;
        }
        for (size_t k = 0; k < pending; k++, i++) {
                bramble__service_replica__init(&b->reps[i]);
                bramble__container_status__init(&b->sts[i]);
                b->sts[i].state = "pending";
                b->sts[i].reason = svc->pending_reason[0] ? svc->pending_reason : "waiting for a node";
                b->reps[i].status = &b->sts[i];
                b->rep_ptrs[i] = &b->reps[i];
        }
        info->n_replicas = i;
        info->replicas = b->rep_ptrs;
        return 0;
}

void brm_svc_list(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__ServiceRequest *req = in->service_list;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ServiceListResponse resp = BRAMBLE__SERVICE_LIST_RESPONSE__INIT;
        struct hb_cache c = { .m = m };
        struct brm_service *one = NULL;
        struct info_buf *bufs;
        Bramble__ServiceInfo **infos;
        size_t n = 0, cap;
        int r = 0;

        if (req && req->name && *req->name && !(one = named(s, in->id, req->name)))
                return;
        cap = one ? 1 : m->svc.count;
        bufs = calloc(cap ? cap : 1, sizeof(*bufs));
        infos = calloc(cap ? cap : 1, sizeof(*infos));
        for (struct brm_service *svc = one ? one : m->svc.list; bufs && infos && svc && n < cap;
             svc = one ? NULL : svc->next) {
                if ((r = fill_info(&c, svc, &bufs[n])) < 0)
                        break;
                infos[n] = &bufs[n].info;
                n++;
        }
        if (!bufs || !infos || r < 0) {
                brm_session_error(s, in->id, -ENOMEM, "listing services failed: out of memory");
        } else {
                resp.n_services = n;
                resp.services = infos;
                env.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICES;
                env.services = &resp;
                brm_session_reply(s, in->id, &env);
        }
        for (size_t i = 0; bufs && i < cap; i++) {
                free(bufs[i].reps);
                free(bufs[i].rep_ptrs);
                free(bufs[i].sts);
        }
        free(bufs);
        free(infos);
        brm_hb_cache_free(&c.hbc);
}

/* ---- apply ---- */

static bool same_msg(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
        size_t la, lb;
        uint8_t *pa, *pb;
        bool same;

        if (!a || !b)
                return a == b;
        la = protobuf_c_message_get_packed_size(a);
        lb = protobuf_c_message_get_packed_size(b);
        if (la != lb)
                return false;
        pa = malloc(la ? la : 1);
        pb = malloc(lb ? lb : 1);
        if (!pa || !pb) {
                free(pa);
                free(pb);
                return false;
        }
        protobuf_c_message_pack(a, pa);
        protobuf_c_message_pack(b, pb);
        same = memcmp(pa, pb, la) == 0;
        free(pa);
        free(pb);
        return same;
}

static bool same_strs(char **a, size_t na, char **b, size_t nb)
{
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

static bool same_str(const char *a, const char *b)
{
        return strcmp(a ? a : "", b ? b : "") == 0;
}

/* "image a -> b, env, health" for what differs between a and b. */
static void describe(const Bramble__ServiceSpec *a, const Bramble__ServiceSpec *b, char *out, size_t size)
{
        const Bramble__ContainerSpec *x = a->container, *y = b->container;
        size_t len = 0;

#define ADD(...)                                                                                                       \
        do {                                                                                                           \
                if (len < size)                                                                                        \
                        len += (size_t)snprintf(out + len, size - len, "%s", len ? ", " : "");                        \
                if (len < size)                                                                                        \
                        len += (size_t)snprintf(out + len, size - len, __VA_ARGS__);                                   \
        } while (0)
        out[0] = 0;
        if (!same_str(x->image, y->image))
                ADD("image %s -> %s", x->image, y->image);
        if (!same_strs(x->args, x->n_args, y->args, y->n_args))
                ADD("command");
        if (!same_strs(x->env, x->n_env, y->env, y->n_env))
                ADD("env");
        if (x->memory_max != y->memory_max || x->memory_high != y->memory_high || x->cpu_millis != y->cpu_millis ||
            x->pids_max != y->pids_max)
                ADD("limits");
        if (!same_str(x->restart, y->restart) || !same_str(x->network, y->network) || !same_str(x->workdir, y->workdir))
                ADD("restart, network or workdir");
        if (!same_msg((const ProtobufCMessage *)x->health, (const ProtobufCMessage *)y->health))
                ADD("health check");
        if (x->disconnect_stop_ms != y->disconnect_stop_ms)
                ADD("on-disconnect");
        if (!same_strs(a->constraints, a->n_constraints, b->constraints, b->n_constraints) ||
            a->max_per_node != b->max_per_node)
                ADD("placement");
        if (!same_msg((const ProtobufCMessage *)a->update, (const ProtobufCMessage *)b->update))
                ADD("update policy");
        if (!len)
                ADD("security options");
#undef ADD
}

void brm_svc_apply(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__ApplyRequest *req = in->apply;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ApplyResponse resp = BRAMBLE__APPLY_RESPONSE__INIT;
        size_t n = req->n_services, n_changes = 0;
        Bramble__ServiceSpec **specs = calloc(n ? n : 1, sizeof(*specs));
        char **changes = calloc(n + m->svc.count + 1, sizeof(*changes));
        char why[500], what[400], line[600];
        int r = 0;

        if (!specs || !changes) {
                brm_session_error(s, in->id, -ENOMEM, "out of memory");
                goto out;
        }
        /* Checked whole first: a bad entry changes nothing. */
        for (size_t i = 0; i < n; i++) {
                if (!(specs[i] = own_spec(req->services[i], what, sizeof(what), &r))) {
                        snprintf(why, sizeof(why), "service %.48s: %s",
                                 req->services[i] && req->services[i]->name ? req->services[i]->name : "(no name)", what);
                        brm_session_error(s, in->id, r, why);
                        goto out;
                }
                for (size_t k = 0; k < i; k++)
                        if (strcmp(specs[k]->name, specs[i]->name) == 0) {
                                snprintf(why, sizeof(why), "service %s is given twice", specs[i]->name);
                                brm_session_error(s, in->id, -EINVAL, why);
                                goto out;
                        }
        }
        for (size_t i = 0; i < n; i++) {
                struct brm_service *svc = brm_service_find(m, specs[i]->name);
                line[0] = 0;
                if (!svc) {
                        snprintf(line, sizeof(line), "create %s (%u replica%s of %s)", specs[i]->name, specs[i]->replicas,
                                 specs[i]->replicas == 1 ? "" : "s", specs[i]->container->image);
                } else if (brm_service_differs(svc->spec, specs[i])) {
                        describe(svc->spec, specs[i], what, sizeof(what));
                        snprintf(line, sizeof(line), "update %s: %s", specs[i]->name, what);
                } else if (svc->spec->replicas != specs[i]->replicas) {
                        snprintf(line, sizeof(line), "scale %s from %u to %u", specs[i]->name, svc->spec->replicas,
                                 specs[i]->replicas);
                }
                if (line[0] && !(changes[n_changes++] = strdup(line))) {
                        brm_session_error(s, in->id, -ENOMEM, "out of memory");
                        goto out;
                }
                if (!line[0] || req->dry_run)
                        continue;
                if (!svc) {
                        if ((r = brm_service_create(m, specs[i], NULL)) < 0)
                                goto failed;
                        brm_event(m, specs[i]->name, NULL, "service %s created by apply", specs[i]->name);
                } else if ((r = change(s, 0, svc, specs[i])) < 0) {
                        specs[i] = NULL; /* freed by change() */
                        goto failed;
                }
                specs[i] = NULL;
        }
        if (req->prune) {
                struct brm_service *svc, *next;
                for (svc = m->svc.list; svc; svc = next) {
                        bool listed = false;
                        next = svc->next;
                        for (size_t i = 0; i < n && !listed; i++)
                                listed = strcmp(req->services[i]->name, svc->name) == 0;
                        if (listed)
                                continue;
                        snprintf(line, sizeof(line), "remove %s", svc->name);
                        if (!(changes[n_changes++] = strdup(line))) {
                                brm_session_error(s, in->id, -ENOMEM, "out of memory");
                                goto out;
                        }
                        if (!req->dry_run) {
                                snprintf(what, sizeof(what), "%s", svc->name);
                                if ((r = brm_service_remove(m, svc)) < 0)
                                        goto failed;
                                brm_event(m, what, NULL, "service %s removed by apply --prune", what);
                        }
                }
        }
        resp.n_changes = n_changes;
        resp.changes = changes;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_APPLIED;
        env.applied = &resp;
        brm_session_reply(s, in->id, &env);
        goto out;
failed:
        snprintf(why, sizeof(why), "applying stopped at '%.300s': %s (what came before it was applied)", line,
                 brm_strerror(r));
        brm_session_error(s, in->id, r, why);
out:
        for (size_t i = 0; specs && i < n; i++)
                if (specs[i])
                        bramble__service_spec__free_unpacked(specs[i], NULL);
        for (size_t i = 0; changes && i < n_changes; i++)
                free(changes[i]);
        free(specs);
        free(changes);
}

