/* A seccomp profile translated for a machine, its kernel and a container's
 * capabilities (agent/seccomp.c): the conditions on capabilities,
 * architectures and kernel versions; the architectures from archMap; the
 * hardening on top of containers-common's profile; and the refusals, each
 * saying where. The real profile shipped with Debian translates too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "seccomp.h"

#define SYS_ADMIN (UINT64_C(1) << 21)

static const char profile[] =
        "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
        "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]},"
        "{\"architecture\":\"SCMP_ARCH_AARCH64\",\"subArchitectures\":[\"SCMP_ARCH_ARM\"]}],"
        "\"syscalls\":["
        "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
        "{\"names\":[\"arch_prctl\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"amd64\",\"x32\"]}},"
        "{\"names\":[\"cacheflush\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"arm\",\"arm64\"]}},"
        "{\"names\":[\"bpf\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
        "{\"names\":[\"bpf\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1,\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
        "{\"names\":[\"newer\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"minKernel\":\"6.2\"}},"
        "{\"names\":[\"older\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"minKernel\":\"6.0\"}},"
        "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]},"
        "{\"names\":[\"keyctl\",\"unshare\",\"clone\",\"clone3\",\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"}"
        "]}";

/* The rules naming NAME: how many, and the action and errnoRet of the one
 * without args (or of the last one). */
static int rules_for(const json_t *f, const char *name, const char **action, int *err, int *with_args)
{
        const json_t *r, *v;
        size_t i, j;
        int n = 0;

        *action = NULL;
        *err = -1;
        *with_args = 0;
        json_array_foreach(json_object_get(f, "syscalls"), i, r) {
                json_array_foreach(json_object_get(r, "names"), j, v) {
                        if (strcmp(json_string_value(v), name) != 0)
                                continue;
                        n++;
                        if (json_array_size(json_object_get(r, "args"))) {
                                (*with_args)++;
                                if (*action)
                                        continue;
                        }
                        *action = json_string_value(json_object_get(r, "action"));
                        *err = json_is_integer(json_object_get(r, "errnoRet")) ? (int)json_integer_value(json_object_get(r, "errnoRet")) : -1;
                }
        }
        return n;
}

static json_t *translate(const struct brm_seccomp_host *h, uint64_t caps, bool hard)
{
        json_t *f = NULL;
        char why[200];
        int r = brm_seccomp_translate(profile, strlen(profile), caps, hard, h, &f, why, sizeof(why));
        if (r < 0)
                CHECK_FAIL_("translate: %d %s", r, why);
        return f;
}

static void refused(const char *text, const char *where)
{
        struct brm_seccomp_host h = { "amd64", "SCMP_ARCH_X86_64", { 6, 1 } };
        json_t *f = NULL;
        char why[200] = "";
        CHECK_INT(brm_seccomp_translate(text, strlen(text), 0, true, &h, &f, why, sizeof(why)), ==, -EINVAL);
        CHECK(!f);
        if (!strstr(why, where))
                CHECK_FAIL_("refusal '%s' does not name '%s'", why, where);
}

