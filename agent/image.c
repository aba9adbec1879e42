/* Images: root file-system directories and OCI image layouts; see image.h.
 *
 * A layer is applied in two passes over its blob. The first collects and
 * applies its whiteouts: they hide what lower layers put there, so they must
 * take effect before this layer's own files land — also when the tar lists
 * a directory's files before its ".wh..wh..opq" marker. The second pass
 * extracts the rest. Both passes hash what they read and must match the
 * digest, so a blob that is wrong or changes between passes is refused and
 * the half-built root is thrown away. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <mbedtls/md.h>

#include "fileio.h"
#include "oci.h"
#include "unpackfs.h"
#include "util.h"

#define JSON_MAX (4u << 20)
#define READ_CHUNK 65536

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))

struct ctx {
        const char *store;
        char *why;
        size_t why_size;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf that never follows symbolic links. */
static int rm_rf(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 ? -errno : 0;
        return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

/* ---- digests and blobs ---- */

struct hasher {
        mbedtls_md_context_t md;
};

static int hasher_init(struct hasher *h)
{
        mbedtls_md_init(&h->md);
        if (mbedtls_md_setup(&h->md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0) != 0 ||
            mbedtls_md_starts(&h->md) != 0) {
                mbedtls_md_free(&h->md);
                return -ENOMEM;
        }
        return 0;
}

static bool hasher_matches(struct hasher *h, const char *hex)
{
        uint8_t out[32];
        char got[65];
        bool ok = mbedtls_md_finish(&h->md, out) == 0;
        mbedtls_md_free(&h->md);
        brm_hex(out, sizeof(out), got);
        return ok && strcmp(got, hex) == 0;
}

/* A small blob (index, manifest, config), read whole and verified against
 * its digest: 0 and the bytes (the caller frees them), or -errno with the
 * reason in x->why. */
static int read_blob(const char *layout, const char *digest, struct ctx *x, char **ret, size_t *ret_len)
{
        char hex[65], path[1200];
        struct hasher h;
        uint8_t *data;
        size_t len;

        if (brm_oci_digest_hex(digest, hex) < 0) {
                snprintf(x->why, x->why_size, "unsupported or malformed digest '%s'", digest ? digest : "");
                return -EINVAL;
        }
        if (brm_path(path, sizeof(path), "%s/blobs/sha256/%s", layout, hex) < 0 ||
            brm_file_read(path, JSON_MAX, &data, &len) < 0) {
                snprintf(x->why, x->why_size, "blob %s is missing from the layout", digest);
                return -ENOENT;
        }
        if (hasher_init(&h) < 0 || mbedtls_md_update(&h.md, data, len) != 0 || !hasher_matches(&h, hex)) {
                free(data);
                snprintf(x->why, x->why_size, "blob %s does not match its digest: refused", digest);
                return -EINVAL;
        }
        *ret = (char *)data;
        *ret_len = len;
        return 0;
}

/* ---- layers ---- */

struct blob_reader {
        int fd;
        struct hasher h;
        uint8_t buf[READ_CHUNK];
};

static la_ssize_t blob_read(struct archive *a, void *arg, const void **out)
{
        struct blob_reader *br = arg;
        ssize_t n;

        while ((n = read(br->fd, br->buf, sizeof(br->buf))) < 0 && errno == EINTR)
                ;
        if (n > 0)
                mbedtls_md_update(&br->h.md, br->buf, (size_t)n);
        *out = br->buf;
        return n;
}

/* Entry names: relative, "./" and "/" stripped, no ".." component. */
static int clean_name(const char *in, char *out, size_t size)
{
        while (in[0] == '.' && in[1] == '/')
                in += 2;
        while (*in == '/')
                in++;
        if (brm_path(out, size, "%s", in) < 0)
                return -ENAMETOOLONG;
        for (char *p = out; *p;) {
                size_t l = strcspn(p, "/");
                if (l == 2 && p[0] == '.' && p[1] == '.')
                        return -EINVAL;
                p += l;
                while (*p == '/')
                        p++;
        }
        while (strlen(out) > 1 && out[strlen(out) - 1] == '/')
                out[strlen(out) - 1] = '\0';
        return 0;
}

static int apply_pass(int rootfd, const char *blob, const char *hex, bool whiteouts, struct ctx *x)
{
        struct archive *a = archive_read_new();
        struct blob_reader *br = calloc(1, sizeof(*br));
        struct brm_unpackfs_dirs dirs = { 0 };
        struct archive_entry *e;
        char why[512];
        int r = 0, ar;

        if (!a || !br || hasher_init(&br->h) < 0) {
                archive_read_free(a);
                free(br);
                return -ENOMEM;
        }
        if ((br->fd = open(blob, O_RDONLY | O_CLOEXEC)) < 0) {
                r = -errno;
                snprintf(x->why, x->why_size, "layer sha256:%s: %s", hex, strerror(errno));
                goto out;
        }
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open(a, br, NULL, blob_read, NULL) != ARCHIVE_OK) {
                r = -EINVAL;
                goto bad_archive;
        }
        while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                char name[4096], lname[4096];
                const char *base, *link;
                if (clean_name(archive_entry_pathname(e), name, sizeof(name)) < 0) {
                        r = -EPERM;
                        snprintf(x->why, x->why_size, "layer sha256:%s: unsafe path '%s'", hex, archive_entry_pathname(e));
                        goto out;
                }
                base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
                if (strncmp(base, ".wh.", 4) == 0) {
                        if (whiteouts && (r = brm_unpackfs_whiteout(rootfd, name, why, sizeof(why))) < 0) {
                                snprintf(x->why, x->why_size, "layer sha256:%s: %s", hex, why);
                                goto out;
                        }
                        continue;
                }
                if (whiteouts || !name[0] || strcmp(name, ".") == 0)
                        continue;
                if ((link = archive_entry_hardlink(e)) && clean_name(link, lname, sizeof(lname)) < 0) {
                        r = -EPERM;
                        snprintf(x->why, x->why_size, "layer sha256:%s: unsafe link '%s'", hex, link);
                        goto out;
                }
                if ((r = brm_unpackfs_write(rootfd, &dirs, name, link ? lname : NULL, a, e, why, sizeof(why))) < 0) {
                        snprintf(x->why, x->why_size, "layer sha256:%s: %s", hex, why);
                        goto out;
                }
        }
        if (ar != ARCHIVE_EOF) {
                r = -EINVAL;
                goto bad_archive;
        }
        if ((r = brm_unpackfs_dir_times(rootfd, &dirs, why, sizeof(why))) < 0) {
                snprintf(x->why, x->why_size, "layer sha256:%s: %s", hex, why);
                goto out;
        }
        /* libarchive may stop before the end (tar padding): hash the rest. */
        for (const void *p; blob_read(a, br, &p) > 0;)
                ;
        if (!hasher_matches(&br->h, hex)) {
                snprintf(x->why, x->why_size, "layer sha256:%s does not match its digest: refused", hex);
                r = -EBADMSG;
        }
        goto done;
