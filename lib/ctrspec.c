/* The container-spec contract; see ctrspec.h. */
#include "ctrspec.h"
#include "svcspec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

static const char *const cap_names[BRM_CTRSPEC_NCAPS] = {
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
};

const char *brm_ctrspec_cap_name(unsigned n)
{
        return n < BRM_CTRSPEC_NCAPS ? cap_names[n] : NULL;
}

uint64_t brm_ctrspec_cap_bits(const char *name)
{
        if (!name)
                return 0;
        if (strcasecmp(name, "ALL") == 0)
                return BRM_CTRSPEC_CAPS_ALL;
        if (strncasecmp(name, "CAP_", 4) == 0)
                name += 4;
        for (unsigned i = 0; i < BRM_CTRSPEC_NCAPS; i++)
                if (strcasecmp(name, cap_names[i]) == 0)
                        return UINT64_C(1) << i;
        return 0;
}

uint64_t brm_ctrspec_caps(uint64_t defaults, uint64_t add, uint64_t drop)
{
        if (add == BRM_CTRSPEC_CAPS_ALL)
                return BRM_CTRSPEC_CAPS_ALL & ~drop;
        return (defaults & ~drop) | add;
}

static void cap_list(const char *label, char *const *v, size_t n, char *out, size_t size)
{
        size_t len = strlen(out);

        for (size_t i = 0; i < n && len < size; i++) {
                uint64_t b = brm_ctrspec_cap_bits(v[i]);
                const char *nm = b == BRM_CTRSPEC_CAPS_ALL ? "ALL" : NULL;
                for (unsigned k = 0; !nm && k < BRM_CTRSPEC_NCAPS; k++)
                        if (b == UINT64_C(1) << k)
                                nm = cap_names[k];
                len += (size_t)snprintf(out + len, size - len, "%s%s", i ? "," : len ? " " : "", i ? "" : label);
                if (len < size)
                        len += (size_t)snprintf(out + len, size - len, "%s", nm ? nm : v[i]);
        }
}

void brm_ctrspec_security(const Bramble__ContainerSpec *sp, char *out, size_t size)
{
        if (!size)
                return;
        out[0] = '\0';
        if (sp->seccomp && sp->seccomp[0])
                snprintf(out, size, "seccomp=%s", strcmp(sp->seccomp, "unconfined") == 0 ? "unconfined" : "custom");
        cap_list("cap-add=", sp->cap_add, sp->n_cap_add, out, size);
        cap_list("cap-drop=", sp->cap_drop, sp->n_cap_drop, out, size);
}

static int check_caps(const char *what, char *const *v, size_t n, uint64_t *bits, char *why, size_t why_size)
{
        *bits = 0;
        if (n > BRM_CTRSPEC_NCAPS) {
                WHY("%zu %s values: at most %d", n, what, BRM_CTRSPEC_NCAPS);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                uint64_t b = brm_ctrspec_cap_bits(v[i]);
                if (!b) {
                        WHY("%s '%.32s' is not a capability (e.g. NET_ADMIN, SYS_PTRACE, or ALL)", what, v[i] ? v[i] : "");
                        return -EINVAL;
                }
                *bits |= b;
        }
        return 0;
}

int brm_ctrspec_check(const Bramble__ContainerSpec *sp, char *why, size_t why_size)
{
        uint64_t add, drop;

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
                WHY("--image is required (an image in the master's store such as example.com/app:1, or an absolute path on the "
                    "node: a root file-system directory, an OCI layout or an oci-archive)");
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
        if (check_caps("--cap-add", sp->cap_add, sp->n_cap_add, &add, why, why_size) < 0 ||
            check_caps("--cap-drop", sp->cap_drop, sp->n_cap_drop, &drop, why, why_size) < 0)
                return -EINVAL;
        if (add != BRM_CTRSPEC_CAPS_ALL && drop != BRM_CTRSPEC_CAPS_ALL && (add & drop)) {
                for (unsigned k = 0; k < BRM_CTRSPEC_NCAPS; k++)
                        if ((add & drop) >> k & 1) {
                                WHY("capability %s is both added and dropped", cap_names[k]);
                                break;
                        }
                return -EINVAL;
        }
        if (sp->seccomp && sp->seccomp[0] && strcmp(sp->seccomp, "unconfined") != 0) {
                if (sp->seccomp[strspn(sp->seccomp, " \t\r\n")] != '{') {
                        WHY("--security-opt seccomp: expected unconfined or a profile (a JSON object)");
                        return -EINVAL;
                }
                if (check_str("the seccomp profile", sp->seccomp, BRM_CTRSPEC_MAX_SECCOMP, why, why_size) < 0)
                        return -EINVAL;
        }
        if (sp->health && brm_health_check(sp->health, sp->network ? sp->network : "host", why, why_size) < 0)
                return -EINVAL;
        if (sp->service && !brm_valid_service_name(sp->service)) {
                WHY("'%.64s' is not a valid service name", sp->service);
                return -EINVAL;
        }
        return 0;
}
