/* An OS update bundle's manifest and config (osbundle.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "osbundle.h"

static int fail(char *why, size_t n, const char *fmt, const char *arg)
{
        snprintf(why, n, fmt, arg ? arg : "");
        return -EINVAL;
}

int brm_osbundle_valid_version(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 63)
                return 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || !strchr("._+~-", c)))
                        return 0;
        }
        return 1;
}

/* "sha256:" and 64 lowercase hex digits, into HEX. */
static int digest_hex(const char *d, char hex[65])
{
        if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
                return -1;
        for (size_t i = 0; i < 64; i++)
                if (!strchr("0123456789abcdef", d[7 + i]) || d[7 + i] == '\0')
                        return -1;
        memcpy(hex, d + 7, 64);
        hex[64] = '\0';
        return 0;
}

/* A boot file's name: a plain file name, no directories, no dot first. */
static int valid_file_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 63 || s[0] == '.')
                return 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._+-", c)))
                        return 0;
        }
        return 1;
}

static int valid_title(const char *t)
{
        if (strcmp(t, "root.squashfs") == 0)
                return 1;
        if (strncmp(t, "boot/", 5) == 0)
                return valid_file_name(t + 5);
        if (strncmp(t, "boot-a/", 7) == 0 || strncmp(t, "boot-b/", 7) == 0)
                return valid_file_name(t + 7);
        return 0;
}

static int read_part(json_t *layer, size_t i, struct brm_osbundle *b, char *why, size_t n)
{
        struct brm_ospart *p = &b->parts[b->n];
        json_t *size = json_object_get(layer, "size");
        const char *mt = json_string_value(json_object_get(layer, "mediaType"));
        const char *title = json_string_value(json_object_get(json_object_get(layer, "annotations"),
                                                              "org.opencontainers.image.title"));
        char idx[32];

        snprintf(idx, sizeof(idx), "%zu", i);
        if (!json_is_object(layer))
                return fail(why, n, "bundle manifest: layers[%s] is not an object", idx);
        if (!mt || strcmp(mt, BRM_OSBUNDLE_PART_TYPE) != 0)
                return fail(why, n, "bundle manifest: layers[%s] is not a part (media type " BRM_OSBUNDLE_PART_TYPE ")", idx);
        if (!title || !valid_title(title))
                return fail(why, n, "bundle manifest: layers[%s] has no valid part name (root.squashfs, boot/NAME, boot-a/NAME or boot-b/NAME)", idx);
        for (size_t k = 0; k < b->n; k++)
                if (strcmp(b->parts[k].title, title) == 0)
                        return fail(why, n, "bundle manifest: part %s is listed twice", title);
        if (digest_hex(json_string_value(json_object_get(layer, "digest")), p->hex) < 0)
                return fail(why, n, "bundle manifest: part %s has no sha256 digest", title);
        if (!json_is_integer(size) || json_integer_value(size) <= 0 ||
            (uint64_t)json_integer_value(size) > BRM_OSBUNDLE_PART_MAX)
                return fail(why, n, "bundle manifest: part %s has no size from 1 byte to 1 GiB", title);
        snprintf(p->title, sizeof(p->title), "%s", title);
        p->size = (uint64_t)json_integer_value(size);
        b->total += p->size;
        b->n++;
        return 0;
}

int brm_osbundle_manifest(const char *json, size_t len, struct brm_osbundle *b, char *why, size_t why_size)
{
        json_error_t e;
        json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e), *layers, *layer;
        size_t i;
        int r = 0;

        memset(b->parts, 0, sizeof(b->parts));
        b->n = 0;
        b->total = 0;
        if (!json_is_object(root)) {
                json_decref(root);
                return fail(why, why_size, "bundle manifest: not a JSON object%s", root ? "" : " (malformed JSON)");
        }
        if (json_integer_value(json_object_get(root, "schemaVersion")) != 2)
                r = fail(why, why_size, "bundle manifest: schemaVersion is not 2%s", NULL);
        else if (digest_hex(json_string_value(json_object_get(json_object_get(root, "config"), "digest")), b->config_hex) < 0)
                r = fail(why, why_size, "bundle manifest: no config digest%s", NULL);
        layers = json_object_get(root, "layers");
        if (r == 0 && (!json_is_array(layers) || json_array_size(layers) == 0))
                r = fail(why, why_size, "bundle manifest: no parts (layers)%s", NULL);
        if (r == 0 && json_array_size(layers) > BRM_OSBUNDLE_MAX_PARTS)
                r = fail(why, why_size, "bundle manifest: more than 64 parts%s", NULL);
        if (r == 0) {
                json_t *cs = json_object_get(json_object_get(root, "config"), "size");
                b->config_size = json_is_integer(cs) && json_integer_value(cs) > 0 ? (uint64_t)json_integer_value(cs) : 0;
                json_array_foreach(layers, i, layer) {
                        if ((r = read_part(layer, i, b, why, why_size)) < 0)
                                break;
                }
        }
        json_decref(root);
        return r;
}

