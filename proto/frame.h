/* The wire framing: a 4-byte big-endian length, then one protobuf Envelope.
 * The decoder is incremental and refuses a length above the maximum before
 * allocating anything for it. It does not log. */
#ifndef BRM_FRAME_H
#define BRM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "bramble.pb-c.h"

#define BRM_FRAME_MAX_DEFAULT (1u << 20)

/* Blob streams (BlobRequest): the master sends a blob in BlobData frames of
 * at most BRM_BLOB_CHUNK bytes of data, and never more than BRM_BLOB_WINDOW
 * bytes of data the node has not given back as BlobCredit. Both ends take
 * these from here so that they agree. A chunk leaves room for the frame's
 * length and Envelope (under 32 bytes), so that one frame is exactly four
 * 16 KiB TLS records rather than four and a small fifth one. */
#define BRM_BLOB_CHUNK (64u * 1024 - 32)
#define BRM_BLOB_WINDOW (512u * 1024)

struct brm_frame_decoder {
        uint32_t max;
        uint8_t hdr[4];
        size_t hdr_len;
        uint8_t *body;
        uint32_t body_len;
        uint32_t body_have;
};

/* Called once per complete frame; the body is only valid during the call.
 * A negative return stops decoding and is returned by brm_frame_feed(). */
typedef int (*brm_frame_cb)(void *arg, const uint8_t *body, size_t len);

void brm_frame_decoder_init(struct brm_frame_decoder *d, uint32_t max);
/* Feeds bytes; calls cb for each complete frame. Returns 0, -EMSGSIZE for a
 * length over the maximum (the caller must close the connection), -ENOMEM,
 * or cb's negative value. After an error the decoder must be reset. */
int brm_frame_feed(struct brm_frame_decoder *d, const uint8_t *data, size_t len, brm_frame_cb cb, void *arg);
/* Frees any partial frame. Safe to call twice. */
void brm_frame_decoder_reset(struct brm_frame_decoder *d);

/* Packs env into a freshly allocated frame (header included). */
int brm_frame_pack(const Bramble__Envelope *env, uint8_t **ret_buf, size_t *ret_len);

/* Unpacks an Envelope with an allocator that refuses to allocate more than
 * a fixed budget (a few times the frame size), so a small frame can never
 * make protobuf-c allocate a lot. Returns -EBADMSG for anything malformed.
 * Free with brm_msg_free(). */
int brm_msg_unpack(const uint8_t *data, size_t len, Bramble__Envelope **ret_env);
void brm_msg_free(Bramble__Envelope *env);

#endif
