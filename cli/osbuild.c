/* An OS update bundle from a built image; see osbuild.h. A .img.xz is
 * decompressed into a temporary file first by libarchive's xz filter (the
 * CLI links libarchive for image archives already; it decodes with
 * liblzma). The boot slots are copied out of the FAT with mcopy, as
 * image configure writes bramble.json into it. */
#include "osbuild.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "err.h"
#include "fileio.h"
#include "pki.h"
#include "util.h"

#include "blobup.h"
#include "common.h"
#include "flash.h"
#include "image.h"

#define CHUNK (256u << 10)
#define HASH_BUF (1u << 20)
#define VERSION_TXT_MAX 4096

static int fail(struct brm_osbuild *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct brm_osbuild *b, const char *fmt, ...)
{
        va_list ap;

        if (b->tty)
                fputc('\n', stderr);
        fprintf(stderr, "bramble %s: %s: ", b->cmd, b->file);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_FAIL;
}

static void progress(struct brm_osbuild *b, const char *what, uint64_t done, uint64_t total)
{
        char h1[16], h2[16];

        if (!b->tty)
                return;
        brm_cli_human_bytes(done, h1, sizeof(h1));
        if (total) {
                brm_cli_human_bytes(total, h2, sizeof(h2));
                fprintf(stderr, "\r%s %s / %s (%d%%)   ", what, h1, h2, (int)(done * 100 / total));
        } else {
                fprintf(stderr, "\r%s %s   ", what, h1);
        }
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), n = strlen(suffix);
        return a >= n && strcmp(s + a - n, suffix) == 0;
}

