/* The image store: an OCI layout built here with libarchive (two layers,
 * the second with a whiteout and an opaque directory), resolved from the
 * directory and from an oci-archive; a blob whose content does not match its
 * digest, an unsafe path and an unknown tag are refused, leaving nothing
 * half-unpacked behind. Layers that write through symbolic links: merged
 * /usr lands in usr/, and links aimed out of the root (absolute, "..",
 * a host directory) write inside it or are refused, the host untouched. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "check.h"
#include "fileio.h"
#include "image.h"
#include "pki.h"
#include "unpackfs.h"
#include "util.h"

static char work[64];

struct file {
        const char *name;
        const char *data;     /* NULL = directory, unless one of the two below */
        const char *symlink;  /* a symbolic link to this */
        const char *hardlink; /* a hard link to this entry */
        const char *xattr;    /* the value of its user.brm attribute; such a file is also set-uid */
};

#define F(name, data) { name, data, NULL, NULL, NULL }
#define SYM(name, to) { name, NULL, to, NULL, NULL }
#define HARD(name, to) { name, NULL, NULL, to, NULL }
#define FX(name, data, x) { name, data, NULL, NULL, x }

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
                archive_entry_set_filetype(e, f->data || f->hardlink ? AE_IFREG : f->symlink ? AE_IFLNK : AE_IFDIR);
                archive_entry_set_perm(e, f->symlink ? 0777 : f->xattr ? 04755 : 0755);
                archive_entry_set_size(e, f->data ? (la_int64_t)strlen(f->data) : 0);
                archive_entry_set_mtime(e, 1000000000, 0);
                if (f->symlink)
                        archive_entry_set_symlink(e, f->symlink);
                if (f->hardlink)
                        archive_entry_set_hardlink(e, f->hardlink);
                if (f->xattr)
                        archive_entry_xattr_add_entry(e, "user.brm", f->xattr, strlen(f->xattr));
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

/* Config, manifest (over the layer blobs D[0..N-1]), index.json tagged "v1"
 * and oci-layout in LAYOUT. */
static void write_layout(const char *layout, char (*d)[72], size_t n_layers)
{
        char dc[72], dm[72], text[8192], path[300], layers[4096] = "";
        size_t n, used = 0;

        for (size_t i = 0; i < n_layers; i++)
                used += (size_t)snprintf(layers + used, sizeof(layers) - used,
                                         "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar%s\",\"digest\":\"%s\",\"size\":1}",
                                         i ? "," : "", i ? "" : "+gzip", d[i]);
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/hello\"],"
                             "\"Cmd\":[\"world\"],\"Env\":[\"PATH=/bin\",\"A=1\"],\"WorkingDir\":\"/etc\",\"User\":\"0:0\"},"
                             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                             arch());
        put_blob(layout, text, n, dc);
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":1},"
                             "\"layers\":[%s]}",
                             dc, layers);
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

/* Builds a layout; corrupt = the second layer's blob does not match its
 * digest; evil = the second layer holds "../escape". */
static void make_layout(const char *layout, bool corrupt, bool evil)
{
        static const struct file l1[] = {
                F("bin/", NULL), F("etc/", NULL), F("etc/opq/", NULL),
                F("bin/hello", "#!/bin/sh\necho hello\n"), F("etc/keep", "kept\n"), F("etc/gone", "deleted later\n"),
                F("etc/opq/old", "hidden by the opaque marker\n"), F(NULL, NULL),
        };
        /* The opaque marker after a file of its own layer: it must not
         * delete that file. */
        static const struct file l2[] = {
                F("etc/opq/new", "from layer 2\n"), F("etc/opq/.wh..wh..opq", ""), F("etc/.wh.gone", ""),
                F("etc/added", "added\n"), F(NULL, NULL),
        };
        static const struct file l2evil[] = { F("../escape", "x"), F(NULL, NULL) };
        static char buf[1 << 16];
        char d[2][72], path[300];
        size_t n;

        CHECK_INT(brm_mkdir_p(layout, 0755), ==, 0);
        n = make_tar(l1, true, buf, sizeof(buf));
        put_blob(layout, buf, n, d[0]);
        n = make_tar(evil ? l2evil : l2, false, buf, sizeof(buf));
        put_blob(layout, buf, n, d[1]);
        if (corrupt) {
                /* Same name, other content: a flipped byte in the tar. */
                snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, d[1] + 7);
                buf[600] ^= 1;
                CHECK_INT(brm_file_write_atomic(path, buf, n, 0644), ==, 0);
        }
        write_layout(layout, d, 2);
}

