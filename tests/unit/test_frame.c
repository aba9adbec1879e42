/* Frame codec: round trips, split delivery, the size limit before
 * allocation, and malformed bodies. */
#include <errno.h>

#include "check.h"
#include "frame.h"

struct sink {
        int frames;
        size_t last_len;
        uint64_t last_seq;
        int stop_after;
};

static int on_frame(void *arg, const uint8_t *body, size_t len)
{
        struct sink *s = arg;
        Bramble__Envelope *env;

        CHECK_INT(brm_msg_unpack(body, len, &env), ==, 0);
        CHECK_INT(env->msg_case, ==, BRAMBLE__ENVELOPE__MSG_HEARTBEAT);
        s->last_seq = env->heartbeat->seq;
        brm_msg_free(env);
        s->frames++;
        s->last_len = len;
        if (s->stop_after && s->frames == s->stop_after)
                return -ECANCELED;
        return 0;
}

static void pack_hb(uint64_t seq, uint8_t **buf, size_t *len)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Heartbeat hb = BRAMBLE__HEARTBEAT__INIT;

        hb.has_seq = 1;
        hb.seq = seq;
        hb.has_temp_celsius = 1;
        hb.temp_celsius = 48.5f;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HEARTBEAT;
        env.heartbeat = &hb;
        CHECK_INT(brm_frame_pack(&env, buf, len), ==, 0);
}

int main(void)
{
        struct brm_frame_decoder d;
        struct sink s = { 0 };
        uint8_t *a, *b, both[512];
        size_t alen, blen;

        pack_hb(7, &a, &alen);
        pack_hb(8, &b, &blen);
        CHECK_U64(alen, >, 4);
        /* Header is the big-endian body length. */
        CHECK_U64(((size_t)a[0] << 24 | (size_t)a[1] << 16 | (size_t)a[2] << 8 | a[3]), ==, alen - 4);

        /* Two frames in one buffer. */
        memcpy(both, a, alen);
        memcpy(both + alen, b, blen);
        brm_frame_decoder_init(&d, 0);
        CHECK_INT(brm_frame_feed(&d, both, alen + blen, on_frame, &s), ==, 0);
        CHECK_INT(s.frames, ==, 2);
        CHECK_U64(s.last_seq, ==, 8);

        /* One byte at a time. */
        s.frames = 0;
        for (size_t i = 0; i < alen + blen; i++)
                CHECK_INT(brm_frame_feed(&d, both + i, 1, on_frame, &s), ==, 0);
        CHECK_INT(s.frames, ==, 2);
        CHECK_U64(s.last_seq, ==, 8);
        brm_frame_decoder_reset(&d);

        /* A length over the maximum is refused from the header alone. */
        {
                uint8_t hdr[4] = { 0x00, 0x10, 0x00, 0x01 }; /* 1 MiB + 1 */
                brm_frame_decoder_init(&d, 1u << 20);
                CHECK_INT(brm_frame_feed(&d, hdr, 4, on_frame, &s), ==, -EMSGSIZE);
                CHECK(d.body == NULL);
                brm_frame_decoder_reset(&d);
                uint8_t hdr2[4] = { 0x00, 0x10, 0x00, 0x00 }; /* exactly 1 MiB is allowed: waits for the body */
                CHECK_INT(brm_frame_feed(&d, hdr2, 4, on_frame, &s), ==, 0);
                CHECK(d.body != NULL);
                brm_frame_decoder_reset(&d);
                CHECK(d.body == NULL);
                uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
                CHECK_INT(brm_frame_feed(&d, huge, 4, on_frame, &s), ==, -EMSGSIZE);
        }

        /* A callback error stops decoding and is returned. */
        s.frames = 0;
        s.stop_after = 1;
        brm_frame_decoder_init(&d, 0);
        CHECK_INT(brm_frame_feed(&d, both, alen + blen, on_frame, &s), ==, -ECANCELED);
        CHECK_INT(s.frames, ==, 1);
        brm_frame_decoder_reset(&d);

        /* Malformed bodies are -EBADMSG, never a crash. */
        {
                Bramble__Envelope *env;
                const uint8_t bad1[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f }; /* wrong wire type for id */
                const uint8_t bad2[] = { 0x82, 0x01, 0x80 };                   /* truncated length */
                CHECK_INT(brm_msg_unpack(bad1, sizeof(bad1), &env), ==, -EBADMSG);
                CHECK_INT(brm_msg_unpack(bad2, sizeof(bad2), &env), ==, -EBADMSG);
                /* An empty body is a valid, empty Envelope. */
                CHECK_INT(brm_msg_unpack((const uint8_t *)"", 0, &env), ==, 0);
                CHECK_INT(env->msg_case, ==, BRAMBLE__ENVELOPE__MSG__NOT_SET);
                brm_msg_free(env);
        }
        free(a);
        free(b);
        printf("frame: ok\n");
        return 0;
}
