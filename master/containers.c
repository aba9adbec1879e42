/* Operator calls for containers. The master keeps the desired state; a new
 * container is first checked by its node (is the image there, can the
 * limits be enforced) and stored only when the node agrees, so a bad
 * request changes nothing. Nodes get their complete desired set after each
 * hello and each change; actual state comes back in heartbeats. */
#include "containers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrspec.h"
#include "err.h"
#include "log.h"
#include "pull.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define MOD "containers"
#define CHECK_TIMEOUT_MS 15000

/* A new container relayed to its node for a check, waiting for the answer. */
struct brm_pending {
        uint64_t node_req_id;
        uint64_t admin_sid;
        uint64_t admin_req_id;
        char node[64];
        char name[64];          /* the container's */
        uint8_t *spec;          /* packed ContainerSpec to store once the node agrees */
        size_t spec_len;
        uint64_t deadline_mono;
        struct brm_pending *next;
};

static int check_cluster_image(struct brm_master *m, const struct brm_node *n, const char *image, char *msg,
                               size_t size);
static int node_platform(const struct brm_node *n, char *buf, size_t size, char *msg, size_t msg_size);
static void pending_free(struct brm_pending *p);

/* Answers an operator's request that may have outlived its session. */
static void tell(struct brm_master *m, uint64_t sid, uint64_t id, int code, const char *msg)
{
        struct brm_session *s = brm_session_find(m, sid);
        if (s)
                brm_session_error(s, id, code, msg);
}

struct collect_ctx {
        Bramble__ContainerSpec **specs;
        size_t n, cap;
};

static int collect_cb(void *arg, const char *node, const uint8_t *spec, size_t len)
{
        struct collect_ctx *c = arg;
        Bramble__ContainerSpec *sp;

        if (c->n == c->cap) {
                size_t nc = c->cap ? c->cap * 2 : 8;
                Bramble__ContainerSpec **ns = realloc(c->specs, nc * sizeof(*ns));
                if (!ns)
                        return -ENOMEM;
                c->specs = ns;
                c->cap = nc;
        }
        sp = bramble__container_spec__unpack(NULL, len, spec);
        if (sp)
                c->specs[c->n++] = sp;
        return 0;
}

static void collect_free(struct collect_ctx *c)
{
        for (size_t i = 0; i < c->n; i++)
                bramble__container_spec__free_unpacked(c->specs[i], NULL);
        free(c->specs);
}

void brm_containers_push(struct brm_master *m, const char *node)
{
        struct brm_node *n = brm_registry_get(&m->reg, node);
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__DesiredState ds = BRAMBLE__DESIRED_STATE__INIT;
        struct collect_ctx c = { 0 };
        int r;

        if (!n || !n->session)
                return;
        r = brm_store_container_list(m->store, node, collect_cb, &c);
        if (r < 0) {
                brm_warn(MOD, "%s: reading desired containers failed: %s", node, brm_strerror(r));
                collect_free(&c);
                return;
        }
        ds.n_containers = c.n;
        ds.containers = c.specs;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_DESIRED;
        env.desired = &ds;
        if (brm_session_send(n->session, &env) < 0)
                brm_warn(MOD, "%s: sending desired state failed", node);
        collect_free(&c);
}

static struct brm_node *connected_node(struct brm_session *s, uint64_t id, const char *name)
{
        struct brm_node *n;
        char msg[200];

        if (!name || !brm_valid_node_name(name)) {
                brm_session_error(s, id, -EINVAL, "node name must be 1-63 characters of a-z, 0-9 and '-'");
                return NULL;
        }
        n = brm_registry_get(&s->m->reg, name);
        if (!n) {
                snprintf(msg, sizeof(msg), "no node named '%s' (see 'bramble nodes')", name);
                brm_session_error(s, id, -ENOENT, msg);
                return NULL;
        }
        return n;
}

/* The node of NODE/NAME in a request about one container, both checked;
 * NULL when refused (the error is sent). */
