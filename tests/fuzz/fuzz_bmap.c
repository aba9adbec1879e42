/* bmaptool block-map parser on arbitrary bytes (not NUL-terminated). A map
 * that parses must describe ranges flash can use as they are: ascending,
 * not overlapping, inside the image, with a power-of-two block size. A
 * refusal says why and leaves the output alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* An exact-size copy, so ASan catches any read past the end. */
        char *buf = malloc(size ? size : 1), why[256];
        struct brm_bmap b, before;
        uint64_t blocks;

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        memset(&b, 0xa5, sizeof(b));
        before = b;
        why[0] = '\0';
        if (brm_bmap_parse(buf, size, &b, why, sizeof(why)) < 0) {
                if (!why[0] || memcmp(&b, &before, sizeof(b)) != 0)
                        abort();
                free(buf);
                return 0;
        }
        if (b.block_size < 512 || b.block_size > (1u << 24) || (b.block_size & (b.block_size - 1)) || b.n == 0 ||
            b.n > BRM_BMAP_MAX_RANGES || !b.r)
                abort();
        blocks = b.image_size / b.block_size + (b.image_size % b.block_size != 0);
        for (size_t i = 0; i < b.n; i++) {
                if (b.r[i].first > b.r[i].last || b.r[i].last >= blocks || (i && b.r[i].first <= b.r[i - 1].last))
                        abort();
        }
        brm_bmap_free(&b);
        free(buf);
        return 0;
}
