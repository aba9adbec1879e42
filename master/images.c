/* The operator's image calls; see images.h. An upload is one blob at a
 * time per session: BlobUpload frames append to the session's writer (the
 * image store's temporary file, hashed as it grows), BlobCommit checks and
 * renames it in. TCP carries the back-pressure: the master writes each
 * frame before it reads the next. */
#include "images.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imagestore.h"
#include "log.h"
#include "pull.h"
#include "registry.h"
#include "server.h"
#include "session.h"

#define MOD "images"
/* The largest blob an upload may hold: no layer of a Pi's image comes
 * near it, and an endless upload stops here rather than at a full disk. */
#define UPLOAD_MAX (8ull << 30)

static void drop_upload(struct brm_session *s)
{
        if (s->upload) {
                brm_blobw_abort(s->upload, false);
                free(s->upload);
                s->upload = NULL;
        }
}

/* The session's upload writer, opened on its first use. */
static int open_upload(struct brm_session *s)
{
        int r;

        if (s->upload)
                return 0;
        if (!(s->upload = malloc(sizeof(*s->upload))))
                return -ENOMEM;
        if ((r = brm_blobw_open(&s->m->images, NULL, s->upload, NULL)) < 0) {
                free(s->upload);
                s->upload = NULL;
        }
        return r;
}

void brm_images_session_closed(struct brm_session *s)
{
        drop_upload(s);
}

void brm_images_blob_upload(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__BlobUpload *u = env->blob_upload;
        int r;

        if (s->upload_error)
                return; /* told at the commit */
        if ((r = open_upload(s)) < 0) {
                s->upload_error = r;
                return;
        }
        if (u->has_data && (r = brm_blobw_write(s->upload, u->data.data, u->data.len, UPLOAD_MAX)) < 0) {
                drop_upload(s);
                s->upload_error = r;
        }
}

void brm_images_blob_commit(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__BlobCommit *c = env->blob_commit;
        Bramble__Envelope out = BRAMBLE__ENVELOPE__INIT;
        Bramble__BlobCommitted done = BRAMBLE__BLOB_COMMITTED__INIT;
        char why[300], digest[BRM_OCI_DIGEST_SIZE];
        uint64_t size;
        int r;

        if (c->has_stored && c->stored) {
                /* Whether the blob is here already: no bytes came. */
                if (s->upload || s->upload_error) {
                        brm_session_error(s, env->id, -EBUSY, "a blob upload is under way on this connection");
                        return;
                }
                if (!c->digest || !brm_imagestore_has(&s->m->images, c->digest, &size) ||
                    (c->has_size && c->size >= 0 && (uint64_t)c->size != size)) {
                        brm_session_error(s, env->id, -ENOENT, "not stored");
                        return;
                }
                snprintf(digest, sizeof(digest), "%s", c->digest);
                goto committed;
        }
        if (s->upload_error) {
                r = s->upload_error;
                s->upload_error = 0;
                snprintf(why, sizeof(why), "storing the blob failed: %s%s", strerror(-r),
                         r == -EFBIG ? " (a blob may hold at most 8 GiB)" : "");
                brm_session_error(s, env->id, r, why);
                return;
        }
        /* An empty blob has had no BlobUpload. */
        if ((r = open_upload(s)) < 0) {
                brm_session_error(s, env->id, r, "cannot open a blob in the image store");
                return;
        }
        size = s->upload->size;
        r = brm_blobw_commit(s->upload, c->digest, c->has_size ? c->size : -1, digest, why, sizeof(why));
        free(s->upload);
        s->upload = NULL;
        if (r < 0) {
                brm_session_error(s, env->id, r, why);
                return;
        }
committed:
        done.digest = digest;
        done.has_size = 1;
        done.size = size;
        out.msg_case = BRAMBLE__ENVELOPE__MSG_BLOB_COMMITTED;
        out.blob_committed = &done;
        brm_session_reply(s, env->id, &out);
}

/* ---- names ---- */

struct missing_ctx {
        const struct brm_imagestore *st;
        char digest[BRM_OCI_DIGEST_SIZE];
};