static struct brm_node *container_node(struct brm_session *s, uint64_t id, const Bramble__ContainerRequest *req)
{
        struct brm_node *n = connected_node(s, id, req->node);

        if (n && (!req->name || !brm_valid_container_name(req->name))) {
                brm_session_error(s, id, -EINVAL, "container name must be 1-63 characters of a-z, 0-9, '-', '_' and '.'");
                return NULL;
        }
        return n;
}

/* Sends the node the ContainerCheck for SPEC (packed; taken) and keeps it
 * pending until the node answers; errors go to the operator's request. */
static void ask_node(struct brm_master *m, uint64_t admin_sid, uint64_t id, struct brm_node *n, uint8_t *spec,
                     size_t len)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ContainerCheck chk = BRAMBLE__CONTAINER_CHECK__INIT;
        Bramble__ContainerSpec *sp = bramble__container_spec__unpack(NULL, len, spec);
        struct brm_pending *p = calloc(1, sizeof(*p));

        if (!sp || !p) {
                free(p);
                free(spec);
                if (sp)
                        bramble__container_spec__free_unpacked(sp, NULL);
                tell(m, admin_sid, id, -ENOMEM, "out of memory");
                return;
        }
        p->spec = spec;
        p->spec_len = len;
        p->node_req_id = ++m->next_node_req;
        p->admin_sid = admin_sid;
        p->admin_req_id = id;
        p->deadline_mono = brm_mono_ms() + CHECK_TIMEOUT_MS;
        snprintf(p->node, sizeof(p->node), "%s", n->name);
        snprintf(p->name, sizeof(p->name), "%s", sp->name);
        chk.spec = sp;
        env.has_id = 1;
        env.id = p->node_req_id;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_CONTAINER_CHECK;
        env.container_check = &chk;
        if (!n->session || brm_session_send(n->session, &env) < 0) {
                bramble__container_spec__free_unpacked(sp, NULL);
                pending_free(p);
                tell(m, admin_sid, id, -EIO, "sending the request to the node failed");
                return;
        }
        bramble__container_spec__free_unpacked(sp, NULL);
        p->next = m->pending;
        m->pending = p;
}

/* A run whose image the master pulls first (pull-through). */
struct run_pull {
        struct brm_master *m;
        uint64_t admin_sid, id;
        char node[64];
        char image[BRM_IMAGE_REF_MAX];
        uint8_t *spec;
        size_t len;
};

static void after_pull(void *arg, int status, const char *why, const char *name)
{
        struct run_pull *rp = arg;
        struct brm_master *m = rp->m;
        struct brm_node *n = brm_registry_get(&m->reg, rp->node);
        char msg[600];
        int r;

        if (status < 0) {
                snprintf(msg, sizeof(msg), "pulling %s failed: %s", rp->image, why);
                tell(m, rp->admin_sid, rp->id, status, msg);
        } else if (!n || !n->session) {
                snprintf(msg, sizeof(msg), "node %s went away while %s was pulled; try again when it is Ready", rp->node,
                         rp->image);
                tell(m, rp->admin_sid, rp->id, -EHOSTUNREACH, msg);
        } else if ((r = check_cluster_image(m, n, rp->image, msg, sizeof(msg))) < 0) {
                tell(m, rp->admin_sid, rp->id, r, msg);
        } else {
                ask_node(m, rp->admin_sid, rp->id, n, rp->spec, rp->len);
                rp->spec = NULL;
        }
        free(rp->spec);
        free(rp);
}

