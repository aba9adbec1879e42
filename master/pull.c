/* Pulls on behalf of operators and runs; see pull.h. */
#include "pull.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images.h"
#include "imagestore.h"
#include "log.h"
#include "regcreds.h"
#include "regpull.h"
#include "regref.h"
#include "registry.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define MOD "images"
#define MAX_PLATFORMS 8
#define MAX_WAITERS 32

struct waiter {
        brm_pull_done_fn done;
        void *arg;
};

struct brm_pull {
        struct brm_pull *next;
        struct brm_master *m;
        struct brm_regpull *h;
        char ref[BRM_IMAGE_REF_MAX];            /* normalised */
        char key[BRM_IMAGE_REF_MAX + 200];      /* ref and platforms */
        struct waiter waiters[MAX_WAITERS];
        size_t n_waiters;
        /* Operators following the progress: session id and request id. */
        uint64_t sids[MAX_WAITERS], ids[MAX_WAITERS];
        size_t n_followers;
};

void brm_pull_normalize(const char *ref, char *buf, size_t size)
{
        struct brm_regref r;
        char why[8];

        if (ref[0] == '/' || brm_regref_parse(ref, &r, why, sizeof(why)) < 0 || brm_regref_format(&r, buf, size) < 0)
                snprintf(buf, size, "%s", ref);
}

static void on_progress(void *arg, const char *digest, uint64_t done, uint64_t total)
{
        struct brm_pull *p = arg;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ImagePullProgress g = BRAMBLE__IMAGE_PULL_PROGRESS__INIT;

        g.digest = (char *)digest;
        g.has_done = g.has_total = 1;
        g.done = done;
        g.total = total;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_PROGRESS;
        env.image_progress = &g;
        for (size_t i = 0; i < p->n_followers; i++) {
                struct brm_session *s = brm_session_find(p->m, p->sids[i]);
                if (s) {
                        env.has_id = 1;
                        env.id = p->ids[i];
                        brm_session_send(s, &env);
                }
        }
}

static void unlink_pull(struct brm_pull *p)
{
        for (struct brm_pull **pp = &p->m->pulls; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        return;
                }
}

static void on_done(void *arg, int status, const char *why, const char *name, const struct brm_oci_desc *top)
{
        struct brm_pull *p = arg;
        char tag_why[400] = "";
        const char *reason = why;

        unlink_pull(p);
        if (status == 0 && brm_imagestore_tag(&p->m->images, name, top, tag_why, sizeof(tag_why)) < 0) {
                status = -EIO;
                reason = tag_why;
        }
        if (status == 0)
                brm_info(MOD, "pulled %s (%s)", name, top->digest);
        else
                brm_warn(MOD, "pull of %s failed: %s", p->ref, reason);
        for (size_t i = 0; i < p->n_waiters; i++)
                p->waiters[i].done(p->waiters[i].arg, status, reason, name);
        free(p);
}

static void node_platform(void *arg, struct brm_node *n)
{
        char (*plats)[MAX_PLATFORMS][32] = arg, buf[32];
        size_t i;

        if (brm_registry_platform(n, buf, sizeof(buf)) < 0)
                return;
        for (i = 0; i < MAX_PLATFORMS && (*plats)[i][0] && strcmp((*plats)[i], buf) != 0; i++)
                ;
        if (i < MAX_PLATFORMS && !(*plats)[i][0])
                snprintf((*plats)[i], sizeof((*plats)[i]), "%s", buf);
}

static void follow(struct brm_pull *p, uint64_t sid, uint64_t id)
{
        if (sid && p->n_followers < MAX_WAITERS) {
                p->sids[p->n_followers] = sid;
                p->ids[p->n_followers++] = id;
        }
}