static int note_missing(const char *digest, uint64_t size, void *arg)
{
        struct missing_ctx *x = arg;
        uint64_t have;

        if (!brm_imagestore_has(x->st, digest, &have) || (size && have != size)) {
                snprintf(x->digest, sizeof(x->digest), "%s", digest);
                return -ENOENT;
        }
        return 0;
}

/* Every blob a manifest names is stored, with the size it says. */
static int check_manifest(const struct brm_imagestore *st, const char *digest, char *why, size_t why_size)
{
        struct missing_ctx x = { .st = st };
        int r;

        if (!brm_imagestore_has(st, digest, NULL)) {
                snprintf(why, why_size, "manifest %s is not stored", digest);
                return -ENOENT;
        }
        r = brm_imagestore_manifest_blobs(st, digest, note_missing, &x, why, why_size);

        if (r == -ENOENT && x.digest[0])
                snprintf(why, why_size, "manifest %s names blob %s, which is not stored (or not of the size it says)",
                         digest, x.digest);
        else if (r < 0 && r != -ENOENT)
                snprintf(why + strlen(why), why_size - strlen(why), " (manifest %s)", digest);
        return r;
}

/* A name may point only at a whole image: the top document and everything
 * it names stored (an index: each manifest it lists, and theirs). */
static int check_complete(const struct brm_imagestore *st, const struct brm_oci_desc *d, char *why, size_t why_size)
{
        uint64_t have;

        if (!brm_imagestore_has(st, d->digest, &have) || have != d->size) {
                snprintf(why, why_size, "%s %s is not stored (or not of the size it says)",
                         brm_oci_is_index_type(d->media_type) ? "index" : "manifest", d->digest);
                return -ENOENT;
        }
        if (brm_oci_is_manifest_type(d->media_type))
                return check_manifest(st, d->digest, why, why_size);
        if (!brm_oci_is_index_type(d->media_type)) {
                snprintf(why, why_size, "unsupported media type '%.80s'", d->media_type);
                return -EINVAL;
        }
        return brm_imagestore_index_each(st, d->digest, check_manifest, why, why_size);
}

void brm_images_tag(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__ImageTag *t = env->image_tag;
        struct brm_oci_desc d = { .size = 0 };
        char why[400] = "", ref[BRM_IMAGE_REF_MAX];
        int r;

        if (!t->ref || !t->ref[0] || strlen(t->ref) >= BRM_IMAGE_REF_MAX || !t->desc || !t->desc->digest ||
            !t->desc->media_type) {
                brm_session_error(s, env->id, -EINVAL, "an image name and a descriptor are required");
                return;
        }
        brm_pull_normalize(t->ref, ref, sizeof(ref));
        snprintf(d.media_type, sizeof(d.media_type), "%s", t->desc->media_type);
        snprintf(d.digest, sizeof(d.digest), "%s", t->desc->digest);
        d.size = t->desc->size;
        if ((r = check_complete(&s->m->images, &d, why, sizeof(why))) < 0 ||
            (r = brm_imagestore_tag(&s->m->images, ref, &d, why, sizeof(why))) < 0) {
                char msg[700];
                snprintf(msg, sizeof(msg), "image %s: %s", ref, why);
                brm_session_error(s, env->id, r, msg);
                return;
        }
        brm_info(MOD, "image %s stored (%s)", ref, d.digest);
        /* The name as stored. */
        brm_images_reply_one(s, env->id, ref);
}

/* ---- listing, removing, pruning ---- */

struct users {
        const char *ref;       /* NULL: collect every container's image */
        char **v;              /* "NODE/NAME" */
        char **images;         /* their images, when ref is NULL */
        size_t n, cap;
};

static int users_cb(void *arg, const char *node, const uint8_t *spec, size_t len)
{
        struct users *u = arg;
        Bramble__ContainerSpec *sp = bramble__container_spec__unpack(NULL, len, spec);
        char name[200];
        int r = 0;

        if (!sp)
                return 0;
        if (sp->image && (!u->ref || strcmp(sp->image, u->ref) == 0)) {
                if (u->n == u->cap) {
                        size_t cap = u->cap ? u->cap * 2 : 16;
                        char **v = realloc(u->v, cap * sizeof(*v)), **im = v ? realloc(u->images, cap * sizeof(*im)) : NULL;
                        if (v)
                                u->v = v;
                        if (im)
                                u->images = im;
                        if (!v || !im)
                                r = -ENOMEM;
                        else
                                u->cap = cap;
                }
                if (r == 0) {
                        snprintf(name, sizeof(name), "%s/%s", node, sp->name ? sp->name : "");
                        u->v[u->n] = strdup(name);
                        u->images[u->n] = strdup(sp->image);
                        if (!u->v[u->n] || !u->images[u->n]) {
                                free(u->v[u->n]);
                                free(u->images[u->n]);
                                r = -ENOMEM;
                        } else {
                                u->n++;
                        }
                }
        }
        bramble__container_spec__free_unpacked(sp, NULL);
        return r;
}

