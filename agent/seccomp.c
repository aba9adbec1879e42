/* A seccomp profile translated into linux.seccomp; see seccomp.h. */
#include "seccomp.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "fileio.h"
#include "util.h"

#define CAP_SYS_ADMIN_BIT 21
#define ERRNO_EPERM 1
#define ERRNO_ENOSYS 38

static const char *const actions[] = {
        "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",  "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
};
static const char *const ops[] = {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};
/* The capability names a profile's conditions use, by number. */
static const char *const cap_names[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

void brm_seccomp_host(struct brm_seccomp_host *ret)
{
        struct utsname u;

#if defined(__x86_64__)
        ret->arch = "amd64";
        ret->scmp_arch = "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
        ret->arch = "arm64";
        ret->scmp_arch = "SCMP_ARCH_AARCH64";
#elif defined(__arm__)
        ret->arch = "arm";
        ret->scmp_arch = "SCMP_ARCH_ARM";
#elif defined(__i386__)
        ret->arch = "x86";
        ret->scmp_arch = "SCMP_ARCH_X86";
#else
        ret->arch = NULL;
        ret->scmp_arch = NULL;
#endif
        ret->kernel[0] = ret->kernel[1] = 0;
        if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &ret->kernel[0], &ret->kernel[1]) != 2)
                ret->kernel[0] = ret->kernel[1] = 0;
}

struct ctx {
        char *why;
        size_t why_size;
        uint64_t caps;
        const struct brm_seccomp_host *host;
};