void brm_containers_run(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__RunRequest *req = in->run;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        struct brm_oci_desc top;
        struct run_pull *rp;
        struct brm_node *n;
        uint8_t *stored, *spec;
        char msg[600], image[BRM_IMAGE_REF_MAX], platform[64];
        const char *plat = platform;
        bool absent;
        char *given;
        size_t len;
        int r;

        if (!(n = connected_node(s, id, req->node)))
                return;
        /* The same contract the CLI checked: other clients exist. */
        if (brm_ctrspec_check(req->spec, msg, sizeof(msg)) < 0) {
                brm_session_error(s, id, -EINVAL, msg);
                return;
        }
        r = brm_store_container_get(m->store, n->name, req->spec->name, &stored, &len);
        if (r == 0) {
                free(stored);
                snprintf(msg, sizeof(msg), "a container named '%s' already exists on %s (remove it with 'bramble rm %s/%s')",
                         req->spec->name, n->name, n->name, req->spec->name);
                brm_session_error(s, id, -EEXIST, msg);
                return;
        }
        if (r != -ENOENT) {
                brm_warn(MOD, "%s: reading container %s failed: %s", n->name, req->spec->name, brm_strerror(r));
                brm_session_error(s, id, r, "reading the stored containers failed; see the master's log");
                return;
        }
        if (!n->session) {
                snprintf(msg, sizeof(msg), "node %s is not connected, so it cannot check the image; try again when it is Ready",
                         n->name);
                brm_session_error(s, id, -EHOSTUNREACH, msg);
                return;
        }
        /* A store image is kept under its full name ("busybox" is
         * docker.io/library/busybox:latest), so ps, image ls and image rm
         * agree on it. */
        brm_pull_normalize(req->spec->image, image, sizeof(image));
        given = req->spec->image;
        req->spec->image = image;
        len = bramble__container_spec__get_packed_size(req->spec);
        if ((spec = malloc(len ? len : 1)))
                bramble__container_spec__pack(req->spec, spec);
        req->spec->image = given;
        if (!spec) {
                brm_session_error(s, id, -ENOMEM, "out of memory");
                return;
        }
        /* Resolved once: a name the store lacks needs no resolving. */
        absent = image[0] != '/' && brm_imagestore_lookup(&m->images, image, &top) == -ENOENT;
        r = absent ? 0 : check_cluster_image(m, n, image, msg, sizeof(msg));
        if (absent || r == -ENODATA) {
                /* Not in the store, or not for this node's platform although
                 * the image has it: pulled for the node's platform first. */
                if ((r = node_platform(n, platform, sizeof(platform), msg, sizeof(msg))) < 0 ||
                    !(rp = calloc(1, sizeof(*rp)))) {
                        free(spec);
                        brm_session_error(s, id, r < 0 ? r : -ENOMEM, r < 0 ? msg : "out of memory");
                        return;
                }
                *rp = (struct run_pull){ .m = m, .admin_sid = s->sid, .id = id, .spec = spec, .len = len };
                snprintf(rp->node, sizeof(rp->node), "%s", n->name);
                snprintf(rp->image, sizeof(rp->image), "%s", image);
                if ((r = brm_pull_start(m, image, &plat, 1, after_pull, rp, s->sid, id, msg, sizeof(msg))) < 0) {
                        free(rp->spec);
                        free(rp);
                        brm_session_error(s, id, r, msg);
                }
                return;
        }
        if (r < 0) {
                free(spec);
                brm_session_error(s, id, r, msg);
                return;
        }
        ask_node(m, s->sid, id, n, spec, len);
}

/* For an image from the master's store (a reference that is not an
 * absolute path on the node): whether the store has it for the node's
 * platform, so a run the node could never start is refused now, with the
 * store's reason. The node's platform comes from its uname machine
 * (NodeInfo.arch) through the table the node uses to ask. 0, or -errno
 * and the reason in msg. */
static int node_platform(const struct brm_node *n, char *buf, size_t size, char *msg, size_t msg_size)
{
        int r = brm_registry_platform(n, buf, size);

        if (r < 0)
                snprintf(msg, msg_size, "node %s has not said which architecture it has; try again when it is Ready",
                         n->name);
        return r;
}

static int check_cluster_image(struct brm_master *m, const struct brm_node *n, const char *image, char *msg,
                               size_t size)
{
        char platform[64];
        struct brm_oci_desc d;
        int r;

        if (image[0] == '/')
                return 0;
        if ((r = node_platform(n, platform, sizeof(platform), msg, size)) < 0)
                return r;
        return brm_imagestore_resolve(&m->images, image, platform, &d, msg, size);
}

