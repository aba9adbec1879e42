/* The image collection's steps on a made-up images directory: a layout of
 * three images (one layer two of them share, a blob no entry reaches, a
 * blob a fetch needs, .part files old and new) and their root file
 * systems. What goes and what stays given what is in use; the least
 * recently used first; an index.json that cannot be written keeps every
 * blob (the entry goes before its blobs); what an interrupted collection
 * left is swept. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "imagegc.h"

static char root[64];

/* A digest of 64 times C: made-up blobs need no real hashes here. */
static const char *hx(char c)
{
        static char buf[8][65];
        static int n;
        char *b = buf[n++ % 8];
        memset(b, c, 64);
        b[64] = '\0';
        return b;
}

static void age(const char *path, int seconds)
{
        struct timeval tv[2];
        gettimeofday(&tv[0], NULL);
        tv[0].tv_sec -= seconds;
        tv[1] = tv[0];
        CHECK_INT(utimes(path, tv), ==, 0);
}

/* A file below the root with TEXT, AGE seconds old (directories made). */
static void put(const char *rel, const char *text, int seconds)
{
        char path[512], cmd[700];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
        CHECK_INT(system(cmd), ==, 0);
        CHECK((f = fopen(path, "w")) != NULL);
        fputs(text, f);
        fclose(f);
        age(path, seconds);
}

static bool there(const char *fmt, const char *hex)
{
        char rel[256], path[512];
        snprintf(rel, sizeof(rel), fmt, hex);
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        return access(path, F_OK) == 0;
}

/* A manifest blob naming config C and layers L1, L2 (L2 may be 0). */
static void manifest(char m, char c, char l1, char l2)
{
        char rel[128], text[600];

        snprintf(text, sizeof(text),
                 "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:%s\",\"size\":2},\"layers\":[{\"digest\":"
                 "\"sha256:%s\",\"size\":2}%s%s%s]}",
                 hx(c), hx(l1), l2 ? ",{\"digest\":\"sha256:" : "", l2 ? hx(l2) : "", l2 ? "\",\"size\":2}" : "");
        snprintf(rel, sizeof(rel), "layout/blobs/sha256/%s", hx(m));
        put(rel, text, 10000);
        for (const char *b = (char[]){ c, l1, l2, 0 }; *b; b++) {
                snprintf(rel, sizeof(rel), "layout/blobs/sha256/%s", hx(*b));
                put(rel, "xx", 10000);
        }
}

static void entry(char *buf, size_t size, char m, const char *refs)
{
        size_t n = strlen(buf);
        snprintf(buf + n, size - n,
                 "%s{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":9,"
                 "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\",\"org.bramble.ref\":\"%s\"}}",
                 strchr(buf, '{') && buf[n - 1] == '}' ? "," : "", hx(m), hx(m), refs);
}

/* A root file system rootfs/HEX with a few files, AGE seconds old. */
static void rootfs(const char *name, int seconds)
{
        char rel[256], path[512];

        snprintf(rel, sizeof(rel), "rootfs/%s/config.json", name);
        put(rel, "{}", seconds);
        snprintf(rel, sizeof(rel), "rootfs/%s/rootfs/usr/bin/app", name);
        put(rel, "#!/bin/sh\n", seconds);
        snprintf(path, sizeof(path), "%s/rootfs/%s", root, name);
        age(path, seconds);
}

