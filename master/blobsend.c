/* Images to nodes over their own sessions.
 *
 * A node first asks which manifest serves its platform (ImageRequest); the
 * answer names the manifest and every blob it needs with their sizes, so
 * the node can fetch what it lacks and show progress. Then it asks for
 * each blob it lacks (BlobRequest, from an offset when it holds part of it
 * already), and the master streams it in BlobData frames of at most
 * BRM_BLOB_CHUNK bytes.
 *
 * Pacing is by credit, as for log streams (relay.c): a stream starts with
 * BRM_BLOB_WINDOW bytes of credit, each frame spends its data's size, and
 * the node gives credit back (BlobCredit) once it has written the data.
 * So a node that writes slowly (an SD card) holds at most a window per
 * stream in the master and in the network, never a whole blob. The
 * session's write queue is watched too: several streams' windows together
 * could pass the limit at which brm_session_send drops a peer, so frames
 * wait while more than QUEUE_HIGH bytes are queued, and the session's
 * drain callback starts them again.
 *
 * The blob is read with one pread of at most 64 KiB per frame, on the
 * loop thread. Blobs a node fetches were usually stored or sent lately
 * and come from the page cache, so this costs about as much as the
 * encryption of the frame; a cold read from disk stalls the loop for one
 * such read. A thread per read would cost more than it saves here. */
#include "blobsend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "imagestore.h"
#include "log.h"
#include "server.h"
#include "session.h"

#define MOD "images"
/* Frames wait while the session has more than this queued (its limit is
 * 4 MiB; see the top of this file). */
#define QUEUE_HIGH (1u << 20)

struct brm_blobsend {
        uint64_t id;                 /* the node's stream_id */
        int fd;
        char digest[BRM_OCI_DIGEST_SIZE];
        uint64_t offset, size;       /* next byte to send, the blob's size */
        uint64_t from;               /* where the node asked to start */
        uint64_t credit;             /* data bytes that may still be sent */
        struct brm_blobsend *next;
};

/* One frame's data, read on the loop thread only. */
static uint8_t chunk[BRM_BLOB_CHUNK];

/* ---- which blobs serve the node ---- */

struct blob_list {
        Bramble__BlobDesc *descs;
        Bramble__BlobDesc **ptrs;
        size_t n, cap;
        int err;
};

static int add_blob(const char *digest, uint64_t size, void *arg)
{
        struct blob_list *l = arg;

        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 8;
                Bramble__BlobDesc *d = realloc(l->descs, cap * sizeof(*d));
                if (!d)
                        return l->err = -ENOMEM;
                l->descs = d;
                l->cap = cap;
        }
        bramble__blob_desc__init(&l->descs[l->n]);
        l->descs[l->n].digest = strdup(digest);
        l->descs[l->n].has_size = 1;
        l->descs[l->n].size = size;
        if (!l->descs[l->n].digest)
                return l->err = -ENOMEM;
        l->n++;
        return 0;
}

static void blob_list_free(struct blob_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->descs[i].digest);
        free(l->descs);
        free(l->ptrs);
}

void brm_blobsend_resolve(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__ImageRequest *req = in->image_resolve;
        struct brm_master *m = s->m;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__ImageResolved res = BRAMBLE__IMAGE_RESOLVED__INIT;
        Bramble__BlobDesc man = BRAMBLE__BLOB_DESC__INIT;
        struct blob_list l = { 0 };
        struct brm_oci_desc d;
        char why[300];
        int r;

        if (!req->ref || !req->ref[0] || strlen(req->ref) >= BRM_IMAGE_REF_MAX || !req->platform ||
            !req->platform[0]) {
                brm_session_error(s, in->id, -EINVAL, "an image request needs a reference and a platform");
                return;
        }
        if ((r = brm_imagestore_resolve(&m->images, req->ref, req->platform, &d, why, sizeof(why))) < 0 ||
            (r = brm_imagestore_manifest_blobs(&m->images, d.digest, add_blob, &l, why, sizeof(why))) < 0) {
                if (r == -ENOMEM || l.err)
                        snprintf(why, sizeof(why), "image %s: out of memory on the master", req->ref);
                brm_info(MOD, "%s asked for %s (%s): %s", s->name, req->ref, req->platform, why);
                brm_session_error(s, in->id, r, why);
                blob_list_free(&l);
                return;
        }
        if (!(l.ptrs = calloc(l.n ? l.n : 1, sizeof(*l.ptrs)))) {
                brm_session_error(s, in->id, -ENOMEM, "out of memory on the master");
                blob_list_free(&l);
                return;
        }
        for (size_t i = 0; i < l.n; i++)
                l.ptrs[i] = &l.descs[i];
        man.digest = d.digest;
        man.has_size = 1;
        man.size = d.size;
        man.media_type = d.media_type;
        res.ref = req->ref;
        res.manifest = &man;
        res.n_blobs = l.n;
        res.blobs = l.ptrs;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_RESOLVED;
        env.image_resolved = &res;
        brm_debug(MOD, "%s: %s for %s is %s (%zu blobs)", s->name, req->ref, req->platform, d.digest, l.n);
        brm_session_reply(s, in->id, &env);
        blob_list_free(&l);
}

