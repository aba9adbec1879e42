/* Images to nodes: which manifest and blobs serve a node's platform
 * (ImageRequest -> ImageResolved), and blob streams (BlobRequest ->
 * BlobData ... BlobEnd) paced by the node's credit (BlobCredit), over the
 * node's own mTLS session. See blobsend.c for the pacing. */
#ifndef BRM_BLOBSEND_H
#define BRM_BLOBSEND_H

#include "bramble.pb-c.h"

struct brm_session;
struct brm_blobsend;

/* Streams one node may have open at once; one more is answered BlobEnd
 * -EBUSY. */
#define BRM_BLOBSEND_MAX_STREAMS 8

/* Route handlers (server.c), for node sessions. ImageRequest: answered
 * ImageResolved (same id) or Error with a one-line reason. BlobRequest:
 * opens a stream, or answers BlobEnd with the error. BlobCredit: more
 * credit for a stream (or its end, when the node closes it). */
void brm_blobsend_resolve(struct brm_session *s, const Bramble__Envelope *env);
void brm_blobsend_request(struct brm_session *s, const Bramble__Envelope *env);
void brm_blobsend_credit(struct brm_session *s, const Bramble__Envelope *env);

/* The session went away: its streams end (each says what it sent). */
void brm_blobsend_session_closed(struct brm_session *s);

#endif
