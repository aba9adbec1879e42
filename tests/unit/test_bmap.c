/* bmaptool block maps: a map as bmaptool writes it gives its exact ranges
 * and checksums, and every refusal says why and leaves the output alone. */
#include <errno.h>
#include <stdbool.h>

#include "bmap.h"
#include "check.h"
#include "util.h"

/* What bmaptool 3.6 wrote for a 64 KiB file with data in blocks 0, 5-6 and
 * 15 (comments shortened; the tag names inside them are bmaptool's). */
static const char bmaptool_v2[] =
        "<?xml version=\"1.0\" ?>\n"
        "<!-- This file contains the block map for an image file.\n"
        "     because with bmap less data is copied: <MappedBlocksCount> blocks instead\n"
        "     of <BlocksCount> blocks. -->\n"
        "\n"
        "<bmap version=\"2.0\">\n"
        "    <!-- Image size in bytes: 64.0 KiB -->\n"
        "    <ImageSize> 65536 </ImageSize>\n"
        "    <!-- Size of a block in bytes -->\n"
        "    <BlockSize> 4096 </BlockSize>\n"
        "    <BlocksCount> 16 </BlocksCount>\n"
        "    <MappedBlocksCount> 4  </MappedBlocksCount>\n"
        "    <ChecksumType> sha256 </ChecksumType>\n"
        "    <BmapFileChecksum> f57b6af539b47f054c9cbe8f0c532b4ac56d9a901645b2b2151b2a4aa43099f8 </BmapFileChecksum>\n"
        "    <BlockMap>\n"
        "        <Range chksum=\"4af13f80d96a387e88b432838ef382fbab85f2f42c5fe0a3b8069a263bcaf9a7\"> 0 </Range>\n"
        "        <Range chksum=\"a9620e158918b62b306dd15b714d15ad24d8e89213879d2da53a28adaebfae4b\"> 5-6 </Range>\n"
        "        <Range chksum=\"73aa7ce473869dd18ad92fdd24773ef6727db60cdc57f872aac08c852c4cb817\"> 15 </Range>\n"
        "    </BlockMap>\n"
        "</bmap>\n";

#define HEAD "<bmap version=\"2.0\"><ImageSize>65536</ImageSize><BlockSize>4096</BlockSize><BlocksCount>16</BlocksCount>"
#define SHA256 "<ChecksumType>sha256</ChecksumType>"

/* Expects text to be refused with -EINVAL, a reason containing want, and
 * the output untouched. */
static void refused(const char *text, const char *want)
{
        struct brm_bmap b = { .block_size = 7, .n = 9 };
        char why[256] = "";

        CHECK_INT(brm_bmap_parse(text, strlen(text), &b, why, sizeof(why)), ==, -EINVAL);
        if (!strstr(why, want)) {
                fprintf(stderr, "for %s\n", text);
                CHECK_STR(why, want);
        }
        CHECK_U64(b.block_size, ==, 7);
        CHECK_U64(b.n, ==, 9);
        CHECK(b.r == NULL);
}

