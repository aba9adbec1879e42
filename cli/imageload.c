/* bramble image load FILE: an oci-archive (an OCI image layout in a tar, as
 * skopeo and umoci write it) or a docker-archive ('docker save'), streamed
 * to the master blob by blob (libarchive reads it; nothing is held whole in
 * memory but the small JSON documents). The master checks every blob
 * against its digest; a docker-archive's layers are also checked against
 * the diff_ids of their image config, and get an OCI manifest written
 * here. Only when every blob is stored are the names set, so a bad archive
 * names nothing. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>

#include "frame.h"
#include "ocidoc.h"
#include "util.h"

#include "blobup.h"
#include "common.h"
#include "images.h"

#define CHUNK (256u << 10)
#define JSON_KEEP_MAX (4u << 20)
#define MAX_FILES 4096

struct file {
        char *path;            /* inside the archive, without "./" */
        char digest[BRM_OCI_DIGEST_SIZE];
        uint64_t size;
        char *json;            /* kept for *.json and index.json */
        size_t json_len;
};

struct load {
        struct brm_cli *c;
        const char *archive;
        struct file files[MAX_FILES];
        size_t n;
        bool tty;
        uint8_t *buf;
};

static void files_free(struct load *L)
{
        for (size_t i = 0; i < L->n; i++) {
                free(L->files[i].path);
                free(L->files[i].json);
        }
}

static struct file *find(struct load *L, const char *path)
{
        for (size_t i = 0; i < L->n; i++)
                if (strcmp(L->files[i].path, path) == 0)
                        return &L->files[i];
        return NULL;
}

static int fail(struct load *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct load *L, const char *fmt, ...)
{
        va_list ap;

        if (L->tty)
                fputc('\n', stderr);
        fprintf(stderr, "bramble: image load %s: ", L->archive);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_FAIL;
}

/* Files of an archive that are no blob: the layout's own, docker's
 * per-layer leftovers. */
static bool skip_file(const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        return strcmp(path, "oci-layout") == 0 || strcmp(path, "repositories") == 0 ||
               (base != path && (strcmp(base, "json") == 0 || strcmp(base, "VERSION") == 0));
}

/* Sends one blob's bytes and its commit; the master answers with the
 * digest it stored. EXPECT is the digest the archive names it by ("" when
 * it names none). */
static int upload(struct load *L, struct archive *a, const char *path, const char *expect, int64_t size,
                  struct file *f)
{
        bool keep = strlen(path) > 5 && strcmp(path + strlen(path) - 5, ".json") == 0 && size <= (int64_t)JSON_KEEP_MAX;
        uint64_t sent = 0;
        char human[16], why[512];
        int rc;

        /* A blob the master holds already (a base layer another image
         * shares, the same archive loaded again) is not sent twice. */
        if (expect[0] && !keep && size >= 0) {
                rc = brm_cli_blob_stored(L->c, expect, (uint64_t)size, why, sizeof(why));
                if (rc == EXIT_CONNECT) {
                        fail(L, "%s", why);
                        return rc;
                }
                if (rc == 0) {
                        if (archive_read_data_skip(a) != ARCHIVE_OK)
                                return fail(L, "%s: %s (the archive is cut short or damaged; nothing was named)", path,
                                            archive_error_string(a));
                        snprintf(f->digest, sizeof(f->digest), "%s", expect);
                        f->size = (uint64_t)size;
                        brm_cli_human_bytes(f->size, human, sizeof(human));
                        fprintf(stderr, "%.19s  %s  on the master already\n", f->digest + 7, human);
                        return 0;
                }
        }
        if (keep && !(f->json = malloc((size_t)size + 1)))
                return fail(L, "out of memory");
        for (;;) {
                la_ssize_t n = archive_read_data(a, L->buf, CHUNK);
                if (n < 0)
                        return fail(L, "%s: %s (the archive is cut short or damaged; nothing was named)", path,
                                    archive_error_string(a));
                if (n == 0)
                        break;
                if (keep) {
                        memcpy(f->json + f->json_len, L->buf, (size_t)n);
                        f->json_len += (size_t)n;
                }
                if ((rc = brm_cli_blob_data(L->c, L->buf, (size_t)n, why, sizeof(why))) != 0) {
                        fail(L, "%s", why);
                        return rc;
                }
                sent += (uint64_t)n;
                if (L->tty) {
                        brm_cli_human_bytes(sent, human, sizeof(human));
                        fprintf(stderr, "\r  %.19s  %s   ", expect[0] ? expect + 7 : path, human);
                }
        }
        if (keep)
                f->json[f->json_len] = '\0';
        if ((rc = brm_cli_blob_commit(L->c, expect, size, f->digest, &f->size, why, sizeof(why))) != 0) {
                fail(L, "%s", why);
                return rc;
        }
        brm_cli_human_bytes(f->size, human, sizeof(human));
        fprintf(stderr, "%s  %.19s  %s\n", L->tty ? "\r" : "", f->digest + 7, human);
        return 0;
}

