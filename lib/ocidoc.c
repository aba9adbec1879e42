/* OCI image index and manifest documents; see ocidoc.h. */
#include "ocidoc.h"

#include <errno.h>
#include <math.h>
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

/* A descriptor's size: a whole number a uint64 and a double both hold. */
static int size_of(const cJSON *o, uint64_t *ret)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "size");
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0 ||
            floor(v->valuedouble) != v->valuedouble)
                return -EINVAL;
        *ret = (uint64_t)v->valuedouble;
        return 0;
}

bool brm_oci_is_index_type(const char *mt)
{
        return mt && (strcmp(mt, BRM_OCI_INDEX) == 0 || strcmp(mt, BRM_DOCKER_LIST) == 0);
}

bool brm_oci_is_manifest_type(const char *mt)
{
        return mt && (strcmp(mt, BRM_OCI_MANIFEST) == 0 || strcmp(mt, BRM_DOCKER_MANIFEST) == 0);
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

/* "os/arch[/variant]" of a descriptor's platform into buf; false when it
 * names none. */
static bool platform_name(const cJSON *p, char *buf, size_t size)
{
        const char *os = str_of(p, "os"), *arch = str_of(p, "architecture"), *variant = str_of(p, "variant");
        if (!os || !arch)
                return false;
        snprintf(buf, size, "%s/%s%s%s", os, arch, variant && variant[0] ? "/" : "", variant ? variant : "");
        return true;
}

int brm_oci_index_platform(const char *json, size_t len, const char *platform, struct brm_oci_desc *ret,
                           char *why, size_t why_size)
{
        cJSON *index = cJSON_ParseWithLength(json, len);
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(index, "manifests"), *m, *best = NULL;
        char want_os[32], want_arch[32], want_var[32] = "", have[512] = "", name[128];
        int best_rank = 0, r = -EINVAL, n_arch = 0;
        size_t hl = 0;

        if (sscanf(platform, "%31[^/]/%31[^/]/%31s", want_os, want_arch, want_var) < 2) {
                WHY("platform '%.60s' is not OS/ARCH[/VARIANT]", platform);
                goto out;
        }
        if (!cJSON_IsObject(index) || !cJSON_IsArray(ms)) {
                WHY("the image index is not a JSON object with a list of manifests");
                goto out;
        }
        cJSON_ArrayForEach(m, ms) {
                const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "platform");
                const char *os = str_of(p, "os"), *arch = str_of(p, "architecture"), *var = str_of(p, "variant");
                int rank;

                if (!platform_name(p, name, sizeof(name)))
                        continue;
                /* Attestations and signatures are listed as unknown/unknown. */
                if (strcmp(os, "unknown") != 0 && hl < sizeof(have) - 1 && !strstr(have, name))
                        hl += (size_t)snprintf(have + hl, sizeof(have) - hl, "%s%s", hl ? ", " : "", name);
                if (hl >= sizeof(have))
                        hl = sizeof(have) - 1;
                if (strcmp(os, want_os) != 0 || strcmp(arch, want_arch) != 0)
                        continue;
                if (want_var[0])
                        rank = var && strcmp(var, want_var) == 0 ? 3 : 0;
                else if (!var || !var[0] || (strcmp(want_arch, "arm64") == 0 && strcmp(var, "v8") == 0))
                        rank = 2;
                else
                        rank = 1, n_arch++;
                if (rank > best_rank) {
                        best_rank = rank;
                        best = m;
                }
        }
        if (!best || (best_rank == 1 && n_arch > 1)) {
                WHY("has no %s variant (it has %s)", platform, have[0] ? have : "no platforms");
                r = -ENOENT;
                goto out;
        }
        {
                struct brm_oci_desc d;
                const char *mt = str_of(best, "mediaType"), *dg = str_of(best, "digest");
                char hex[65];
                if (brm_oci_digest_hex(dg, hex) < 0 || size_of(best, &d.size) < 0 || !brm_oci_is_manifest_type(mt)) {
                        WHY("the index's %s manifest has a malformed digest, size or media type", platform);
                        goto out;
                }
                snprintf(d.media_type, sizeof(d.media_type), "%s", mt);
                snprintf(d.digest, sizeof(d.digest), "sha256:%s", hex);
                *ret = d;
        }
        r = 0;
out:
        cJSON_Delete(index);
        return r;
}

int brm_oci_manifest_parse(const char *json, size_t len, struct brm_oci_manifest *ret, char *why, size_t why_size)
{
        cJSON *o = cJSON_ParseWithLength(json, len);
        const cJSON *layers, *l, *cfg;
        struct brm_oci_manifest *m;
        const char *mt;
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
        mt = str_of(o, "mediaType");
        if (brm_oci_is_index_type(mt)) {
                m->is_index = true;
                snprintf(m->media_type, sizeof(m->media_type), "%s", mt);
                goto done;
        }
        /* An OCI manifest may leave its mediaType out. */
        if (mt && !brm_oci_is_manifest_type(mt)) {
                WHY("unsupported manifest type '%.80s'", mt);
                goto out;
        }
        snprintf(m->media_type, sizeof(m->media_type), "%s", mt ? mt : BRM_OCI_MANIFEST);
        cfg = cJSON_GetObjectItemCaseSensitive(o, "config");
        if (brm_oci_digest_hex(str_of(cfg, "digest"), hex) < 0) {
                WHY("the manifest's config has an unsupported or malformed digest");
                goto out;
        }
        snprintf(m->config, sizeof(m->config), "sha256:%s", hex);
        /* Layouts written before sizes were read may lack them: 0 is "unknown". */
        if (cJSON_GetObjectItemCaseSensitive(cfg, "size") && size_of(cfg, &m->config_size) < 0) {
                WHY("the manifest's config has a malformed size");
                goto out;
        }
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
                if (cJSON_GetObjectItemCaseSensitive(l, "size") && size_of(l, &m->layer_sizes[m->n_layers]) < 0) {
                        WHY("layer with a malformed size");
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

int brm_oci_config_platform(const char *json, size_t len, char *buf, size_t size)
{
        cJSON *o = cJSON_ParseWithLength(json, len);
        int r = cJSON_IsObject(o) && platform_name(o, buf, size) ? 0 : -EINVAL;
        cJSON_Delete(o);
        return r;
}
