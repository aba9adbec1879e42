/* The OCI image documents (lib/ocidoc.c, agent/oci.c) on arbitrary bytes:
 * the first byte picks the reader (index, manifest, platform choice, config
 * platform or config; the index also with a tag), the
 * rest is the document, not NUL-terminated. What a reader accepts must
 * hold its promises: digests are well formed, counts within their bounds,
 * argument lists NULL-terminated; a refusal says why and leaves the
 * output as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_strv(char *const *v, size_t max)
{
        size_t n = 0;
        while (n < max && v[n])
                n++;
        if (n >= max)
                abort(); /* the last entry must stay NULL */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char digest[BRM_OCI_DIGEST_SIZE] = "untouched", why[256] = "", hex[65], *buf;
        struct brm_oci_manifest *m;
        struct brm_image_config img;
        int r;

        if (size < 1)
                return 0;
        /* An exact-size copy, so ASan catches any read past the end. */
        if (!(buf = malloc(size - 1 ? size - 1 : 1)))
                return 0;
        memcpy(buf, data + 1, size - 1);
        switch (data[0] % 6) {
        case 0:
        case 1:
                r = brm_oci_index_pick(buf, size - 1, data[0] % 4 ? "latest" : NULL, "arm64", digest, why, sizeof(why));
                if (r == 0 && brm_oci_digest_hex(digest, hex) < 0)
                        abort();
                if (r < 0 && (!why[0] || strcmp(digest, "untouched") != 0))
                        abort();
                break;
        case 2:
                if (!(m = calloc(1, sizeof(*m))))
                        break;
                m->n_layers = 12345;
                r = brm_oci_manifest_parse(buf, size - 1, m, why, sizeof(why));
                if (r < 0 && (!why[0] || m->n_layers != 12345))
                        abort();
                if (r == 0 && !m->is_index) {
                        if (m->n_layers > BRM_OCI_MAX_LAYERS || brm_oci_digest_hex(m->config, hex) < 0)
                                abort();
                        for (size_t i = 0; i < m->n_layers; i++)
                                if (brm_oci_digest_hex(m->layers[i], hex) < 0)
                                        abort();
                }
                free(m);
                break;
        case 4: {
                /* The platform choice of a multi-platform image. */
                struct brm_oci_desc d, before;
                memset(&d, 0x5a, sizeof(d));
                before = d;
                r = brm_oci_index_platform(buf, size - 1, data[0] & 0x80 ? "linux/arm64" : "linux/arm/v7", &d, why,
                                           sizeof(why));
                if (r < 0 && (!why[0] || memcmp(&d, &before, sizeof(d)) != 0))
                        abort();
                if (r == 0 && (brm_oci_digest_hex(d.digest, hex) < 0 || !brm_oci_is_manifest_type(d.media_type)))
                        abort();
                break;
        }
        case 5: {
                char plat[64];
                if (brm_oci_config_platform(buf, size - 1, plat, sizeof(plat)) == 0 && !memchr(plat, '\0', sizeof(plat)))
                        abort();
                break;
        }
        default:
                memset(&img, 0, sizeof(img));
                brm_oci_config_parse(buf, size - 1, &img);
                check_strv(img.entrypoint, BRM_MAX_ARGS);
                check_strv(img.cmd, BRM_MAX_ARGS);
                check_strv(img.env, BRM_MAX_ENV);
                if (memchr(img.workdir, '\0', sizeof(img.workdir)) == NULL || memchr(img.user, '\0', sizeof(img.user)) == NULL)
                        abort();
                brm_image_config_free(&img);
                break;
        }
        free(buf);
        return 0;
}
