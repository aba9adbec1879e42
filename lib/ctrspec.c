/* The container-spec contract; see ctrspec.h. */
#include "ctrspec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))

const char *const brm_ctrspec_restart_names[3] = { "always", "on-failure", "never" };
const char *const brm_ctrspec_network_names[2] = { "host", "none" };

int brm_ctrspec_lookup(const char *const *names, size_t n, const char *s)
{
        if (!s)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, names[i]) == 0)
                        return (int)i;
        return -1;
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
static bool utf8_ok(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;

        while (*p) {
                unsigned c = *p, n, min;
                uint32_t cp;
                if (c < 0x80) {
                        p++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        n = 1, min = 0x80, cp = c & 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        n = 2, min = 0x800, cp = c & 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        n = 3, min = 0x10000, cp = c & 0x07;
                else
                        return false;
                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

/* A string field: present when required, short enough, UTF-8. */
static int check_str(const char *what, const char *s, size_t max, char *why, size_t why_size)
{
        size_t len = strlen(s);

        if (len > max) {
                WHY("%s is %zu bytes: at most %zu", what, len, max);
                return -EINVAL;
        }
        if (!utf8_ok(s)) {
                WHY("%s is not valid UTF-8", what);
                return -EINVAL;
        }
        return 0;
}

int brm_ctrspec_check(const Bramble__ContainerSpec *sp, char *why, size_t why_size)
{
        char what[64];

        if (!sp) {
                WHY("the request has no container spec");
                return -EINVAL;
        }
        if (!sp->name || !brm_valid_container_name(sp->name)) {
                WHY("'%.64s' is not a valid container name: use 1-63 characters of a-z, 0-9, '-', '_' and '.', "
                    "starting with a letter or digit", sp->name ? sp->name : "");
                return -EINVAL;
        }
        if (!sp->image || !sp->image[0]) {
                WHY("--image is required (a root file-system directory, an OCI layout or an oci-archive on the node)");
                return -EINVAL;
        }
        if (check_str("--image", sp->image, BRM_CTRSPEC_MAX_IMAGE, why, why_size) < 0)
                return -EINVAL;
        if (sp->has_memory_max && sp->memory_max < BRM_CTRSPEC_MIN_MEMORY) {
                WHY("--memory must be at least 4K");
                return -EINVAL;
        }
        if (sp->has_memory_high && sp->memory_high < BRM_CTRSPEC_MIN_MEMORY) {
                WHY("--memory-high must be at least 4K");
                return -EINVAL;
        }
        if (sp->has_memory_high && sp->has_memory_max && sp->memory_high > sp->memory_max) {
                WHY("--memory-high must not exceed --memory");
                return -EINVAL;
        }
        if (sp->has_cpu_millis && (sp->cpu_millis == 0 || sp->cpu_millis > BRM_CTRSPEC_MAX_CPU_MILLIS)) {
                WHY("--cpus must be greater than 0 and at most 1024");
                return -EINVAL;
        }
        if (sp->has_pids_max && (sp->pids_max == 0 || sp->pids_max > BRM_CTRSPEC_MAX_PIDS)) {
                WHY("--pids must be from 1 to %d", BRM_CTRSPEC_MAX_PIDS);
                return -EINVAL;
        }
        if (brm_ctrspec_lookup(brm_ctrspec_restart_names, 3, sp->restart) < 0) {
                WHY("--restart '%.32s' is not known: expected always, on-failure or never", sp->restart);
                return -EINVAL;
        }
        if (brm_ctrspec_lookup(brm_ctrspec_network_names, 2, sp->network) < 0) {
                WHY("--network '%.32s' is not known: expected host or none", sp->network);
                return -EINVAL;
        }
        if (sp->workdir && sp->workdir[0]) {
                if (sp->workdir[0] != '/') {
                        WHY("--workdir '%.64s' is not an absolute path", sp->workdir);
                        return -EINVAL;
                }
                if (check_str("--workdir", sp->workdir, BRM_CTRSPEC_MAX_WORKDIR, why, why_size) < 0)
                        return -EINVAL;
        }
        if (sp->n_args > BRM_CTRSPEC_MAX_ARGS) {
                WHY("%zu command arguments: at most %d", sp->n_args, BRM_CTRSPEC_MAX_ARGS);
                return -EINVAL;
        }
        for (size_t i = 0; i < sp->n_args; i++) {
                snprintf(what, sizeof(what), "command argument %zu", i + 1);
                if (!sp->args[i] || check_str(what, sp->args[i], BRM_CTRSPEC_MAX_STRING, why, why_size) < 0) {
                        if (!sp->args[i])
                                WHY("%s is missing", what);
                        return -EINVAL;
                }
        }
        if (sp->n_env > BRM_CTRSPEC_MAX_ENV) {
                WHY("%zu --env values: at most %d", sp->n_env, BRM_CTRSPEC_MAX_ENV);
                return -EINVAL;
        }
        for (size_t i = 0; i < sp->n_env; i++) {
                const char *e = sp->env[i];
                if (!e || !strchr(e, '=') || e[0] == '=') {
                        WHY("--env '%.64s' is not KEY=VALUE", e ? e : "");
                        return -EINVAL;
                }
                snprintf(what, sizeof(what), "--env value %zu", i + 1);
                if (check_str(what, e, BRM_CTRSPEC_MAX_STRING, why, why_size) < 0)
                        return -EINVAL;
        }
        return 0;
}