/* ---- streams ---- */

static void send_end(struct brm_session *s, uint64_t id, int code, const char *msg)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__BlobEnd end = BRAMBLE__BLOB_END__INIT;

        end.has_stream_id = end.has_code = 1;
        end.stream_id = id;
        end.code = code;
        end.error = (char *)msg;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_BLOB_END;
        env.blob_end = &end;
        brm_session_send(s, &env);
}

/* Unlinks and frees a stream, saying what it sent (the figure the resume
 * test reads). */
static void finish(struct brm_session *s, struct brm_blobsend *b, const char *how)
{
        for (struct brm_blobsend **p = &s->blobs; *p; p = &(*p)->next)
                if (*p == b) {
                        *p = b->next;
                        break;
                }
        brm_info(MOD, "sent %llu bytes of %s from offset %llu to %s (%s)", (unsigned long long)(b->offset - b->from),
                 b->digest, (unsigned long long)b->from, s->name, how);
        if (b->fd >= 0)
                close(b->fd);
        free(b);
}

static struct brm_blobsend *find(struct brm_session *s, uint64_t id)
{
        for (struct brm_blobsend *b = s->blobs; b; b = b->next)
                if (b->id == id)
                        return b;
        return NULL;
}

/* Sends the stream's next frame if its credit allows: 1 when a frame went,
 * 0 when it waits for credit, -1 when the stream ended (freed). */
static int send_one(struct brm_session *s, struct brm_blobsend *b)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__BlobData data = BRAMBLE__BLOB_DATA__INIT;
        char msg[200];
        uint64_t left = b->size - b->offset;
        size_t n = left < BRM_BLOB_CHUNK ? (size_t)left : BRM_BLOB_CHUNK;
        ssize_t got;

        if (left == 0) {
                send_end(s, b->id, 0, NULL);
                finish(s, b, "complete");
                return -1;
        }
        if (b->credit < n)
                return 0;
        do
                got = pread(b->fd, chunk, n, (off_t)b->offset);
        while (got < 0 && errno == EINTR);
        if (got <= 0) {
                snprintf(msg, sizeof(msg), "reading blob %s on the master failed at byte %llu: %s", b->digest,
                         (unsigned long long)b->offset, got < 0 ? strerror(errno) : "the file is shorter than its size");
                brm_warn(MOD, "%s", msg);
                send_end(s, b->id, got < 0 ? -errno : -EIO, msg);
                finish(s, b, "read failed");
                return -1;
        }
        data.has_stream_id = data.has_data = 1;
        data.stream_id = b->id;
        data.data.data = chunk;
        data.data.len = (size_t)got;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_BLOB_DATA;
        env.blob_data = &data;
        if (brm_session_send(s, &env) < 0)
                return 0; /* the session is closing; its close ends the stream */
        b->offset += (uint64_t)got;
        b->credit -= (uint64_t)got;
        return 1;
}

/* Round-robin over the session's streams while they have credit and the
 * session's queue has room. */
