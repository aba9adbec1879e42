/* Fetching cluster images from the master; see fetch.h.
 *
 * A job is one reference: it asks which manifest and blobs serve this
 * node (J_RESOLVE), then walks its blobs in order (J_BLOBS), the manifest
 * last, and ends in J_DONE, delivered to its callers from a timer (never
 * from inside brm_fetch_image). A transfer is one blob being fetched,
 * shared by every job that needs it; at most MAX_XFERS run at once, below
 * the master's limit per node.
 *
 * Frames are written to the .part file on the loop thread as they come:
 * one write of at most 64 KiB into the page cache, the same order of cost
 * as decrypting the frame. The credit for a frame goes back only after
 * its write, so a node whose disk is slower than its network slows the
 * master down rather than queueing data in memory. */
#include "fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fetch_internal.h"
#include "fetchstore.h"
#include "fileio.h"
#include "frame.h"
#include "link.h"
#include "log.h"
#include "util.h"

#define MOD "fetch"
#define MAX_XFERS 4
#define MAX_BLOBS 200

static void advance_all(struct brm_fetch *f);
static void on_deliver(uv_timer_t *t);

/* Results go out from the loop, never from inside the call that found
 * them (brm_fetch_image may find the image at once). */
static void schedule_delivery(struct brm_fetch *f)
{
        if (!f->closing)
                uv_timer_start(&f->deliver, on_deliver, 0, 0);
}

static void job_done(struct job *j, int status, const char *why)
{
        j->st = J_DONE;
        j->status = status;
        snprintf(j->why, sizeof(j->why), "%s", why ? why : "");
        if (status < 0)
                brm_warn(MOD, "image %s: %s", j->ref, j->why);
        schedule_delivery(j->f);
}

/* After deliver(): the waiters are gone. */
static void job_free(struct job *j)
{
        free(j->blobs);
        free(j);
}

static void unlink_job(struct brm_fetch *f, struct job *j)
{
        for (struct job **p = &f->jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        return;
                }
}

/* Calls the waiters of one finished job, after taking it off the list:
 * a caller may ask for another fetch from its callback. */
static void deliver(struct job *j, int status, const char *local, const char *why)
{
        struct waiter *w = j->waiters;

        j->waiters = NULL;
        while (w) {
                struct waiter *next = w->next;
                w->cb(status, local, why, w->arg);
                free(w);
                w = next;
        }
}

static void deliver_cancelled(struct brm_fetch *f)
{
        while (f->cancelled) {
                struct waiter *w = f->cancelled;
                f->cancelled = w->next;
                w->cb(-ECANCELED, NULL, "the fetch was cancelled", w->arg);
                free(w);
        }
}

static void on_deliver(uv_timer_t *t)
{
        struct brm_fetch *f = t->data;
        struct job *j;

        deliver_cancelled(f);
        for (;;) {
                for (j = f->jobs; j && j->st != J_DONE; j = j->next)
                        ;
                if (!j || f->closing)
                        return;
                unlink_job(f, j);
                deliver(j, j->status, j->status == 0 ? j->local : NULL, j->status < 0 ? j->why : NULL);
                job_free(j);
        }
}

/* ---- sending ---- */

static void send_request(struct job *j)
{
        struct brm_fetch *f = j->f;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ImageRequest req = BRAMBLE__IMAGE_REQUEST__INIT;

        if (!f->session)
                return;
        req.ref = j->ref;
        req.platform = f->platform;
        env.has_id = 1;
        env.id = BRM_LINK_MODULE_IDS + ++f->next_req;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_RESOLVE;
        env.image_resolve = &req;
        if (brm_conn_send(f->session, &env) == 0)
                j->req_id = env.id;
}

static void send_credit(struct brm_fetch *f, uint64_t stream_id, uint32_t bytes, bool close)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__BlobCredit bc = BRAMBLE__BLOB_CREDIT__INIT;

        if (!f->session)
                return;
        bc.has_stream_id = 1;
        bc.stream_id = stream_id;
        bc.has_bytes = !close;
        bc.bytes = bytes;
        bc.has_close = bc.close = close;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_BLOB_CREDIT;
        env.blob_credit = &bc;
        brm_conn_send(f->session, &env);
}

/* ---- transfers ---- */

static struct xfer *find_xfer(struct brm_fetch *f, const char *hex)
{
        for (struct xfer *x = f->xfers; x; x = x->next)
                if (strcmp(x->b.hex, hex) == 0)
                        return x;
        return NULL;
}