static int bad(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct ctx *x, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->why, x->why_size, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static bool has_cap(const struct ctx *x, const char *name)
{
        for (size_t i = 0; i < BRM_ARRAY_SIZE(cap_names); i++)
                if (strcmp(cap_names[i], name) == 0)
                        return (x->caps >> i) & 1;
        return false; /* a capability this table does not know is not granted */
}

/* Array of strings (or absent/null: N = 0). */
static int str_array(struct ctx *x, const json_t *a, const char *where, const char *key)
{
        size_t i;
        const json_t *v;

        if (!a || json_is_null(a))
                return 0;
        if (!json_is_array(a))
                return bad(x, "%s.%s: expected a list of strings", where, key);
        json_array_foreach(a, i, v) {
                if (!json_is_string(v))
                        return bad(x, "%s.%s[%zu]: expected a string", where, key, i);
        }
        return 0;
}

static int kernel_version(struct ctx *x, const json_t *v, const char *where, unsigned ret[2])
{
        if (!json_is_string(v) || sscanf(json_string_value(v), "%u.%u", &ret[0], &ret[1]) != 2)
                return bad(x, "%s.minKernel: expected a version like \"5.8\"", where);
        return 0;
}

static bool kernel_at_least(const struct ctx *x, const unsigned v[2])
{
        return x->host->kernel[0] != v[0] ? x->host->kernel[0] > v[0] : x->host->kernel[1] >= v[1];
}

/* Whether the includes/excludes of rule WHERE hold here: 1 yes, 0 no. */
static int conditions(struct ctx *x, const json_t *rule, const char *where)
{
        static const char *const kinds[] = { "includes", "excludes" };
        int holds = 1;

        for (int k = 0; k < 2; k++) {
                const json_t *c = json_object_get(rule, kinds[k]), *caps, *arches, *v, *mk;
                char w[64];
                size_t i;
                int r;

                if (!c || json_is_null(c))
                        continue;
                snprintf(w, sizeof(w), "%s.%s", where, kinds[k]);
                if (!json_is_object(c))
                        return bad(x, "%s: expected an object", w);
                caps = json_object_get(c, "caps");
                arches = json_object_get(c, "arches");
                mk = json_object_get(c, "minKernel");
                if ((r = str_array(x, caps, w, "caps")) < 0 || (r = str_array(x, arches, w, "arches")) < 0)
                        return r;
                if (k == 0) {
                        bool arch_listed = json_array_size(arches) == 0;
                        json_array_foreach(caps, i, v) {
                                if (!has_cap(x, json_string_value(v)))
                                        holds = 0;
                        }
                        json_array_foreach(arches, i, v) {
                                if (x->host->arch && strcmp(json_string_value(v), x->host->arch) == 0)
                                        arch_listed = true;
                        }
                        if (!arch_listed)
                                holds = 0;
                } else {
                        json_array_foreach(caps, i, v) {
                                if (has_cap(x, json_string_value(v)))
                                        holds = 0;
                        }
                        json_array_foreach(arches, i, v) {
                                if (x->host->arch && strcmp(json_string_value(v), x->host->arch) == 0)
                                        holds = 0;
                        }
                }
                if (mk && !json_is_null(mk)) {
                        unsigned kv[2];
                        if ((r = kernel_version(x, mk, w, kv)) < 0)
                                return r;
                        if (kernel_at_least(x, kv) != (k == 0))
                                holds = 0;
                }
        }
        return holds;
}

static int set_new(json_t *o, const char *key, json_t *v)
{
        return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static bool valid_syscall_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

static int errno_ret(struct ctx *x, const json_t *v, const char *where, json_int_t *ret)
{
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4095)
                return bad(x, "%s: expected an errno number from 0 to 4095", where);
        *ret = json_integer_value(v);
        return 0;
}

/* One rule of the profile, checked, into OUT (when its conditions hold). */
static int rule(struct ctx *x, const json_t *in, size_t idx, json_t *out)
{
        const json_t *names = json_object_get(in, "names"), *name = json_object_get(in, "name"),
                     *action = json_object_get(in, "action"), *er = json_object_get(in, "errnoRet"),
                     *args = json_object_get(in, "args"), *v;
        json_t *o, *n, *a;
        char where[48];
        size_t i;
        int r, holds;

        snprintf(where, sizeof(where), "syscalls[%zu]", idx);
        if (!json_is_object(in))
                return bad(x, "%s: expected an object", where);
        if (!json_is_string(action) || !in_list(actions, BRM_ARRAY_SIZE(actions), json_string_value(action)))
                return bad(x, "%s.action: %s%s%s", where, json_is_string(action) ? "unknown action '" : "missing",
                           json_is_string(action) ? json_string_value(action) : "", json_is_string(action) ? "'" : "");
        if ((holds = conditions(x, in, where)) < 0)
                return holds;
        if (!(o = json_object()) || set_new(o, "names", (n = json_array())) < 0)
                goto oom;
        if (names && !json_is_null(names)) {
                if (!json_is_array(names) || json_array_size(names) == 0)
                        goto no_names;
                json_array_foreach(names, i, v) {
                        if (!json_is_string(v) || !valid_syscall_name(json_string_value(v))) {
                                json_decref(o);
                                return bad(x, "%s.names[%zu]: not a system call name", where, i);
                        }
                        if (json_array_append_new(n, json_string(json_string_value(v))) < 0)
                                goto oom;
                }
        } else if (json_is_string(name) && valid_syscall_name(json_string_value(name))) {
                if (json_array_append_new(n, json_string(json_string_value(name))) < 0)
                        goto oom;
        } else {
        no_names:
                json_decref(o);
                return bad(x, "%s: expected \"names\", a list of system call names", where);
        }
        if (set_new(o, "action", json_string(json_string_value(action))) < 0)
                goto oom;
        if (er && !json_is_null(er)) {
                json_int_t e;
                char w[64];
                snprintf(w, sizeof(w), "%s.errnoRet", where);
                if ((r = errno_ret(x, er, w, &e)) < 0) {
                        json_decref(o);
                        return r;
                }
                if (set_new(o, "errnoRet", json_integer(e)) < 0)
                        goto oom;
        }
        if (args && !json_is_null(args)) {
                if (!json_is_array(args) || json_array_size(args) > 6) {
                        json_decref(o);
                        return bad(x, "%s.args: expected a list of at most 6 conditions", where);
                }
                if (set_new(o, "args", (a = json_array())) < 0)
                        goto oom;
                json_array_foreach(args, i, v) {
                        const json_t *ix = json_object_get(v, "index"), *val = json_object_get(v, "value"),
                                     *val2 = json_object_get(v, "valueTwo"), *op = json_object_get(v, "op");
                        json_t *c;
                        if (!json_is_integer(ix) || json_integer_value(ix) < 0 || json_integer_value(ix) > 5 ||
                            !json_is_integer(val) || json_integer_value(val) < 0 ||
                            (val2 && !json_is_null(val2) && (!json_is_integer(val2) || json_integer_value(val2) < 0)) ||
                            !json_is_string(op) || !in_list(ops, BRM_ARRAY_SIZE(ops), json_string_value(op))) {
                                json_decref(o);
                                return bad(x, "%s.args[%zu]: expected index 0-5, value, valueTwo and a known op", where, i);
                        }
                        if (!(c = json_object()) || json_array_append_new(a, c) < 0 ||
                            set_new(c, "index", json_integer(json_integer_value(ix))) < 0 ||
                            set_new(c, "value", json_integer(json_integer_value(val))) < 0 ||
                            set_new(c, "valueTwo", json_integer(json_is_integer(val2) ? json_integer_value(val2) : 0)) < 0 ||
                            set_new(c, "op", json_string(json_string_value(op))) < 0)
                                goto oom;
                }
        }
        if (!holds) {
                json_decref(o);
                return 0;
        }
        return json_array_append_new(out, o) < 0 ? -ENOMEM : 0;
oom:
        json_decref(o);
        return -ENOMEM;
}

/* ---- hardening ---- */

static int add_rule(json_t *out, const char *const *names, size_t n, const char *action, int err, json_t *args)
{
        json_t *o = json_object(), *a = json_array();

        if (!o || json_array_append_new(out, o) < 0 || set_new(o, "names", a) < 0 || !a ||
            set_new(o, "action", json_string(action)) < 0 || (err >= 0 && set_new(o, "errnoRet", json_integer(err)) < 0) ||
            (args && set_new(o, "args", json_incref(args)) < 0)) {
                json_decref(args);
                return -ENOMEM;
        }
        json_decref(args);
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(a, json_string(names[i])) < 0)
                        return -ENOMEM;
        return 0;
}