static void users_free(struct users *u)
{
        for (size_t i = 0; i < u->n; i++) {
                free(u->v[i]);
                free(u->images[i]);
        }
        free(u->v);
        free(u->images);
}

/* Which nodes hold which images, from their last heartbeats. */
struct holders {
        char **node, **image;
        size_t n, cap;
        int err;
};

static void holders_cb(void *arg, struct brm_node *n)
{
        struct holders *h = arg;
        Bramble__Heartbeat *hb;

        if (!n->last_hb || !(hb = bramble__heartbeat__unpack(NULL, n->last_hb_len, n->last_hb)))
                return;
        for (size_t i = 0; i < hb->n_images && !h->err; i++) {
                if (h->n == h->cap) {
                        size_t cap = h->cap ? h->cap * 2 : 16;
                        char **a = realloc(h->node, cap * sizeof(*a)), **b = a ? realloc(h->image, cap * sizeof(*b)) : NULL;
                        if (a)
                                h->node = a;
                        if (b)
                                h->image = b;
                        if (!a || !b) {
                                h->err = -ENOMEM;
                                break;
                        }
                        h->cap = cap;
                }
                h->node[h->n] = strdup(n->name);
                h->image[h->n] = strdup(hb->images[i]);
                if (!h->node[h->n] || !h->image[h->n]) {
                        free(h->node[h->n]);
                        free(h->image[h->n]);
                        h->err = -ENOMEM;
                        break;
                }
                h->n++;
        }
        bramble__heartbeat__free_unpacked(hb, NULL);
}

static void holders_free(struct holders *h)
{
        for (size_t i = 0; i < h->n; i++) {
                free(h->node[i]);
                free(h->image[i]);
        }
        free(h->node);
        free(h->image);
}

void brm_images_list(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__ImageRequest *q = env->image_list;
        Bramble__Envelope out = BRAMBLE__ENVELOPE__INIT;
        Bramble__ImageListResponse resp = BRAMBLE__IMAGE_LIST_RESPONSE__INIT;
        struct brm_image_entry *v = NULL;
        struct users u = { 0 };
        struct holders h = { 0 };
        Bramble__ImageInfo *infos = NULL, **ptrs = NULL;
        Bramble__BlobDesc *descs = NULL;
        char (*plats)[256] = NULL, **users = NULL, **nodes = NULL, want[BRM_IMAGE_REF_MAX] = "";
        size_t n = 0, k = 0, nu = 0, nn = 0;
        int r;

        if (q->ref && q->ref[0])
                brm_pull_normalize(q->ref, want, sizeof(want));
        if ((r = brm_imagestore_list(&s->m->images, &v, &n)) < 0 ||
            (r = brm_store_container_list(s->m->store, NULL, users_cb, &u)) < 0) {
                brm_session_error(s, env->id, r, "listing the images failed");
                goto out;
        }
        brm_registry_foreach(&s->m->reg, holders_cb, &h);
        nodes = calloc(h.n + 1, sizeof(*nodes));
        infos = calloc(n + 1, sizeof(*infos));
        ptrs = calloc(n + 1, sizeof(*ptrs));
        descs = calloc(n + 1, sizeof(*descs));
        plats = calloc(n + 1, sizeof(*plats));
        users = calloc(u.n + 1, sizeof(*users));
        if (!infos || !ptrs || !descs || !plats || !users || !nodes || h.err) {
                brm_session_error(s, env->id, -ENOMEM, "listing the images failed");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                Bramble__ImageInfo *info = &infos[k];
                uint64_t bytes = 0;

                if (want[0] && strcmp(want, v[i].ref) != 0)
                        continue;
                bramble__image_info__init(info);
                bramble__blob_desc__init(&descs[k]);
                info->ref = v[i].ref;
                descs[k].digest = v[i].desc.digest;
                descs[k].media_type = v[i].desc.media_type;
                descs[k].has_size = 1;
                descs[k].size = v[i].desc.size;
                info->desc = &descs[k];
                brm_imagestore_describe(&s->m->images, &v[i].desc, plats[k], sizeof(plats[k]), &bytes);
                info->platforms = plats[k];
                info->has_size = 1;
                info->size = bytes;
                info->containers = users + nu;
                for (size_t j = 0; j < u.n; j++)
                        if (strcmp(u.images[j], v[i].ref) == 0)
                                users[nu++] = u.v[j];
                info->n_containers = (size_t)(users + nu - info->containers);
                info->nodes = nodes + nn;
                for (size_t j = 0; j < h.n; j++)
                        if (strcmp(h.image[j], v[i].ref) == 0)
                                nodes[nn++] = h.node[j];
                info->n_nodes = (size_t)(nodes + nn - info->nodes);
                ptrs[k++] = info;
        }
        if (want[0] && k == 0) {
                char msg[400];
                snprintf(msg, sizeof(msg), "no image %s on the master", want);
                brm_session_error(s, env->id, -ENOENT, msg);
                goto out;
        }
        resp.n_images = k;
        resp.images = ptrs;
        out.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGES;
        out.images = &resp;
        brm_session_reply(s, env->id, &out);
out:
        free(infos);
        free(ptrs);
        free(descs);
        free(plats);
        free(users);
        free(nodes);
        free(v);
        users_free(&u);
        holders_free(&h);
}