int main(void)
{
        struct brm_seccomp_host amd = { "amd64", "SCMP_ARCH_X86_64", { 6, 1 } }, arm = { "arm64", "SCMP_ARCH_AARCH64", { 6, 12 } };
        const char *action;
        int err, args;
        json_t *f, *a;

        /* As written, on amd64 with kernel 6.1 and no capabilities. */
        f = translate(&amd, 0, false);
        CHECK_STR(json_string_value(json_object_get(f, "defaultAction")), "SCMP_ACT_ERRNO");
        CHECK_INT(json_integer_value(json_object_get(f, "defaultErrnoRet")), ==, 38);
        a = json_object_get(f, "architectures");
        CHECK_INT(json_array_size(a), ==, 3);
        CHECK_STR(json_string_value(json_array_get(a, 0)), "SCMP_ARCH_X86_64");
        CHECK_STR(json_string_value(json_array_get(a, 2)), "SCMP_ARCH_X32");
        CHECK_INT(rules_for(f, "read", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ALLOW");
        CHECK_INT(rules_for(f, "arch_prctl", &action, &err, &args), ==, 1);
        CHECK_INT(rules_for(f, "cacheflush", &action, &err, &args), ==, 0);
        CHECK_INT(rules_for(f, "bpf", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ERRNO");
        CHECK_INT(err, ==, 1);
        CHECK_INT(rules_for(f, "newer", &action, &err, &args), ==, 0);
        CHECK_INT(rules_for(f, "older", &action, &err, &args), ==, 0);
        CHECK_INT(rules_for(f, "personality", &action, &err, &args), ==, 1);
        CHECK_INT(args, ==, 1);
        CHECK_INT(rules_for(f, "keyctl", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ALLOW");
        json_decref(f);

        /* With CAP_SYS_ADMIN the includes hold and the excludes do not. */
        f = translate(&amd, SYS_ADMIN, false);
        CHECK_INT(rules_for(f, "bpf", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ALLOW");
        json_decref(f);

        /* arm64, kernel 6.12. */
        f = translate(&arm, 0, false);
        a = json_object_get(f, "architectures");
        CHECK_INT(json_array_size(a), ==, 2);
        CHECK_STR(json_string_value(json_array_get(a, 1)), "SCMP_ARCH_ARM");
        CHECK_INT(rules_for(f, "cacheflush", &action, &err, &args), ==, 1);
        CHECK_INT(rules_for(f, "arch_prctl", &action, &err, &args), ==, 0);
        CHECK_INT(rules_for(f, "newer", &action, &err, &args), ==, 1);
        json_decref(f);

        /* Hardened: keyrings refused with EPERM; a user namespace refused
         * by unshare and clone, anything else allowed; clone3 ENOSYS. */
        f = translate(&amd, 0, true);
        CHECK_INT(rules_for(f, "keyctl", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ERRNO");
        CHECK_INT(err, ==, 1);
        CHECK_INT(rules_for(f, "add_key", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ERRNO");
        CHECK_INT(rules_for(f, "unshare", &action, &err, &args), ==, 2);
        CHECK_INT(args, ==, 2);
        CHECK_INT(rules_for(f, "clone", &action, &err, &args), ==, 2);
        CHECK_INT(args, ==, 2);
        CHECK_INT(rules_for(f, "clone3", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ERRNO");
        CHECK_INT(err, ==, 38);
        CHECK_INT(rules_for(f, "getpid", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ALLOW");
        json_decref(f);
        /* ... but with CAP_SYS_ADMIN only the keyrings change. */
        f = translate(&amd, SYS_ADMIN, true);
        CHECK_INT(rules_for(f, "unshare", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ALLOW");
        CHECK_INT(args, ==, 0);
        CHECK_INT(rules_for(f, "keyctl", &action, &err, &args), ==, 1);
        CHECK_STR(action, "SCMP_ACT_ERRNO");
        json_decref(f);

        /* Refusals name what is wrong and where. */
        refused("", "not JSON");
        refused("[]", "expected a JSON object");
        refused("{}", "defaultAction");
        refused("{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", "defaultAction");
        refused("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":-1}", "defaultErrnoRet");
        refused("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}", "syscalls");
        refused("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_X\"}]}",
                "syscalls[0].action");
        refused("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                "{\"names\":[\"a b\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
                "syscalls[1].names[0]");
        refused("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
                "\"args\":[{\"index\":6,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                "syscalls[0].args[0]");
        refused("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
                "\"includes\":{\"minKernel\":\"new\"}}]}",
                "syscalls[0].includes.minKernel");
        refused("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
                "\"excludes\":{\"caps\":\"CAP_SYS_ADMIN\"}}]}",
                "syscalls[0].excludes.caps");

        /* The profile Debian ships, as the node reads it. */
        {
                struct brm_seccomp_host here;
                char why[300];
                brm_seccomp_host(&here);
                CHECK(here.arch && here.kernel[0] >= 3);
                if (brm_seccomp_translate_file(BRM_SECCOMP_DEFAULT_PROFILE, 0, true, &here, &f, why, sizeof(why)) < 0)
                        CHECK_FAIL_("%s (scripts/bootstrap installs golang-github-containers-common)", why);
                CHECK(json_array_size(json_object_get(f, "syscalls")) > 20);
                CHECK_INT(rules_for(f, "keyctl", &action, &err, &args), ==, 1);
                CHECK_STR(action, "SCMP_ACT_ERRNO");
                json_decref(f);
                CHECK_INT(brm_seccomp_translate_file("/nonexistent/seccomp.json", 0, true, &here, &f, why, sizeof(why)), ==, -ENOENT);
                CHECK(strstr(why, "/nonexistent/seccomp.json: not found"));
        }
        printf("test_seccomp: passed\n");
        return 0;
}