int main(void)
{
        struct brm_imagegc_keep keep = { 0 };
        char index[4000] = "{\"schemaVersion\":2,\"manifests\":[", trash[900], path[700], **t = NULL, rel[256];
        uint64_t freed = 0;
        size_t n;

        snprintf(root, sizeof(root), "/tmp/brm-imagegc.XXXXXX");
        CHECK(mkdtemp(root));

        /* Keep: digests in all three forms; garbage is ignored. */
        brm_imagegc_keep_digest(&keep, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
        brm_imagegc_keep_digest(&keep, "/var/lib/bramble/images/rootfs/1111111111111111111111111111111111111111111111111111111111111111/rootfs");
        brm_imagegc_keep_digest(&keep, "2222222222222222222222222222222222222222222222222222222222222222");
        brm_imagegc_keep_digest(&keep, "sha256:XYZ");
        brm_imagegc_keep_digest(&keep, "/srv/app/rootfs");
        brm_imagegc_keep_digest(&keep, "");
        brm_imagegc_keep_digest(&keep, NULL);
        CHECK_INT(keep.n_hexes, ==, 3);
        CHECK_STR(keep.hexes[1], hx('1'));
        brm_imagegc_keep_free(&keep);

        /* Images: a (layers 1 and s), b (2 and s), c (3); blob o reached
         * by no entry, blob f being fetched. */
        manifest('a', 'c', '1', 'e');
        manifest('b', 'd', '2', 'e');
        manifest('9', '8', '3', 0);
        put("layout/blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000", "orphan", 10000);
        snprintf(rel, sizeof(rel), "layout/blobs/sha256/%s", hx('f'));
        put(rel, "in flight", 10000);
        entry(index, sizeof(index), 'a', "ex/app:1");
        entry(index, sizeof(index), 'b', "ex/app:2,ex/app:latest");
        entry(index, sizeof(index), '9', "ex/old:1");
        strcat(index, "]}");
        put("layout/index.json", index, 10000);
        put("layout/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 10000);
        snprintf(rel, sizeof(rel), "layout/tmp/%s.part", hx('5'));
        put(rel, "stale", 7200);
        snprintf(rel, sizeof(rel), "layout/tmp/%s.part", hx('6'));
        put(rel, "being written", 10);
        snprintf(rel, sizeof(rel), "layout/tmp/%s.part", hx('f'));
        put(rel, "old but its fetch waits", 7200);
        /* Root file systems: c's the oldest, then one of a local archive
         * (no entry), then a's and b's. */
        rootfs(hx('9'), 5000);
        rootfs(hx('7'), 4000);
        rootfs(hx('a'), 3000);
        rootfs(hx('b'), 2000);
        rootfs(".tmp-xyz-12", 9000);

        /* An interrupted collection's leftovers are swept, nothing else. */
        rootfs(".gc-4444444444444444444444444444444444444444444444444444444444444444.1", 100);
        snprintf(rel, sizeof(rel), "layout/tmp/%s.gc", hx('4'));
        put(rel, "half", 100);
        CHECK_INT(brm_imagegc_sweep(root), ==, 2);
        CHECK(!there("rootfs/.gc-%s.1", hx('4')));
        CHECK(!there("layout/tmp/%s.gc", hx('4')));
        CHECK(there("rootfs/%s", hx('9')));
        CHECK(there("rootfs/.tmp-xyz-12%s", ""));
        CHECK_INT(brm_imagegc_sweep(root), ==, 0);

        /* In use: a container of a (by its bundle's root file system), one
         * of ex/app:latest (b, by its reference), the fetch of f. */
        snprintf(path, sizeof(path), "%s/rootfs/%s/rootfs", root, hx('a'));
        brm_imagegc_keep_digest(&keep, path);
        brm_imagegc_keep_ref(&keep, "ex/app:latest");
        brm_imagegc_keep_digest(&keep, hx('f'));

        /* A local image being resolved holds every root file system. */
        keep.hold_rootfs = true;
        CHECK_INT(brm_imagegc_take_rootfs(root, &keep, trash, sizeof(trash)), ==, -ENOENT);
        keep.hold_rootfs = false;
        /* A damaged index.json hides which root file systems references
         * keep: none goes. */
        snprintf(path, sizeof(path), "%s/layout/index.json", root);
        snprintf(trash, sizeof(trash), "%s/layout/index.json.good", root);
        CHECK_INT(rename(path, trash), ==, 0);
        put("layout/index.json", "{\"manifests\":[", 0);
        CHECK_INT(brm_imagegc_take_rootfs(root, &keep, trash, sizeof(trash)), ==, -EBADMSG);
        CHECK(there("rootfs/%s", hx('9')));
        snprintf(trash, sizeof(trash), "%s/layout/index.json.good", root);
        CHECK_INT(rename(trash, path), ==, 0);
        /* Root file systems: the oldest unused first, renamed whole. */
        CHECK_INT(brm_imagegc_take_rootfs(root, &keep, trash, sizeof(trash)), ==, 0);
        CHECK(!there("rootfs/%s", hx('9')));
        snprintf(path, sizeof(path), "%s/rootfs/.gc-%s.", root, hx('9'));
        CHECK(strncmp(trash, path, strlen(path)) == 0);
        CHECK(access(trash, F_OK) == 0);
        CHECK_INT(brm_imagegc_remove(trash, &freed), ==, 0);
        CHECK(access(trash, F_OK) != 0);
        CHECK_U64(freed, >, 0);
        CHECK_INT(brm_imagegc_take_rootfs(root, &keep, trash, sizeof(trash)), ==, 0);
        CHECK(!there("rootfs/%s", hx('7')));
        CHECK_INT(brm_imagegc_remove(trash, &freed), ==, 0);
        CHECK_INT(brm_imagegc_take_rootfs(root, &keep, trash, sizeof(trash)), ==, -ENOENT);
        CHECK(there("rootfs/%s", hx('a')) && there("rootfs/%s", hx('b')));
        CHECK(there("rootfs/.tmp-xyz-12%s", ""));

        /* index.json cannot be written: the entry stays, and so does
         * every blob, the unreached ones too. */
        snprintf(path, sizeof(path), "%s/layout/index.json.tmp.%ld", root, (long)getpid());
        CHECK_INT(mkdir(path, 0700), ==, 0);
        CHECK_INT(brm_imagegc_take_layout(root, &keep, 3600, &t), <, 0);
        CHECK(t == NULL);
        CHECK(there("layout/blobs/sha256/%s", hx('9')) && there("layout/blobs/sha256/%s", hx('3')));
        CHECK(there("layout/blobs/sha256/%s", hx('0')));
        CHECK_INT(rmdir(path), ==, 0);

        /* The layout: c's entry goes, then its blobs and the orphan, and
         * the stale part; what a and b reach stays, so do f and the part
         * being written. */
        CHECK_INT(brm_imagegc_take_layout(root, &keep, 3600, &t), ==, 1);
        for (n = 0; t[n]; n++) {
                CHECK(strstr(t[n], "/layout/tmp/") && strstr(t[n], ".gc"));
                CHECK_INT(brm_imagegc_remove(t[n], &freed), ==, 0);
        }
        CHECK_INT(n, ==, 5);
        brm_imagegc_trash_free(t);
        t = NULL;
        {
                char *text = NULL;
                FILE *f;
                size_t len = 0;
                snprintf(path, sizeof(path), "%s/layout/index.json", root);
                CHECK((f = fopen(path, "r")) != NULL);
                CHECK(getdelim(&text, &len, '\0', f) > 0);
                fclose(f);
                CHECK(!strstr(text, hx('9')));
                CHECK(strstr(text, hx('a')) && strstr(text, "ex/app:2,ex/app:latest"));
                free(text);
        }
        for (const char *b = "938"; *b; b++)
                CHECK(!there("layout/blobs/sha256/%s", hx(*b)));
        CHECK(!there("layout/blobs/sha256/%s", hx('0')));
        for (const char *b = "ac1ebd2f"; *b; b++)
                CHECK(there("layout/blobs/sha256/%s", hx(*b)));
        CHECK(!there("layout/tmp/%s.part", hx('5')));
        CHECK(there("layout/tmp/%s.part", hx('6')));
        CHECK(there("layout/tmp/%s.part", hx('f')));
        CHECK_INT(brm_imagegc_take_layout(root, &keep, 3600, &t), ==, -ENOENT);
        brm_imagegc_keep_free(&keep);

        /* Nothing in use: the least recently used image goes first (b's
         * root file system is the older), the layer a shares stays with
         * a. A root file system is stamped newer: a is used later. */
        snprintf(path, sizeof(path), "%s/rootfs/%s", root, hx('b'));
        age(path, 6000);
        CHECK_INT(brm_imagegc_take_layout(root, &keep, 3600, &t), ==, 1);
        for (n = 0; t[n]; n++)
                brm_imagegc_remove(t[n], NULL);
        brm_imagegc_trash_free(t);
        CHECK_INT(n, ==, 5); /* b, d, 2, and f and its part: its fetch ended */
        CHECK(!there("layout/blobs/sha256/%s", hx('b')) && !there("layout/blobs/sha256/%s", hx('2')));
        CHECK(there("layout/blobs/sha256/%s", hx('e')) && there("layout/blobs/sha256/%s", hx('a')));
        CHECK_INT(brm_imagegc_take_layout(root, &keep, 3600, &t), ==, 1);
        for (n = 0; t[n]; n++)
                brm_imagegc_remove(t[n], NULL);
        brm_imagegc_trash_free(t);
        CHECK_INT(n, ==, 4); /* a, c, 1, e */
        CHECK_INT(brm_imagegc_take_layout(root, &keep, 3600, &t), ==, -ENOENT);
        CHECK(there("layout/tmp/%s.part", hx('6')));

        /* A remaining entry whose manifest cannot be read: what it names
         * is unknown, so no blob goes. */
        strcpy(index, "{\"schemaVersion\":2,\"manifests\":[");
        entry(index, sizeof(index), '7', "ex/gone:1");
        strcat(index, "]}");
        put("layout/index.json", index, 0);
        snprintf(rel, sizeof(rel), "layout/blobs/sha256/%s", hx('3'));
        put(rel, "unreached", 10000);
        brm_imagegc_keep_ref(&keep, "ex/gone:1");
        CHECK_INT(brm_imagegc_take_layout(root, &keep, 3600, &t), ==, -ENOENT);
        CHECK(there("layout/blobs/sha256/%s", hx('3')));
        brm_imagegc_keep_free(&keep);

        snprintf(path, sizeof(path), "rm -rf %s", root);
        CHECK_INT(system(path), ==, 0);
        printf("ok\n");
        return 0;
}
