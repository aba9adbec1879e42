/* The image store: an OCI layout built here with libarchive (two layers,
 * the second with a whiteout and an opaque directory), resolved from the
 * directory and from an oci-archive; a blob whose content does not match its
 * digest, an unsafe path and an unknown tag are refused, leaving nothing
 * half-unpacked behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "check.h"
#include "fileio.h"
#include "image.h"
#include "pki.h"
#include "util.h"

static char work[64];

struct file {
        const char *name;
        const char *data; /* NULL = directory */
};

/* A tar (gzip-compressed when gz) of FILES, in memory. */
static size_t make_tar(const struct file *files, bool gz, char *buf, size_t size)
{
        struct archive *a = archive_write_new();
        size_t used = 0;

        archive_write_set_format_pax_restricted(a);
        if (gz)
                archive_write_add_filter_gzip(a);
        CHECK_INT(archive_write_open_memory(a, buf, size, &used), ==, ARCHIVE_OK);
        for (const struct file *f = files; f->name; f++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, f->name);
                archive_entry_set_filetype(e, f->data ? AE_IFREG : AE_IFDIR);
                archive_entry_set_perm(e, f->data ? 0755 : 0755);
                archive_entry_set_size(e, f->data ? (la_int64_t)strlen(f->data) : 0);
                CHECK_INT(archive_write_header(a, e), ==, ARCHIVE_OK);
                if (f->data)
                        CHECK_INT(archive_write_data(a, f->data, strlen(f->data)), ==, (la_ssize_t)strlen(f->data));
                archive_entry_free(e);
        }
        CHECK_INT(archive_write_close(a), ==, ARCHIVE_OK);
        archive_write_free(a);
        return used;
}

/* Writes a blob into LAYOUT and returns its "sha256:..." digest. */
static void put_blob(const char *layout, const void *data, size_t len, char digest[72])
{
        uint8_t h[32];
        char hex[65], path[300];

        CHECK_INT(brm_pki_sha256(data, len, h), ==, 0);
        brm_hex(h, 32, hex);
        snprintf(digest, 72, "sha256:%s", hex);
        snprintf(path, sizeof(path), "%s/blobs/sha256", layout);
        CHECK_INT(brm_mkdir_p(path, 0755), ==, 0);
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, hex);
        CHECK_INT(brm_file_write_atomic(path, data, len, 0644), ==, 0);
}

static const char *arch(void)
{
#if defined(__aarch64__)
        return "arm64";
#elif defined(__x86_64__)
        return "amd64";
#else
        return "arm";
#endif
}

/* Builds a layout; corrupt = the second layer's blob does not match its
 * digest; evil = the second layer holds "../escape". */
static void make_layout(const char *layout, bool corrupt, bool evil)
{
        static const struct file l1[] = {
                { "bin/", NULL }, { "etc/", NULL }, { "etc/opq/", NULL },
                { "bin/hello", "#!/bin/sh\necho hello\n" }, { "etc/keep", "kept\n" }, { "etc/gone", "deleted later\n" },
                { "etc/opq/old", "hidden by the opaque marker\n" }, { NULL, NULL },
        };
        /* The opaque marker after a file of its own layer: it must not
         * delete that file. */
        static const struct file l2[] = {
                { "etc/opq/new", "from layer 2\n" }, { "etc/opq/.wh..wh..opq", "" }, { "etc/.wh.gone", "" },
                { "etc/added", "added\n" }, { NULL, NULL },
        };
        static const struct file l2evil[] = { { "../escape", "x" }, { NULL, NULL } };
        static char buf[1 << 16];
        char d1[72], d2[72], dc[72], dm[72], text[4096], path[300];
        size_t n;

        CHECK_INT(brm_mkdir_p(layout, 0755), ==, 0);
        n = make_tar(l1, true, buf, sizeof(buf));
        put_blob(layout, buf, n, d1);
        n = make_tar(evil ? l2evil : l2, false, buf, sizeof(buf));
        put_blob(layout, buf, n, d2);
        if (corrupt) {
                /* Same name, other content: a flipped byte in the tar. */
                snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, d2 + 7);
                buf[600] ^= 1;
                CHECK_INT(brm_file_write_atomic(path, buf, n, 0644), ==, 0);
        }
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/hello\"],"
                             "\"Cmd\":[\"world\"],\"Env\":[\"PATH=/bin\",\"A=1\"],\"WorkingDir\":\"/etc\",\"User\":\"0:0\"},"
                             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                             arch());
        put_blob(layout, text, n, dc);
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":1},"
                             "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":1},"
                             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":1}]}",
                             dc, d1, d2);
        put_blob(layout, text, n, dm);
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                             "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}",
                             dm, n);
        snprintf(path, sizeof(path), "%s/index.json", layout);
        CHECK_INT(brm_file_write_atomic(path, text, n, 0644), ==, 0);
        snprintf(path, sizeof(path), "%s/oci-layout", layout);
        CHECK_INT(brm_file_write_atomic(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, 0644), ==, 0);
}

static bool exists(const char *root, const char *rel)
{
        char p[1200];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        return lstat(p, &st) == 0;
}

static int count_tmp(const char *dir)
{
        char cmd[800];
        snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep '^\\.tmp')\"", dir);
        return system(cmd) == 0 ? 0 : 1;
}

