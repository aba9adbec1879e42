/* The image store's walks over its documents: which manifest serves a
 * platform, what an image holds, and which blobs nothing names any more
 * (see imagestore.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "imagestore.h"
#include "util.h"

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))

static const char *str_of(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The digests of the manifests an index lists, those the store holds. */
static int index_manifests(const struct brm_imagestore *s, const char *digest, char (**ret)[BRM_OCI_DIGEST_SIZE],
                           size_t *ret_n)
{
        char *json, (*v)[BRM_OCI_DIGEST_SIZE];
        size_t len, n = 0;
        cJSON *o, *m, *ms;
        int r;

        if ((r = brm_imagestore_read(s, digest, BRM_OCI_DOC_MAX, &json, &len)) < 0)
                return r;
        o = cJSON_ParseWithLength(json, len);
        free(json);
        ms = cJSON_GetObjectItemCaseSensitive(o, "manifests");
        if (!cJSON_IsArray(ms) || !(v = calloc((size_t)cJSON_GetArraySize(ms) + 1, sizeof(*v)))) {
                cJSON_Delete(o);
                return cJSON_IsArray(ms) ? -ENOMEM : -EBADMSG;
        }
        cJSON_ArrayForEach(m, ms) {
                const char *d = str_of(m, "digest");
                if (d && brm_imagestore_has(s, d, NULL))
                        snprintf(v[n++], BRM_OCI_DIGEST_SIZE, "%s", d);
        }
        cJSON_Delete(o);
        *ret = v;
        *ret_n = n;
        return 0;
}

int brm_imagestore_index_each(const struct brm_imagestore *s, const char *index_digest,
                              int (*fn)(const struct brm_imagestore *s, const char *digest, char *why, size_t why_size),
                              char *why, size_t why_size)
{
        char *json, hex[65];
        size_t len;
        cJSON *o, *m;
        int r;

        if ((r = brm_imagestore_read(s, index_digest, BRM_OCI_DOC_MAX, &json, &len)) < 0) {
                WHY("index %s: %s", index_digest, strerror(-r));
                return r;
        }
        o = cJSON_ParseWithLength(json, len);
        free(json);
        /* An OCI index may leave its mediaType out. */
        if ((str_of(o, "mediaType") && !brm_oci_is_index_type(str_of(o, "mediaType"))) ||
            !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "manifests"))) {
                WHY("%s is not an image index", index_digest);
                cJSON_Delete(o);
                return -EBADMSG;
        }
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(o, "manifests")) {
                const char *d = str_of(m, "digest");
                if (brm_oci_digest_hex(d, hex) < 0) {
                        WHY("index %s lists a manifest with a malformed digest", index_digest);
                        r = -EINVAL;
                        break;
                }
                if ((r = fn(s, d, why, why_size)) < 0)
                        break;
        }
        cJSON_Delete(o);
        return r;
}

static int read_manifest(const struct brm_imagestore *s, const char *digest, struct brm_oci_manifest **ret, char *why,
                         size_t why_size)
{
        struct brm_oci_manifest *m;
        char *json;
        size_t len;
        int r;

        if ((r = brm_imagestore_read(s, digest, BRM_OCI_DOC_MAX, &json, &len)) < 0) {
                WHY("manifest %s: %s", digest, strerror(-r));
                return r;
        }
        if (!(m = calloc(1, sizeof(*m)))) {
                free(json);
                return -ENOMEM;
        }
        r = brm_oci_manifest_parse(json, len, m, why, why_size);
        free(json);
        if (r == 0 && m->is_index) {
                WHY("manifest %s is an index", digest);
                r = -EBADMSG;
        }
        if (r < 0) {
                free(m);
                return r == -EINVAL ? -EBADMSG : r;
        }
        *ret = m;
        return 0;
}

