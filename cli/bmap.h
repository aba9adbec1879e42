/* Block maps as bmaptool writes them (IMG.bmap, XML, format 1.x and 2.x):
 * which blocks of a sparse image hold data, with a SHA-256 per range, so
 * flash writes only those and checks them while reading.
 *
 * The map comes with a downloaded image, so it is untrusted input: the
 * parser has a fuzz harness (tests/fuzz/fuzz_bmap.c). */
#ifndef BRM_CLI_BMAP_H
#define BRM_CLI_BMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many ranges per map (a Bramble image has a few hundred). */
#define BRM_BMAP_MAX_RANGES 65536

struct brm_bmap_range {
        uint64_t first, last; /* blocks, inclusive */
        uint8_t sha[32];
        bool has_sha;         /* only with <ChecksumType>sha256 */
};

struct brm_bmap {
        uint64_t block_size, image_size; /* bytes */
        struct brm_bmap_range *r;        /* ascending, not overlapping, within image_size */
        size_t n;                        /* at least 1 */
};

/* Parses the len bytes at text (need not be NUL-terminated). On success
 * returns 0 and fills *ret, to release with brm_bmap_free. Otherwise
 * returns -EINVAL (with why saying what is wrong, in words for a person)
 * or -ENOMEM, and leaves *ret untouched. */
int brm_bmap_parse(const char *text, size_t len, struct brm_bmap *ret, char *why, size_t why_size);

/* Frees the ranges; b may be zeroed, or NULL. */
void brm_bmap_free(struct brm_bmap *b);

#endif
