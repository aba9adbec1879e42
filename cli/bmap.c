/* The bmaptool block-map parser. It reads only what flash needs and checks
 * every range against the map's own image size, so flash, having compared
 * that size with the image's, can trust each range's bounds. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "bmap.h"

/* The decimal number at s, after white space: digits only (strtoull alone
 * would take a sign, or nothing at all as 0). Returns 0 with *ret_end just
 * after it, or -EINVAL. */
static int number(const char *s, char **ret_end, uint64_t *ret)
{
        uint64_t v;
        char *end;

        while (isspace((unsigned char)*s))
                s++;
        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -EINVAL;
        *ret = v;
        *ret_end = end;
        return 0;
}

/* The number after <tag>. */
static int xml_u64(const char *text, const char *tag, uint64_t *ret)
{
        char open[64], *end;
        const char *p;

        snprintf(open, sizeof(open), "<%s>", tag);
        if (!(p = strstr(text, open)))
                return -EINVAL;
        return number(p + strlen(open), &end, ret);
}

/* Blanks out <!-- comments --> (bmaptool's mention tag names). */
static void strip_comments(char *text)
{
        char *p = text, *end;

        while ((p = strstr(p, "<!--"))) {
                if (!(end = strstr(p + 4, "-->"))) {
                        *p = '\0';
                        return;
                }
                memset(p, ' ', (size_t)(end + 3 - p));
                p = end + 3;
        }
}

/* What bmaptool writes: BlockSize, ImageSize, BlocksCount, ChecksumType
 * and the <Range chksum="..."> A-B </Range> list. text is a NUL-terminated
 * copy this function may change. */
static int parse(char *text, struct brm_bmap *ret, char *why, size_t why_size)
{
        struct brm_bmap b = { 0 };
        const char *p;
        bool sha256;
        uint64_t blocks, image_blocks;

        strip_comments(text);
        if (!strstr(text, "<bmap") || xml_u64(text, "BlockSize", &b.block_size) < 0 ||
            xml_u64(text, "ImageSize", &b.image_size) < 0 || xml_u64(text, "BlocksCount", &blocks) < 0) {
                snprintf(why, why_size, "not a bmaptool block map");
                return -EINVAL;
        }
        if (b.block_size < 512 || b.block_size > (1u << 24) || (b.block_size & (b.block_size - 1))) {
                snprintf(why, why_size, "block size %" PRIu64 " is not valid", b.block_size);
                return -EINVAL;
        }
        /* Rounded up without overflow: the last block may be partial. */
        image_blocks = b.image_size / b.block_size + (b.image_size % b.block_size != 0);
        sha256 = strstr(text, "<ChecksumType>") && strstr(text, "sha256");
        if (!(b.r = calloc(BRM_BMAP_MAX_RANGES, sizeof(*b.r))))
                return -ENOMEM;
        for (p = text; (p = strstr(p, "<Range")) != NULL;) {
                struct brm_bmap_range *rg;
                const char *c, *end = strchr(p, '>');
                char *q;

                if (!end || b.n == BRM_BMAP_MAX_RANGES)
                        goto bad;
                rg = &b.r[b.n];
                /* Only inside this tag: a search to the end of the text for
                 * every range would be quadratic in the map's size. */
                c = memmem(p, (size_t)(end - p), "chksum=\"", 8);
                if (sha256 && c) {
                        char hex[65];
                        /* 64 hex digits, the closing quote, then the tag's
                         * '>': checked before copying, as the text may end
                         * just after the '>'. */
                        if (end - (c + 8) != 65 || c[8 + 64] != '"')
                                goto bad;
                        memcpy(hex, c + 8, 64);
                        hex[64] = '\0';
                        if (brm_unhex(hex, rg->sha, 32) < 0)
                                goto bad;
                        rg->has_sha = true;
                }
                if (number(end + 1, &q, &rg->first) < 0)
                        goto bad;
                rg->last = rg->first;
                if (*q == '-' && number(q + 1, &q, &rg->last) < 0)
                        goto bad;
                while (isspace((unsigned char)*q))
                        q++;
                if (strncmp(q, "</Range>", 8) != 0 || rg->last < rg->first ||
                    (b.n && rg->first <= b.r[b.n - 1].last) || rg->last >= image_blocks)
                        goto bad;
                b.n++;
                p = q;
        }
        if (b.n == 0)
                goto bad;
        *ret = b;
        return 0;
bad:
        snprintf(why, why_size, "its <BlockMap> ranges are not valid");
        free(b.r);
        return -EINVAL;
}

int brm_bmap_parse(const char *text, size_t len, struct brm_bmap *ret, char *why, size_t why_size)
{
        char *copy = malloc(len + 1);
        int r;

        if (!copy)
                return -ENOMEM;
        memcpy(copy, text, len);
        copy[len] = '\0';
        r = parse(copy, ret, why, why_size);
        free(copy);
        return r;
}

void brm_bmap_free(struct brm_bmap *b)
{
        if (!b)
                return;
        free(b->r);
        b->r = NULL;
        b->n = 0;
}