static void check_image(const struct brm_image_config *img)
{
        CHECK(exists(img->rootfs, "bin/hello"));
        CHECK(exists(img->rootfs, "etc/keep"));
        CHECK(exists(img->rootfs, "etc/added"));
        CHECK(exists(img->rootfs, "etc/opq/new"));
        CHECK(!exists(img->rootfs, "etc/gone"));
        CHECK(!exists(img->rootfs, "etc/opq/old"));
        CHECK(!exists(img->rootfs, "etc/.wh.gone"));
        CHECK(!exists(img->rootfs, "etc/opq/.wh..wh..opq"));
        CHECK_STR(img->entrypoint[0], "/bin/hello");
        CHECK(img->entrypoint[1] == NULL);
        CHECK_STR(img->cmd[0], "world");
        CHECK_STR(img->env[1], "A=1");
        CHECK_STR(img->workdir, "/etc");
        CHECK_STR(img->user, "0:0");
        CHECK_INT(strlen(img->digest), ==, 71);
}

int main(void)
{
        struct brm_image_config img, img2;
        enum brm_image_kind kind;
        char layout[128], store[128], ref[200], why[256], tarball[128], cmd[600];
        int r;

        snprintf(work, sizeof(work), "/tmp/brm-test-image.XXXXXX");
        CHECK(mkdtemp(work));
        snprintf(layout, sizeof(layout), "%s/layout", work);
        snprintf(store, sizeof(store), "%s/store", work);
        make_layout(layout, false, false);

        /* What a reference names. */
        CHECK_INT(brm_image_identify(layout, &kind, why, sizeof(why)), ==, 0);
        CHECK_INT(kind, ==, BRM_IMAGE_LAYOUT);
        snprintf(ref, sizeof(ref), "%s:v1", layout);
        CHECK_INT(brm_image_identify(ref, &kind, why, sizeof(why)), ==, 0);
        CHECK_INT(kind, ==, BRM_IMAGE_LAYOUT);
        CHECK_INT(brm_image_identify(work, &kind, why, sizeof(why)), ==, 0);
        CHECK_INT(kind, ==, BRM_IMAGE_ROOTFS);
        CHECK_INT(brm_image_identify("/nonexistent/image", &kind, why, sizeof(why)), ==, -ENOENT);
        CHECK_STR(why, "image not found: /nonexistent/image");

        /* The layout, by tag and alone; unpacked once. */
        memset(&img, 0, sizeof(img));
        r = brm_image_resolve(store, ref, &img, why, sizeof(why));
        if (r < 0)
                CHECK_FAIL_("resolve %s: %d %s", ref, r, why);
        check_image(&img);
        memset(&img2, 0, sizeof(img2));
        CHECK_INT(brm_image_resolve(store, layout, &img2, why, sizeof(why)), ==, 0);
        CHECK_STR(img2.rootfs, img.rootfs);
        check_image(&img2);
        brm_image_config_free(&img2);

        /* An oci-archive of the same layout: the same manifest and root. */
        snprintf(tarball, sizeof(tarball), "%s/image.tar", work);
        snprintf(cmd, sizeof(cmd), "tar -C %s -cf %s oci-layout index.json blobs", layout, tarball);
        CHECK_INT(system(cmd), ==, 0);
        snprintf(ref, sizeof(ref), "%s:v1", tarball);
        CHECK_INT(brm_image_identify(ref, &kind, why, sizeof(why)), ==, 0);
        CHECK_INT(kind, ==, BRM_IMAGE_ARCHIVE);
        memset(&img2, 0, sizeof(img2));
        r = brm_image_resolve(store, ref, &img2, why, sizeof(why));
        if (r < 0)
                CHECK_FAIL_("resolve %s: %d %s", ref, r, why);
        CHECK_STR(img2.digest, img.digest);
        check_image(&img2);
        brm_image_config_free(&img2);
        memset(&img2, 0, sizeof(img2));
        CHECK_INT(brm_image_resolve(store, ref, &img2, why, sizeof(why)), ==, 0); /* from the stamp */
        check_image(&img2);
        brm_image_config_free(&img2);
        brm_image_config_free(&img);

        /* An unknown tag. */
        snprintf(ref, sizeof(ref), "%s:v2", layout);
        CHECK_INT(brm_image_resolve(store, ref, &img, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "no manifest tagged 'v2'"));

        /* A layer whose bytes do not match its digest: refused, nothing left.
         * A fresh store: in the first, the same manifest is already unpacked
         * (and verified), so it would rightly never be read again. */
        snprintf(layout, sizeof(layout), "%s/bad", work);
        snprintf(store, sizeof(store), "%s/store2", work);
        make_layout(layout, true, false);
        r = brm_image_resolve(store, layout, &img, why, sizeof(why));
        printf("bad digest: %d %s\n", r, why);
        CHECK_INT(r, ==, -EBADMSG);
        CHECK(strstr(why, "does not match its digest"));
        snprintf(cmd, sizeof(cmd), "%s/rootfs", store);
        CHECK_INT(count_tmp(cmd), ==, 0);

        /* A layer reaching out of the root. */
        snprintf(layout, sizeof(layout), "%s/evil", work);
        make_layout(layout, false, true);
        r = brm_image_resolve(store, layout, &img, why, sizeof(why));
        printf("unsafe path: %d %s\n", r, why);
        CHECK_INT(r, ==, -EPERM);
        CHECK(!exists(store, "rootfs/escape"));
        CHECK_INT(count_tmp(cmd), ==, 0);

        snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
        CHECK_INT(system(cmd), ==, 0);
        printf("test_image: passed\n");
        return 0;
}