int brm_imagestore_manifest_blobs(const struct brm_imagestore *s, const char *manifest_digest,
                                  int (*fn)(const char *digest, uint64_t size, void *arg), void *arg, char *why,
                                  size_t why_size)
{
        struct brm_oci_manifest *m;
        int r;

        if ((r = read_manifest(s, manifest_digest, &m, why, why_size)) < 0)
                return r;
        r = fn(m->config, m->config_size, arg);
        for (size_t i = 0; r == 0 && i < m->n_layers; i++)
                r = fn(m->layers[i], m->layer_sizes[i], arg);
        free(m);
        return r;
}

/* The platform of a stored manifest, from its config. */
static int manifest_platform(const struct brm_imagestore *s, const char *digest, char *buf, size_t size)
{
        struct brm_oci_manifest *m;
        char why[8], *json;
        size_t len;
        int r;

        if ((r = read_manifest(s, digest, &m, why, sizeof(why))) < 0)
                return r;
        r = brm_imagestore_read(s, m->config, BRM_OCI_DOC_MAX, &json, &len);
        free(m);
        if (r < 0)
                return r;
        r = brm_oci_config_platform(json, len, buf, size);
        free(json);
        return r;
}

/* "linux/arm64" fits "linux/arm64" and "linux/arm64/v8"; a variant asked
 * for must be the one there. */
static bool platform_fits(const char *have, const char *want)
{
        size_t n = strlen(want);
        if (strcmp(have, want) == 0)
                return true;
        if (strncmp(have, want, n) == 0 && have[n] == '/' && strchr(want + strlen("x/"), '/') == NULL)
                return true;
        return strcmp(want, "linux/arm64/v8") == 0 && strcmp(have, "linux/arm64") == 0;
}

int brm_imagestore_resolve(const struct brm_imagestore *s, const char *ref, const char *platform,
                           struct brm_oci_desc *ret, char *why, size_t why_size)
{
        struct brm_oci_desc top, d;
        char have[128], *json;
        size_t len;
        int r;

        if ((r = brm_imagestore_lookup(s, ref, &top)) < 0) {
                WHY(r == -ENOENT ? "no image %s on the master (bramble image pull or bramble image load)"
                                 : "image %s: the store's index.json: %s",
                    ref, strerror(-r));
                return r;
        }
        if (brm_oci_is_index_type(top.media_type)) {
                if ((r = brm_imagestore_read(s, top.digest, BRM_OCI_DOC_MAX, &json, &len)) < 0) {
                        WHY("image %s: its index %s: %s", ref, top.digest, strerror(-r));
                        return r;
                }
                r = brm_oci_index_platform(json, len, platform, &d, have, sizeof(have));
                free(json);
                if (r < 0) {
                        WHY("image %s %s", ref, have);
                        return r;
                }
                if (!brm_imagestore_has(s, d.digest, NULL)) {
                        WHY("image %s: its %s manifest was not pulled (bramble image pull %s --platform %s)", ref,
                            platform, ref, platform);
                        return -ENODATA;
                }
                *ret = d;
                return 0;
        }
        if ((r = manifest_platform(s, top.digest, have, sizeof(have))) < 0) {
                WHY("image %s: cannot read its manifest and config: %s", ref, strerror(-r));
                return r;
        }
        if (!platform_fits(have, platform)) {
                WHY("image %s has no %s variant (it has %s)", ref, platform, have);
                return -ENOENT;
        }
        *ret = top;
        return 0;
}

/* ---- sets of digests ---- */

struct digests {
        char (*v)[65];
        size_t n, cap;
};

/* A brm_imagestore_manifest_blobs callback: adds DIGEST to the set once. */
static int add_hex(const char *digest, uint64_t size, void *arg)
{
        struct digests *set = arg;
        char hex[65];

        if (brm_oci_digest_hex(digest, hex) < 0)
                return 0;
        for (size_t i = 0; i < set->n; i++)
                if (strcmp(set->v[i], hex) == 0)
                        return 0;
        if (set->n == set->cap) {
                size_t cap = set->cap ? set->cap * 2 : 64;
                void *v = realloc(set->v, cap * sizeof(*set->v));
                if (!v)
                        return -ENOMEM;
                set->v = v;
                set->cap = cap;
        }
        memcpy(set->v[set->n++], hex, 65);
        return 0;
}