/* Removes NAME from every rule; true when a rule that allowed it without
 * conditions had it. Rules left without names are dropped. */
static bool take_name(json_t *rules, const char *name)
{
        bool allowed = false;

        for (size_t i = json_array_size(rules); i-- > 0;) {
                json_t *r = json_array_get(rules, i), *names = json_object_get(r, "names");
                for (size_t j = json_array_size(names); j-- > 0;) {
                        if (strcmp(json_string_value(json_array_get(names, j)), name) != 0)
                                continue;
                        if (strcmp(json_string_value(json_object_get(r, "action")), "SCMP_ACT_ALLOW") == 0 &&
                            json_array_size(json_object_get(r, "args")) == 0)
                                allowed = true;
                        json_array_remove(names, j);
                }
                if (json_array_size(names) == 0)
                        json_array_remove(rules, i);
        }
        return allowed;
}

static json_t *newuser_arg(bool set)
{
        return json_pack("[{s:i, s:I, s:I, s:s}]", "index", 0, "value", (json_int_t)CLONE_NEWUSER, "valueTwo",
                         (json_int_t)(set ? CLONE_NEWUSER : 0), "op", "SCMP_CMP_MASKED_EQ");
}

static int harden(struct ctx *x, json_t *rules)
{
        static const char *const keyrings[] = { "add_key", "keyctl", "request_key" };
        int r;

        for (size_t i = 0; i < BRM_ARRAY_SIZE(keyrings); i++)
                take_name(rules, keyrings[i]);
        if ((r = add_rule(rules, keyrings, BRM_ARRAY_SIZE(keyrings), "SCMP_ACT_ERRNO", ERRNO_EPERM, NULL)) < 0)
                return r;
        if ((x->caps >> CAP_SYS_ADMIN_BIT) & 1)
                return 0;
        static const char *const ns[] = { "unshare", "clone" };
        for (size_t i = 0; i < BRM_ARRAY_SIZE(ns); i++) {
                bool allowed = take_name(rules, ns[i]);
                /* Allowed as before but for a new user namespace; a
                 * profile that did not allow the call keeps refusing it. */
                if (allowed && (r = add_rule(rules, &ns[i], 1, "SCMP_ACT_ALLOW", -1, newuser_arg(false))) < 0)
                        return r;
                if ((r = add_rule(rules, &ns[i], 1, "SCMP_ACT_ERRNO", ERRNO_EPERM, newuser_arg(true))) < 0)
                        return r;
        }
        static const char *const clone3[] = { "clone3" };
        if (take_name(rules, "clone3") && (r = add_rule(rules, clone3, 1, "SCMP_ACT_ERRNO", ERRNO_ENOSYS, NULL)) < 0)
                return r;
        return 0;
}

/* ---- the profile ---- */

