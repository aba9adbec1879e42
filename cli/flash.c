/* bramble flash: write an image to a card, verify it, configure it.
 *
 * Flashing copies only the blocks the image's block map (IMG.bmap, written
 * by bmaptool at build time) lists, checks each range against the map's
 * SHA-256 while reading, reads the target back after a flush to verify it,
 * and only then writes the configuration. It refuses a target that is
 * mounted (or has a mounted partition), backs the running system, is used
 * as swap or is held by device-mapper/RAID (target.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/fs.h>

#include <mbedtls/md.h>

#include "err.h"
#include "fileio.h"

#include "bmap.h"
#include "bootcfg.h"
#include "common.h"
#include "flash.h"
#include "image.h"
#include "target.h"

#define BUF_SIZE (1u << 20)

static int md_start(mbedtls_md_context_t *md)
{
        mbedtls_md_init(md);
        if (mbedtls_md_setup(md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0) != 0 || mbedtls_md_starts(md) != 0) {
                mbedtls_md_free(md);
                return -ENOMEM;
        }
        return 0;
}

static int read_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
        while (len) {
                ssize_t n = pread(fd, buf, len, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                buf += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
        while (len) {
                ssize_t n = pwrite(fd, buf, len, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                buf += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

static bool all_zero(const uint8_t *buf, size_t len)
{
        return len == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
}

/* Copies (fd_out >= 0) or only hashes the bytes [off, off+len) of fd_in,
 * returning their SHA-256. With skip_zero, blocks of zeros are not written
 * (a fresh regular file reads zeros there already and stays sparse). */
static int pass_range(int fd_in, int fd_out, bool skip_zero, uint8_t *buf, uint64_t off, uint64_t len, uint8_t sha[32],
                      char *why, size_t why_size)
{
        mbedtls_md_context_t md;
        int r;

        if ((r = md_start(&md)) < 0)
                return r;
        while (len) {
                size_t n = len < BUF_SIZE ? (size_t)len : BUF_SIZE;
                if ((r = read_full(fd_in, buf, n, off)) < 0) {
                        snprintf(why, why_size, "reading at byte %" PRIu64 " failed: %s", off, brm_strerror(r));
                        goto out;
                }
                mbedtls_md_update(&md, buf, n);
                if (fd_out >= 0 && !(skip_zero && all_zero(buf, n)) && (r = write_full(fd_out, buf, n, off)) < 0) {
                        snprintf(why, why_size, "writing at byte %" PRIu64 " failed: %s", off, brm_strerror(r));
                        goto out;
                }
                off += n;
                len -= n;
        }
        mbedtls_md_finish(&md, sha);
        r = 0;
out:
        mbedtls_md_free(&md);
        return r;
}

