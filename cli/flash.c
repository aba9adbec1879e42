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

int brm_cli_read_full(int fd, uint8_t *buf, size_t len, uint64_t off)
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
int brm_cli_pass_range(int fd_in, int fd_out, bool skip_zero, uint8_t *buf, uint64_t off, uint64_t len, uint8_t sha[32],
                      char *why, size_t why_size)
{
        mbedtls_md_context_t md;
        int r;

        if ((r = md_start(&md)) < 0) {
                snprintf(why, why_size, "out of memory");
                return r;
        }
        while (len) {
                size_t n = len < BUF_SIZE ? (size_t)len : BUF_SIZE;
                if ((r = brm_cli_read_full(fd_in, buf, n, off)) < 0) {
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

/* One run of flash: the image and its map, the target, and the buffers. */
struct flash {
        const char *img, *target;
        int ifd, tfd;
        bool is_blk;          /* the target is a block device, not a file */
        struct stat ist;      /* the image */
        struct brm_bmap bm;
        uint64_t mapped;      /* bytes the ranges cover */
        uint8_t *buf;
        uint8_t (*sums)[32];  /* each range's SHA-256 as read from the image */
        char why[512];
};

/* The bytes [*ret_off, *ret_end) of range i: the image's last block may be
 * partial. */
static void range_bytes(const struct brm_bmap *bm, size_t i, uint64_t *ret_off, uint64_t *ret_end)
{
        uint64_t end = (bm->r[i].last + 1) * bm->block_size;

        *ret_off = bm->r[i].first * bm->block_size;
        *ret_end = end > bm->image_size ? bm->image_size : end;
}

/* Opens the image and reads its block map; without one (or with
 * --no-bmap) the map is one range, the whole image. Returns 0, or prints
 * why and returns -errno. */
static int open_image(struct flash *f, bool use_bmap)
{
        char bmap_path[PATH_MAX];
        size_t l = strlen(f->img);
        int r;

        if ((f->ifd = open(f->img, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f->ifd, &f->ist) < 0 || !S_ISREG(f->ist.st_mode)) {
                r = f->ifd < 0 ? -errno : -EINVAL;
                fprintf(stderr, "bramble flash: %s: %s\n", f->img, f->ifd < 0 ? strerror(-r) : "not a regular file");
                return r;
        }
        if (l > 3 && strcmp(f->img + l - 3, ".xz") == 0) {
                fprintf(stderr, "bramble flash: %s is compressed; decompress it first (xz -dk %s)\n", f->img, f->img);
                return -EINVAL;
        }
        snprintf(bmap_path, sizeof(bmap_path), "%s.bmap", f->img);
        if (use_bmap && access(bmap_path, F_OK) == 0) {
                uint8_t *text;
                size_t len;
                if ((r = brm_file_read(bmap_path, 16u << 20, &text, &len)) < 0) {
                        fprintf(stderr, "bramble flash: cannot read %s: %s\n", bmap_path, brm_strerror(r));
                        return r;
                }
                r = brm_bmap_parse((const char *)text, len, &f->bm, f->why, sizeof(f->why));
                free(text);
                if (r == 0 && f->bm.image_size != (uint64_t)f->ist.st_size) {
                        snprintf(f->why, sizeof(f->why), "it describes an image of %" PRIu64 " bytes, the image has %" PRIu64,
                                 f->bm.image_size, (uint64_t)f->ist.st_size);
                        r = -EINVAL;
                }
                if (r < 0)
                        fprintf(stderr, "bramble flash: %s does not fit %s: %s (pass --no-bmap to write every block)\n", bmap_path,
                                f->img, f->why);
                return r;
        }
        f->bm.block_size = 4096;
        f->bm.image_size = (uint64_t)f->ist.st_size;
        if (!(f->bm.r = calloc(1, sizeof(*f->bm.r)))) {
                fprintf(stderr, "bramble flash: out of memory\n");
                return -ENOMEM;
        }
        f->bm.n = 1;
        f->bm.r[0].first = 0;
        f->bm.r[0].last = (f->bm.image_size + f->bm.block_size - 1) / f->bm.block_size - 1;
        return 0;
}

/* Opens the target, a block device (card, loop device) or a regular file
 * (created when missing), after the checks that keep flash off a disk in
 * use. Returns 0, or prints why and returns -errno. */
static int open_target(struct flash *f)
{
        struct stat tst;
        uint64_t tsize = 0;
        int r;

        if (stat(f->target, &tst) == 0) {
                f->is_blk = S_ISBLK(tst.st_mode);
                if (!f->is_blk && !S_ISREG(tst.st_mode)) {
                        fprintf(stderr, "bramble flash: %s is neither a block device nor a regular file\n", f->target);
                        return -EINVAL;
                }
                if (!f->is_blk && tst.st_dev == f->ist.st_dev && tst.st_ino == f->ist.st_ino) {
                        fprintf(stderr, "bramble flash: %s is the image itself\n", f->target);
                        return -EINVAL;
                }
                if (brm_target_check(&tst, f->why, sizeof(f->why)) < 0) {
                        fprintf(stderr, "bramble flash: refusing to write %s: %s\n", f->target, f->why);
                        return -EBUSY;
                }
        } else if (errno == ENOENT) {
                f->is_blk = false;
        } else {
                r = -errno;
                fprintf(stderr, "bramble flash: %s: %s\n", f->target, strerror(-r));
                return r;
        }
        if (!f->is_blk) {
                f->tfd = open(f->target, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (f->tfd < 0 || ftruncate(f->tfd, (off_t)f->bm.image_size) < 0) {
                        r = -errno;
                        fprintf(stderr, "bramble flash: cannot create %s: %s\n", f->target, strerror(-r));
                        return r;
                }
                return 0;
        }
        /* O_EXCL on a block device fails with EBUSY while the kernel uses
         * it (mounted, swap, device-mapper): the last guard. */
        if ((f->tfd = open(f->target, O_RDWR | O_EXCL | O_CLOEXEC)) < 0) {
                r = -errno;
                fprintf(stderr, "bramble flash: cannot open %s: %s\n", f->target,
                        r == -EBUSY ? "it is in use (mounted or held by the kernel)" : strerror(-r));
                return r;
        }
        if (ioctl(f->tfd, BLKGETSIZE64, &tsize) < 0 || tsize < f->bm.image_size) {
                fprintf(stderr, "bramble flash: %s holds %" PRIu64 " MiB; the image needs %" PRIu64 " MiB\n", f->target,
                        tsize >> 20, (f->bm.image_size + (1u << 20) - 1) >> 20);
                return -ENOSPC;
        }
        return 0;
}

/* Copies every range of the map, keeping each one's SHA-256 and checking
 * it against the map's. Returns 0, or prints why and returns -errno. */
static int copy_ranges(struct flash *f)
{
        const struct brm_bmap *bm = &f->bm;
        uint64_t off, end;
        int r;

        if (!(f->buf = malloc(BUF_SIZE)) || !(f->sums = calloc(bm->n, sizeof(*f->sums)))) {
                fprintf(stderr, "bramble flash: out of memory\n");
                return -ENOMEM;
        }
        for (size_t i = 0; i < bm->n; i++) {
                range_bytes(bm, i, &off, &end);
                f->mapped += end - off;
        }
        printf("writing %s to %s: %" PRIu64 " of %" PRIu64 " MiB%s\n", f->img, f->target, (f->mapped + (1u << 20) - 1) >> 20,
               (bm->image_size + (1u << 20) - 1) >> 20, bm->n > 1 || bm->r[0].has_sha ? " (block map)" : "");
        fflush(stdout);
        for (size_t i = 0; i < bm->n; i++) {
                range_bytes(bm, i, &off, &end);
                /* Zeros are not written to a fresh file, which stays sparse. */
                if ((r = brm_cli_pass_range(f->ifd, f->tfd, !f->is_blk, f->buf, off, end - off, f->sums[i], f->why, sizeof(f->why))) < 0) {
                        fprintf(stderr, "bramble flash: %s\n", f->why);
                        return r;
                }
                if (bm->r[i].has_sha && memcmp(f->sums[i], bm->r[i].sha, 32) != 0) {
                        fprintf(stderr, "bramble flash: %s does not match its block map at blocks %" PRIu64 "-%" PRIu64
                                        " (corrupted download?); the target is incomplete\n", f->img, bm->r[i].first, bm->r[i].last);
                        return -EIO;
                }
        }
        return 0;
}

/* Flushes the target and reads every range back from the device, not the
 * page cache, comparing it with what was read from the image. Returns 0,
 * or prints why and returns -errno. */
static int verify_ranges(struct flash *f)
{
        uint64_t off, end;
        uint8_t sha[32];
        int r;

        if (fsync(f->tfd) < 0) {
                r = -errno;
                fprintf(stderr, "bramble flash: flushing %s failed: %s\n", f->target, strerror(-r));
                return r;
        }
        if (f->is_blk)
                (void)ioctl(f->tfd, BLKFLSBUF, 0);
        (void)posix_fadvise(f->tfd, 0, 0, POSIX_FADV_DONTNEED);
        for (size_t i = 0; i < f->bm.n; i++) {
                range_bytes(&f->bm, i, &off, &end);
                if ((r = brm_cli_pass_range(f->tfd, -1, false, f->buf, off, end - off, sha, f->why, sizeof(f->why))) < 0) {
                        fprintf(stderr, "bramble flash: verifying %s: %s\n", f->target, f->why);
                        return r;
                }
                if (memcmp(sha, f->sums[i], 32) != 0) {
                        fprintf(stderr, "bramble flash: verification failed: %s reads back different data at bytes %" PRIu64 "-%" PRIu64
                                        " (a failing or fake card?)\n", f->target, off, end - 1);
                        return -EIO;
                }
        }
        printf("verified %" PRIu64 " MiB read back from %s\n", (f->mapped + (1u << 20) - 1) >> 20, f->target);
        return 0;
}

int brm_cli_flash(struct brm_cli *c, int argc, char **argv)
{
        const char *cmd = "flash";
        struct flash f = { .ifd = -1, .tfd = -1 };
        struct brm_bootcfg o = { 0 };
        bool use_bmap = true;
        int rc = EXIT_FAIL, r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("usage: bramble flash IMG TARGET [--master HOST:PORT|auto ... --token TOKEN [--name-prefix P] [--name NAME]\n"
                               "                  [--wifi-ssid SSID [--wifi-hidden] ... --wifi-psk-stdin --wifi-country CC]] [--no-bmap]\n"
                               "Writes the image IMG to TARGET (a card such as /dev/sdX or /dev/mmcblk0, a loop device or a file),\n"
                               "verifies it by reading it back, then writes bramble.json with the join settings.\n"
                               "Only the blocks listed in IMG.bmap are written when it exists.\n"
                               "Wi-Fi passphrases are read from stdin, one line per --wifi-ssid; only the derived key is written\n"
                               "(see 'bramble image configure --help').\n");
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
                if (!f.img)
                        f.img = argv[i];
                else if (!f.target)
                        f.target = argv[i];
                else
                        return brm_cli_command_error(cmd, "unexpected argument '%s'", argv[i]);
        }
        if (!f.img || !f.target)
                return brm_cli_command_error(cmd, "%s", "usage: bramble flash IMG TARGET [--master HOST:PORT --token TOKEN [--name-prefix P]]");
        if ((o.nmasters || o.master_auto || o.name || o.prefix || o.nwifi) && !o.token)
                return brm_cli_command_error(cmd, "%s", "--token is required with --master (create one with 'bramble token create')");
        if (o.token && !o.nmasters && !o.master_auto)
                return brm_cli_command_error(cmd, "%s", "--master HOST:PORT is required with --token (or --master auto)");
        /* Before anything is written: a bad passphrase stops here. */
        if (brm_bootcfg_read_psks(cmd, &o, stdin) < 0)
                return EXIT_USAGE;

        if (open_image(&f, use_bmap) < 0 || open_target(&f) < 0 || copy_ranges(&f) < 0 || verify_ranges(&f) < 0)
                goto out;
        if (f.is_blk)
                (void)ioctl(f.tfd, BLKRRPART, 0); /* let the system see the new partitions */
        close(f.tfd);
        f.tfd = -1;
        if (o.token) {
                if (brm_cli_image_write_bootcfg(cmd, f.target, &o) < 0)
                        goto out;
                printf("configured %s: master %s%s, name prefix %s", f.target, o.master_auto ? "auto (mDNS)" : o.masters[0],
                       o.nmasters > 1 ? " (+more)" : "", o.prefix ? o.prefix : "bramble");
                if (o.nwifi)
                        printf(", Wi-Fi '%s'%s (country %s)", o.wifi[0].ssid, o.nwifi > 1 ? " (+more)" : "", o.country);
                printf("\n");
        }
        sync();
        rc = 0;
out:
        if (f.ifd >= 0)
                close(f.ifd);
        if (f.tfd >= 0)
                close(f.tfd);
        free(f.buf);
        free(f.sums);
        brm_bmap_free(&f.bm);
        return rc;
}