int brm_pull_start(struct brm_master *m, const char *ref, const char *const *platforms, size_t n_platforms,
                   brm_pull_done_fn done, void *arg, uint64_t follow_sid, uint64_t follow_id, char *why,
                   size_t why_size)
{
        char name[BRM_IMAGE_REF_MAX], key[sizeof(((struct brm_pull *)0)->key)], certs[1100];
        char node_plats[MAX_PLATFORMS][32];
        const char *plats[MAX_PLATFORMS];
        struct brm_regpull_opts o = { 0 };
        struct brm_regcred cred;
        struct brm_regref rr;
        struct brm_pull *p;
        size_t n = 0, len;
        int r;

        if ((r = brm_regref_parse(ref, &rr, why, why_size)) < 0)
                return r;
        if ((r = brm_regref_format(&rr, name, sizeof(name))) < 0) {
                snprintf(why, why_size, "image reference too long: %.80s", ref);
                return r;
        }
        /* Asked for, else every platform the cluster's nodes have (the
         * regpull default, the master's own, when there are none). */
        memset(node_plats, 0, sizeof(node_plats));
        if (n_platforms) {
                for (size_t i = 0; i < n_platforms && n < MAX_PLATFORMS; i++)
                        plats[n++] = platforms[i];
        } else {
                brm_registry_foreach(&m->reg, node_platform, node_plats);
                for (size_t i = 0; i < MAX_PLATFORMS && node_plats[i][0]; i++)
                        plats[n++] = node_plats[i];
        }
        len = (size_t)snprintf(key, sizeof(key), "%s", name);
        for (size_t i = 0; i < n && len < sizeof(key); i++)
                len += (size_t)snprintf(key + len, sizeof(key) - len, " %s", plats[i]);
        for (p = m->pulls; p; p = p->next)
                if (strcmp(p->key, key) == 0 && p->n_waiters < MAX_WAITERS) {
                        p->waiters[p->n_waiters++] = (struct waiter){ done, arg };
                        follow(p, follow_sid, follow_id);
                        return 0;
                }
        if (!(p = calloc(1, sizeof(*p)))) {
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        p->m = m;
        snprintf(p->ref, sizeof(p->ref), "%s", name);
        snprintf(p->key, sizeof(p->key), "%s", key);
        p->waiters[p->n_waiters++] = (struct waiter){ done, arg };
        brm_path(certs, sizeof(certs), "%s/" BRM_CERTS_DIR, m->cfg.data_dir);
        brm_regcreds_get(m->cfg.data_dir, rr.registry, &cred);
        o.ref = name;
        o.platforms = n ? plats : NULL;
        o.n_platforms = n;
        o.certs_dir = certs;
        o.username = cred.username[0] ? cred.username : NULL;
        o.password = cred.password[0] ? cred.password : NULL;
        o.insecure_http = cred.insecure_http;
        r = brm_regpull_start(m->loop, &m->images, &o, on_progress, on_done, p, &p->h, why, why_size);
        memset(cred.password, 0, sizeof(cred.password));
        if (r < 0) {
                free(p);
                return r;
        }
        follow(p, follow_sid, follow_id);
        p->next = m->pulls;
        m->pulls = p;
        brm_info(MOD, "pulling %s (%s)", name, n ? key + strlen(name) + 1 : "the master's platform");
        return 0;
}

void brm_pull_cancel_all(struct brm_master *m)
{
        for (struct brm_pull *p = m->pulls; p; p = p->next)
                brm_regpull_cancel(p->h);
}

/* ---- the operator's request ---- */

struct request {
        struct brm_master *m;
        uint64_t sid, id;
};

static void request_done(void *arg, int status, const char *why, const char *name)
{
        struct request *q = arg;
        struct brm_session *s = brm_session_find(q->m, q->sid);

        if (s && status < 0)
                brm_session_error(s, q->id, status, why);
        else if (s)
                brm_images_reply_one(s, q->id, name);
        free(q);
}

void brm_pull_request(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__ImagePullRequest *r = env->image_pull;
        struct request *q;
        char why[400];
        int rc;

        if (!r->ref || !r->ref[0]) {
                brm_session_error(s, env->id, -EINVAL, "an image reference is required");
                return;
        }
        if (r->n_platforms > MAX_PLATFORMS) {
                brm_session_error(s, env->id, -EINVAL, "at most 8 platforms");
                return;
        }
        if (!(q = malloc(sizeof(*q)))) {
                brm_session_error(s, env->id, -ENOMEM, "out of memory");
                return;
        }
        *q = (struct request){ s->m, s->sid, env->id };
        if ((rc = brm_pull_start(s->m, r->ref, (const char *const *)r->platforms, r->n_platforms, request_done, q,
                                 s->sid, env->id, why, sizeof(why))) < 0) {
                free(q);
                brm_session_error(s, env->id, rc, why);
        }
}
