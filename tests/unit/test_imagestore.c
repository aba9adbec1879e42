/* The master's image store on a real temporary directory: blobs enter only
 * whole and verified, a cut transfer resumes, names point at documents, a
 * platform picks its manifest, and a prune keeps exactly what names reach. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "imagestore.h"
#include "util.h"

static char dir[] = "/tmp/brm-imagestore-XXXXXX";
static struct brm_imagestore s;

static size_t count(const char *rel)
{
        char p[1200];
        struct dirent *e;
        size_t n = 0;
        DIR *d;

        snprintf(p, sizeof(p), "%s/%s", s.dir, rel);
        CHECK((d = opendir(p)) != NULL);
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

static void put(const char *text, char digest[BRM_OCI_DIGEST_SIZE])
{
        char why[256] = "";
        int r = brm_imagestore_put(&s, text, strlen(text), NULL, digest, why, sizeof(why));
        if (r != 0)
                fprintf(stderr, "put: %s\n", why);
        CHECK_INT(r, ==, 0);
}

static void blobs(void)
{
        static const char hello[] = "hello";
        /* sha256("hello") */
        static const char hd[] = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        char why[256], got[BRM_OCI_DIGEST_SIZE], *data;
        struct brm_blobw w, w2;
        uint64_t off = 99, size = 0;
        size_t len;

        /* Wrong digest and wrong size: refused, nothing stored or left. */
        CHECK_INT(brm_imagestore_put(&s, "hellO", 5, hd, NULL, why, sizeof(why)), ==, -EBADMSG);
        CHECK(strstr(why, "does not match its digest") != NULL);
        CHECK_INT(brm_blobw_open(&s, hd, &w, &off), ==, 0);
        CHECK_U64(off, ==, 0);
        CHECK_INT(brm_blobw_write(&w, "hell", 4, 0), ==, 0);
        CHECK_INT(brm_blobw_commit(&w, NULL, 5, NULL, why, sizeof(why)), ==, -EBADMSG);
        CHECK(strstr(why, "4 bytes, the descriptor says 5") != NULL);
        CHECK_U64(count("blobs/sha256"), ==, 0);
        CHECK_U64(count("tmp"), ==, 0);
        CHECK(!brm_imagestore_has(&s, hd, NULL));

        /* A cut transfer keeps its prefix; a second writer of the same
         * blob is refused while the first runs; the resume completes. */
        CHECK_INT(brm_blobw_open(&s, hd, &w, &off), ==, 0);
        CHECK_INT(brm_blobw_write(&w, "hel", 3, 0), ==, 0);
        CHECK_INT(brm_blobw_open(&s, hd, &w2, &off), ==, -EBUSY);
        brm_blobw_abort(&w, true);
        CHECK_U64(count("tmp"), ==, 1);
        CHECK_INT(brm_blobw_open(&s, hd, &w, &off), ==, 0);
        CHECK_U64(off, ==, 3);
        CHECK_INT(brm_blobw_write(&w, "lo!", 3, 5), ==, -EFBIG);
        CHECK_INT(brm_blobw_write(&w, "lo", 2, 5), ==, 0);
        CHECK_INT(brm_blobw_commit(&w, NULL, 5, got, why, sizeof(why)), ==, 0);
        CHECK_STR(got, hd);
        CHECK(brm_imagestore_has(&s, hd, &size));
        CHECK_U64(size, ==, 5);
        CHECK_U64(count("tmp"), ==, 0);
        CHECK_INT(brm_imagestore_read(&s, hd, 64, &data, &len), ==, 0);
        CHECK_STR(data, hello);
        free(data);
        CHECK_INT(brm_imagestore_read(&s, hd, 4, &data, &len), ==, -E2BIG);
        /* A digest that would name a path outside blobs/. */
        CHECK_INT(brm_blobw_open(&s, "sha256:../../etc/passwd", &w, &off), ==, -EINVAL);
        CHECK(!brm_imagestore_has(&s, "sha256:../index.json", NULL));
}

static void manifest_for(const char *arch, const char *layer_text, char digest[BRM_OCI_DIGEST_SIZE])
{
        char cfg[BRM_OCI_DIGEST_SIZE], layer[BRM_OCI_DIGEST_SIZE], text[1024], ctext[128];

        snprintf(ctext, sizeof(ctext), "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{}}", arch);
        put(ctext, cfg);
        put(layer_text, layer);
        snprintf(text, sizeof(text),
                 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
                 "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
                 BRM_OCI_MANIFEST, BRM_OCI_CONFIG, cfg, strlen(ctext), BRM_OCI_LAYER_TAR, layer, strlen(layer_text));
        put(text, digest);
}