/* The archive's own index (index.json, manifest.json): read, not stored. */
static int keep_json(struct load *L, struct archive *a, struct file *f, int64_t size)
{
        la_ssize_t n;

        if (size < 0 || size > (int64_t)JSON_KEEP_MAX)
                return fail(L, "%s: larger than %u MiB", f->path, JSON_KEEP_MAX >> 20);
        if (!(f->json = malloc((size_t)size + 1)))
                return fail(L, "out of memory");
        while ((n = archive_read_data(a, f->json + f->json_len, (size_t)size - f->json_len)) > 0)
                f->json_len += (size_t)n;
        if (n < 0)
                return fail(L, "%s: %s", f->path, archive_error_string(a));
        f->json[f->json_len] = '\0';
        return 0;
}

/* Reads the archive through, uploading every regular file. */
static int read_archive(struct load *L)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        int r, rc = 0;

        archive_read_support_format_tar(a);
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_filter_xz(a);
        if (archive_read_open_filename(a, L->archive, 1 << 16) != ARCHIVE_OK) {
                rc = fail(L, "%s", archive_error_string(a));
                goto out;
        }
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                const char *path = archive_entry_pathname(e);
                char expect[BRM_OCI_DIGEST_SIZE] = "", hex[65];
                struct file *f;

                if (!path || archive_entry_filetype(e) != AE_IFREG)
                        continue;
                while (strncmp(path, "./", 2) == 0)
                        path += 2;
                if (L->n == MAX_FILES) {
                        rc = fail(L, "more than %d files: not an image archive", MAX_FILES);
                        goto out;
                }
                if (strncmp(path, "blobs/sha256/", 13) == 0) {
                        snprintf(expect, sizeof(expect), "sha256:%.64s", path + 13);
                        if (strlen(path + 13) != 64 || brm_oci_digest_hex(expect, hex) < 0) {
                                rc = fail(L, "%s: not a blob name (blobs/sha256/ and 64 hex digits)", path);
                                goto out;
                        }
                }
                f = &L->files[L->n];
                memset(f, 0, sizeof(*f));
                if (!(f->path = strdup(path))) {
                        rc = fail(L, "out of memory");
                        goto out;
                }
                L->n++;
                if (skip_file(path))
                        continue;
                if (strcmp(path, "index.json") == 0 || strcmp(path, "manifest.json") == 0)
                        rc = keep_json(L, a, f, archive_entry_size(e));
                else
                        rc = upload(L, a, path, expect, archive_entry_size(e), f);
                if (rc != 0)
                        goto out;
        }
        if (r != ARCHIVE_EOF)
                rc = fail(L, "%s (the archive is cut short or damaged; nothing was named)", archive_error_string(a));
out:
        archive_read_free(a);
        return rc;
}