static struct xfer *find_stream(struct brm_fetch *f, uint64_t id)
{
        for (struct xfer *x = f->xfers; x; x = x->next)
                if (x->st == X_STREAM && x->stream_id == id)
                        return x;
        return NULL;
}

static void close_part(struct xfer *x)
{
        if (x->fd >= 0)
                close(x->fd);
        x->fd = -1;
}

static void xfer_free(struct xfer *x)
{
        struct brm_fetch *f = x->f;

        for (struct xfer **p = &f->xfers; *p; p = &(*p)->next)
                if (*p == x) {
                        *p = x->next;
                        f->n_xfers--;
                        break;
                }
        close_part(x);
        free(x);
}

/* The transfer failed: every job waiting for its blob fails with WHY, and
 * its place goes to the next blob anyone needs. */
static void xfer_fail(struct xfer *x, int r, const char *why_in)
{
        struct brm_fetch *f = x->f;
        char hex[65], why[300];

        /* WHY may be the transfer's own, which goes with it. */
        snprintf(why, sizeof(why), "%s", why_in);
        snprintf(hex, sizeof(hex), "%s", x->b.hex);
        if (x->st == X_STREAM)
                send_credit(f, x->stream_id, 0, true);
        xfer_free(x);
        for (struct job *j = f->jobs; j; j = j->next)
                if (j->st == J_BLOBS && j->cur < j->n && strcmp(j->blobs[j->cur].hex, hex) == 0)
                        job_done(j, r, why);
        advance_all(f);
}

/* The part is removed: a full disk must not stay full because of a fetch
 * that cannot finish (logs and records need the space too). What is
 * stored stays. */
static void disk_full_why(struct xfer *x, char *why, size_t size)
{
        snprintf(why, size, "node's disk is full while fetching blob sha256:%s (%llu KiB free)", x->b.hex,
                 (unsigned long long)(brm_fetchstore_free_bytes(&x->f->store) / 1024));
        close_part(x);
        brm_fetchstore_part_remove(&x->f->store, x->b.hex);
}

/* Asks for the blob from what the .part file holds. */
static void request_blob(struct xfer *x)
{
        struct brm_fetch *f = x->f;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__BlobRequest req = BRAMBLE__BLOB_REQUEST__INIT;
        char digest[80], why[300];
        int fd;

        if (!f->session || x->st != X_WAIT)
                return;
        if ((fd = brm_fetchstore_part_open(&f->store, x->b.hex, x->b.size, &x->have)) < 0) {
                if (fd == -ENOSPC || fd == -EDQUOT)
                        disk_full_why(x, why, sizeof(why));
                else
                        snprintf(why, sizeof(why), "cannot write blob sha256:%s into %.200s: %s", x->b.hex, f->store.dir,
                                 strerror(-fd));
                xfer_fail(x, fd, why);
                return;
        }
        x->fd = fd;
        x->stream_id = ++f->next_stream;
        x->st = X_STREAM;
        snprintf(digest, sizeof(digest), "sha256:%s", x->b.hex);
        req.has_stream_id = req.has_offset = 1;
        req.stream_id = x->stream_id;
        req.digest = digest;
        req.offset = x->have;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_BLOB_REQUEST;
        env.blob_request = &req;
        if (x->have)
                brm_info(MOD, "resuming blob %s at byte %llu of %llu", digest, (unsigned long long)x->have,
                         (unsigned long long)x->b.size);
        else
                brm_debug(MOD, "fetching blob %s (%llu bytes)", digest, (unsigned long long)x->b.size);
        brm_conn_send(f->session, &env);
}

static void start_xfer(struct brm_fetch *f, const struct blob *b)
{
        struct xfer *x = calloc(1, sizeof(*x));

        if (!x)
                return; /* tried again when the next transfer ends */
        x->f = f;
        x->b = *b;
        x->fd = -1; /* st is X_WAIT */
        x->work.data = x;
        x->next = f->xfers;
        f->xfers = x;
        f->n_xfers++;
        request_blob(x);
}

/* ---- jobs ---- */

static void job_complete(struct job *j)
{
        struct blob *m = &j->blobs[j->n - 1];
        char why[300] = "";
        int r;

        if ((r = brm_fetchstore_add_ref(&j->f->store, j->ref, m->hex, m->size, j->media_type, why, sizeof(why))) < 0 ||
            (r = brm_fetchstore_local_ref(&j->f->store, m->hex, j->local, sizeof(j->local))) < 0) {
                job_done(j, r, why[0] ? why : "the node's image layout path is too long");
                return;
        }
        brm_info(MOD, "image %s: fetched (manifest sha256:%.12s, %llu bytes)", j->ref, m->hex,
                 (unsigned long long)j->total);
        job_done(j, 0, NULL);
}

