/* The node's layout of cluster images (agent/fetchstore.c): parts that
 * resume, blobs checked before they are stored, the index.json entries
 * bramble-unpack is pointed at; and the uname-to-platform table both ends
 * use (lib/util.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "check.h"
#include "fetchstore.h"
#include "fileio.h"
#include "util.h"

static char root[256];

static void sha256_hex(const void *data, size_t len, char hex[65])
{
        uint8_t sum[32];
        CHECK_INT(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data, len, sum), ==, 0);
        brm_hex(sum, sizeof(sum), hex);
}

static bool exists(const char *fmt, const char *a, const char *b)
{
        char p[1024];
        snprintf(p, sizeof(p), fmt, a, b);
        return access(p, F_OK) == 0;
}

static void append(int fd, const char *s)
{
        CHECK_INT(brm_write_all(fd, s, strlen(s)), ==, 0);
}

static void test_platforms(void)
{
        char buf[32];

        CHECK_INT(brm_oci_platform_of("aarch64", buf, sizeof(buf)), ==, 0);
        CHECK_STR(buf, "linux/arm64");
        CHECK_INT(brm_oci_platform_of("x86_64", buf, sizeof(buf)), ==, 0);
        CHECK_STR(buf, "linux/amd64");
        CHECK_INT(brm_oci_platform_of("armv7l", buf, sizeof(buf)), ==, 0);
        CHECK_STR(buf, "linux/arm/v7");
        CHECK_INT(brm_oci_platform_of("riscv64", buf, sizeof(buf)), ==, 0);
        CHECK_STR(buf, "linux/riscv64");
        CHECK_INT(brm_oci_platform_of("", buf, sizeof(buf)), ==, -EINVAL);
        CHECK_INT(brm_oci_platform_of("aarch64", buf, 8), ==, -ENAMETOOLONG);
}

static void test_parts_and_commit(void)
{
        struct brm_fetchstore fs;
        const char *blob = "hello, blob";
        char hex[65], bad[65], why[300] = "", images[300];
        uint64_t off = 99;
        int fd;

        snprintf(images, sizeof(images), "%s/images", root);
        CHECK_INT(brm_fetchstore_open(&fs, images), ==, 0);
        CHECK(exists("%s/%s", fs.dir, "oci-layout"));
        CHECK(exists("%s/%s", fs.dir, "index.json"));
        /* Opening again keeps what is there. */
        CHECK_INT(brm_fetchstore_open(&fs, images), ==, 0);
        sha256_hex(blob, strlen(blob), hex);
        CHECK(!brm_fetchstore_has(&fs, hex, strlen(blob)));
        CHECK_U64(brm_fetchstore_part_size(&fs, hex), ==, 0);

        /* A part written in two sessions: the second opens at the end of
         * the first. */
        fd = brm_fetchstore_part_open(&fs, hex, strlen(blob), &off);
        CHECK_INT(fd, >=, 0);
        CHECK_U64(off, ==, 0);
        append(fd, "hello, ");
        close(fd);
        CHECK_U64(brm_fetchstore_part_size(&fs, hex), ==, 7);
        fd = brm_fetchstore_part_open(&fs, hex, strlen(blob), &off);
        CHECK_U64(off, ==, 7);
        append(fd, "blob");
        close(fd);
        CHECK_INT(brm_fetchstore_commit(&fs, hex, strlen(blob), why, sizeof(why)), ==, 0);
        CHECK(brm_fetchstore_has(&fs, hex, strlen(blob)));
        CHECK(!brm_fetchstore_has(&fs, hex, strlen(blob) + 1));
        CHECK_U64(brm_fetchstore_part_size(&fs, hex), ==, 0);

        /* Bytes that do not hash to the digest: refused, part removed. */
        sha256_hex("other", 5, bad);
        fd = brm_fetchstore_part_open(&fs, bad, 5, &off);
        append(fd, "othxr");
        close(fd);
        CHECK_INT(brm_fetchstore_commit(&fs, bad, 5, why, sizeof(why)), ==, -EBADMSG);
        CHECK(strstr(why, bad) && strstr(why, "does not match its digest"));
        CHECK(!brm_fetchstore_has(&fs, bad, 5));
        CHECK(!exists("%s/tmp/%s.part", fs.dir, bad));
        /* The wrong size is refused the same way. */
        fd = brm_fetchstore_part_open(&fs, bad, 5, &off);
        append(fd, "oth");
        close(fd);
        CHECK_INT(brm_fetchstore_commit(&fs, bad, 5, why, sizeof(why)), ==, -EBADMSG);
        CHECK(strstr(why, "has 3 bytes"));
        /* A part longer than the blob (it changed) starts over. */
        fd = brm_fetchstore_part_open(&fs, bad, 5, &off);
        append(fd, "toolongforit");
        close(fd);
        fd = brm_fetchstore_part_open(&fs, bad, 5, &off);
        CHECK_U64(off, ==, 0);
        close(fd);
        brm_fetchstore_part_remove(&fs, bad);
        CHECK(!exists("%s/tmp/%s.part", fs.dir, bad));
        /* Not a digest: nothing outside the layout is touched. */
        CHECK_INT(brm_fetchstore_part_open(&fs, "../../etc", 5, &off), ==, -EINVAL);
        CHECK_INT(brm_fetchstore_commit(&fs, "../x", 5, why, sizeof(why)), ==, -EINVAL);
}