static int tag(struct load *L, const char *ref, const char *mt, const char *digest, uint64_t size)
{
        char stored[512];
        int rc;

        if ((rc = brm_cli_image_tag(L->c, ref, mt, digest, size, stored, sizeof(stored))) != 0)
                return rc;
        if (L->c->json)
                printf("{\"ref\": \"%s\", \"digest\": \"%s\"}\n", stored, digest);
        else
                printf("loaded %s (%s)\n", stored, digest);
        return 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An OCI layout: index.json names the images. */
static int name_oci(struct load *L, const struct file *index, const char *name)
{
        cJSON *o = cJSON_ParseWithLength(index->json, index->json_len), *m;
        int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "manifests")), rc = 0, done = 0;

        if (n <= 0) {
                cJSON_Delete(o);
                return fail(L, "index.json lists no images");
        }
        if (name && n > 1) {
                cJSON_Delete(o);
                return fail(L, "--name: the archive holds %d images; load it without --name", n);
        }
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(o, "manifests")) {
                const cJSON *ann = cJSON_GetObjectItemCaseSensitive(m, "annotations");
                /* docker save (25 and later) writes an OCI layout whose
                 * ref.name is the tag alone and the full name here. */
                const char *full = str_of(ann, "io.containerd.image.name");
                const char *ref = name ? name : full ? full : str_of(ann, "org.opencontainers.image.ref.name");
                const char *mt = str_of(m, "mediaType"), *digest = str_of(m, "digest");
                const cJSON *size = cJSON_GetObjectItemCaseSensitive(m, "size");

                if (!ref) {
                        rc = fail(L, "an image in index.json has no name: give it one with --name REF");
                        break;
                }
                if (!mt || !digest || !cJSON_IsNumber(size) || size->valuedouble < 0) {
                        rc = fail(L, "index.json: the entry for %s lacks its mediaType, digest or size", ref);
                        break;
                }
                if ((rc = tag(L, ref, mt, digest, (uint64_t)size->valuedouble)) != 0)
                        break;
                done++;
        }
        cJSON_Delete(o);
        return rc;
}

static int upload_mem(struct load *L, const char *text, char digest[BRM_OCI_DIGEST_SIZE])
{
        char why[512];
        int rc;

        if ((rc = brm_cli_blob_put(L->c, text, strlen(text), digest, why, sizeof(why))) != 0)
                fail(L, "%s", why);
        return rc;
}

/* One image of a docker-archive: an OCI manifest for its config and
 * layers, each layer checked against its diff_id. */
static int name_docker_one(struct load *L, const cJSON *img, const char *name)
{
        const char *cfg_path = str_of(img, "Config");
        const cJSON *layers = cJSON_GetObjectItemCaseSensitive(img, "Layers"), *l, *tags, *t, *ids;
        struct file *cfg = cfg_path ? find(L, cfg_path) : NULL, *f;
        cJSON *cfg_doc = NULL, *man = NULL, *arr, *d;
        char digest[BRM_OCI_DIGEST_SIZE], *text = NULL;
        int i = 0, rc = 0;

        if (!cfg || !cfg->json)
                return fail(L, "manifest.json names config %s, which the archive does not hold",
                            cfg_path ? cfg_path : "(none)");
        cfg_doc = cJSON_ParseWithLength(cfg->json, cfg->json_len);
        ids = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg_doc, "rootfs"), "diff_ids");
        if (!cJSON_IsArray(layers) || !cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != cJSON_GetArraySize(layers)) {
                rc = fail(L, "%s: its rootfs.diff_ids do not match the layers manifest.json lists", cfg_path);
                goto out;
        }
        man = cJSON_CreateObject();
        cJSON_AddNumberToObject(man, "schemaVersion", 2);
        cJSON_AddStringToObject(man, "mediaType", BRM_OCI_MANIFEST);
        d = cJSON_AddObjectToObject(man, "config");
        cJSON_AddStringToObject(d, "mediaType", BRM_OCI_CONFIG);
        cJSON_AddStringToObject(d, "digest", cfg->digest);
        cJSON_AddNumberToObject(d, "size", (double)cfg->size);
        arr = cJSON_AddArrayToObject(man, "layers");
        cJSON_ArrayForEach(l, layers) {
                const char *diff = cJSON_IsString(cJSON_GetArrayItem(ids, i)) ? cJSON_GetArrayItem(ids, i)->valuestring : "";
                if (!cJSON_IsString(l) || !(f = find(L, l->valuestring))) {
                        rc = fail(L, "manifest.json names layer %s, which the archive does not hold",
                                  cJSON_IsString(l) ? l->valuestring : "(not a string)");
                        goto out;
                }
                if (strcmp(diff, f->digest) != 0) {
                        rc = fail(L, "layer %s is %s, but its config's diff_id %d is %s", f->path, f->digest, i, diff);
                        goto out;
                }
                cJSON_AddItemToArray(arr, d = cJSON_CreateObject());
                cJSON_AddStringToObject(d, "mediaType", BRM_OCI_LAYER_TAR);
                cJSON_AddStringToObject(d, "digest", f->digest);
                cJSON_AddNumberToObject(d, "size", (double)f->size);
                i++;
        }
        if (!(text = cJSON_PrintUnformatted(man))) {
                rc = fail(L, "out of memory");
                goto out;
        }
        if ((rc = upload_mem(L, text, digest)) != 0)
                goto out;
        if (name) {
                rc = tag(L, name, BRM_OCI_MANIFEST, digest, strlen(text));
                goto out;
        }
        tags = cJSON_GetObjectItemCaseSensitive(img, "RepoTags");
        if (cJSON_GetArraySize(tags) == 0) {
                rc = fail(L, "an image in manifest.json has no RepoTags: give it a name with --name REF");
                goto out;
        }
        cJSON_ArrayForEach(t, tags) {
                if (cJSON_IsString(t) && (rc = tag(L, t->valuestring, BRM_OCI_MANIFEST, digest, strlen(text))) != 0)
                        break;
        }