/* The job's next step: blobs the layout holds are passed, one in flight
 * is waited for, a missing one gets a transfer when there is room. */
static void advance(struct job *j)
{
        struct brm_fetch *f = j->f;

        while (j->st == J_BLOBS) {
                struct blob *b;
                if (j->cur == j->n) {
                        job_complete(j);
                        return;
                }
                b = &j->blobs[j->cur];
                if (brm_fetchstore_has(&f->store, b->hex, b->size)) {
                        j->done += b->size;
                        j->cur++;
                        continue;
                }
                if (!find_xfer(f, b->hex) && f->n_xfers < MAX_XFERS)
                        start_xfer(f, b);
                return;
        }
}

static void advance_all(struct brm_fetch *f)
{
        for (struct job *j = f->jobs; j; j = j->next)
                advance(j);
}

static void resolved(struct job *j, const Bramble__ImageResolved *res)
{
        const Bramble__BlobDesc *man = res->manifest;
        uint64_t have = 0;

        if (!man || res->n_blobs > MAX_BLOBS) {
                job_done(j, -EPROTO, "the master's answer names no manifest, or too many blobs");
                return;
        }
        if (!(j->blobs = calloc(res->n_blobs + 1, sizeof(*j->blobs)))) {
                job_done(j, -ENOMEM, "out of memory");
                return;
        }
        for (size_t i = 0; i <= res->n_blobs; i++) {
                const Bramble__BlobDesc *d = i < res->n_blobs ? res->blobs[i] : man;
                if (brm_fetchstore_digest_hex(d->digest, j->blobs[i].hex) < 0 || !d->has_size) {
                        job_done(j, -EPROTO, "the master's answer has a blob without a sha256 digest or size");
                        return;
                }
                j->blobs[i].size = d->size;
                j->total += d->size;
                if (brm_fetchstore_has(&j->f->store, j->blobs[i].hex, d->size))
                        have += d->size;
        }
        j->n = res->n_blobs + 1;
        snprintf(j->media_type, sizeof(j->media_type), "%s", man->media_type ? man->media_type : "");
        j->st = J_BLOBS;
        brm_info(MOD, "image %s: %zu blobs, %llu bytes, %llu of them on this node already", j->ref, j->n,
                 (unsigned long long)j->total, (unsigned long long)have);
        advance(j);
}

static struct job *find_request(struct brm_fetch *f, uint64_t id)
{
        for (struct job *j = f->jobs; j && id; j = j->next)
                if (j->st == J_RESOLVE && j->req_id == id)
                        return j;
        return NULL;
}

/* ---- the wire ---- */

static void on_data(struct brm_fetch *f, const Bramble__BlobData *d)
{
        struct xfer *x = d->has_stream_id ? find_stream(f, d->stream_id) : NULL;
        char why[300];
        int r;

        if (!x)
                return; /* a stream given up; the master ends it on the close */
        if (x->have + d->data.len > x->b.size) {
                snprintf(why, sizeof(why), "the master sent more of blob sha256:%s than its size, %llu bytes", x->b.hex,
                         (unsigned long long)x->b.size);
                brm_fetchstore_part_remove(&f->store, x->b.hex);
                xfer_fail(x, -EPROTO, why);
                return;
        }
        if ((r = brm_write_all(x->fd, d->data.data, d->data.len)) < 0) {
                if (r == -ENOSPC || r == -EDQUOT)
                        disk_full_why(x, why, sizeof(why));
                else
                        snprintf(why, sizeof(why), "writing blob sha256:%s failed: %s", x->b.hex, strerror(-r));
                xfer_fail(x, r, why);
                return;
        }
        x->have += d->data.len;
        send_credit(f, x->stream_id, (uint32_t)d->data.len, false);
}

static void commit_work(uv_work_t *req)
{
        struct xfer *x = req->data;
        x->r = brm_fetchstore_commit(&x->f->store, x->b.hex, x->b.size, x->why, sizeof(x->why));
}

static void maybe_free(struct brm_fetch *f)
{
        if (f->closing && f->timer_closed && f->works == 0 && !f->xfers) {
                free(f->refs);
                free(f);
        }
}

static void committed(uv_work_t *req, int status)
{
        struct xfer *x = req->data;
        struct brm_fetch *f = x->f;

        f->works--;
        if (f->closing) {
                xfer_free(x);
                maybe_free(f);
                return;
        }
        if (status < 0 || x->r < 0) {
                xfer_fail(x, status < 0 ? status : x->r, x->why);
                return;
        }
        brm_debug(MOD, "blob sha256:%s stored (%llu bytes)", x->b.hex, (unsigned long long)x->b.size);
        xfer_free(x);
        advance_all(f);
}

