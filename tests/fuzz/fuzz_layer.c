/* Image layers (image.c, unpackfs.c) on arbitrary bytes: the input is a
 * layer blob, unpacked through brm_image_resolve as both layers of a fresh
 * image, so the second pass meets the links the first one made. Whatever
 * the layer says, nothing lands outside the root: SENTINEL, a directory
 * the corpus aims links at (absolute, and by "/" or ".." chains), keeps
 * its one file, and the work directory holds only the layout and the
 * store. A refusal says why on one line and leaves no half-built root;
 * no descriptor stays open. Unpacking owns files as the layer says, so it
 * runs as root to get past the owner change. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "image.h"
#include "pki.h"
#include "util.h"

#define SENTINEL "/tmp/brm-fuzz-layer/outside"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* The names in DIR, sorted into one string ("a b c"), or "-" when it
 * cannot be read. */
static void names(const char *dir, char *out, size_t size)
{
        struct dirent **v;
        int n = scandir(dir, &v, NULL, alphasort);
        size_t used = 0;

        snprintf(out, size, "-");
        for (int i = 0; i < n; i++) {
                if (strcmp(v[i]->d_name, ".") != 0 && strcmp(v[i]->d_name, "..") != 0)
                        used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s%s", used ? " " : "",
                                                 v[i]->d_name);
                free(v[i]);
        }
        if (n >= 0)
                free(v);
        if (n >= 0 && !used)
                out[0] = '\0';
}

static int open_fds(void)
{
        char list[4096];
        int n = 0;
        names("/proc/self/fd", list, sizeof(list));
        for (char *p = list; *p; p++)
                n += *p == ' ';
        return n;
}

/* Writes DATA as blobs/sha256/HEX of LAYOUT; its digest into D. */
static void put_blob(const char *layout, const void *blob, size_t len, char d[72])
{
        uint8_t h[32];
        char hex[65], path[300];

        if (brm_pki_sha256(blob, len, h) != 0)
                abort();
        brm_hex(h, 32, hex);
        snprintf(d, 72, "sha256:%s", hex);
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, hex);
        if (brm_file_write_atomic(path, blob, len, 0644) < 0)
                abort();
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

static void sentinel_check(void)
{
        char list[256], path[100];
        struct stat st;
        uint8_t *got;
        size_t len;

        names(SENTINEL, list, sizeof(list));
        snprintf(path, sizeof(path), "%s/secret", SENTINEL);
        if (strcmp(list, "secret") != 0 || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
            brm_file_read(path, 64, &got, &len) < 0)
                abort();
        if (len != 7 || memcmp(got, "secret\n", 7) != 0)
                abort();
        free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char work[64] = "/tmp/brm-fuzz-layer/work.XXXXXX", layout[100], store[100], path[200], why[512] = "";
        char dl[72], dc[72], dm[72], text[2048], list[512];
        struct brm_image_config img;
        size_t n;
        int fds, r;

        if (brm_mkdir_p(SENTINEL, 0755) < 0)
                abort();
        snprintf(path, sizeof(path), "%s/secret", SENTINEL);
        if (access(path, F_OK) < 0 && brm_file_write_atomic(path, "secret\n", 7, 0644) < 0)
                abort();
        sentinel_check();
        fds = open_fds();
        if (!mkdtemp(work))
                abort();
        snprintf(layout, sizeof(layout), "%s/layout", work);
        snprintf(store, sizeof(store), "%s/store", work);
        snprintf(path, sizeof(path), "%s/blobs/sha256", layout);
        if (brm_mkdir_p(path, 0755) < 0)
                abort();
        put_blob(layout, data, size, dl);
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{},"
                             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                             arch());
        put_blob(layout, text, n, dc);
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                             "\"digest\":\"%s\",\"size\":1},\"layers\":["
                             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":1},"
                             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":1}]}",
                             dc, dl, dl);
        put_blob(layout, text, n, dm);
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                             "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu}]}",
                             dm, n);
        snprintf(path, sizeof(path), "%s/index.json", layout);
        if (brm_file_write_atomic(path, text, n, 0644) < 0)
                abort();
        snprintf(path, sizeof(path), "%s/oci-layout", layout);
        if (brm_file_write_atomic(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, 0644) < 0)
                abort();

        memset(&img, 0, sizeof(img));
        r = brm_image_resolve(store, layout, &img, why, sizeof(why));
        if (r < 0 && (!why[0] || strchr(why, '\n')))
                abort();
        brm_image_config_free(&img);

        /* Only the layout and the store; in the store's rootfs/ one root
         * when unpacked, none when refused. */
        names(work, list, sizeof(list));
        if (strcmp(list, "layout store") != 0)
                abort();
        snprintf(path, sizeof(path), "%s/rootfs", store);
        names(path, list, sizeof(list));
        if (r < 0 ? list[0] != '\0' : strlen(list) != 64)
                abort();
        sentinel_check();
        if (open_fds() != fds)
                abort();
        if (nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
                abort();
        return 0;
}