/* A layout of the layers LAYERS[0..N-1], each a list of entries. */
static void make_layers(const char *layout, const struct file *const *layers, size_t n_layers)
{
        static char buf[1 << 16];
        char d[8][72];

        CHECK_INT(brm_mkdir_p(layout, 0755), ==, 0);
        for (size_t i = 0; i < n_layers; i++)
                put_blob(layout, buf, make_tar(layers[i], i == 0, buf, sizeof(buf)), d[i]);
        write_layout(layout, d, n_layers);
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

/* Resolves LAYOUT into STORE: its result, and the root's path in ROOT. */
static int resolve_root(const char *store, const char *layout, char root[1024], char *why, size_t why_size)
{
        struct brm_image_config img;
        int r;

        memset(&img, 0, sizeof(img));
        r = brm_image_resolve(store, layout, &img, why, why_size);
        snprintf(root, 1024, "%s", r == 0 ? img.rootfs : "");
        brm_image_config_free(&img);
        return r;
}

/* ROOT/REL is a regular file holding DATA. */
static void check_file(const char *root, const char *rel, const char *data)
{
        char p[1200];
        uint8_t *got;
        size_t len;
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
                CHECK_FAIL_("%s: not a regular file", p);
        CHECK_INT(brm_file_read(p, 4096, &got, &len), ==, 0);
        CHECK_INT(len, ==, strlen(data));
        CHECK(memcmp(got, data, len) == 0);
        free(got);
}

/* ROOT/REL is a symbolic link to TO. */
static void check_symlink(const char *root, const char *rel, const char *to)
{
        char p[1200], got[1200];
        ssize_t n;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        n = readlink(p, got, sizeof(got) - 1);
        if (n < 0)
                CHECK_FAIL_("%s: not a symbolic link", p);
        got[n] = '\0';
        CHECK_STR(got, to);
}

static ino_t inode(const char *root, const char *rel)
{
        char p[1200];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        CHECK_INT(lstat(p, &st), ==, 0);
        return st.st_ino;
}

static int n_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        CHECK(d);
        while ((de = readdir(d)))
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        return n;
}

/* Merged /usr: later layers write through bin -> usr/bin, lib -> usr/lib
 * and sbin -> usr/sbin, and their whiteouts remove through them. */
static void test_merged_usr(const char *tag)
{
        static const struct file l1[] = {
                F("usr/", NULL), F("usr/bin/", NULL), F("usr/sbin/", NULL), F("usr/lib/", NULL),
                F("usr/lib/old/", NULL), F("usr/bin/sh", "sh\n"), F("usr/bin/old", "old\n"),
                F("usr/lib/old/a.so", "a\n"), SYM("bin", "usr/bin"), SYM("lib", "usr/lib"), SYM("sbin", "usr/sbin"),
                F(NULL, NULL),
        };
        static const struct file l2[] = {
                F("bin/hello", "hello\n"), F("lib/x/", NULL), F("lib/x/y.so", "y\n"), F("sbin/init", "init\n"),
                HARD("bin/hello2", "bin/hello"), F("bin/.wh.old", ""), F(NULL, NULL),
        };
        /* Opaque through a link: usr/lib/old is emptied, then gets b.so. */
        static const struct file l3[] = { F("lib/old/.wh..wh..opq", ""), F("lib/old/b.so", "b\n"), F(NULL, NULL) };
        const struct file *layers[] = { l1, l2, l3 };
        char layout[200], store[200], root[1024], why[512], path[1200];
        struct stat st;
        int r;

        snprintf(layout, sizeof(layout), "%s/usr-%s", work, tag);
        snprintf(store, sizeof(store), "%s/store-usr-%s", work, tag);
        make_layers(layout, layers, 3);
        if ((r = resolve_root(store, layout, root, why, sizeof(why))) < 0)
                CHECK_FAIL_("merged /usr (%s): %d %s", tag, r, why);
        check_file(root, "usr/bin/hello", "hello\n");
        check_file(root, "usr/lib/x/y.so", "y\n");
        check_file(root, "usr/sbin/init", "init\n");
        check_file(root, "usr/bin/sh", "sh\n");
        check_file(root, "usr/lib/old/b.so", "b\n");
        CHECK(!exists(root, "usr/lib/old/a.so"));
        CHECK(!exists(root, "usr/bin/old"));
        CHECK_INT(inode(root, "usr/bin/hello2"), ==, inode(root, "usr/bin/hello"));
        check_symlink(root, "bin", "usr/bin");
        check_symlink(root, "lib", "usr/lib");
        check_symlink(root, "sbin", "usr/sbin");
        snprintf(path, sizeof(path), "%s/usr/bin/hello", root);
        CHECK_INT(stat(path, &st), ==, 0);
        CHECK_INT(st.st_mode & 07777, ==, 0755);
        CHECK_INT(st.st_mtime, ==, 1000000000);
        /* A directory's time holds although a file was made in it later. */
        snprintf(path, sizeof(path), "%s/usr/lib/x", root);
        CHECK_INT(stat(path, &st), ==, 0);
        CHECK_INT(st.st_mtime, ==, 1000000000);
}