static void on_end(struct brm_fetch *f, const Bramble__BlobEnd *e)
{
        struct xfer *x = e->has_stream_id ? find_stream(f, e->stream_id) : NULL;
        char why[400];
        int r;

        if (!x)
                return;
        close_part(x);
        if (e->has_code && e->code != 0) {
                snprintf(why, sizeof(why), "the master cannot send blob sha256:%s: %s", x->b.hex,
                         e->error ? e->error : strerror(e->code < 0 ? -e->code : e->code));
                x->st = X_WAIT; /* ended: nothing to close */
                xfer_fail(x, e->code < 0 ? e->code : -EIO, why);
                return;
        }
        x->st = X_COMMIT;
        if ((r = uv_queue_work(f->loop, &x->work, commit_work, committed)) < 0) {
                x->st = X_WAIT;
                snprintf(why, sizeof(why), "cannot check blob sha256:%s: %s", x->b.hex, uv_strerror(r));
                xfer_fail(x, r, why);
                return;
        }
        f->works++;
}

void brm_fetch_handle(void *arg, struct brm_conn *conn, const Bramble__Envelope *env)
{
        struct brm_fetch *f = arg;
        struct job *j;

        if (!f || f->closing)
                return;
        switch (env->msg_case) {
        case BRAMBLE__ENVELOPE__MSG_IMAGE_RESOLVED:
                if ((j = find_request(f, env->id)))
                        resolved(j, env->image_resolved);
                return;
        case BRAMBLE__ENVELOPE__MSG_ERROR:
                if ((j = find_request(f, env->id)))
                        job_done(j, env->error->has_code && env->error->code < 0 ? env->error->code : -EIO,
                                 env->error->message ? env->error->message : "the master refused the image request");
                else
                        brm_warn(MOD, "the master answered an unknown request: %s",
                                 env->error->message ? env->error->message : "(no reason)");
                return;
        case BRAMBLE__ENVELOPE__MSG_BLOB_DATA:
                on_data(f, env->blob_data);
                return;
        case BRAMBLE__ENVELOPE__MSG_BLOB_END:
                on_end(f, env->blob_end);
                return;
        default:
                return;
        }
}

void brm_fetch_attach(struct brm_fetch *f, struct brm_conn *conn)
{
        if (!f || f->closing)
                return;
        f->session = conn;
        for (struct job *j = f->jobs; j; j = j->next)
                if (j->st == J_RESOLVE) {
                        j->req_id = 0;
                        send_request(j);
                }
        /* request_blob() may fail and free x (new ones go to the head). */
        for (struct xfer *x = f->xfers, *next; x; x = next) {
                next = x->next;
                if (x->st == X_STREAM) {
                        /* The master ended the stream with the session. */
                        close_part(x);
                        x->st = X_WAIT;
                }
                request_blob(x);
        }
        /* A transfer that could not start (out of memory) gets a try. */
        advance_all(f);
}

/* ---- the interface ---- */

int brm_fetch_image(struct brm_fetch *f, const char *ref, brm_fetch_cb cb, void *arg)
{
        struct waiter *w;
        struct job *j;

        if (!f || f->closing || !ref || !ref[0] || ref[0] == '/' || strlen(ref) >= REF_MAX || strchr(ref, ','))
                return -EINVAL;
        if (!(w = calloc(1, sizeof(*w))))
                return -ENOMEM;
        w->cb = cb;
        w->arg = arg;
        for (j = f->jobs; j; j = j->next)
                if (strcmp(j->ref, ref) == 0)
                        break;
        if (!j) {
                if (!(j = calloc(1, sizeof(*j)))) {
                        free(w);
                        return -ENOMEM;
                }
                j->f = f;
                snprintf(j->ref, sizeof(j->ref), "%s", ref);
                j->next = f->jobs;
                f->jobs = j;
                if (brm_fetchstore_lookup(&f->store, ref, j->local, sizeof(j->local)) == 0) {
                        brm_debug(MOD, "image %s: on this node already", ref);
                        job_done(j, 0, NULL);
                } else {
                        j->st = J_RESOLVE;
                        brm_info(MOD, "image %s: fetching it from the master%s", ref,
                                 f->session ? "" : " once connected");
                        send_request(j);
                }
        }
        w->next = j->waiters;
        j->waiters = w;
        return 0;
}

