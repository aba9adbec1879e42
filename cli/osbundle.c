/* OS update bundles, the pure part; see osbundle.h. */
#include "osbundle.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

bool brm_osb_valid_version(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 63 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = s[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._+~-", c)))
                        return false;
        }
        return true;
}

bool brm_osb_valid_arch(const char *s)
{
        return strcmp(s, "arm64") == 0 || strcmp(s, "amd64") == 0 || strcmp(s, "arm") == 0;
}

/* Whether v (n bytes) is printable ASCII. */
static bool printable(const char *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
                        return false;
        return true;
}

int brm_osb_version_parse(const char *text, size_t len, struct brm_os_version *ret, char *why, size_t why_size)
{
        static const struct {
                const char *key;
                size_t off, size;
        } keys[] = {
                { "version", offsetof(struct brm_os_version, version), sizeof(ret->version) },
                { "arch", offsetof(struct brm_os_version, arch), sizeof(ret->arch) },
                { "kernel", offsetof(struct brm_os_version, kernel), sizeof(ret->kernel) },
                { "build_time", offsetof(struct brm_os_version, build_time), sizeof(ret->build_time) },
        };
        struct brm_os_version v = { 0 };
        bool seen[4] = { false };
        size_t pos = 0;
        int line = 0;

        while (pos < len) {
                const char *l = text + pos, *nl = memchr(l, '\n', len - pos), *eq;
                size_t n = nl ? (size_t)(nl - l) : len - pos, k;

                pos += n + (nl ? 1 : 0);
                line++;
                if (n && l[n - 1] == '\r')
                        n--;
                if (n == 0 || l[0] == '#')
                        continue;
                if (!(eq = memchr(l, '=', n))) {
                        WHY("line %d is not KEY=VALUE", line);
                        return -EINVAL;
                }
                for (k = 0; k < 4; k++)
                        if (strlen(keys[k].key) == (size_t)(eq - l) && memcmp(keys[k].key, l, (size_t)(eq - l)) == 0)
                                break;
                if (k == 4)
                        continue;
                if (seen[k]) {
                        WHY("line %d: %s is given twice", line, keys[k].key);
                        return -EINVAL;
                }
                seen[k] = true;
                n -= (size_t)(eq - l) + 1;
                if (n >= keys[k].size || !printable(eq + 1, n)) {
                        WHY("line %d: the %s is longer than %zu characters or not printable", line, keys[k].key,
                            keys[k].size - 1);
                        return -EINVAL;
                }
                memcpy((char *)&v + keys[k].off, eq + 1, n);
        }
        if (!seen[0] || !seen[1]) {
                WHY("it has no %s= line", !seen[0] ? "version" : "arch");
                return -EINVAL;
        }
        if (!brm_osb_valid_version(v.version)) {
                WHY("version '%s' is not 1-63 of A-Z a-z 0-9 . _ + ~ - (starting with a letter or digit)", v.version);
                return -EINVAL;
        }
        if (!brm_osb_valid_arch(v.arch)) {
                WHY("arch '%s' is not one Bramble images are built for (arm64, amd64, arm)", v.arch);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int brm_osb_squashfs_size(const uint8_t *sb, size_t len, uint64_t part_size, uint64_t *ret, char *why, size_t why_size)
{
        uint64_t used = 0, size;

        if (len < BRM_SQUASHFS_SB_SIZE || memcmp(sb, "hsqs", 4) != 0) {
                WHY("partition 2 holds no squashfs file system (no 'hsqs' magic at its start)");
                return -EINVAL;
        }
        for (int i = 7; i >= 0; i--)
                used = used << 8 | sb[40 + i];
        if (used == 0 || used > part_size) {
                WHY("partition 2's squashfs says it uses %llu bytes, the partition has %llu", (unsigned long long)used,
                    (unsigned long long)part_size);
                return -EINVAL;
        }
        /* Rounded up without overflow; never past the partition. */
        size = used % BRM_OSB_ALIGN ? used + (BRM_OSB_ALIGN - used % BRM_OSB_ALIGN) : used;
        *ret = size >= used && size < part_size ? size : part_size;
        return 0;
}

static const struct brm_osb_file *find(const struct brm_osb_file *f, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(f[i].name, name) == 0)
                        return &f[i];
        return NULL;
}

static int by_title(const void *x, const void *y)
{
        return strcmp(((const struct brm_osb_file *)x)->name, ((const struct brm_osb_file *)y)->name);
}

/* The parts of slot SLOT's files F: "boot/NAME" for a file the other slot
 * has with the same bytes (added once, from slot a), else "boot-S/NAME". */
static int slot_parts(const struct brm_osb_file *f, size_t n, const struct brm_osb_file *other, size_t no, int slot,
                      struct brm_osb_file *out, size_t max, size_t *count, char *why, size_t why_size)
{
        for (size_t i = 0; i < n; i++) {
                const struct brm_osb_file *o = find(other, no, f[i].name);
                bool same = o && o->size == f[i].size && strcmp(o->digest, f[i].digest) == 0;

                if (!f[i].name[0] || strlen(f[i].name) > BRM_OSB_NAME_MAX || strchr(f[i].name, '/')) {
                        WHY("slot-%c/%.*s: not a file name of 1-%d characters", slot, BRM_OSB_NAME_MAX, f[i].name,
                            BRM_OSB_NAME_MAX);
                        return -EINVAL;
                }
                if (find(f, i, f[i].name)) {
                        WHY("slot-%c/%s is listed twice", slot, f[i].name);
                        return -EINVAL;
                }
                if (same && slot != 'a')
                        continue;
                if (*count == max) {
                        WHY("the boot slots hold more than %zu files", max);
                        return -EINVAL;
                }
                out[*count] = f[i];
                if (same)
                        snprintf(out[*count].name, sizeof(out[*count].name), "boot/%s", f[i].name);
                else
                        snprintf(out[*count].name, sizeof(out[*count].name), "boot-%c/%s", slot, f[i].name);
                out[*count].slot = slot;
                (*count)++;
        }
        return 0;
}

int brm_osb_boot_parts(const struct brm_osb_file *a, size_t na, const struct brm_osb_file *b, size_t nb,
                       struct brm_osb_file *out, size_t max, char *why, size_t why_size)
{
        static const char *required[] = BRM_OSB_REQUIRED;
        size_t n = 0;

        for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
                if (!find(a, na, required[i]) || !find(b, nb, required[i])) {
                        WHY("the boot partition has no slot-%c/%s%s", find(a, na, required[i]) ? 'b' : 'a', required[i],
                            strcmp(required[i], "u-boot.bin") == 0
                                    ? " (an image from before the Pis booted through U-Boot: a Pi could not start it)"
                                    : "");
                        return -EINVAL;
                }
        }
        if (slot_parts(a, na, b, nb, 'a', out, max, &n, why, why_size) < 0 ||
            slot_parts(b, nb, a, na, 'b', out, max, &n, why, why_size) < 0)
                return -EINVAL;
        qsort(out, n, sizeof(*out), by_title);
        return (int)n;
}