int main(void)
{
        struct brm_bmap b = { 0 };
        uint8_t sha[32];
        char why[256] = "";

        CHECK_INT(brm_bmap_parse(bmaptool_v2, strlen(bmaptool_v2), &b, why, sizeof(why)), ==, 0);
        CHECK_U64(b.block_size, ==, 4096);
        CHECK_U64(b.image_size, ==, 65536);
        CHECK_U64(b.n, ==, 3);
        CHECK_U64(b.r[0].first, ==, 0);
        CHECK_U64(b.r[0].last, ==, 0);
        CHECK_U64(b.r[1].first, ==, 5);
        CHECK_U64(b.r[1].last, ==, 6);
        CHECK_U64(b.r[2].first, ==, 15);
        CHECK_U64(b.r[2].last, ==, 15);
        CHECK(b.r[0].has_sha && b.r[1].has_sha && b.r[2].has_sha);
        CHECK_INT(brm_unhex("a9620e158918b62b306dd15b714d15ad24d8e89213879d2da53a28adaebfae4b", sha, 32), ==, 0);
        CHECK(memcmp(b.r[1].sha, sha, 32) == 0);
        brm_bmap_free(&b);
        CHECK(b.r == NULL);
        brm_bmap_free(NULL);

        /* The text need not end in a NUL: only len bytes are read. */
        CHECK_INT(brm_bmap_parse(HEAD "<BlockMap><Range>3-4</Range></BlockMap></bmap>XXXX", strlen(HEAD) + 46, &b, why,
                                 sizeof(why)),
                  ==, 0);
        CHECK_U64(b.n, ==, 1);
        CHECK_U64(b.r[0].first, ==, 3);
        CHECK_U64(b.r[0].last, ==, 4);
        CHECK(!b.r[0].has_sha);
        brm_bmap_free(&b);

        /* Format 1.3 has SHA-1 sums under another attribute: ranges only. */
        const char *v13 = "<bmap version=\"1.3\"><ImageSize>65536</ImageSize><BlockSize>4096</BlockSize><BlocksCount>16</BlocksCount>"
                          "<BlockMap><Range sha1=\"5b3c0a8f1bf2a2e9e1f0c6e0c0a6e2b6b2a1c3d4\"> 2-3 </Range></BlockMap></bmap>";
        CHECK_INT(brm_bmap_parse(v13, strlen(v13), &b, why, sizeof(why)), ==, 0);
        CHECK_U64(b.n, ==, 1);
        CHECK(!b.r[0].has_sha);
        brm_bmap_free(&b);

        /* The last block may be partial: 65537 bytes are 17 blocks. */
        const char *partial = "<bmap><ImageSize>65537</ImageSize><BlockSize>4096</BlockSize><BlocksCount>17</BlocksCount>"
                              "<Range>16</Range></bmap>";
        CHECK_INT(brm_bmap_parse(partial, strlen(partial), &b, why, sizeof(why)), ==, 0);
        CHECK_U64(b.r[0].last, ==, 16);
        brm_bmap_free(&b);

        refused("", "not a bmaptool block map");
        refused("PK\x03\x04 not a block map", "not a bmaptool block map");
        refused("<bmap><ImageSize>65536</ImageSize><!-- <BlockSize>4096</BlockSize> --><BlocksCount>16</BlocksCount>",
                "not a bmaptool block map");
        refused("<bmap><ImageSize>65536</ImageSize><BlockSize>1000</BlockSize><BlocksCount>66</BlocksCount>",
                "block size 1000 is not valid");
        refused("<bmap><ImageSize>65536</ImageSize><BlockSize>256</BlockSize><BlocksCount>256</BlocksCount>",
                "block size 256 is not valid");
        refused(HEAD "<BlockMap></BlockMap></bmap>", "ranges are not valid");
        refused(HEAD "<Range>0-5</Range><Range>5-6</Range>", "ranges are not valid");
        refused(HEAD "<Range>7</Range><Range>2</Range>", "ranges are not valid");
        refused(HEAD "<Range>6-5</Range>", "ranges are not valid");
        refused(HEAD "<Range>16</Range>", "ranges are not valid");
        refused(HEAD "<Range>0-18446744073709551616</Range>", "ranges are not valid");
        refused(HEAD "<Range>1</Range", "ranges are not valid");
        /* A range is digits: no sign, and nothing is not block 0. */
        refused(HEAD "<Range></Range>", "ranges are not valid");
        refused(HEAD "<Range> </Range>", "ranges are not valid");
        refused(HEAD "<Range>0-</Range>", "ranges are not valid");
        refused(HEAD "<Range>+3</Range>", "ranges are not valid");
        refused(HEAD "<Range>-0</Range>", "ranges are not valid");
        refused("<bmap><ImageSize>+65536</ImageSize><BlockSize>4096</BlockSize><BlocksCount>16</BlocksCount>",
                "not a bmaptool block map");
        refused(HEAD SHA256 "<Range chksum=\"4af13f80\"> 0 </Range>", "ranges are not valid");
        refused(HEAD SHA256 "<Range chksum=\"4af13f80d96a387e88b432838ef382fbab85f2f42c5fe0a3b8069a263bcaf9aZ\"> 0 </Range>",
                "ranges are not valid");
        /* A short checksum just before the end of the text: the parser once
         * copied 64 bytes from there, past the end (found by fuzz_bmap). */
        refused(HEAD SHA256 "<Range chksum=\">", "ranges are not valid");
        printf("bmap: ok\n");
        return 0;
}
