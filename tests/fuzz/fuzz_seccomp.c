/* A seccomp profile translated into linux.seccomp (agent/seccomp.c), on
 * arbitrary bytes: a custom profile comes from an operator's file through
 * the master, the default one from a file on the node. The first byte
 * picks the container's capabilities and whether the result is hardened;
 * the rest is the profile. The translator must return 0 or -EINVAL with a
 * reason (or -ENOMEM), and what it returns must be a well-formed filter:
 * a known default action, rules with system call names and a known
 * action. That filter, given back as a profile, must translate to the
 * same rules. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_filter(const json_t *f)
{
        const json_t *rules = json_object_get(f, "syscalls"), *r, *v;
        size_t i, j;

        if (!json_is_string(json_object_get(f, "defaultAction")) || !json_is_array(rules) ||
            strncmp(json_string_value(json_object_get(f, "defaultAction")), "SCMP_ACT_", 9) != 0)
                abort();
        json_array_foreach(rules, i, r) {
                const json_t *names = json_object_get(r, "names");
                if (!json_is_array(names) || json_array_size(names) == 0 || !json_is_string(json_object_get(r, "action")))
                        abort();
                json_array_foreach(names, j, v) {
                        if (!json_is_string(v) || json_string_length(v) == 0)
                                abort();
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct brm_seccomp_host host = { "amd64", "SCMP_ARCH_X86_64", { 6, 1 } };
        json_t *out = NULL, *again = NULL;
        char why[200] = "", *text;
        uint64_t caps;
        bool hard;
        int r;

        if (size < 1)
                return 0;
        /* bit 0: hardened; bit 1: CAP_SYS_ADMIN; bit 2: CAP_DAC_READ_SEARCH. */
        hard = data[0] & 1;
        caps = (data[0] & 2 ? UINT64_C(1) << 21 : 0) | (data[0] & 4 ? UINT64_C(1) << 2 : 0) | 1;
        r = brm_seccomp_translate((const char *)data + 1, size - 1, caps, hard, &host, &out, why, sizeof(why));
        if (r == -EINVAL) {
                if (!why[0] || out)
                        abort();
                return 0;
        }
        if (r == -ENOMEM)
                return 0;
        if (r != 0 || !out)
                abort();
        check_filter(out);
        /* The filter is a profile too: the same rules come back. */
        if (!(text = json_dumps(out, JSON_COMPACT)))
                abort();
        r = brm_seccomp_translate(text, strlen(text), caps, false, &host, &again, why, sizeof(why));
        if (r == 0 && json_array_size(json_object_get(again, "syscalls")) != json_array_size(json_object_get(out, "syscalls")))
                abort();
        if (r != 0 && r != -ENOMEM)
                abort();
        free(text);
        json_decref(again);
        json_decref(out);
        return 0;
}