int brm_fetch_cancel(struct brm_fetch *f, brm_fetch_cb cb, void *arg)
{
        for (struct job *j = f && !f->closing ? f->jobs : NULL; j; j = j->next)
                for (struct waiter **p = &j->waiters; *p; p = &(*p)->next)
                        if ((*p)->cb == cb && (*p)->arg == arg) {
                                struct waiter *w = *p;
                                /* The fetch goes on: what it gets is kept
                                 * for the next container of the image. */
                                *p = w->next;
                                w->next = f->cancelled;
                                f->cancelled = w;
                                schedule_delivery(f);
                                return 0;
                        }
        return -ENOENT;
}

bool brm_fetch_progress(const struct brm_fetch *f, const char *ref, uint64_t *ret_done, uint64_t *ret_total)
{
        const struct job *j;
        uint64_t done;

        for (j = f ? f->jobs : NULL; j; j = j->next)
                if (j->st != J_DONE && strcmp(j->ref, ref) == 0)
                        break;
        if (!j)
                return false;
        done = j->done;
        if (j->st == J_BLOBS && j->cur < j->n) {
                const struct xfer *x;
                for (x = f->xfers; x && strcmp(x->b.hex, j->blobs[j->cur].hex) != 0; x = x->next)
                        ;
                if (x && x->st == X_COMMIT)
                        done += x->b.size;
                else if (x && x->fd >= 0)
                        done += x->have;
                else
                        done += brm_fetchstore_part_size(&f->store, j->blobs[j->cur].hex);
        }
        *ret_done = done;
        *ret_total = j->total;
        return true;
}

void brm_fetch_blobs(const struct brm_fetch *f, void (*each)(const char *hex, void *arg), void *arg)
{
        for (const struct job *j = f && !f->closing ? f->jobs : NULL; j; j = j->next)
                for (size_t i = 0; j->st == J_BLOBS && i < j->n; i++)
                        each(j->blobs[i].hex, arg);
        for (const struct xfer *x = f && !f->closing ? f->xfers : NULL; x; x = x->next)
                each(x->b.hex, arg);
}

int brm_fetch_open(const struct brm_fetch_opts *o, struct brm_fetch **ret)
{
        struct brm_fetch *f = calloc(1, sizeof(*f));
        struct utsname u;
        int r;

        if (!f)
                return -ENOMEM;
        f->loop = o->loop;
        if ((r = brm_fetchstore_open(&f->store, o->images_dir)) < 0) {
                free(f);
                return r;
        }
        if (o->platform)
                snprintf(f->platform, sizeof(f->platform), "%s", o->platform);
        else if (uname(&u) < 0 || brm_oci_platform_of(u.machine, f->platform, sizeof(f->platform)) < 0)
                snprintf(f->platform, sizeof(f->platform), "linux/unknown");
        uv_timer_init(f->loop, &f->deliver);
        f->deliver.data = f;
        *ret = f;
        return 0;
}

static void timer_closed(uv_handle_t *h)
{
        struct brm_fetch *f = h->data;
        f->timer_closed = true;
        maybe_free(f);
}

const char *brm_fetch_refs(struct brm_fetch *f)
{
        char p[800], *refs;
        struct stat st;

        if (brm_path(p, sizeof(p), "%s/index.json", f->store.dir) < 0 || stat(p, &st) < 0)
                return f->refs ? f->refs : "";
        if (f->refs && st.st_ino == f->refs_ino && st.st_size == f->refs_size &&
            st.st_mtim.tv_sec == f->refs_mtime.tv_sec && st.st_mtim.tv_nsec == f->refs_mtime.tv_nsec)
                return f->refs;
        if (brm_fetchstore_refs(&f->store, &refs) == 0) {
                free(f->refs);
                f->refs = refs;
                f->refs_ino = st.st_ino;
                f->refs_size = st.st_size;
                f->refs_mtime = st.st_mtim;
        }
        return f->refs ? f->refs : "";
}

void brm_fetch_close(struct brm_fetch *f)
{
        struct xfer *x, *next;

        if (!f || f->closing)
                return;
        f->session = NULL;
        deliver_cancelled(f);
        f->closing = true;
        while (f->jobs) {
                struct job *j = f->jobs;
                f->jobs = j->next;
                deliver(j, -ECANCELED, NULL, "the agent is stopping");
                job_free(j);
        }
        /* Transfers being checked are freed when their work is done. */
        for (x = f->xfers; x; x = next) {
                next = x->next;
                if (x->st != X_COMMIT)
                        xfer_free(x);
        }
        uv_close((uv_handle_t *)&f->deliver, timer_closed);
}