static void pending_free(struct brm_pending *p)
{
        free(p->spec);
        free(p);
}

bool brm_containers_node_reply(struct brm_session *s, const Bramble__Envelope *env)
{
        struct brm_master *m = s->m;
        struct brm_pending **pp, *p;
        struct brm_session *admin;
        char msg[300];
        int r;

        for (pp = &m->pending; *pp; pp = &(*pp)->next)
                if ((*pp)->node_req_id == env->id && strcmp((*pp)->node, s->name) == 0)
                        break;
        if (!(p = *pp))
                return false;
        *pp = p->next;
        admin = brm_session_find(m, p->admin_sid);
        if (env->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                if (admin) {
                        snprintf(msg, sizeof(msg), "node %s refused the container: %s", p->node,
                                 env->error->message ? env->error->message : "no reason given");
                        brm_session_error(admin, p->admin_req_id, env->error->has_code ? env->error->code : -EINVAL, msg);
                }
                pending_free(p);
                return true;
        }
        r = brm_store_container_add(m->store, p->node, p->name, p->spec, p->spec_len);
        if (r < 0) {
                if (admin) {
                        snprintf(msg, sizeof(msg), r == -EEXIST ? "a container named '%s' already exists on %s"
                                                   : r == -ENOENT ? "container '%s': node %s was removed meanwhile"
                                                                  : "container '%s' on %s: storing it failed",
                                 p->name, p->node);
                        brm_session_error(admin, p->admin_req_id, r, msg);
                }
        } else {
                struct brm_node *n = brm_registry_get(&m->reg, p->node);
                if (n)
                        n->run_dirty = true;
                brm_info(MOD, "container %s/%s created", p->node, p->name);
                brm_containers_push(m, p->node);
                if (admin)
                        brm_session_reply_ok(admin, p->admin_req_id);
        }
        pending_free(p);
        return true;
}

void brm_containers_expire(struct brm_master *m)
{
        uint64_t now = brm_mono_ms();
        struct brm_pending **pp = &m->pending;

        while (*pp) {
                struct brm_pending *p = *pp;
                if (now < p->deadline_mono) {
                        pp = &p->next;
                        continue;
                }
                *pp = p->next;
                struct brm_session *admin = brm_session_find(m, p->admin_sid);
                if (admin)
                        brm_session_error(admin, p->admin_req_id, -ETIMEDOUT,
                                            "the node did not answer in time; nothing was changed");
                pending_free(p);
        }
}

void brm_containers_free(struct brm_master *m)
{
        while (m->pending) {
                struct brm_pending *p = m->pending;
                m->pending = p->next;
                pending_free(p);
        }
}

/* Stores spec (a packed ContainerSpec) again with its stopped flag set. */
static int set_stopped(struct brm_master *m, const char *node, const char *name, const uint8_t *spec, size_t len,
                       bool stopped)
{
        Bramble__ContainerSpec *sp = bramble__container_spec__unpack(NULL, len, spec);
        uint8_t *buf = NULL;
        int r;

        if (!sp)
                return -EBADMSG;
        sp->has_stopped = 1;
        sp->stopped = stopped;
        len = bramble__container_spec__get_packed_size(sp);
        if (!(buf = malloc(len ? len : 1))) {
                r = -ENOMEM;
                goto out;
        }
        bramble__container_spec__pack(sp, buf);
        r = brm_store_container_update(m->store, node, name, buf, len);
out:
        free(buf);
        bramble__container_spec__free_unpacked(sp, NULL);
        return r;
}

