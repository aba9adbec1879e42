#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void brm_frame_decoder_init(struct brm_frame_decoder *d, uint32_t max)
{
        memset(d, 0, sizeof(*d));
        d->max = max ? max : BRM_FRAME_MAX_DEFAULT;
}

void brm_frame_decoder_reset(struct brm_frame_decoder *d)
{
        free(d->body);
        d->body = NULL;
        d->hdr_len = 0;
        d->body_len = d->body_have = 0;
}

int brm_frame_feed(struct brm_frame_decoder *d, const uint8_t *data, size_t len, brm_frame_cb cb, void *arg)
{
        while (len > 0) {
                if (d->hdr_len < 4) {
                        size_t n = 4 - d->hdr_len < len ? 4 - d->hdr_len : len;
                        memcpy(d->hdr + d->hdr_len, data, n);
                        d->hdr_len += n;
                        data += n;
                        len -= n;
                        if (d->hdr_len < 4)
                                break;
                        d->body_len = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 |
                                      (uint32_t)d->hdr[2] << 8 | d->hdr[3];
                        if (d->body_len > d->max)
                                return -EMSGSIZE;
                        d->body_have = 0;
                        /* A whole frame already in the input is handed over without a copy. */
                        if (len >= d->body_len) {
                                int r = cb(arg, data, d->body_len);
                                data += d->body_len;
                                len -= d->body_len;
                                d->hdr_len = 0;
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        d->body = malloc(d->body_len ? d->body_len : 1);
                        if (!d->body)
                                return -ENOMEM;
                        continue;
                }
                size_t want = d->body_len - d->body_have;
                size_t n = want < len ? want : len;
                memcpy(d->body + d->body_have, data, n);
                d->body_have += (uint32_t)n;
                data += n;
                len -= n;
                if (d->body_have == d->body_len) {
                        uint8_t *body = d->body;
                        int r;
                        d->body = NULL;
                        d->hdr_len = 0;
                        r = cb(arg, body, d->body_len);
                        free(body);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int brm_frame_pack(const Bramble__Envelope *env, uint8_t **ret_buf, size_t *ret_len)
{
        size_t n = bramble__envelope__get_packed_size(env);
        uint8_t *buf;

        if (n > UINT32_MAX - 4)
                return -EMSGSIZE;
        buf = malloc(n + 4);
        if (!buf)
                return -ENOMEM;
        buf[0] = (uint8_t)(n >> 24);
        buf[1] = (uint8_t)(n >> 16);
        buf[2] = (uint8_t)(n >> 8);
        buf[3] = (uint8_t)n;
        bramble__envelope__pack(env, buf + 4);
        *ret_buf = buf;
        *ret_len = n + 4;
        return 0;
}

struct budget {
        size_t left;
};

static void *bounded_alloc(void *data, size_t size)
{
        struct budget *b = data;

        if (size > b->left)
                return NULL;
        b->left -= size;
        return malloc(size);
}

static void plain_free(void *data, void *ptr)
{
        free(ptr);
}

static ProtobufCAllocator free_only = { .alloc = NULL, .free = plain_free, .allocator_data = NULL };

int brm_msg_unpack(const uint8_t *data, size_t len, Bramble__Envelope **ret_env)
{
        /* protobuf-c needs roughly the message size plus per-field structs;
         * 8x the frame (and at least 64 KiB) covers any honest message. */
        struct budget b = { .left = len * 8 + 65536 };
        ProtobufCAllocator a = { .alloc = bounded_alloc, .free = plain_free, .allocator_data = &b };
        Bramble__Envelope *env = bramble__envelope__unpack(&a, len, data);

        if (!env)
                return -EBADMSG;
        *ret_env = env;
        return 0;
}

void brm_msg_free(Bramble__Envelope *env)
{
        if (env)
                bramble__envelope__free_unpacked(env, &free_only);
}