bad_archive:
        snprintf(x->why, x->why_size, "layer sha256:%s: %s", hex, archive_error_string(a));
out:
        mbedtls_md_free(&br->h.md);
done:
        brm_unpackfs_dirs_free(&dirs);
        if (br->fd >= 0)
                close(br->fd);
        free(br);
        archive_read_free(a);
        return r;
}

/* ---- images ---- */

/* Builds STORE/rootfs/HEX (rootfs/ + config.json) from the manifest's
 * layers, in a temporary directory renamed into place when complete. */
static int unpack(const char *layout, const struct brm_oci_manifest *m, const char *hex, const char *cfg,
                  size_t cfg_len, struct ctx *x)
{
        char tmp[1200], root[1300], final[1200], path[1300], lhex[65];
        int r, rootfd;

        if (brm_path(tmp, sizeof(tmp), "%s/rootfs/.tmp-%s-%ld", x->store, hex, (long)syscall(SYS_gettid)) < 0 ||
            brm_path(final, sizeof(final), "%s/rootfs/%s", x->store, hex) < 0)
                return -ENAMETOOLONG;
        rm_rf(tmp);
        snprintf(root, sizeof(root), "%s/rootfs", tmp);
        if ((r = brm_mkdir_p(root, 0755)) < 0) {
                snprintf(x->why, x->why_size, "cannot create %s: %s", root, strerror(-r));
                return r;
        }
        if ((rootfd = brm_unpackfs_open_root(root)) < 0) {
                r = rootfd;
                snprintf(x->why, x->why_size, "cannot open %s: %s", root, strerror(-r));
                goto fail;
        }
        for (size_t i = 0; i < m->n_layers; i++) {
                brm_oci_digest_hex(m->layers[i], lhex); /* checked by brm_oci_manifest_parse */
                snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, lhex);
                if ((r = apply_pass(rootfd, path, lhex, true, x)) < 0 || (r = apply_pass(rootfd, path, lhex, false, x)) < 0)
                        break;
        }
        close(rootfd);
        if (r < 0)
                goto fail;
        /* The config blob as it came, verified: its digest still holds. */
        snprintf(path, sizeof(path), "%s/config.json", tmp);
        if ((r = brm_file_write_atomic(path, cfg, cfg_len, 0644)) < 0)
                goto fail;
        if (rename(tmp, final) < 0) {
                r = -errno;
                /* Another container unpacked the same image meanwhile. */
                if (r == -ENOTEMPTY || r == -EEXIST)
                        r = 0;
                else
                        snprintf(x->why, x->why_size, "cannot store the image: %s", strerror(errno));
                goto fail;
        }
        return 0;