/* Stop ('s'), start ('g') or remove ('r') a stored container. */
static void change(struct brm_session *s, uint64_t id, const Bramble__ContainerRequest *req, int op)
{
        struct brm_master *m = s->m;
        struct brm_node *n;
        uint8_t *spec = NULL;
        size_t len = 0;
        char msg[200];
        int r;

        if (!(n = container_node(s, id, req)))
                return;
        /* A service's replica is the scheduler's to change. */
        if ((r = brm_store_container_get(m->store, n->name, req->name, &spec, &len)) == 0) {
                Bramble__ContainerSpec *sp = bramble__container_spec__unpack(NULL, len, spec);
                if (sp && sp->service) {
                        snprintf(msg, sizeof(msg), "%s is a replica of service %s: use 'bramble service scale', "
                                 "'service update' or 'service rm'", req->name, sp->service);
                        bramble__container_spec__free_unpacked(sp, NULL);
                        free(spec);
                        brm_session_error(s, id, -EPERM, msg);
                        return;
                }
                if (sp)
                        bramble__container_spec__free_unpacked(sp, NULL);
                if (op == 'r')
                        r = brm_store_container_remove(m->store, n->name, req->name);
                else
                        r = set_stopped(m, n->name, req->name, spec, len, op == 's');
        }
        free(spec);
        n->run_dirty = true;
        if (r == -ENOENT) {
                snprintf(msg, sizeof(msg), "no container named '%s' on %s", req->name, n->name);
                brm_session_error(s, id, -ENOENT, msg);
                return;
        }
        if (r < 0) {
                brm_warn(MOD, "%s: changing container %s failed: %s", n->name, req->name, brm_strerror(r));
                brm_session_error(s, id, r, "changing the container failed; see the master's log");
                return;
        }
        brm_info(MOD, "container %s/%s %s", n->name, req->name, op == 'r' ? "removed" : op == 's' ? "stopped" : "started");
        brm_containers_push(m, n->name);
        brm_session_reply_ok(s, id);
}

/* ---- ps ---- */

struct ps_ctx {
        struct brm_master *m;
        Bramble__PsEntry **entries;
        size_t n, cap;
        struct brm_hb_cache hbc; /* one unpacked heartbeat per node seen */
};

static int ps_cb(void *arg, const char *node, const uint8_t *spec, size_t len)
{
        struct ps_ctx *c = arg;
        Bramble__ContainerSpec *sp = bramble__container_spec__unpack(NULL, len, spec);
        const Bramble__Heartbeat *hb;
        const Bramble__ContainerStatus *found = NULL;
        Bramble__PsEntry *e;
        Bramble__ContainerStatus *st;
        struct brm_node *n = brm_registry_get(&c->m->reg, node);

        if (!sp)
                return 0;
        if (c->n == c->cap) {
                size_t nc = c->cap ? c->cap * 2 : 16;
                Bramble__PsEntry **ne = realloc(c->entries, nc * sizeof(*ne));
                if (!ne) {
                        bramble__container_spec__free_unpacked(sp, NULL);
                        return -ENOMEM;
                }
                c->entries = ne;
                c->cap = nc;
        }
        hb = brm_hb_cache_get(&c->hbc, &c->m->reg, node);
        for (size_t i = 0; hb && i < hb->n_containers; i++)
                if (hb->containers[i]->name && strcmp(hb->containers[i]->name, sp->name) == 0)
                        found = hb->containers[i];
        e = calloc(1, sizeof(*e));
        st = calloc(1, sizeof(*st));
        if (!e || !st) {
                free(e);
                free(st);
                bramble__container_spec__free_unpacked(sp, NULL);
                return -ENOMEM;
        }
        bramble__ps_entry__init(e);
        e->node = strdup(node);
        e->service = sp->service ? strdup(sp->service) : NULL;
        /* Points into the heartbeat, which outlives the reply. */
        e->node_persist_error = hb ? hb->persist_error : NULL;
        {
                char sec[512];
                brm_ctrspec_security(sp, sec, sizeof(sec));
                e->security = sec[0] ? strdup(sec) : NULL;
        }
        if (found) {
                /* A shallow copy of the status; strings are re-owned below. */
                *st = *found;
                st->name = strdup(found->name ? found->name : sp->name);
                st->image = strdup(found->image ? found->image : sp->image);
                st->state = strdup(found->state ? found->state : "pending");
                st->reason = found->reason ? strdup(found->reason) : NULL;
        } else {
                bramble__container_status__init(st);
                st->name = strdup(sp->name);
                st->image = strdup(sp->image);
                st->state = strdup(sp->stopped ? "stopped" : "pending");
                st->reason = strdup(n && n->ready ? "waiting for the node to report it" : "node is not Ready");
        }
        e->status = st;
        c->entries[c->n++] = e;
        bramble__container_spec__free_unpacked(sp, NULL);
        return 0;
}