static int architectures(struct ctx *x, const json_t *prof, json_t *out)
{
        const json_t *map = json_object_get(prof, "archMap"), *plain = json_object_get(prof, "architectures"), *e, *v;
        json_t *a = json_array();
        size_t i, j;

        if (!a || set_new(out, "architectures", a) < 0)
                return -ENOMEM;
        if (map && !json_is_null(map)) {
                if (!json_is_array(map))
                        return bad(x, "archMap: expected a list");
                json_array_foreach(map, i, e) {
                        const json_t *arch = json_object_get(e, "architecture"), *subs = json_object_get(e, "subArchitectures");
                        if (!json_is_string(arch))
                                return bad(x, "archMap[%zu].architecture: expected a string", i);
                        if (!x->host->scmp_arch || strcmp(json_string_value(arch), x->host->scmp_arch) != 0)
                                continue;
                        if (json_array_append_new(a, json_string(json_string_value(arch))) < 0)
                                return -ENOMEM;
                        if (str_array(x, subs, "archMap", "subArchitectures") < 0)
                                return -EINVAL;
                        json_array_foreach(subs, j, v) {
                                if (json_array_append_new(a, json_string(json_string_value(v))) < 0)
                                        return -ENOMEM;
                        }
                        break;
                }
        } else if (plain && !json_is_null(plain)) {
                if (str_array(x, plain, "profile", "architectures") < 0)
                        return -EINVAL;
                json_array_foreach(plain, i, v) {
                        if (json_array_append_new(a, json_string(json_string_value(v))) < 0)
                                return -ENOMEM;
                }
        }
        /* None listed: the filter applies to the native architecture only,
         * which is what the runtimes do with an empty list. */
        return 0;
}

int brm_seccomp_translate(const char *text, size_t len, uint64_t caps, bool hard, const struct brm_seccomp_host *host,
                          json_t **ret, char *why, size_t why_size)
{
        struct ctx x = { why, why_size, caps, host };
        json_error_t jerr;
        json_t *prof, *out = NULL, *rules;
        const json_t *da, *der, *sc, *v;
        size_t i;
        int r = -ENOMEM;

        if (!host->scmp_arch)
                return bad(&x, "this machine's architecture has no seccomp profile translation");
        if (!(prof = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
                return bad(&x, "not JSON (line %d: %s)", jerr.line, jerr.text);
        if (!json_is_object(prof)) {
                r = bad(&x, "expected a JSON object");
                goto out;
        }
        da = json_object_get(prof, "defaultAction");
        der = json_object_get(prof, "defaultErrnoRet");
        sc = json_object_get(prof, "syscalls");
        if (!json_is_string(da) || !in_list(actions, BRM_ARRAY_SIZE(actions), json_string_value(da))) {
                r = bad(&x, "defaultAction: %s", json_is_string(da) ? "unknown action" : "missing");
                goto out;
        }
        if (sc && !json_is_null(sc) && !json_is_array(sc)) {
                r = bad(&x, "syscalls: expected a list");
                goto out;
        }
        if (!(out = json_object()) || set_new(out, "defaultAction", json_string(json_string_value(da))) < 0)
                goto out;
        if (der && !json_is_null(der)) {
                json_int_t e;
                if ((r = errno_ret(&x, der, "defaultErrnoRet", &e)) < 0)
                        goto out;
                r = -ENOMEM;
                if (set_new(out, "defaultErrnoRet", json_integer(e)) < 0)
                        goto out;
        }
        if ((r = architectures(&x, prof, out)) < 0)
                goto out;
        r = -ENOMEM;
        if (!(rules = json_array()) || set_new(out, "syscalls", rules) < 0)
                goto out;
        json_array_foreach(sc, i, v) {
                if ((r = rule(&x, v, i, rules)) < 0)
                        goto out;
        }
        if (hard && (r = harden(&x, rules)) < 0)
                goto out;
        *ret = out;
        out = NULL;
        r = 0;
out:
        json_decref(out);
        json_decref(prof);
        return r;
}

int brm_seccomp_translate_file(const char *path, uint64_t caps, bool hard, const struct brm_seccomp_host *host,
                               json_t **ret, char *why, size_t why_size)
{
        uint8_t *text;
        size_t len;
        char reason[200];
        int r = brm_file_read(path, BRM_SECCOMP_MAX_PROFILE, &text, &len);

        if (r < 0) {
                snprintf(why, why_size, "seccomp profile %s: %s", path,
                         r == -ENOENT  ? "not found (install golang-github-containers-common, or give the container "
                                         "--security-opt seccomp=unconfined)"
                         : r == -EFBIG ? "too large"
                                       : strerror(-r));
                return r == -ENOENT ? -ENOENT : -EINVAL;
        }
        r = brm_seccomp_translate((const char *)text, len, caps, hard, host, ret, reason, sizeof(reason));
        free(text);
        if (r == -EINVAL)
                snprintf(why, why_size, "seccomp profile %s: %s", path, reason);
        return r;
}