static void names(void)
{
        char amd[BRM_OCI_DIGEST_SIZE], arm[BRM_OCI_DIGEST_SIZE], idx[BRM_OCI_DIGEST_SIZE], why[256], plats[128];
        char text[1024];
        struct brm_oci_desc d, got;
        struct brm_image_entry *v;
        uint64_t bytes = 0, n_blobs = 0;
        size_t n;

        manifest_for("amd64", "layer of amd64", amd);
        d = (struct brm_oci_desc){ .size = 0 };
        snprintf(d.media_type, sizeof(d.media_type), BRM_OCI_MANIFEST);
        snprintf(d.digest, sizeof(d.digest), "%s", amd);
        CHECK_INT(brm_imagestore_tag(&s, "example.com/one:1", &d, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_imagestore_resolve(&s, "example.com/one:1", "linux/amd64", &got, why, sizeof(why)), ==, 0);
        CHECK_STR(got.digest, amd);
        CHECK_INT(brm_imagestore_resolve(&s, "example.com/one:1", "linux/arm64", &got, why, sizeof(why)), ==, -ENOENT);
        CHECK_STR(why, "image example.com/one:1 has no linux/arm64 variant (it has linux/amd64)");
        CHECK_INT(brm_imagestore_resolve(&s, "example.com/none:1", "linux/amd64", &got, why, sizeof(why)), ==, -ENOENT);
        CHECK(strstr(why, "no image example.com/none:1 on the master") != NULL);

        /* An index with both platforms, of which only arm64 is stored. */
        manifest_for("arm64", "layer of arm64", arm);
        snprintf(text, sizeof(text),
                 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
                 "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
                 "{\"mediaType\":\"%s\",\"digest\":\"sha256:%064d\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"riscv64\"}}]}",
                 BRM_OCI_INDEX, BRM_OCI_MANIFEST, arm, BRM_OCI_MANIFEST, 0);
        put(text, idx);
        snprintf(d.media_type, sizeof(d.media_type), BRM_OCI_INDEX);
        snprintf(d.digest, sizeof(d.digest), "%s", idx);
        CHECK_INT(brm_imagestore_tag(&s, "example.com/multi:2", &d, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_imagestore_resolve(&s, "example.com/multi:2", "linux/arm64", &got, why, sizeof(why)), ==, 0);
        CHECK_STR(got.digest, arm);
        CHECK_INT(brm_imagestore_resolve(&s, "example.com/multi:2", "linux/riscv64", &got, why, sizeof(why)), ==, -ENODATA);
        CHECK(strstr(why, "was not pulled") != NULL);
        CHECK_INT(brm_imagestore_resolve(&s, "example.com/multi:2", "linux/amd64", &got, why, sizeof(why)), ==, -ENOENT);
        CHECK_STR(why, "image example.com/multi:2 has no linux/amd64 variant (it has linux/arm64/v8, linux/riscv64)");
        CHECK_INT(brm_imagestore_describe(&s, &d, plats, sizeof(plats), &bytes), ==, 0);
        CHECK_STR(plats, "linux/arm64");
        CHECK_U64(bytes, >, strlen(text));

        /* Retagging replaces; both names listed. */
        CHECK_INT(brm_imagestore_tag(&s, "example.com/multi:2", &d, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_imagestore_list(&s, &v, &n), ==, 0);
        CHECK_U64(n, ==, 2);
        CHECK_STR(v[0].ref, "example.com/one:1");
        CHECK_STR(v[1].ref, "example.com/multi:2");
        free(v);

        /* A prune keeps what names reach; untag, and it goes. */
        put("nobody names me", text);
        CHECK_U64(count("blobs/sha256"), ==, 9);
        CHECK_INT(brm_imagestore_prune(&s, &n_blobs, &bytes, why, sizeof(why)), ==, 0);
        CHECK_U64(n_blobs, ==, 2); /* "hello" and "nobody names me" */
        CHECK_U64(count("blobs/sha256"), ==, 7);
        CHECK_INT(brm_imagestore_untag(&s, "example.com/one:1", why, sizeof(why)), ==, 0);
        CHECK_INT(brm_imagestore_untag(&s, "example.com/one:1", why, sizeof(why)), ==, -ENOENT);
        CHECK_INT(brm_imagestore_prune(&s, &n_blobs, &bytes, why, sizeof(why)), ==, 0);
        CHECK_U64(n_blobs, ==, 3);
        CHECK(brm_imagestore_has(&s, arm, NULL));
        CHECK(!brm_imagestore_has(&s, amd, NULL));
        /* A name pointing at a blob the store lacks is refused. */
        snprintf(d.digest, sizeof(d.digest), "%s", amd);
        CHECK_INT(brm_imagestore_tag(&s, "example.com/one:1", &d, why, sizeof(why)), ==, -ENOENT);
}

int main(void)
{
        char why[256] = "";
        char cmd[128];

        CHECK(mkdtemp(dir) != NULL);
        CHECK_INT(brm_imagestore_open(&s, dir, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_imagestore_open(&s, dir, why, sizeof(why)), ==, 0);
        blobs();
        names();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INT(system(cmd), ==, 0);
        printf("ok\n");
        return 0;
}