int brm_osbundle_config(const char *json, size_t len, struct brm_osbundle *b, char *why, size_t why_size)
{
        json_error_t e;
        json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
        const char *arch, *os, *version;
        int r = 0;

        if (!json_is_object(root)) {
                json_decref(root);
                return fail(why, why_size, "bundle config: not a JSON object%s", root ? "" : " (malformed JSON)");
        }
        arch = json_string_value(json_object_get(root, "architecture"));
        os = json_string_value(json_object_get(root, "os"));
        version = json_string_value(
                json_object_get(json_object_get(json_object_get(root, "config"), "Labels"), BRM_OSBUNDLE_VERSION_LABEL));
        if (!os || strcmp(os, "linux") != 0)
                r = fail(why, why_size, "bundle config: os is not linux%s", NULL);
        else if (!arch || !*arch || strlen(arch) >= sizeof(b->arch) || strspn(arch, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(arch))
                r = fail(why, why_size, "bundle config: no valid architecture%s", NULL);
        else if (!brm_osbundle_valid_version(version))
                r = fail(why, why_size, "bundle config: label " BRM_OSBUNDLE_VERSION_LABEL " is not a valid version%s", NULL);
        if (r == 0) {
                snprintf(b->arch, sizeof(b->arch), "%s", arch);
                snprintf(b->version, sizeof(b->version), "%s", version);
        }
        json_decref(root);
        return r;
}

const struct brm_ospart *brm_osbundle_boot_file(const struct brm_osbundle *b, char slot, const char *name)
{
        char own[80], shared[80];

        snprintf(own, sizeof(own), "boot-%c/%s", slot, name);
        snprintf(shared, sizeof(shared), "boot/%s", name);
        for (size_t i = 0; i < b->n; i++)
                if (strcmp(b->parts[i].title, own) == 0 || strcmp(b->parts[i].title, shared) == 0)
                        return &b->parts[i];
        return NULL;
}

int brm_osbundle_check(const struct brm_osbundle *b, char slot, char *why, size_t why_size)
{
        static const char *const need[] = { "vmlinuz", "initrd.img" };
        int roots = 0;

        if (slot != 'a' && slot != 'b')
                return fail(why, why_size, "no slot to write%s", NULL);
        for (size_t i = 0; i < b->n; i++) {
                const char *t = b->parts[i].title;
                if (strcmp(t, "root.squashfs") == 0)
                        roots++;
                /* A name both shared and a slot's own would be ambiguous. */
                if (strncmp(t, "boot/", 5) == 0) {
                        char a[80], bb[80];
                        snprintf(a, sizeof(a), "boot-a/%s", t + 5);
                        snprintf(bb, sizeof(bb), "boot-b/%s", t + 5);
                        for (size_t k = 0; k < b->n; k++)
                                if (strcmp(b->parts[k].title, a) == 0 || strcmp(b->parts[k].title, bb) == 0)
                                        return fail(why, why_size, "bundle: %s is both shared and a slot's own", t + 5);
                }
        }
        if (roots != 1)
                return fail(why, why_size, "bundle: no root file system (root.squashfs)%s", NULL);
        for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
                if (!brm_osbundle_boot_file(b, slot, need[i]))
                        return fail(why, why_size, "bundle: no %s for the slot", need[i]);
        return 0;
}