/* FILE.img.xz into TMP/image.img. */
static int decompress(struct brm_osbuild *b)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        uint8_t *buf = malloc(CHUNK);
        uint64_t done = 0;
        int fd = -1, rc = 0;
        la_ssize_t n;

        brm_path(b->img, sizeof(b->img), "%s/image.img", b->tmp);
        if (!a || !buf) {
                rc = fail(b, "out of memory");
                goto out;
        }
        archive_read_support_format_raw(a);
        archive_read_support_filter_xz(a);
        if (archive_read_open_filename(a, b->file, 1 << 16) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK) {
                rc = fail(b, "cannot read it as xz: %s", archive_error_string(a));
                goto out;
        }
        if (archive_filter_code(a, 0) != ARCHIVE_FILTER_XZ) {
                rc = fail(b, "not xz-compressed (name it .img if it is a raw image)");
                goto out;
        }
        if ((fd = open(b->img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
                rc = fail(b, "cannot create %s: %s", b->img, strerror(errno));
                goto out;
        }
        if (!b->tty)
                fprintf(stderr, "decompressing %s\n", b->file);
        while ((n = archive_read_data(a, buf, CHUNK)) > 0) {
                int r = brm_write_all(fd, buf, (size_t)n);
                if (r < 0) {
                        rc = fail(b, "writing %s: %s", b->img, brm_strerror(r));
                        goto out;
                }
                done += (uint64_t)n;
                if ((done & ((16u << 20) - 1)) < CHUNK)
                        progress(b, "decompressing", done, 0);
        }
        if (n < 0) {
                rc = fail(b, "the xz stream is cut short or damaged: %s", archive_error_string(a));
                goto out;
        }
        progress(b, "decompressing", done, 0);
        if (b->tty)
                fputc('\n', stderr);
out:
        if (fd >= 0)
                close(fd);
        archive_read_free(a);
        free(buf);
        return rc;
}

/* The partitions: every one inside the file, 1 a FAT, 2 a squashfs. */
static int check_layout(struct brm_osbuild *b, uint64_t *ret_boot_off, uint64_t *ret_root_size)
{
        uint8_t mbr[512], sb[BRM_SQUASHFS_SB_SIZE], type;
        uint64_t off, size, boot_size, root_size = 0;
        char why[512];
        struct stat st;
        int fd, r;

        if ((r = brm_cli_image_partition(b->img, 1, ret_boot_off, &boot_size, why, sizeof(why))) < 0) {
                fprintf(stderr, "bramble %s: %s\n", b->cmd, why);
                return EXIT_FAIL;
        }
        if ((fd = open(b->img, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
            brm_cli_read_full(fd, mbr, sizeof(mbr), 0) < 0) {
                r = errno;
                if (fd >= 0)
                        close(fd);
                return fail(b, "cannot read it: %s", strerror(r));
        }
        for (int i = 1; i <= 4; i++) {
                if (brm_mbr_partition(mbr, i, 512, &off, &size, &type) < 0) {
                        if (i == 2) {
                                close(fd);
                                return fail(b, "partition 2 (the root slot) is empty: not a Bramble image?");
                        }
                        continue;
                }
                if (off + size > (uint64_t)st.st_size) {
                        close(fd);
                        return fail(b, "truncated: partition %d ends at %" PRIu64 " bytes, the file has %" PRIu64, i,
                                    off + size, (uint64_t)st.st_size);
                }
                if (i == 2) {
                        b->root_off = off;
                        root_size = size;
                }
        }
        r = brm_cli_read_full(fd, sb, sizeof(sb), b->root_off);
        close(fd);
        if (r < 0)
                return fail(b, "cannot read partition 2: %s", brm_strerror(r));
        if (brm_osb_squashfs_size(sb, sizeof(sb), root_size, ret_root_size, why, sizeof(why)) < 0)
                return fail(b, "%s", why);
        return 0;
}

/* SHA-256 of [off, off+len) of path into digest. */
static int hash_file(struct brm_osbuild *b, const char *path, uint64_t off, uint64_t len, char digest[BRM_OCI_DIGEST_SIZE])
{
        uint8_t *buf = malloc(HASH_BUF), sha[32];
        char why[512], hex[65];
        int fd = open(path, O_RDONLY | O_CLOEXEC), r;

        if (fd < 0 || !buf) {
                r = errno;
                free(buf);
                if (fd >= 0)
                        close(fd);
                return fail(b, "cannot read %s: %s", path, strerror(r));
        }
        r = brm_cli_pass_range(fd, -1, false, buf, off, len, sha, why, sizeof(why));
        close(fd);
        free(buf);
        if (r < 0)
                return fail(b, "%s: %s", path, why);
        brm_hex(sha, sizeof(sha), hex);
        snprintf(digest, BRM_OCI_DIGEST_SIZE, "sha256:%s", hex);
        return 0;
}

static void digest_of(const char *text, char digest[BRM_OCI_DIGEST_SIZE])
{
        uint8_t sha[32];
        char hex[65];

        brm_pki_sha256((const uint8_t *)text, strlen(text), sha);
        brm_hex(sha, sizeof(sha), hex);
        snprintf(digest, BRM_OCI_DIGEST_SIZE, "sha256:%s", hex);
}

/* The files of TMP/boot/slot-S, hashed, and its version.txt. */
static int read_slot(struct brm_osbuild *b, int slot, struct brm_osb_file *files, size_t *n, struct brm_os_version *v)
{
        char dir[PATH_MAX], path[PATH_MAX], why[512];
        struct dirent *d;
        struct stat st;
        DIR *dh;
        int rc = 0;

        brm_path(dir, sizeof(dir), "%s/boot/slot-%c", b->tmp, slot);
        if (!(dh = opendir(dir)))
                return fail(b, "the boot partition has no slot-%c/ directory (an image from before A/B slots?)", slot);
        *n = 0;
        while (rc == 0 && (d = readdir(dh))) {
                if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
                        continue;
                if (brm_path(path, sizeof(path), "%s/%s", dir, d->d_name) < 0 || lstat(path, &st) < 0 ||
                    strlen(d->d_name) > BRM_OSB_NAME_MAX) {
                        rc = fail(b, "slot-%c/%.*s: cannot read it, or its name is longer than %d", slot,
                                  BRM_OSB_NAME_MAX, d->d_name, BRM_OSB_NAME_MAX);
                        break;
                }
                if (!S_ISREG(st.st_mode)) {
                        rc = fail(b, "slot-%c/%s is not a file (a bundle carries the slot's files only)", slot, d->d_name);
                        break;
                }
                if (*n == BRM_OSB_MAX_FILES) {
                        rc = fail(b, "slot-%c/ holds more than %d files", slot, BRM_OSB_MAX_FILES);
                        break;
                }
                snprintf(files[*n].name, sizeof(files[*n].name), "%s", d->d_name);
                files[*n].size = (uint64_t)st.st_size;
                files[*n].slot = slot;
                if ((rc = hash_file(b, path, 0, (uint64_t)st.st_size, files[*n].digest)) != 0)
                        break;
                (*n)++;
        }
        closedir(dh);
        if (rc != 0)
                return rc;
        {
                uint8_t *text = NULL;
                size_t len = 0;
                int r;

                brm_path(path, sizeof(path), "%s/version.txt", dir);
                if ((r = brm_file_read(path, VERSION_TXT_MAX, &text, &len)) < 0)
                        return fail(b, "slot-%c/version.txt: %s", slot,
                                    r == -ENOENT ? "missing (an image from before version.txt?)" : brm_strerror(r));
                r = brm_osb_version_parse((const char *)text, len, v, why, sizeof(why));
                free(text);
                if (r < 0)
                        return fail(b, "slot-%c/version.txt: %s", slot, why);
        }
        return 0;
}

/* Copies slot-a/ and slot-b/ out of the FAT and makes the boot parts. */
static int boot_parts(struct brm_osbuild *b, uint64_t boot_off)
{
        static struct brm_osb_file fa[BRM_OSB_MAX_FILES], fb[BRM_OSB_MAX_FILES];
        struct brm_os_version va, vb;
        char spec[PATH_MAX + 32], dst[PATH_MAX], errfile[PATH_MAX], why[512];
        size_t na = 0, nb = 0;
        int r;

        brm_path(dst, sizeof(dst), "%s/boot/", b->tmp);
        brm_path(errfile, sizeof(errfile), "%s/mtools.err", b->tmp);
        if (mkdir(dst, 0700) < 0)
                return fail(b, "cannot create %s: %s", dst, strerror(errno));
        snprintf(spec, sizeof(spec), "%s@@%" PRIu64, b->img, boot_off);
        {
                char *argv[] = { "mcopy", "-s", "-n", "-m", "-i", spec, "::slot-a", "::slot-b", dst, NULL };
                r = brm_cli_mtools_run(argv, errfile, NULL, 0, NULL);
        }
        if (r == -ENOENT) {
                fprintf(stderr, "bramble %s: mcopy not found: install mtools (Debian/Ubuntu: apt install mtools)\n", b->cmd);
                return EXIT_FAIL;
        }
        if (r < 0)
                return fail(b, "mcopy cannot copy slot-a/ and slot-b/ out of the boot partition: %s",
                            brm_cli_first_line(errfile, why, sizeof(why)));
        if ((r = read_slot(b, 'a', fa, &na, &va)) != 0 || (r = read_slot(b, 'b', fb, &nb, &vb)) != 0)
                return r;
        if (strcmp(va.version, vb.version) != 0 || strcmp(va.arch, vb.arch) != 0 || strcmp(va.kernel, vb.kernel) != 0)
                return fail(b, "the slots' version.txt disagree: slot-a is %s %s (kernel %s), slot-b %s %s (kernel %s)",
                            va.version, va.arch, va.kernel, vb.version, vb.arch, vb.kernel);
        b->v = va;
        if ((r = brm_osb_boot_parts(fa, na, fb, nb, b->parts + 1, BRM_OSB_MAX_PARTS - 1, why, sizeof(why))) < 0)
                return fail(b, "%s", why);
        b->n = 1 + (size_t)r;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/* The slots' files, the decompressed image, mtools' errors. */
static void remove_tmp(struct brm_osbuild *b)
{
        if (b->tmp[0] && nftw(b->tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
                fprintf(stderr, "bramble %s: could not remove %s: %s\n", b->cmd, b->tmp, strerror(errno));
        b->tmp[0] = '\0';
}

/* Opens every part's file and removes the temporary ones: the upload reads
 * them through their descriptors, and an upload cut short by a signal
 * leaves nothing behind. */
static int open_parts(struct brm_osbuild *b)
{
        char path[PATH_MAX];

        for (size_t i = 0; i < b->n; i++) {
                const struct brm_osb_file *p = &b->parts[i];
                if (p->slot)
                        brm_path(path, sizeof(path), "%s/boot/slot-%c/%s", b->tmp, p->slot, strchr(p->name, '/') + 1);
                else
                        snprintf(path, sizeof(path), "%s", b->img);
                if ((b->fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                        return fail(b, "cannot read %s: %s", path, strerror(errno));
        }
        remove_tmp(b);
        return 0;
}

int brm_osbuild_make(struct brm_osbuild *b, const char *cmd, const char *file)
{
        const char *tmpdir = getenv("TMPDIR");
        uint64_t boot_off = 0, root_size = 0;
        int rc;

        memset(b, 0, sizeof(*b));
        for (size_t i = 0; i < BRM_OSB_MAX_PARTS; i++)
                b->fds[i] = -1;
        b->cmd = cmd;
        b->file = file;
        b->tty = isatty(STDERR_FILENO);
        /* The decompressed image goes here: $TMPDIR when set. */
        if (brm_path(b->tmp, sizeof(b->tmp), "%s/bramble-os.XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp") < 0 ||
            !mkdtemp(b->tmp)) {
                fprintf(stderr, "bramble %s: cannot create a temporary directory in %s: %s\n", cmd,
                        tmpdir && tmpdir[0] ? tmpdir : "/tmp", strerror(errno));
                b->tmp[0] = '\0';
                return EXIT_FAIL;
        }
        if (ends_with(file, ".xz")) {
                if ((rc = decompress(b)) != 0)
                        return rc;
        } else {
                snprintf(b->img, sizeof(b->img), "%s", file);
        }
        if ((rc = check_layout(b, &boot_off, &root_size)) != 0 || (rc = boot_parts(b, boot_off)) != 0)
                return rc;
        if (!b->tty)
                fprintf(stderr, "hashing root.squashfs (%" PRIu64 " bytes)\n", root_size);
        snprintf(b->parts[0].name, sizeof(b->parts[0].name), "root.squashfs");
        b->parts[0].size = root_size;
        b->parts[0].slot = 0;
        if ((rc = hash_file(b, b->img, b->root_off, root_size, b->parts[0].digest)) != 0)
                return rc;
        for (size_t i = 0; i < b->n; i++)
                b->total += b->parts[i].size;
        if (!(b->config = brm_osb_config_json(&b->v, b->parts, b->n)))
                return fail(b, "out of memory");
        digest_of(b->config, b->config_digest);
        if (!(b->manifest = brm_osb_manifest_json(b->config_digest, strlen(b->config), b->parts, b->n)))
                return fail(b, "out of memory");
        digest_of(b->manifest, b->manifest_digest);
        return open_parts(b);
}

/* One part's bytes and its commit. */
static int upload_part(struct brm_osbuild *b, struct brm_cli *c, size_t i, uint8_t *buf, uint64_t *sent)
{
        const struct brm_osb_file *p = &b->parts[i];
        char why[512], digest[BRM_OCI_DIGEST_SIZE];
        uint64_t off = p->slot ? 0 : b->root_off, left = p->size;
        int rc;

        while (left) {
                size_t n = left < CHUNK ? (size_t)left : CHUNK;
                if ((rc = brm_cli_read_full(b->fds[i], buf, n, off)) < 0)
                        return fail(b, "reading %s: %s", p->name, brm_strerror(rc));
                if ((rc = brm_cli_blob_data(c, buf, n, why, sizeof(why))) != 0) {
                        fail(b, "%s", why);
                        return rc;
                }
                off += n;
                left -= n;
                *sent += n;
                progress(b, "uploading", *sent, b->total);
        }
        if ((rc = brm_cli_blob_commit(c, p->digest, (int64_t)p->size, digest, NULL, why, sizeof(why))) != 0) {
                fail(b, "%s: %s", p->name, why);
                return rc;
        }
        return 0;
}

int brm_osbuild_upload(struct brm_osbuild *b, struct brm_cli *c, char *ret_ref, size_t ref_size)
{
        char ref[128], why[512], digest[BRM_OCI_DIGEST_SIZE];
        uint8_t *buf;
        uint64_t sent = 0, held_bytes = 0;
        size_t held = 0;
        int rc = 0;

        if ((rc = brm_cli_connect(c)) != 0)
                return rc;
        if (!(buf = malloc(CHUNK)))
                return fail(b, "out of memory");
        if (!b->tty) {
                char human[16];
                brm_cli_human_bytes(b->total, human, sizeof(human));
                fprintf(stderr, "uploading %zu parts (%s)\n", b->n, human);
        }
        for (size_t i = 0; i < b->n && rc == 0; i++) {
                /* A part the master holds already (another version's
                 * kernel, the same bundle again) is not sent twice. */
                rc = brm_cli_blob_stored(c, b->parts[i].digest, b->parts[i].size, why, sizeof(why));
                if (rc == 0) {
                        held++;
                        held_bytes += b->parts[i].size;
                        sent += b->parts[i].size;
                        progress(b, "uploading", sent, b->total);
                        continue;
                }
                if (rc == EXIT_CONNECT) {
                        fail(b, "%s", why);
                        break;
                }
                rc = upload_part(b, c, i, buf, &sent);
        }
        free(buf);
        if (rc != 0)
                return rc;
        if (b->tty)
                fputc('\n', stderr);
        if (held) {
                char human[16];
                brm_cli_human_bytes(held_bytes, human, sizeof(human));
                fprintf(stderr, "%zu of %zu parts were on the master already (%s not sent)\n", held, b->n, human);
        }
        if ((rc = brm_cli_blob_put(c, b->config, strlen(b->config), digest, why, sizeof(why))) != 0 ||
            (rc = brm_cli_blob_put(c, b->manifest, strlen(b->manifest), digest, why, sizeof(why))) != 0) {
                fail(b, "%s", why);
                return rc;
        }
        snprintf(ref, sizeof(ref), "%s:%s", BRM_OSB_REPO, b->v.version);
        return brm_cli_image_tag(c, ref, BRM_OCI_MANIFEST, b->manifest_digest, strlen(b->manifest), ret_ref, ref_size);
}

void brm_osbuild_free(struct brm_osbuild *b)
{
        free(b->config);
        free(b->manifest);
        b->config = b->manifest = NULL;
        for (size_t i = 0; i < BRM_OSB_MAX_PARTS; i++) {
                if (b->fds[i] >= 0)
                        close(b->fds[i]);
                b->fds[i] = -1;
        }
        remove_tmp(b);
}
