/* The node's layout of cluster images; see fetchstore.h. */
#include "fetchstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/md.h>

#include "fileio.h"
#include "util.h"

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))
#define INDEX_MAX (4u << 20)
#define REF_ANNOTATION "org.bramble.ref"
#define NAME_ANNOTATION "org.opencontainers.image.ref.name"

int brm_fetchstore_open(struct brm_fetchstore *fs, const char *images_dir)
{
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        static const char empty[] = "{\"schemaVersion\":2,\"manifests\":[]}";
        char p[700];
        int r;

        if (brm_path(fs->dir, sizeof(fs->dir), "%s/layout", images_dir) < 0)
                return -ENAMETOOLONG;
        if ((r = brm_path(p, sizeof(p), "%s/blobs/sha256", fs->dir)) < 0 || (r = brm_mkdir_p(p, 0700)) < 0 ||
            (r = brm_path(p, sizeof(p), "%s/tmp", fs->dir)) < 0 || (r = brm_mkdir_p(p, 0700)) < 0)
                return r;
        if ((r = brm_path(p, sizeof(p), "%s/oci-layout", fs->dir)) < 0 ||
            (access(p, F_OK) < 0 && (r = brm_file_write_atomic(p, layout, sizeof(layout) - 1, 0644)) < 0))
                return r;
        if ((r = brm_path(p, sizeof(p), "%s/index.json", fs->dir)) < 0 ||
            (access(p, F_OK) < 0 && (r = brm_file_write_atomic(p, empty, sizeof(empty) - 1, 0644)) < 0))
                return r;
        return 0;
}

/* brm_path returns the length: these return 0 or -ENAMETOOLONG. */
static int blob_path(const struct brm_fetchstore *fs, const char *hex, char *buf, size_t size)
{
        int r = brm_path(buf, size, "%s/blobs/sha256/%s", fs->dir, hex);
        return r < 0 ? r : 0;
}

static int part_path(const struct brm_fetchstore *fs, const char *hex, char *buf, size_t size)
{
        int r = brm_path(buf, size, "%s/tmp/%s.part", fs->dir, hex);
        return r < 0 ? r : 0;
}

static bool valid_hex(const char *hex)
{
        if (!hex || strlen(hex) != 64)
                return false;
        for (size_t i = 0; i < 64; i++)
                if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
                        return false;
        return true;
}

bool brm_fetchstore_has(const struct brm_fetchstore *fs, const char *hex, uint64_t size)
{
        char p[800];
        struct stat st;

        return valid_hex(hex) && blob_path(fs, hex, p, sizeof(p)) == 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
               (uint64_t)st.st_size == size;
}

uint64_t brm_fetchstore_part_size(const struct brm_fetchstore *fs, const char *hex)
{
        char p[800];
        struct stat st;

        if (!valid_hex(hex) || part_path(fs, hex, p, sizeof(p)) < 0 || stat(p, &st) < 0)
                return 0;
        return (uint64_t)st.st_size;
}

int brm_fetchstore_part_open(const struct brm_fetchstore *fs, const char *hex, uint64_t size, uint64_t *ret_offset)
{
        char p[800];
        struct stat st;
        int fd;

        if (!valid_hex(hex))
                return -EINVAL;
        if (part_path(fs, hex, p, sizeof(p)) < 0)
                return -ENAMETOOLONG;
        if ((fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || ((uint64_t)st.st_size > size && ftruncate(fd, 0) < 0)) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret_offset = (uint64_t)st.st_size > size ? 0 : (uint64_t)st.st_size;
        return fd;
}

void brm_fetchstore_part_remove(const struct brm_fetchstore *fs, const char *hex)
{
        char p[800];

        if (valid_hex(hex) && part_path(fs, hex, p, sizeof(p)) == 0)
                unlink(p);
}

/* SHA-256 of the open file from its first byte, as hex. */
static int hash_fd(int fd, char hex[65])
{
        const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
        mbedtls_md_context_t md;
        uint8_t buf[64 * 1024], sum[32];
        off_t off = 0;
        ssize_t n;
        int r = -EIO;

        mbedtls_md_init(&md);
        if (!info || mbedtls_md_setup(&md, info, 0) != 0 || mbedtls_md_starts(&md) != 0)
                goto out;
        while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                if (mbedtls_md_update(&md, buf, (size_t)n) != 0)
                        goto out;
                off += n;
        }
        if (mbedtls_md_finish(&md, sum) != 0)
                goto out;
        brm_hex(sum, sizeof(sum), hex);
        r = 0;
out:
        mbedtls_md_free(&md);
        return r;
}