static void ps_ctx_free(struct ps_ctx *c)
{
        for (size_t i = 0; i < c->n; i++) {
                Bramble__ContainerStatus *st = c->entries[i]->status;
                free(st->name);
                free(st->image);
                free(st->state);
                free(st->reason);
                free(st);
                free(c->entries[i]->node);
                free(c->entries[i]->service);
                free(c->entries[i]->security);
                free(c->entries[i]);
        }
        free(c->entries);
        brm_hb_cache_free(&c->hbc);
}

void brm_containers_ps(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__PsRequest *req = in->ps;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__PsResponse resp = BRAMBLE__PS_RESPONSE__INIT;
        struct ps_ctx c = { .m = m };
        int r;

        if (req->node && *req->node && !connected_node(s, id, req->node))
                return;
        r = brm_store_container_list(m->store, req->node && *req->node ? req->node : NULL, ps_cb, &c);
        if (r < 0) {
                brm_session_error(s, id, r, "listing containers failed");
        } else {
                resp.n_containers = c.n;
                resp.containers = c.entries;
                env.msg_case = BRAMBLE__ENVELOPE__MSG_PS_RESULT;
                env.ps_result = &resp;
                brm_session_reply(s, id, &env);
        }
        ps_ctx_free(&c);
}

/* bramble inspect: the stored spec and the status ps would show. */
void brm_containers_inspect(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__ContainerRequest *req = in->inspect;
        uint64_t id = in->id;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__InspectResponse resp = BRAMBLE__INSPECT_RESPONSE__INIT;
        Bramble__ContainerSpec *sp = NULL;
        struct ps_ctx c = { .m = m };
        struct brm_node *n;
        uint8_t *spec = NULL;
        size_t len = 0;
        char msg[200];
        int r;

        if (!(n = container_node(s, id, req)))
                return;
        r = brm_store_container_get(m->store, n->name, req->name, &spec, &len);
        if (r == -ENOENT) {
                snprintf(msg, sizeof(msg), "no container named '%s' on %s", req->name, n->name);
                brm_session_error(s, id, -ENOENT, msg);
                return;
        }
        if (r < 0 || !(sp = bramble__container_spec__unpack(NULL, len, spec)) || (r = ps_cb(&c, n->name, spec, len)) < 0 ||
            c.n != 1) {
                brm_warn(MOD, "%s: inspecting container %s failed: %s", n->name, req->name, brm_strerror(r < 0 ? r : -EPROTO));
                brm_session_error(s, id, r < 0 ? r : -EPROTO, "reading the container failed; see the master's log");
        } else {
                resp.node = n->name;
                resp.spec = sp;
                resp.status = c.entries[0]->status;
                resp.security = c.entries[0]->security;
                env.msg_case = BRAMBLE__ENVELOPE__MSG_INSPECT_RESULT;
                env.inspect_result = &resp;
                brm_session_reply(s, id, &env);
        }
        if (sp)
                bramble__container_spec__free_unpacked(sp, NULL);
        free(spec);
        ps_ctx_free(&c);
}

void brm_containers_stop(struct brm_session *s, const Bramble__Envelope *env)
{
        change(s, env->id, env->stop, 's');
}

void brm_containers_start(struct brm_session *s, const Bramble__Envelope *env)
{
        change(s, env->id, env->start, 'g');
}

void brm_containers_remove(struct brm_session *s, const Bramble__Envelope *env)
{
        change(s, env->id, env->remove, 'r');
}