/* Everything TOP reaches in the store into SET; the platforms into buf. */
static int reach(const struct brm_imagestore *s, const struct brm_oci_desc *top, struct digests *set, char *buf,
                 size_t size)
{
        char (*ms)[BRM_OCI_DIGEST_SIZE] = NULL, why[8], plat[64];
        size_t n = 0, len = 0;
        int r;

        if (buf && size)
                buf[0] = '\0';
        if (!brm_imagestore_has(s, top->digest, NULL))
                return 0;
        if ((r = add_hex(top->digest, 0, set)) < 0)
                return r;
        if (brm_oci_is_index_type(top->media_type)) {
                if ((r = index_manifests(s, top->digest, &ms, &n)) < 0)
                        return r == -EBADMSG ? 0 : r;
        } else {
                if (!(ms = calloc(1, sizeof(*ms))))
                        return -ENOMEM;
                snprintf(ms[0], sizeof(ms[0]), "%s", top->digest);
                n = 1;
        }
        for (size_t i = 0; i < n; i++) {
                if ((r = add_hex(ms[i], 0, set)) < 0)
                        break;
                r = brm_imagestore_manifest_blobs(s, ms[i], add_hex, set, why, sizeof(why));
                if (r == -ENOMEM)
                        break;
                r = 0;
                if (buf && len < size && manifest_platform(s, ms[i], plat, sizeof(plat)) == 0)
                        len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", plat);
        }
        free(ms);
        return r;
}

int brm_imagestore_describe(const struct brm_imagestore *s, const struct brm_oci_desc *desc, char *buf, size_t size,
                            uint64_t *ret_bytes)
{
        struct digests set = { 0 };
        int r = reach(s, desc, &set, buf, size);

        /* Layer sizes come from the manifests; blobs not stored count 0. */
        if (r == 0) {
                uint64_t bytes = 0, sz;
                char d[BRM_OCI_DIGEST_SIZE];
                for (size_t i = 0; i < set.n; i++) {
                        snprintf(d, sizeof(d), "sha256:%s", set.v[i]);
                        if (brm_imagestore_has(s, d, &sz))
                                bytes += sz;
                }
                *ret_bytes = bytes;
        }
        free(set.v);
        return r;
}

int brm_imagestore_prune(struct brm_imagestore *s, uint64_t *ret_blobs, uint64_t *ret_bytes, char *why,
                         size_t why_size)
{
        struct brm_image_entry *names = NULL;
        struct digests set = { 0 };
        uint64_t blobs = 0, bytes = 0;
        char dir[1100], p[1200];
        struct dirent *e;
        size_t n = 0;
        struct stat st;
        DIR *d;
        int r;

        if ((r = brm_imagestore_list(s, &names, &n)) < 0) {
                WHY("%s/index.json: %s", s->dir, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < n && r == 0; i++)
                r = reach(s, &names[i].desc, &set, NULL, 0);
        free(names);
        if (r < 0) {
                free(set.v);
                WHY("image store: %s", strerror(-r));
                return r;
        }
        brm_path(dir, sizeof(dir), "%s/blobs/sha256", s->dir);
        if (!(d = opendir(dir))) {
                r = -errno;
                free(set.v);
                WHY("%s: %s", dir, strerror(-r));
                return r;
        }
        while ((e = readdir(d))) {
                bool keep = e->d_name[0] == '.';
                for (size_t i = 0; !keep && i < set.n; i++)
                        keep = strcmp(set.v[i], e->d_name) == 0;
                if (keep || brm_path(p, sizeof(p), "%s/%s", dir, e->d_name) < 0 || lstat(p, &st) < 0)
                        continue;
                if (unlink(p) == 0) {
                        blobs++;
                        bytes += (uint64_t)st.st_size;
                }
        }
        closedir(d);
        free(set.v);
        *ret_blobs = blobs;
        *ret_bytes = bytes;
        return 0;
}
