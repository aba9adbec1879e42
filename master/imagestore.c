/* The master's image store; see imagestore.h. */
#include "imagestore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "util.h"

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))
#define REF_NAME "org.opencontainers.image.ref.name"
#define TMP_MAX_AGE_S (24 * 3600)
#define INDEX_MAX (16u << 20)

static int path_of(const struct brm_imagestore *s, char *buf, size_t size, const char *rel)
{
        return brm_path(buf, size, "%s/%s", s->dir, rel);
}

int brm_imagestore_blob_path(const struct brm_imagestore *s, const char *digest, char *buf, size_t size)
{
        char hex[65];
        if (brm_oci_digest_hex(digest, hex) < 0)
                return -EINVAL;
        return brm_path(buf, size, "%s/blobs/sha256/%s", s->dir, hex);
}

/* Partial files older than a day belong to transfers nobody resumes. */
static void clean_tmp(const struct brm_imagestore *s)
{
        char dir[1100], p[1400];
        struct dirent *e;
        struct stat st;
        DIR *d;

        path_of(s, dir, sizeof(dir), "tmp");
        if (!(d = opendir(dir)))
                return;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                if (brm_path(p, sizeof(p), "%s/%s", dir, e->d_name) < 0 || lstat(p, &st) < 0)
                        continue;
                if (st.st_mtime + TMP_MAX_AGE_S < time(NULL))
                        unlink(p);
        }
        closedir(d);
}

int brm_imagestore_open(struct brm_imagestore *s, const char *data_dir, char *why, size_t why_size)
{
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        static const char empty[] = "{\"schemaVersion\":2,\"manifests\":[]}";
        char p[1200];
        int r;

        if ((r = brm_path(s->dir, sizeof(s->dir), "%s/%s", data_dir, BRM_IMAGESTORE_DIR)) < 0 ||
            (r = path_of(s, p, sizeof(p), "blobs/sha256")) < 0 || (r = brm_mkdir_p(p, 0700)) < 0 ||
            (r = path_of(s, p, sizeof(p), "tmp")) < 0 || (r = brm_mkdir_p(p, 0700)) < 0) {
                WHY("image store %s: %s", s->dir, strerror(-r));
                return r;
        }
        path_of(s, p, sizeof(p), "oci-layout");
        if (access(p, F_OK) < 0 && (r = brm_file_write_atomic(p, layout, sizeof(layout) - 1, 0600)) < 0) {
                WHY("%s: %s", p, strerror(-r));
                return r;
        }
        path_of(s, p, sizeof(p), "index.json");
        if (access(p, F_OK) < 0 && (r = brm_file_write_atomic(p, empty, sizeof(empty) - 1, 0600)) < 0) {
                WHY("%s: %s", p, strerror(-r));
                return r;
        }
        clean_tmp(s);
        return 0;
}