static void pump(struct brm_session *s)
{
        bool sent = true;

        while (sent && !s->conn.closing) {
                struct brm_blobsend *b, *next;
                sent = false;
                for (b = s->blobs; b && !s->conn.closing; b = next) {
                        next = b->next;
                        if (brm_tls_stream_queued(&s->conn.tls) > QUEUE_HIGH)
                                return; /* drained() goes on */
                        if (send_one(s, b) > 0)
                                sent = true;
                }
        }
}

static void drained(struct brm_conn *c)
{
        pump(c->data);
}

void brm_blobsend_request(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__BlobRequest *req = in->blob_request;
        struct brm_master *m = s->m;
        struct brm_blobsend *b;
        unsigned n_open = 0;
        char path[1200], msg[300];
        struct stat st;
        int fd;

        if (!req->has_stream_id) {
                brm_session_error(s, in->id, -EINVAL, "a blob request needs a stream id");
                return;
        }
        for (b = s->blobs; b; b = b->next, n_open++)
                if (b->id == req->stream_id) {
                        send_end(s, req->stream_id, -EEXIST, "a blob stream with this id is open");
                        return;
                }
        if (n_open >= BRM_BLOBSEND_MAX_STREAMS) {
                snprintf(msg, sizeof(msg), "this node already has %d blob streams open", BRM_BLOBSEND_MAX_STREAMS);
                send_end(s, req->stream_id, -EBUSY, msg);
                return;
        }
        if (!req->digest || brm_imagestore_blob_path(&m->images, req->digest, path, sizeof(path)) < 0) {
                snprintf(msg, sizeof(msg), "'%.80s' is not a sha256 digest", req->digest ? req->digest : "");
                send_end(s, req->stream_id, -EINVAL, msg);
                return;
        }
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
                int e = errno;
                snprintf(msg, sizeof(msg), "blob %s: %s on the master", req->digest,
                         e == ENOENT ? "not in the image store" : strerror(e));
                if (fd >= 0)
                        close(fd);
                brm_warn(MOD, "%s asked for %s", s->name, msg);
                send_end(s, req->stream_id, -e, msg);
                return;
        }
        if (req->has_offset && req->offset > (uint64_t)st.st_size) {
                snprintf(msg, sizeof(msg), "blob %s has %lld bytes: offset %llu is beyond its end", req->digest,
                         (long long)st.st_size, (unsigned long long)req->offset);
                close(fd);
                send_end(s, req->stream_id, -EINVAL, msg);
                return;
        }
        if (!(b = calloc(1, sizeof(*b)))) {
                close(fd);
                send_end(s, req->stream_id, -ENOMEM, "out of memory on the master");
                return;
        }
        b->id = req->stream_id;
        b->fd = fd;
        snprintf(b->digest, sizeof(b->digest), "%s", req->digest);
        b->from = b->offset = req->has_offset ? req->offset : 0;
        b->size = (uint64_t)st.st_size;
        b->credit = BRM_BLOB_WINDOW;
        /* At the end, so that the round-robin serves the older ones first. */
        struct brm_blobsend **p = &s->blobs;
        while (*p)
                p = &(*p)->next;
        *p = b;
        /* A node session has no other use for its drain callback. */
        brm_conn_set_drain(&s->conn, drained);
        brm_debug(MOD, "%s: stream %llu: %s from %llu of %llu", s->name, (unsigned long long)b->id, b->digest,
                  (unsigned long long)b->from, (unsigned long long)b->size);
        pump(s);
}

void brm_blobsend_credit(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__BlobCredit *bc = in->blob_credit;
        struct brm_blobsend *b = bc->has_stream_id ? find(s, bc->stream_id) : NULL;

        if (!b)
                return; /* it ended while the credit was on its way */
        if (bc->has_close && bc->close) {
                finish(s, b, "closed by the node");
                return;
        }
        if (bc->has_bytes) {
                b->credit += bc->bytes;
                /* A node that returns more than it was given gains nothing. */
                if (b->credit > BRM_BLOB_WINDOW)
                        b->credit = BRM_BLOB_WINDOW;
        }
        pump(s);
}

void brm_blobsend_session_closed(struct brm_session *s)
{
        while (s->blobs)
                finish(s, s->blobs, "session closed");
}
