/* Cluster images onto the node: fetching an image from the master's store
 * (a reference that is not an absolute path, "example.com/app:1") into the
 * node's layout (fetchstore.h), over the link's session.
 *
 * The node asks which manifest serves its platform (ImageRequest, "linux/"
 * and its architecture), then fetches each blob it does not hold, one
 * stream per blob (BlobRequest -> BlobData ... BlobEnd), paced by the
 * credit it returns after writing each frame to the blob's .part file: the
 * agent holds one frame at a time, never a blob. Each blob is checked
 * against its digest and size before it enters the layout; the manifest
 * comes last, then the index.json entry. A lost session pauses the fetch,
 * which goes on from the .part files when the next session is up; so does
 * a fetch an agent restart cut (the supervisor asks again). Two requests
 * for one reference share one fetch, and a blob two images share is
 * fetched once. Runs on the loop; the check of a complete blob (a full
 * read and an fsync) runs in the thread pool. */
#ifndef BRM_FETCH_H
#define BRM_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bramble.pb-c.h"
#include "conn.h"

struct brm_fetch;

/* STATUS 0: LOCAL_REF is the image's reference for bramble-unpack
 * ("IMAGES/layout:HEX"), valid during the call. Else -errno and WHY, one
 * line ("image example.com/app:1 has no linux/arm64 variant (it has
 * linux/amd64)"); -ECANCELED when the module closes first. */
typedef void (*brm_fetch_cb)(int status, const char *local_ref, const char *why, void *arg);

struct brm_fetch_opts {
        uv_loop_t *loop;
        const char *images_dir;   /* the supervisor's image dir (STATE/images) */
        const char *platform;     /* "linux/arm64"; NULL: this machine's (uname) */
};

/* Opens the node's layout (created when missing). 0 or -errno. */
int brm_fetch_open(const struct brm_fetch_opts *opts, struct brm_fetch **ret);

/* Gets REF into the layout, unless it is there already (then without
 * asking the master: a restart needs no master). 0 and CB is called once,
 * later, from the loop; or -errno (-EINVAL for a reference the layout
 * cannot hold) and CB is never called. */
int brm_fetch_image(struct brm_fetch *f, const char *ref, brm_fetch_cb cb, void *arg);

/* Withdraws one brm_fetch_image request (CB and ARG as given): its CB
 * gets -ECANCELED, later, from the loop; the fetch itself goes on for
 * others, and what it gets is kept. 0, or -ENOENT when that request was
 * answered already (or is being answered: CB runs as it would). */
int brm_fetch_cancel(struct brm_fetch *f, brm_fetch_cb cb, void *arg);

/* Progress of a fetch of REF under way: bytes held and bytes in all
 * (0 while the master has not answered yet). false when none is. */
bool brm_fetch_progress(const struct brm_fetch *f, const char *ref, uint64_t *ret_done, uint64_t *ret_total);

/* Calls EACH with the hex digest of every blob a fetch under way needs
 * (those it holds already too: its manifest is not in index.json yet, so
 * nothing else names them) and of every blob being transferred. A job
 * still asking the master which blobs it needs names none: it looks at
 * the layout afresh once answered. Accepts NULL. */
void brm_fetch_blobs(const struct brm_fetch *f, void (*each)(const char *hex, void *arg), void *arg);

/* Every cluster reference the node's layout holds, joined by ',' (""
 * for none), for the heartbeat: read again only when index.json changed
 * (a fetch or a collection wrote it). Valid until the next call. */
const char *brm_fetch_refs(struct brm_fetch *f);

/* The link's session is up (CONN) or gone (NULL): fetches wait without
 * one and go on with the next. */
void brm_fetch_attach(struct brm_fetch *f, struct brm_conn *conn);

/* Link handler (link.h) for ImageResolved, BlobData, BlobEnd and the
 * Error answering an ImageRequest; F is the struct brm_fetch. */
void brm_fetch_handle(void *f, struct brm_conn *conn, const Bramble__Envelope *env);

/* Ends every fetch (their callbacks get -ECANCELED, .part files stay for
 * the next agent) and frees the module once its thread-pool work is done.
 * Accepts NULL. */
void brm_fetch_close(struct brm_fetch *f);

#endif
