/* OCI image index, manifest and config documents; see oci.h. */
#include "oci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))

int brm_oci_digest_hex(const char *digest, char hex[65])
{
        if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
                return -EINVAL;
        for (size_t i = 7; i < 71; i++)
                if (!((digest[i] >= '0' && digest[i] <= '9') || (digest[i] >= 'a' && digest[i] <= 'f')))
                        return -EINVAL;
        memcpy(hex, digest + 7, 65);
        return 0;
}

const char *brm_oci_host_arch(void)
{
#if defined(__aarch64__)
        return "arm64";
#elif defined(__arm__)
        return "arm";
#elif defined(__x86_64__)
        return "amd64";
#else
        return "";
#endif
}

static const char *str_of(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_index_type(const char *mt)
{
        return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
                      strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

int brm_oci_index_pick(const char *json, size_t len, const char *tag, const char *arch,
                       char ret_digest[BRM_OCI_DIGEST_SIZE], char *why, size_t why_size)
{
        cJSON *index = cJSON_ParseWithLength(json, len);
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(index, "manifests"), *m;
        const char *found = NULL;
        char hex[65];
        int n = 0, r = -EINVAL;

        if (!cJSON_IsObject(index)) {
                WHY("the image index is not a JSON object");
                goto out;
        }
        if (!cJSON_IsArray(ms)) {
                WHY("the image index has no list of manifests");
                goto out;
        }
        cJSON_ArrayForEach(m, ms) {
                const char *name = str_of(cJSON_GetObjectItemCaseSensitive(m, "annotations"),
                                          "org.opencontainers.image.ref.name");
                const char *march = str_of(cJSON_GetObjectItemCaseSensitive(m, "platform"), "architecture");
                if (tag && tag[0] && !(name && strcmp(name, tag) == 0))
                        continue;
                if (march && strcmp(march, arch) != 0)
                        continue;
                found = str_of(m, "digest");
                n++;
        }
        if (n == 0) {
                WHY(tag && tag[0] ? "no manifest tagged '%s' for %s" : "no manifest%s for %s", tag ? tag : "", arch);
                goto out;
        }
        if (n > 1) {
                WHY("%d manifests: name one with :TAG", n);
                goto out;
        }
        if (brm_oci_digest_hex(found, hex) < 0) {
                WHY("unsupported or malformed digest '%.80s'", found ? found : "");
                goto out;
        }
        snprintf(ret_digest, BRM_OCI_DIGEST_SIZE, "sha256:%s", hex);
        r = 0;
out:
        cJSON_Delete(index);
        return r;
}

int brm_oci_manifest_parse(const char *json, size_t len, struct brm_oci_manifest *ret, char *why, size_t why_size)
{
        cJSON *o = cJSON_ParseWithLength(json, len);
        const cJSON *layers, *l;
        struct brm_oci_manifest *m;
        char hex[65];
        int r = -EINVAL;

        /* Large: the caller's, filled only on success. */
        if (!(m = calloc(1, sizeof(*m)))) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        if (!cJSON_IsObject(o)) {
                WHY("the manifest is not a JSON object");
                goto out;
        }
        if (is_index_type(str_of(o, "mediaType"))) {
                m->is_index = true;
                goto done;
        }
        if (brm_oci_digest_hex(str_of(cJSON_GetObjectItemCaseSensitive(o, "config"), "digest"), hex) < 0) {
                WHY("the manifest's config has an unsupported or malformed digest");
                goto out;
        }
        snprintf(m->config, sizeof(m->config), "sha256:%s", hex);
        layers = cJSON_GetObjectItemCaseSensitive(o, "layers");
        if (!cJSON_IsArray(layers)) {
                WHY("the manifest has no list of layers");
                goto out;
        }
        cJSON_ArrayForEach(l, layers) {
                if (m->n_layers == BRM_OCI_MAX_LAYERS) {
                        WHY("the manifest has more than %d layers", BRM_OCI_MAX_LAYERS);
                        r = -E2BIG;
                        goto out;
                }
                if (brm_oci_digest_hex(str_of(l, "digest"), hex) < 0) {
                        WHY("layer with an unsupported or malformed digest");
                        goto out;
                }
                snprintf(m->layers[m->n_layers++], BRM_OCI_DIGEST_SIZE, "sha256:%s", hex);
        }
done:
        *ret = *m;
        r = 0;
out:
        free(m);
        cJSON_Delete(o);
        return r;
}

static int set_strv(const cJSON *arr, char **out, size_t max)
{
        const cJSON *v;
        size_t n = 0;

        cJSON_ArrayForEach(v, arr) {
                if (!cJSON_IsString(v))
                        continue;
                if (n + 1 >= max)
                        return -E2BIG;
                if (!(out[n++] = strdup(v->valuestring)))
                        return -ENOMEM;
        }
        return 0;
}

int brm_oci_config_parse(const char *json, size_t len, struct brm_image_config *img)
{
        cJSON *o = cJSON_ParseWithLength(json, len);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "config");
        const char *s;
        int r = 0;

        if (!cJSON_IsObject(o))
                r = -EINVAL;
        else if (!c)
                r = 0; /* an image without defaults */
        else if ((r = set_strv(cJSON_GetObjectItemCaseSensitive(c, "Entrypoint"), img->entrypoint, BRM_MAX_ARGS)) < 0 ||
                 (r = set_strv(cJSON_GetObjectItemCaseSensitive(c, "Cmd"), img->cmd, BRM_MAX_ARGS)) < 0 ||
                 (r = set_strv(cJSON_GetObjectItemCaseSensitive(c, "Env"), img->env, BRM_MAX_ENV)) < 0)
                ;
        else {
                if ((s = str_of(c, "WorkingDir")))
                        snprintf(img->workdir, sizeof(img->workdir), "%s", s);
                if ((s = str_of(c, "User")))
                        snprintf(img->user, sizeof(img->user), "%s", s);
        }
        cJSON_Delete(o);
        return r;
}