/* Links out of the root: "/" and ".." chains stay at the root, a link to a
 * host directory names a directory inside the root, and an entry at a
 * link's own name replaces the link. OUTSIDE (a host
 * directory holding one file, "secret") must end as it began. */
static void test_hostile(const char *tag, const char *outside)
{
        char rel[300], up_pwned[400], evil_pwned[400], ptmp[400], layout[200], store[200], root[1024], why[512],
                secret[300];
        const char *relp = outside + 1;
        struct stat st;
        int r;

        snprintf(rel, sizeof(rel), "%s", relp);
        snprintf(secret, sizeof(secret), "%s/secret", outside);
        snprintf(up_pwned, sizeof(up_pwned), "up/%s/up-pwned", rel);
        snprintf(evil_pwned, sizeof(evil_pwned), "evil/%s/evil-pwned", rel);
        {
                const struct file l1[] = {
                        F("etc/", NULL), SYM("evil", "/"), SYM("up", "../../../../../../../../../../.."),
                        SYM("out", outside), SYM("tricky", secret), SYM("dirlink", outside), F(NULL, NULL),
                };
                const struct file l2[] = {
                        F("evil/etc/passwd-pwned", "pwned\n"), F(up_pwned, "up\n"), F(evil_pwned, "evil\n"),
                        F("out/.wh.secret", ""), HARD("hl", up_pwned), F("tricky", "replaced\n"), F("dirlink/", NULL),
                        F("dirlink/in", "in\n"), F(NULL, NULL),
                };
                const struct file *layers[] = { l1, l2 };
                snprintf(layout, sizeof(layout), "%s/hostile-%s", work, tag);
                snprintf(store, sizeof(store), "%s/store-hostile-%s", work, tag);
                make_layers(layout, layers, 2);
                if ((r = resolve_root(store, layout, root, why, sizeof(why))) < 0)
                        CHECK_FAIL_("hostile links (%s): %d %s", tag, r, why);
        }
        check_file(root, "etc/passwd-pwned", "pwned\n");
        CHECK(lstat("/etc/passwd-pwned", &st) < 0);
        snprintf(ptmp, sizeof(ptmp), "%s/up-pwned", rel);
        check_file(root, ptmp, "up\n");
        CHECK_INT(inode(root, "hl"), ==, inode(root, ptmp));
        snprintf(ptmp, sizeof(ptmp), "%s/evil-pwned", rel);
        check_file(root, ptmp, "evil\n");
        check_symlink(root, "evil", "/");
        check_symlink(root, "out", outside);
        /* An entry replaces a link at its own name, never writes through. */
        check_file(root, "tricky", "replaced\n");
        check_file(root, "dirlink/in", "in\n");
        CHECK_INT(n_entries(outside), ==, 1);
        check_file(outside, "secret", "secret\n");

        /* Refused, leaving the host alone: a hard link to a host file by a
         * link to its directory (inside the root there is no such file), a
         * file below a link to a host directory (none inside the root), a
         * loop of links, a hard link with "..". */
        {
                const struct file base[] = { SYM("out", outside), SYM("a", "b"), SYM("b", "a"), F(NULL, NULL) };
                const struct file steal[] = { HARD("stolen", "out/secret"), F(NULL, NULL) };
                const struct file put[] = { F("out/pwned", "x"), F(NULL, NULL) };
                const struct file loop[] = { F("a/x", "x"), F(NULL, NULL) };
                const struct file dots[] = { HARD("x", "../../../../../../etc/passwd"), F(NULL, NULL) };
                const struct file *tops[] = { steal, put, loop, dots };
                const char *want[] = { "hard link to out/secret", "out/pwned: parent directory",
                                       "a/x: parent directory: Too many levels", "unsafe link" };
                for (int i = 0; i < 4; i++) {
                        const struct file *layers[] = { base, tops[i] };
                        snprintf(layout, sizeof(layout), "%s/refused-%s-%d", work, tag, i);
                        snprintf(store, sizeof(store), "%s/store-refused-%s-%d", work, tag, i);
                        make_layers(layout, layers, 2);
                        r = resolve_root(store, layout, root, why, sizeof(why));
                        printf("refused (%s): %d %s\n", tag, r, why);
                        CHECK_INT(r, <, 0);
                        CHECK(strstr(why, want[i]));
                        snprintf(ptmp, sizeof(ptmp), "%s/rootfs", store);
                        CHECK_INT(count_tmp(ptmp), ==, 0);
                }
        }
        CHECK_INT(n_entries(outside), ==, 1);
        snprintf(ptmp, sizeof(ptmp), "%s/secret", outside);
        CHECK_INT(stat(ptmp, &st), ==, 0);
        CHECK_INT(st.st_nlink, ==, 1);
}