fail:
        rm_rf(tmp);
        return r;
}

static int resolve_layout(const char *layout, const char *tag, struct brm_image_config *img, struct ctx *x)
{
        char path[1200], hex[65], digest[BRM_OCI_DIGEST_SIZE];
        char *index = NULL, *manifest = NULL, *cfg = NULL;
        struct brm_oci_manifest *m = NULL;
        size_t index_len, manifest_len, cfg_len;
        int r = -EINVAL, depth = 0;

        if (brm_path(path, sizeof(path), "%s/index.json", layout) < 0 ||
            brm_file_read(path, JSON_MAX, (uint8_t **)&index, &index_len) < 0) {
                snprintf(x->why, x->why_size, "%s: no readable index.json", layout);
                return -ENOENT;
        }
        if (!(m = calloc(1, sizeof(*m)))) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                if ((r = brm_oci_index_pick(index, index_len, depth ? NULL : tag, brm_oci_host_arch(), digest, x->why,
                                            x->why_size)) < 0 ||
                    (r = read_blob(layout, digest, x, &manifest, &manifest_len)) < 0 ||
                    (r = brm_oci_manifest_parse(manifest, manifest_len, m, x->why, x->why_size)) < 0)
                        goto out;
                if (!m->is_index)
                        break;
                if (++depth > 2) {
                        snprintf(x->why, x->why_size, "image indexes nested too deep");
                        r = -EINVAL;
                        goto out;
                }
                /* A multi-platform index: pick from it in turn. */
                free(index);
                index = manifest;
                index_len = manifest_len;
                manifest = NULL;
        }
        brm_oci_digest_hex(digest, hex);
        snprintf(img->digest, sizeof(img->digest), "%s", digest);
        r = -ENAMETOOLONG;
        if (brm_path(img->rootfs, sizeof(img->rootfs), "%s/rootfs/%s/rootfs", x->store, hex) < 0 ||
            brm_path(path, sizeof(path), "%s/rootfs/%s/config.json", x->store, hex) < 0)
                goto out;
        if (access(path, F_OK) < 0) {
                if ((r = read_blob(layout, m->config, x, &cfg, &cfg_len)) < 0 ||
                    (r = unpack(layout, m, hex, cfg, cfg_len, x)) < 0)
                        goto out;
        } else if (brm_file_read(path, JSON_MAX, (uint8_t **)&cfg, &cfg_len) < 0) {
                /* Unpacked before: the stored config was verified then. */
                snprintf(x->why, x->why_size, "%s is damaged: remove it", path);
                r = -EIO;
                goto out;
        }
        r = brm_oci_config_parse(cfg, cfg_len, img);
        if (r < 0)
                snprintf(x->why, x->why_size, "image config: %s", r == -EINVAL ? "not a JSON object" : strerror(-r));
out:
        free(m);
        free(index);
        free(manifest);
        free(cfg);
        return r;
}

/* Unpacks an oci-archive's layout (only index.json, oci-layout and
 * blobs/sha256/HEX are taken) into DIR. */
static int extract_archive(const char *file, const char *dir, struct ctx *x)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        char blobs[1200];
        int r = 0, ar;

        if (!a)
                return -ENOMEM;
        if ((r = brm_path(blobs, sizeof(blobs), "%s/blobs/sha256", dir)) < 0 || (r = brm_mkdir_p(blobs, 0755)) < 0)
                goto out;
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, file, READ_CHUNK) != ARCHIVE_OK) {
                snprintf(x->why, x->why_size, "%s: %s", file, archive_error_string(a));
                r = -EINVAL;
                goto out;
        }
        while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                char name[1024], digest[80], hex[65], path[1300];
                int fd;
                if (archive_entry_filetype(e) != AE_IFREG || clean_name(archive_entry_pathname(e), name, sizeof(name)) < 0)
                        continue;
                if (strcmp(name, "index.json") != 0 && strcmp(name, "oci-layout") != 0) {
                        /* Only blobs/sha256/HEX: a digest names no other path. */
                        if (strncmp(name, "blobs/sha256/", 13) != 0 || strlen(name) != 13 + 64)
                                continue;
                        snprintf(digest, sizeof(digest), "sha256:%.64s", name + 13);
                        if (brm_oci_digest_hex(digest, hex) < 0)
                                continue;
                }
                if (brm_path(path, sizeof(path), "%s/%s", dir, name) < 0)
                        continue;
                if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
                        r = -errno;
                        goto out;
                }
                ar = archive_read_data_into_fd(a, fd);
                close(fd);
                if (ar != ARCHIVE_OK) {
                        snprintf(x->why, x->why_size, "%s: %s", file, archive_error_string(a));
                        r = -EIO;
                        goto out;
                }
        }
        if (ar != ARCHIVE_EOF) {
                snprintf(x->why, x->why_size, "%s: %s", file, archive_error_string(a));
                r = -EINVAL;
        }