int brm_fetchstore_commit(const struct brm_fetchstore *fs, const char *hex, uint64_t size, char *why,
                          size_t why_size)
{
        char part[800], final[800], dir[700], got[65];
        struct stat st;
        int fd, r;

        if (!valid_hex(hex) || part_path(fs, hex, part, sizeof(part)) < 0 || blob_path(fs, hex, final, sizeof(final)) < 0) {
                WHY("blob digest '%.80s' is not sha256 hex", hex ? hex : "");
                return -EINVAL;
        }
        if ((fd = open(part, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                WHY("blob sha256:%s: cannot read what was fetched: %s", hex, strerror(-r));
                if (fd >= 0)
                        close(fd);
                return r;
        }
        if ((uint64_t)st.st_size != size) {
                WHY("blob sha256:%s from the master has %lld bytes, its descriptor says %llu; removed", hex,
                    (long long)st.st_size, (unsigned long long)size);
                r = -EBADMSG;
                goto bad;
        }
        if ((r = hash_fd(fd, got)) < 0) {
                WHY("blob sha256:%s: reading it back failed: %s", hex, strerror(-r));
                close(fd);
                return r;
        }
        if (strcmp(got, hex) != 0) {
                WHY("blob sha256:%s from the master does not match its digest; removed", hex);
                r = -EBADMSG;
                goto bad;
        }
        /* Durable before it is visible: a blob in blobs/ is trusted as is. */
        if (fsync(fd) < 0) {
                r = -errno;
                WHY("blob sha256:%s: fsync failed: %s", hex, strerror(-r));
                close(fd);
                return r;
        }
        close(fd);
        if (rename(part, final) < 0) {
                r = -errno;
                WHY("blob sha256:%s: cannot move it into the layout: %s", hex, strerror(-r));
                return r;
        }
        snprintf(dir, sizeof(dir), "%s/blobs/sha256", fs->dir);
        brm_fsync_dir(dir);
        return 0;
bad:
        close(fd);
        unlink(part);
        return r;
}

/* ---- index.json ---- */

static json_t *load_index(const struct brm_fetchstore *fs, char *why, size_t why_size)
{
        char p[700];
        uint8_t *text = NULL;
        size_t len;
        json_t *index;
        int r;

        if (brm_path(p, sizeof(p), "%s/index.json", fs->dir) < 0 || (r = brm_file_read(p, INDEX_MAX, &text, &len)) < 0) {
                WHY("%s/index.json cannot be read", fs->dir);
                return NULL;
        }
        index = json_loadb((const char *)text, len, 0, NULL);
        free(text);
        if (!json_is_object(index) || !json_is_array(json_object_get(index, "manifests"))) {
                WHY("%s/index.json is not an image index", fs->dir);
                json_decref(index);
                return NULL;
        }
        return index;
}

/* Whether the comma-separated LIST has REF. */
static bool list_has(const char *list, const char *ref)
{
        size_t n = strlen(ref);

        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                if (len == n && memcmp(p, ref, n) == 0)
                        return true;
                p = end ? end + 1 : NULL;
        }
        return false;
}

static const char *entry_refs(const json_t *entry)
{
        return json_string_value(json_object_get(json_object_get(entry, "annotations"), REF_ANNOTATION));
}

/* The hex of an entry's "sha256:HEX" digest, or NULL. */
static const char *entry_hex(const json_t *entry)
{
        const char *d = json_string_value(json_object_get(entry, "digest"));
        return d && strncmp(d, "sha256:", 7) == 0 && valid_hex(d + 7) ? d + 7 : NULL;
}

int brm_fetchstore_lookup(const struct brm_fetchstore *fs, const char *ref, char *buf, size_t size)
{
        json_t *index = load_index(fs, NULL, 0), *e;
        int r = -ENOENT;
        size_t i;

        if (!index)
                return -ENOENT;
        json_array_foreach(json_object_get(index, "manifests"), i, e) {
                const char *hex = entry_hex(e);
                char p[800];
                struct stat st;
                if (!hex || !list_has(entry_refs(e), ref) || blob_path(fs, hex, p, sizeof(p)) < 0 || stat(p, &st) < 0)
                        continue;
                r = brm_fetchstore_local_ref(fs, hex, buf, size);
                break;
        }
        json_decref(index);
        return r;
}

int brm_fetchstore_refs(const struct brm_fetchstore *fs, char **ret)
{
        json_t *index = load_index(fs, NULL, 0), *e;
        size_t i, len = 0, cap = 1;
        char *out;

        if (!index)
                return -ENOENT;
        json_array_foreach(json_object_get(index, "manifests"), i, e) {
                const char *refs = entry_refs(e);
                if (refs && *refs)
                        cap += strlen(refs) + 1;
        }
        if (!(out = malloc(cap))) {
                json_decref(index);
                return -ENOMEM;
        }
        out[0] = '\0';
        json_array_foreach(json_object_get(index, "manifests"), i, e) {
                const char *refs = entry_refs(e), *hex = entry_hex(e);
                char p[800];
                struct stat st;
                if (!refs || !*refs || !hex || blob_path(fs, hex, p, sizeof(p)) < 0 || stat(p, &st) < 0)
                        continue;
                len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", refs);
        }
        json_decref(index);
        *ret = out;
        return 0;
}

/* LIST without REF, in a malloc'd string ("" when none is left). */
static char *list_without(const char *list, const char *ref)
{
        char *out = calloc(1, strlen(list) + 1), *o = out;
        size_t n = strlen(ref);

        for (const char *p = list; out && *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                if (len && !(len == n && memcmp(p, ref, n) == 0)) {
                        if (o != out)
                                *o++ = ',';
                        memcpy(o, p, len);
                        o += len;
                }
                if (!end)
                        break;
                p = end + 1;
        }
        return out;
}

static int set_refs(json_t *entry, const char *refs)
{
        json_t *ann = json_object_get(entry, "annotations");

        if (!json_is_object(ann) && json_object_set_new(entry, "annotations", ann = json_object()) < 0)
                return -ENOMEM;
        return json_object_set_new(ann, REF_ANNOTATION, json_string(refs)) < 0 ? -ENOMEM : 0;
}

/* Takes REF off every entry; entries left without a reference go. */
static int drop_ref(json_t *manifests, const char *ref)
{
        for (size_t i = 0; i < json_array_size(manifests);) {
                json_t *e = json_array_get(manifests, i);
                const char *refs = entry_refs(e);
                char *rest;
                if (!refs || !list_has(refs, ref)) {
                        i++;
                        continue;
                }
                if (!(rest = list_without(refs, ref)))
                        return -ENOMEM;
                if (!rest[0]) {
                        json_array_remove(manifests, i);
                } else {
                        int r = set_refs(e, rest);
                        i++;
                        if (r < 0) {
                                free(rest);
                                return r;
                        }
                }
                free(rest);
        }
        return 0;
}

static json_t *new_entry(const char *ref, const char *hex, uint64_t size, const char *media_type)
{
        json_t *e = json_object(), *ann;
        char digest[80];

        snprintf(digest, sizeof(digest), "sha256:%s", hex);
        /* set_new takes the new value's reference, also when it fails. */
        if (!e || json_object_set_new(e, "annotations", ann = json_object()) < 0 || !ann) {
                json_decref(e);
                return NULL;
        }
        if (json_object_set_new(e, "mediaType",
                                json_string(media_type && media_type[0] ? media_type
                                                                        : "application/vnd.oci.image.manifest.v1+json")) < 0 ||
            json_object_set_new(e, "digest", json_string(digest)) < 0 ||
            json_object_set_new(e, "size", json_integer((json_int_t)size)) < 0 ||
            json_object_set_new(ann, NAME_ANNOTATION, json_string(hex)) < 0 ||
            json_object_set_new(ann, REF_ANNOTATION, json_string(ref)) < 0) {
                json_decref(e);
                return NULL;
        }
        return e;
}

int brm_fetchstore_add_ref(const struct brm_fetchstore *fs, const char *ref, const char *hex, uint64_t size,
                           const char *media_type, char *why, size_t why_size)
{
        json_t *index, *manifests, *e, *found = NULL;
        char p[700], *text = NULL;
        size_t i;
        int r = -ENOMEM;

        if (!valid_hex(hex) || !ref || !ref[0] || strchr(ref, ',')) {
                WHY("image %s: not a reference and manifest digest the node can store", ref ? ref : "");
                return -EINVAL;
        }
        if (!(index = load_index(fs, why, why_size)))
                return -EBADMSG;
        manifests = json_object_get(index, "manifests");
        if ((r = drop_ref(manifests, ref)) < 0)
                goto out;
        json_array_foreach(manifests, i, e) {
                const char *h = entry_hex(e);
                if (h && strcmp(h, hex) == 0) {
                        found = e;
                        break;
                }
        }
        r = -ENOMEM;
        if (found) {
                const char *refs = entry_refs(found);
                char *both = NULL;
                if (refs && refs[0] ? asprintf(&both, "%s,%s", refs, ref) < 0 : !(both = strdup(ref)))
                        goto out;
                r = set_refs(found, both);
                free(both);
                if (r < 0)
                        goto out;
        } else if (!(e = new_entry(ref, hex, size, media_type)) || json_array_append_new(manifests, e) < 0) {
                goto out;
        }
        r = -ENOMEM;
        if (!(text = json_dumps(index, JSON_COMPACT)))
                goto out;
        if ((r = brm_path(p, sizeof(p), "%s/index.json", fs->dir)) < 0 ||
            (r = brm_file_write_atomic(p, text, strlen(text), 0644)) < 0)
                goto out;
        r = 0;
out:
        if (r < 0 && why_size && !why[0])
                WHY("image %s: cannot write %s/index.json: %s", ref, fs->dir, strerror(-r));
        free(text);
        json_decref(index);
        return r;
}

int brm_fetchstore_digest_hex(const char *digest, char hex[65])
{
        if (!digest || strncmp(digest, "sha256:", 7) != 0 || !valid_hex(digest + 7))
                return -EINVAL;
        memcpy(hex, digest + 7, 65);
        return 0;
}

int brm_fetchstore_local_ref(const struct brm_fetchstore *fs, const char *hex, char *buf, size_t size)
{
        int r = brm_path(buf, size, "%s:%s", fs->dir, hex);
        return r < 0 ? r : 0;
}

uint64_t brm_fetchstore_free_bytes(const struct brm_fetchstore *fs)
{
        struct statvfs sv;

        return statvfs(fs->dir, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : 0;
}