/* An extended attribute and a set-uid bit on a file written through a
 * link: both survive the owner being set. */
static void test_xattr(void)
{
        static const struct file l1[] = { F("usr/", NULL), F("usr/bin/", NULL), SYM("bin", "usr/bin"), F(NULL, NULL) };
        static const struct file l2[] = { FX("bin/x", "x\n", "attr"), F(NULL, NULL) };
        const struct file *layers[] = { l1, l2 };
        char layout[200], store[200], root[1024], why[512], path[1200], val[16];
        struct stat st;
        ssize_t n;
        int r;

        snprintf(layout, sizeof(layout), "%s/xattr", work);
        snprintf(store, sizeof(store), "%s/store-xattr", work);
        make_layers(layout, layers, 2);
        r = resolve_root(store, layout, root, why, sizeof(why));
        if (r == -EOPNOTSUPP) {
                printf("xattr: not checked, the file system has no user attributes: %s\n", why);
                return;
        }
        if (r < 0)
                CHECK_FAIL_("xattr: %d %s", r, why);
        snprintf(path, sizeof(path), "%s/usr/bin/x", root);
        n = lgetxattr(path, "user.brm", val, sizeof(val));
        CHECK_INT(n, ==, 4);
        CHECK(memcmp(val, "attr", 4) == 0);
        CHECK_INT(lstat(path, &st), ==, 0);
        CHECK_INT(st.st_mode & 07777, ==, 04755);
}

int main(void)
{
        struct brm_image_config img, img2;
        enum brm_image_kind kind;
        char layout[128], store[128], ref[200], why[256], tarball[128], cmd[600], path[700];
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

        /* Layers writing through symbolic links, with openat2 and with the
         * walk by hand that stands in for it on kernels without. */
        snprintf(cmd, sizeof(cmd), "%s/outside", work);
        CHECK_INT(brm_mkdir_p(cmd, 0755), ==, 0);
        snprintf(path, sizeof(path), "%s/secret", cmd);
        CHECK_INT(brm_file_write_atomic(path, "secret\n", 7, 0644), ==, 0);
        test_xattr();
        test_merged_usr("openat2");
        test_hostile("openat2", cmd);
        brm_unpackfs_walk_only = true;
        test_merged_usr("walk");
        test_hostile("walk", cmd);
        brm_unpackfs_walk_only = false;

        snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
        CHECK_INT(system(cmd), ==, 0);
        printf("test_image: passed\n");
        return 0;
}