out:
        archive_read_free(a);
        return r;
}

/* An archive is unpacked once per (path, size, mtime, tag): the stamp in
 * STORE/archives/ names the manifest, whose root the store keeps. */
static int resolve_archive(const char *file, const char *tag, struct brm_image_config *img, struct ctx *x)
{
        char stamp_path[1200], stamp[512], tmp[1200], id[65];
        uint8_t h[32], *old;
        struct stat st;
        size_t len;
        int r;

        if (stat(file, &st) < 0)
                return -errno;
        {
                struct hasher hs;
                if (hasher_init(&hs) < 0)
                        return -ENOMEM;
                mbedtls_md_update(&hs.md, (const uint8_t *)file, strlen(file));
                mbedtls_md_finish(&hs.md, h);
                mbedtls_md_free(&hs.md);
                brm_hex(h, sizeof(h), id);
        }
        snprintf(stamp, sizeof(stamp), "%lld %lld.%09ld %s\n", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec, tag);
        if (brm_path(stamp_path, sizeof(stamp_path), "%s/archives/%s", x->store, id) < 0 ||
            brm_path(tmp, sizeof(tmp), "%s/archives/.tmp-%s-%ld", x->store, id, (long)syscall(SYS_gettid)) < 0)
                return -ENAMETOOLONG;
        if (brm_file_read(stamp_path, 4096, &old, &len) == 0) {
                /* "STAMP\nDIGEST" */
                char *nl = strchr((char *)old, '\n');
                bool same = nl && (size_t)(nl + 1 - (char *)old) == strlen(stamp) &&
                            strncmp((char *)old, stamp, strlen(stamp)) == 0;
                if (same) {
                        char cfg[1300];
                        snprintf(img->digest, sizeof(img->digest), "%s", nl + 1);
                        snprintf(cfg, sizeof(cfg), "%s/rootfs/%s/config.json", x->store, img->digest + 7);
                        if (strlen(img->digest) == 71 && access(cfg, F_OK) == 0) {
                                uint8_t *data;
                                free(old);
                                snprintf(img->rootfs, sizeof(img->rootfs), "%s/rootfs/%s/rootfs", x->store, img->digest + 7);
                                if (brm_file_read(cfg, JSON_MAX, &data, &len) < 0)
                                        return -EIO;
                                r = brm_oci_config_parse((const char *)data, len, img);
                                free(data);
                                return r;
                        }
                }
                free(old);
                img->digest[0] = '\0';
        }
        rm_rf(tmp);
        if ((r = extract_archive(file, tmp, x)) == 0 && (r = resolve_layout(tmp, tag, img, x)) == 0) {
                size_t sl = strlen(stamp);
                snprintf(stamp + sl, sizeof(stamp) - sl, "%s", img->digest);
                r = brm_file_write_atomic(stamp_path, stamp, strlen(stamp), 0644);
        }
        rm_rf(tmp);
        return r;
}

int brm_image_resolve(const char *store, const char *ref, struct brm_image_config *ret, char *why, size_t why_size)
{
        struct ctx x = { .store = store, .why = why, .why_size = why_size };
        struct brm_image_config img;
        enum brm_image_kind kind;
        char path[1024], tag[256], dir[1200];
        int r;

        memset(&img, 0, sizeof(img));
        if (why_size)
                why[0] = '\0';
        if ((r = brm_image_identify(ref, &kind, why, why_size)) < 0)
                return r;
        brm_image_split_ref(ref, path, sizeof(path), tag, sizeof(tag));
        snprintf(dir, sizeof(dir), "%s/rootfs", store);
        brm_mkdir_p(dir, 0700);
        snprintf(dir, sizeof(dir), "%s/archives", store);
        brm_mkdir_p(dir, 0700);
        switch (kind) {
        case BRM_IMAGE_ROOTFS:
                r = brm_image_rootfs_path(ref, path, &img, why, why_size);
                break;
        case BRM_IMAGE_LAYOUT:
                r = resolve_layout(path, tag, &img, &x);
                break;
        case BRM_IMAGE_ARCHIVE:
                r = resolve_archive(path, tag, &img, &x);
                break;
        }
        if (r < 0) {
                brm_image_config_free(&img);
                if (!why[0])
                        WHY("image %s: %s", ref, strerror(-r));
                return r;
        }
        *ret = img;
        return 0;
}