void brm_images_reply_one(struct brm_session *s, uint64_t id, const char *ref)
{
        Bramble__Envelope q = BRAMBLE__ENVELOPE__INIT;
        Bramble__ImageRequest ir = BRAMBLE__IMAGE_REQUEST__INIT;

        ir.ref = (char *)ref;
        q.id = id;
        q.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_LIST;
        q.image_list = &ir;
        brm_images_list(s, &q);
}

void brm_images_remove(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__ImageRequest *q = env->image_remove;
        char why[400], msg[600], ref[BRM_IMAGE_REF_MAX];
        struct users u = { .ref = ref };
        int r;

        if (!q->ref || !q->ref[0]) {
                brm_session_error(s, env->id, -EINVAL, "an image name is required");
                return;
        }
        brm_pull_normalize(q->ref, ref, sizeof(ref));
        if ((r = brm_store_container_list(s->m->store, NULL, users_cb, &u)) < 0) {
                brm_session_error(s, env->id, r, "listing the containers failed");
                return;
        }
        if (u.n > 0) {
                snprintf(msg, sizeof(msg), "image %s is used by container %s%s (remove it first)", ref, u.v[0],
                         u.n > 1 ? " and others" : "");
                users_free(&u);
                brm_session_error(s, env->id, -EBUSY, msg);
                return;
        }
        users_free(&u);
        if ((r = brm_imagestore_untag(&s->m->images, ref, why, sizeof(why))) < 0) {
                brm_session_error(s, env->id, r, why);
                return;
        }
        brm_info(MOD, "image %s removed", ref);
        brm_session_reply_ok(s, env->id);
}

void brm_images_prune(struct brm_session *s, const Bramble__Envelope *env)
{
        Bramble__Envelope out = BRAMBLE__ENVELOPE__INIT;
        Bramble__ImagePruneResponse resp = BRAMBLE__IMAGE_PRUNE_RESPONSE__INIT;
        uint64_t blobs = 0, bytes = 0;
        char why[400];
        int r;

        if ((r = brm_imagestore_prune(&s->m->images, &blobs, &bytes, why, sizeof(why))) < 0) {
                brm_session_error(s, env->id, r, why);
                return;
        }
        brm_info(MOD, "prune removed %llu blobs, %llu bytes", (unsigned long long)blobs, (unsigned long long)bytes);
        resp.has_blobs = resp.has_bytes = 1;
        resp.blobs = blobs;
        resp.bytes = bytes;
        out.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_PRUNED;
        out.image_pruned = &resp;
        brm_session_reply(s, env->id, &out);
}