out:
        cJSON_free(text);
        cJSON_Delete(man);
        cJSON_Delete(cfg_doc);
        return rc;
}

static int name_docker(struct load *L, const struct file *manifest, const char *name)
{
        cJSON *o = cJSON_ParseWithLength(manifest->json, manifest->json_len), *img;
        int rc = 0;

        if (!cJSON_IsArray(o) || cJSON_GetArraySize(o) == 0) {
                cJSON_Delete(o);
                return fail(L, "manifest.json is not a list of images");
        }
        if (name && cJSON_GetArraySize(o) > 1) {
                rc = cJSON_GetArraySize(o);
                cJSON_Delete(o);
                return fail(L, "--name: the archive holds %d images; load it without --name", rc);
        }
        cJSON_ArrayForEach(img, o) {
                if ((rc = name_docker_one(L, img, name)) != 0)
                        break;
        }
        cJSON_Delete(o);
        return rc;
}

int brm_cli_image_load(struct brm_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
                { "name", required_argument, NULL, 'n' },
                { 0 },
        };
        struct load *L;
        const char *name = NULL;
        struct file *f;
        int o, rc;

        optind = 0; /* reinitialise: options may follow the operands */
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (o == 'n')
                        name = optarg;
                else
                        return brm_cli_usage_error("usage: bramble image load FILE [--name REF]");
        }
        if (argc - optind != 1)
                return brm_cli_usage_error("usage: bramble image load FILE [--name REF]");
        if (name && (!name[0] || strlen(name) >= 256 || strchr(name, ' ')))
                return brm_cli_usage_error("invalid --name '%s': expected an image reference like example.com/app:1", name);
        if (access(argv[optind], R_OK) < 0)
                return brm_cli_usage_error("image load: cannot read %s: %s", argv[optind], strerror(errno));
        if ((rc = brm_cli_connect(c)) != 0)
                return rc;
        if (!(L = calloc(1, sizeof(*L))) || !(L->buf = malloc(CHUNK))) {
                free(L);
                fprintf(stderr, "bramble: out of memory\n");
                return EXIT_FAIL;
        }
        L->c = c;
        L->archive = argv[optind];
        L->tty = isatty(STDERR_FILENO);
        /* A large blob takes a while to commit (hash, fsync): no timeout
         * between frames beyond the connection's own. */
        if ((rc = read_archive(L)) == 0) {
                if (find(L, "oci-layout") && (f = find(L, "index.json")) && f->json)
                        rc = name_oci(L, f, name);
                else if ((f = find(L, "manifest.json")) && f->json)
                        rc = name_docker(L, f, name);
                else
                        rc = fail(L, "neither an oci-archive (oci-layout, index.json) nor a docker-archive (manifest.json)");
        }
        files_free(L);
        free(L->buf);
        free(L);
        return rc;
}
