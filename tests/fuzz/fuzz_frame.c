/* Frame decoder + Envelope unpack on arbitrary bytes, fed in two uneven
 * pieces so partial-header and partial-body paths are exercised. */
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_frame(void *arg, const uint8_t *body, size_t len)
{
        Bramble__Envelope *env;

        if (brm_msg_unpack(body, len, &env) == 0) {
                /* Re-pack what was decoded: must not crash either. */
                uint8_t *buf;
                size_t n;
                if (brm_frame_pack(env, &buf, &n) == 0)
                        free(buf);
                brm_msg_free(env);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct brm_frame_decoder d;
        size_t split = size ? data[0] % (size + 1) : 0;

        brm_frame_decoder_init(&d, 64 * 1024);
        if (brm_frame_feed(&d, data, split, on_frame, NULL) == 0)
                brm_frame_feed(&d, data + split, size - split, on_frame, NULL);
        brm_frame_decoder_reset(&d);
        return 0;
}