char *brm_osb_config_json(const struct brm_os_version *v, const struct brm_osb_file *parts, size_t n)
{
        cJSON *o = cJSON_CreateObject(), *cfg, *labels, *rootfs, *ids;
        char *text;

        cJSON_AddStringToObject(o, "architecture", v->arch);
        cJSON_AddStringToObject(o, "os", "linux");
        cfg = cJSON_AddObjectToObject(o, "config");
        labels = cJSON_AddObjectToObject(cfg, "Labels");
        cJSON_AddStringToObject(labels, BRM_OSB_LABEL_VERSION, v->version);
        cJSON_AddStringToObject(labels, BRM_OSB_LABEL_KERNEL, v->kernel);
        rootfs = cJSON_AddObjectToObject(o, "rootfs");
        cJSON_AddStringToObject(rootfs, "type", "layers");
        ids = cJSON_AddArrayToObject(rootfs, "diff_ids");
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(ids, cJSON_CreateString(parts[i].digest));
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return text;
}

char *brm_osb_manifest_json(const char *config_digest, uint64_t config_size, const struct brm_osb_file *parts, size_t n)
{
        cJSON *o = cJSON_CreateObject(), *d, *arr, *ann;
        char *text;

        cJSON_AddNumberToObject(o, "schemaVersion", 2);
        cJSON_AddStringToObject(o, "mediaType", BRM_OCI_MANIFEST);
        d = cJSON_AddObjectToObject(o, "config");
        cJSON_AddStringToObject(d, "mediaType", BRM_OCI_CONFIG);
        cJSON_AddStringToObject(d, "digest", config_digest);
        cJSON_AddNumberToObject(d, "size", (double)config_size);
        arr = cJSON_AddArrayToObject(o, "layers");
        for (size_t i = 0; i < n; i++) {
                cJSON_AddItemToArray(arr, d = cJSON_CreateObject());
                cJSON_AddStringToObject(d, "mediaType", BRM_OSB_PART_TYPE);
                cJSON_AddStringToObject(d, "digest", parts[i].digest);
                cJSON_AddNumberToObject(d, "size", (double)parts[i].size);
                ann = cJSON_AddObjectToObject(d, "annotations");
                cJSON_AddStringToObject(ann, "org.opencontainers.image.title", parts[i].name);
        }
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return text;
}