int brm_cli_flash(struct brm_cli *c, int argc, char **argv)
{
        const char *cmd = "flash", *img = NULL, *target = NULL;
        struct brm_bootcfg o = { 0 };
        bool use_bmap = true, is_blk;
        struct stat ist, tst;
        struct brm_bmap bm = { 0 };
        char why[512], bmap_path[PATH_MAX];
        uint8_t *buf = NULL, (*sums)[32] = NULL;
        uint64_t mapped = 0, tsize = 0;
        int ifd = -1, tfd = -1, rc = EXIT_FAIL, r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("usage: bramble flash IMG TARGET [--master HOST:PORT ... --token TOKEN [--name-prefix P] [--name NAME]] [--no-bmap]\n"
                               "Writes the image IMG to TARGET (a card such as /dev/sdX or /dev/mmcblk0, a loop device or a file),\n"
                               "verifies it by reading it back, then writes bramble.json with the join settings.\n"
                               "Only the blocks listed in IMG.bmap are written when it exists.\n");
                        return 0;
                }
                if (strcmp(argv[i], "--no-bmap") == 0) {
                        use_bmap = false;
                        continue;
                }
                r = brm_bootcfg_take_opt(cmd, argc, argv, &i, &o);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (argv[i][0] == '-' && argv[i][1])
                        return brm_cli_command_error(cmd, "unknown option '%s'", argv[i]);
                if (!img)
                        img = argv[i];
                else if (!target)
                        target = argv[i];
                else
                        return brm_cli_command_error(cmd, "unexpected argument '%s'", argv[i]);
        }
        if (!img || !target)
                return brm_cli_command_error(cmd, "%s", "usage: bramble flash IMG TARGET [--master HOST:PORT --token TOKEN [--name-prefix P]]");
        if ((o.nmasters || o.name || o.prefix) && !o.token)
                return brm_cli_command_error(cmd, "%s", "--token is required with --master (create one with 'bramble token create')");
        if (o.token && !o.nmasters)
                return brm_cli_command_error(cmd, "%s", "--master HOST:PORT is required with --token");

        if ((ifd = open(img, O_RDONLY | O_CLOEXEC)) < 0 || fstat(ifd, &ist) < 0 || !S_ISREG(ist.st_mode)) {
                fprintf(stderr, "bramble flash: %s: %s\n", img, ifd < 0 ? strerror(errno) : "not a regular file");
                goto out;
        }
        {
                size_t l = strlen(img);
                if (l > 3 && strcmp(img + l - 3, ".xz") == 0) {
                        fprintf(stderr, "bramble flash: %s is compressed; decompress it first (xz -dk %s)\n", img, img);
                        goto out;
                }
        }
        snprintf(bmap_path, sizeof(bmap_path), "%s.bmap", img);
        if (use_bmap && access(bmap_path, F_OK) == 0) {
                uint8_t *text;
                size_t len;
                if ((r = brm_file_read(bmap_path, 16u << 20, &text, &len)) < 0) {
                        fprintf(stderr, "bramble flash: cannot read %s: %s\n", bmap_path, brm_strerror(r));
                        goto out;
                }
                r = brm_bmap_parse((const char *)text, len, &bm, why, sizeof(why));
                free(text);
                if (r == 0 && bm.image_size != (uint64_t)ist.st_size) {
                        snprintf(why, sizeof(why), "it describes an image of %" PRIu64 " bytes, the image has %" PRIu64,
                                 bm.image_size, (uint64_t)ist.st_size);
                        r = -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "bramble flash: %s does not fit %s: %s (pass --no-bmap to write every block)\n", bmap_path, img, why);
                        goto out;
                }
        } else {
                /* No block map: one range, the whole image. */
                bm.block_size = 4096;
                bm.image_size = (uint64_t)ist.st_size;
                if (!(bm.r = calloc(1, sizeof(*bm.r))))
                        goto out;
                bm.n = 1;
                bm.r[0].first = 0;
                bm.r[0].last = (bm.image_size + bm.block_size - 1) / bm.block_size - 1;
        }

        /* The target: a block device (card, loop device) or a regular file. */
        if (stat(target, &tst) == 0) {
                is_blk = S_ISBLK(tst.st_mode);
                if (!is_blk && !S_ISREG(tst.st_mode)) {
                        fprintf(stderr, "bramble flash: %s is neither a block device nor a regular file\n", target);
                        goto out;
                }
                if (!is_blk && tst.st_dev == ist.st_dev && tst.st_ino == ist.st_ino) {
                        fprintf(stderr, "bramble flash: %s is the image itself\n", target);
                        goto out;
                }
                if (brm_target_check(&tst, why, sizeof(why)) < 0) {
                        fprintf(stderr, "bramble flash: refusing to write %s: %s\n", target, why);
                        goto out;
                }
        } else if (errno == ENOENT) {
                is_blk = false;
        } else {
                fprintf(stderr, "bramble flash: %s: %s\n", target, strerror(errno));
                goto out;
        }
        if (is_blk) {
                /* O_EXCL on a block device fails with EBUSY while the kernel
                 * uses it (mounted, swap, device-mapper): the last guard. */
                tfd = open(target, O_RDWR | O_EXCL | O_CLOEXEC);
                if (tfd < 0) {
                        fprintf(stderr, "bramble flash: cannot open %s: %s\n", target,
                                errno == EBUSY ? "it is in use (mounted or held by the kernel)" : strerror(errno));
                        goto out;
                }
                if (ioctl(tfd, BLKGETSIZE64, &tsize) < 0 || tsize < bm.image_size) {
                        fprintf(stderr, "bramble flash: %s holds %" PRIu64 " MiB; the image needs %" PRIu64 " MiB\n", target,
                                tsize >> 20, (bm.image_size + (1u << 20) - 1) >> 20);
                        goto out;
                }
        } else {
                tfd = open(target, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (tfd < 0 || ftruncate(tfd, (off_t)bm.image_size) < 0) {
                        fprintf(stderr, "bramble flash: cannot create %s: %s\n", target, strerror(errno));
                        goto out;
                }
        }

        if (!(buf = malloc(BUF_SIZE)) || !(sums = calloc(bm.n, sizeof(*sums))))
                goto out;
        for (size_t i = 0; i < bm.n; i++) {
                uint64_t off = bm.r[i].first * bm.block_size, end = (bm.r[i].last + 1) * bm.block_size;
                if (end > bm.image_size)
                        end = bm.image_size;
                mapped += end - off;
        }
        printf("writing %s to %s: %" PRIu64 " of %" PRIu64 " MiB%s\n", img, target, (mapped + (1u << 20) - 1) >> 20,
               (bm.image_size + (1u << 20) - 1) >> 20, bm.n > 1 || bm.r[0].has_sha ? " (block map)" : "");
        fflush(stdout);
        for (size_t i = 0; i < bm.n; i++) {
                uint64_t off = bm.r[i].first * bm.block_size, end = (bm.r[i].last + 1) * bm.block_size;
                if (end > bm.image_size)
                        end = bm.image_size;
                if (pass_range(ifd, tfd, !is_blk, buf, off, end - off, sums[i], why, sizeof(why)) < 0) {
                        fprintf(stderr, "bramble flash: %s\n", why);
                        goto out;
                }
                if (bm.r[i].has_sha && memcmp(sums[i], bm.r[i].sha, 32) != 0) {
                        fprintf(stderr, "bramble flash: %s does not match its block map at blocks %" PRIu64 "-%" PRIu64
                                        " (corrupted download?); the target is incomplete\n", img, bm.r[i].first, bm.r[i].last);
                        goto out;
                }
        }
        if (fsync(tfd) < 0) {
                fprintf(stderr, "bramble flash: flushing %s failed: %s\n", target, strerror(errno));
                goto out;
        }
        /* Read back from the device, not from the page cache. */
        if (is_blk)
                (void)ioctl(tfd, BLKFLSBUF, 0);
        (void)posix_fadvise(tfd, 0, 0, POSIX_FADV_DONTNEED);
        for (size_t i = 0; i < bm.n; i++) {
                uint64_t off = bm.r[i].first * bm.block_size, end = (bm.r[i].last + 1) * bm.block_size;
                uint8_t sha[32];
                if (end > bm.image_size)
                        end = bm.image_size;
                if (pass_range(tfd, -1, false, buf, off, end - off, sha, why, sizeof(why)) < 0) {
                        fprintf(stderr, "bramble flash: verifying %s: %s\n", target, why);
                        goto out;
                }
                if (memcmp(sha, sums[i], 32) != 0) {
                        fprintf(stderr, "bramble flash: verification failed: %s reads back different data at bytes %" PRIu64 "-%" PRIu64
                                        " (a failing or fake card?)\n", target, off, end - 1);
                        goto out;
                }
        }
        printf("verified %" PRIu64 " MiB read back from %s\n", (mapped + (1u << 20) - 1) >> 20, target);
        if (is_blk)
                (void)ioctl(tfd, BLKRRPART, 0); /* let the system see the new partitions */
        close(tfd);
        tfd = -1;
        if (o.token) {
                if (brm_cli_image_write_bootcfg(cmd, target, &o) < 0)
                        goto out;
                printf("configured %s: master %s%s, name prefix %s\n", target, o.masters[0], o.nmasters > 1 ? " (+more)" : "",
                       o.prefix ? o.prefix : "bramble");
        }
        sync();
        rc = 0;
out:
        if (ifd >= 0)
                close(ifd);
        if (tfd >= 0)
                close(tfd);
        free(buf);
        free(sums);
        brm_bmap_free(&bm);
        return rc;
}