static void test_index(void)
{
        struct brm_fetchstore fs;
        char images[300], why[300] = "", local[1024], want[1024], m1[65], m2[65], path[1024];
        uint8_t *text;
        size_t len;

        snprintf(images, sizeof(images), "%s/images", root);
        CHECK_INT(brm_fetchstore_open(&fs, images), ==, 0);
        sha256_hex("manifest one", 12, m1);
        sha256_hex("manifest two", 12, m2);
        CHECK_INT(brm_fetchstore_lookup(&fs, "example.com/app:1", local, sizeof(local)), ==, -ENOENT);

        /* An entry whose manifest blob is not stored is not found. */
        CHECK_INT(brm_fetchstore_add_ref(&fs, "example.com/app:1", m1, 12, NULL, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_fetchstore_lookup(&fs, "example.com/app:1", local, sizeof(local)), ==, -ENOENT);
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", fs.dir, m1);
        CHECK_INT(brm_file_write_atomic(path, "manifest one", 12, 0644), ==, 0);
        CHECK_INT(brm_fetchstore_lookup(&fs, "example.com/app:1", local, sizeof(local)), ==, 0);
        snprintf(want, sizeof(want), "%s:%s", fs.dir, m1);
        CHECK_STR(local, want);

        /* A second name for the same manifest shares its entry (one
         * ref.name per manifest, so bramble-unpack finds exactly one). */
        CHECK_INT(brm_fetchstore_add_ref(&fs, "example.com/app:latest", m1, 12, NULL, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_fetchstore_lookup(&fs, "example.com/app:latest", local, sizeof(local)), ==, 0);
        CHECK_STR(local, want);
        snprintf(path, sizeof(path), "%s/index.json", fs.dir);
        CHECK_INT(brm_file_read(path, 1 << 20, &text, &len), ==, 0);
        CHECK(strstr((char *)text, "\"org.bramble.ref\":\"example.com/app:1,example.com/app:latest\""));
        CHECK(strstr((char *)text, m1));
        free(text);

        /* A name moved to another manifest leaves the first entry. */
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", fs.dir, m2);
        CHECK_INT(brm_file_write_atomic(path, "manifest two", 12, 0644), ==, 0);
        CHECK_INT(brm_fetchstore_add_ref(&fs, "example.com/app:latest", m2, 12, "application/x", why, sizeof(why)), ==, 0);
        CHECK_INT(brm_fetchstore_lookup(&fs, "example.com/app:latest", local, sizeof(local)), ==, 0);
        snprintf(want, sizeof(want), "%s:%s", fs.dir, m2);
        CHECK_STR(local, want);
        CHECK_INT(brm_fetchstore_lookup(&fs, "example.com/app:1", local, sizeof(local)), ==, 0);
        /* "app" is not "app:1". */
        CHECK_INT(brm_fetchstore_lookup(&fs, "example.com/app", local, sizeof(local)), ==, -ENOENT);
        /* The last name of an entry moved away takes the entry with it. */
        CHECK_INT(brm_fetchstore_add_ref(&fs, "example.com/app:1", m2, 12, NULL, why, sizeof(why)), ==, 0);
        snprintf(path, sizeof(path), "%s/index.json", fs.dir);
        CHECK_INT(brm_file_read(path, 1 << 20, &text, &len), ==, 0);
        CHECK(!strstr((char *)text, m1));
        free(text);
        CHECK_INT(brm_fetchstore_add_ref(&fs, "a,b", m2, 12, NULL, why, sizeof(why)), ==, -EINVAL);
}

int main(void)
{
        char cmd[300];

        snprintf(root, sizeof(root), "/tmp/test_fetchstore.XXXXXX");
        CHECK(mkdtemp(root));
        test_platforms();
        test_parts_and_commit();
        test_index();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        CHECK_INT(system(cmd), ==, 0);
        printf("fetchstore: ok\n");
        return 0;
}