bool brm_imagestore_has(const struct brm_imagestore *s, const char *digest, uint64_t *ret_size)
{
        struct stat st;
        char p[1200];

        if (brm_imagestore_blob_path(s, digest, p, sizeof(p)) < 0 || stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        if (ret_size)
                *ret_size = (uint64_t)st.st_size;
        return true;
}

int brm_imagestore_read(const struct brm_imagestore *s, const char *digest, size_t max, char **ret, size_t *ret_len)
{
        char p[1200];
        uint8_t *data;
        int r;

        if ((r = brm_imagestore_blob_path(s, digest, p, sizeof(p))) < 0)
                return r;
        if ((r = brm_file_read(p, max, &data, ret_len)) < 0)
                return r == -EFBIG ? -E2BIG : r;
        *ret = (char *)data;
        return 0;
}

/* ---- blob writers ---- */

static int md_start(struct brm_blobw *w)
{
        mbedtls_md_init(&w->md);
        if (mbedtls_md_setup(&w->md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0) != 0 ||
            mbedtls_md_starts(&w->md) != 0) {
                mbedtls_md_free(&w->md);
                return -ENOMEM;
        }
        return 0;
}

/* Hashes the bytes a partial file already holds. */
static int rehash(struct brm_blobw *w)
{
        static __thread uint8_t buf[65536];
        ssize_t n;

        if (lseek(w->fd, 0, SEEK_SET) < 0)
                return -errno;
        while ((n = read(w->fd, buf, sizeof(buf))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                mbedtls_md_update(&w->md, buf, (size_t)n);
                w->size += (uint64_t)n;
        }
        return 0;
}

int brm_blobw_open(const struct brm_imagestore *s, const char *digest, struct brm_blobw *w, uint64_t *ret_offset)
{
        char hex[65];
        int r;

        memset(w, 0, sizeof(*w));
        w->fd = -1;
        w->s = s;
        if (digest && digest[0]) {
                if (brm_oci_digest_hex(digest, hex) < 0)
                        return -EINVAL;
                snprintf(w->digest, sizeof(w->digest), "%s", digest);
                if ((r = brm_path(w->tmp, sizeof(w->tmp), "%s/tmp/%s.part", s->dir, hex)) < 0)
                        return r;
                if ((w->fd = open(w->tmp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
                        return -errno;
                /* Two transfers of one blob would interleave their bytes. */
                if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
                        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                        close(w->fd);
                        w->fd = -1;
                        return r;
                }
        } else {
                if ((r = brm_path(w->tmp, sizeof(w->tmp), "%s/tmp/upload.XXXXXX", s->dir)) < 0)
                        return r;
                if ((w->fd = mkostemp(w->tmp, O_CLOEXEC)) < 0)
                        return -errno;
        }
        if ((r = md_start(w)) < 0 || (r = rehash(w)) < 0) {
                if (r != -ENOMEM)
                        mbedtls_md_free(&w->md);
                close(w->fd);
                unlink(w->tmp);
                w->fd = -1;
                return r;
        }
        if (ret_offset)
                *ret_offset = w->size;
        return 0;
}

int brm_blobw_write(struct brm_blobw *w, const void *data, size_t len, uint64_t limit)
{
        int r;

        if (limit && w->size + len > limit)
                return -EFBIG;
        if ((r = brm_write_all(w->fd, data, len)) < 0)
                return r;
        mbedtls_md_update(&w->md, data, len);
        w->size += len;
        return 0;
}

static void writer_close(struct brm_blobw *w)
{
        if (w->fd >= 0) {
                mbedtls_md_free(&w->md);
                close(w->fd);
                w->fd = -1;
        }
}

void brm_blobw_abort(struct brm_blobw *w, bool keep_partial)
{
        if (w->fd < 0)
                return;
        if (!keep_partial || !w->digest[0])
                unlink(w->tmp);
        writer_close(w);
}

int brm_blobw_commit(struct brm_blobw *w, const char *digest, int64_t size, char ret_digest[BRM_OCI_DIGEST_SIZE],
                     char *why, size_t why_size)
{
        uint8_t sum[32];
        char got[65], want[65], dst[1200], dir[1100];
        const char *expect = digest && digest[0] ? digest : w->digest;
        int r = 0;

        if (mbedtls_md_finish(&w->md, sum) != 0) {
                WHY("cannot hash the blob");
                r = -EIO;
                goto fail;
        }
        brm_hex(sum, sizeof(sum), got);
        if (expect[0] && brm_oci_digest_hex(expect, want) < 0) {
                WHY("malformed digest '%.80s'", expect);
                r = -EINVAL;
                goto fail;
        }
        if (size >= 0 && w->size != (uint64_t)size) {
                WHY("blob %.80s: %llu bytes, the descriptor says %lld", expect[0] ? expect : "(upload)",
                    (unsigned long long)w->size, (long long)size);
                r = -EBADMSG;
                goto fail;
        }
        if (expect[0] && strcmp(got, want) != 0) {
                WHY("blob %s does not match its digest (its bytes hash to sha256:%s)", expect, got);
                r = -EBADMSG;
                goto fail;
        }
        if (fsync(w->fd) < 0) {
                r = -errno;
                WHY("blob sha256:%s: %s", got, strerror(-r));
                goto fail;
        }
        brm_path(dst, sizeof(dst), "%s/blobs/sha256/%s", w->s->dir, got);
        if (rename(w->tmp, dst) < 0) {
                r = -errno;
                WHY("blob sha256:%s: %s", got, strerror(-r));
                goto fail;
        }
        brm_path(dir, sizeof(dir), "%s/blobs/sha256", w->s->dir);
        brm_fsync_dir(dir);
        if (ret_digest)
                snprintf(ret_digest, BRM_OCI_DIGEST_SIZE, "sha256:%s", got);
        mbedtls_md_free(&w->md);
        close(w->fd);
        w->fd = -1;
        return 0;
fail:
        unlink(w->tmp);
        mbedtls_md_free(&w->md);
        close(w->fd);
        w->fd = -1;
        return r;
}

int brm_imagestore_put(struct brm_imagestore *s, const void *data, size_t len, const char *digest,
                       char ret_digest[BRM_OCI_DIGEST_SIZE], char *why, size_t why_size)
{
        struct brm_blobw w;
        int r;

        if ((r = brm_blobw_open(s, NULL, &w, NULL)) < 0) {
                WHY("image store: %s", strerror(-r));
                return r;
        }
        if ((r = brm_blobw_write(&w, data, len, 0)) < 0) {
                brm_blobw_abort(&w, false);
                WHY("image store: %s", strerror(-r));
                return r;
        }
        return brm_blobw_commit(&w, digest, (int64_t)len, ret_digest, why, why_size);
}

/* ---- index.json ---- */

static cJSON *index_load(const struct brm_imagestore *s, int *ret_err)
{
        char p[1200];
        uint8_t *data;
        size_t len;
        cJSON *o;
        int r;

        path_of(s, p, sizeof(p), "index.json");
        if ((r = brm_file_read(p, INDEX_MAX, &data, &len)) < 0) {
                *ret_err = r;
                return NULL;
        }
        o = cJSON_ParseWithLength((const char *)data, len);
        free(data);
        if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "manifests"))) {
                cJSON_Delete(o);
                *ret_err = -EBADMSG;
                return NULL;
        }
        return o;
}

static int index_save(struct brm_imagestore *s, cJSON *index)
{
        char p[1200], *text = cJSON_PrintUnformatted(index);
        int r;

        if (!text)
                return -ENOMEM;
        path_of(s, p, sizeof(p), "index.json");
        r = brm_file_write_atomic(p, text, strlen(text), 0600);
        cJSON_free(text);
        return r;
}

static const char *str_of(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *ref_of(const cJSON *m)
{
        return str_of(cJSON_GetObjectItemCaseSensitive(m, "annotations"), REF_NAME);
}

static int desc_of(const cJSON *m, struct brm_oci_desc *d)
{
        const char *mt = str_of(m, "mediaType"), *dg = str_of(m, "digest");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(m, "size");
        char hex[65];

        if (!mt || brm_oci_digest_hex(dg, hex) < 0 || !cJSON_IsNumber(sz) || sz->valuedouble < 0)
                return -EBADMSG;
        snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
        snprintf(d->digest, sizeof(d->digest), "%s", dg);
        d->size = (uint64_t)sz->valuedouble;
        return 0;
}

static int index_error(const struct brm_imagestore *s, int r, char *why, size_t why_size)
{
        WHY("%s/index.json: %s", s->dir, r == -EBADMSG ? "not an image index" : strerror(-r));
        return r;
}

int brm_imagestore_tag(struct brm_imagestore *s, const char *ref, const struct brm_oci_desc *desc, char *why,
                       size_t why_size)
{
        cJSON *index, *ms, *m, *next, *ann;
        int r;

        if (!brm_imagestore_has(s, desc->digest, NULL)) {
                WHY("image %s: the store has no blob %s", ref, desc->digest);
                return -ENOENT;
        }
        if (!(index = index_load(s, &r)))
                return index_error(s, r, why, why_size);
        ms = cJSON_GetObjectItemCaseSensitive(index, "manifests");
        for (m = ms->child; m; m = next) {
                const char *name = ref_of(m);
                next = m->next;
                if (name && strcmp(name, ref) == 0)
                        cJSON_Delete(cJSON_DetachItemViaPointer(ms, m));
        }
        if (!(m = cJSON_CreateObject()) || !cJSON_AddItemToArray(ms, m) ||
            !cJSON_AddStringToObject(m, "mediaType", desc->media_type) ||
            !cJSON_AddStringToObject(m, "digest", desc->digest) ||
            !cJSON_AddNumberToObject(m, "size", (double)desc->size) || !(ann = cJSON_AddObjectToObject(m, "annotations")) ||
            !cJSON_AddStringToObject(ann, REF_NAME, ref)) {
                cJSON_Delete(index);
                WHY("out of memory");
                return -ENOMEM;
        }
        r = index_save(s, index);
        cJSON_Delete(index);
        if (r < 0)
                WHY("%s/index.json: %s", s->dir, strerror(-r));
        return r;
}

int brm_imagestore_lookup(const struct brm_imagestore *s, const char *ref, struct brm_oci_desc *ret)
{
        cJSON *index, *m;
        int r = -ENOENT;

        if (!(index = index_load(s, &r)))
                return r;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(index, "manifests")) {
                const char *name = ref_of(m);
                if (name && strcmp(name, ref) == 0)
                        r = desc_of(m, ret);
        }
        cJSON_Delete(index);
        return r;
}

int brm_imagestore_list(const struct brm_imagestore *s, struct brm_image_entry **ret, size_t *ret_n)
{
        struct brm_image_entry *v;
        cJSON *index, *ms, *m;
        size_t n = 0;
        int r;

        if (!(index = index_load(s, &r)))
                return r;
        ms = cJSON_GetObjectItemCaseSensitive(index, "manifests");
        if (!(v = calloc((size_t)cJSON_GetArraySize(ms) + 1, sizeof(*v)))) {
                cJSON_Delete(index);
                return -ENOMEM;
        }
        cJSON_ArrayForEach(m, ms) {
                const char *name = ref_of(m);
                if (!name || desc_of(m, &v[n].desc) < 0)
                        continue;
                snprintf(v[n].ref, sizeof(v[n].ref), "%s", name);
                n++;
        }
        cJSON_Delete(index);
        *ret = v;
        *ret_n = n;
        return 0;
}

int brm_imagestore_untag(struct brm_imagestore *s, const char *ref, char *why, size_t why_size)
{
        cJSON *index, *ms, *m, *next;
        bool found = false;
        int r;

        if (!(index = index_load(s, &r)))
                return index_error(s, r, why, why_size);
        ms = cJSON_GetObjectItemCaseSensitive(index, "manifests");
        for (m = ms->child; m; m = next) {
                const char *name = ref_of(m);
                next = m->next;
                if (name && strcmp(name, ref) == 0) {
                        cJSON_Delete(cJSON_DetachItemViaPointer(ms, m));
                        found = true;
                }
        }
        r = found ? index_save(s, index) : -ENOENT;
        cJSON_Delete(index);
        if (r == -ENOENT)
                WHY("no image %s in the store", ref);
        else if (r < 0)
                WHY("%s/index.json: %s", s->dir, strerror(-r));
        return r;
}
