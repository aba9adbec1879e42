/* The seccomp filter of a container: a profile in the format Docker and
 * Podman use (containers-common's /usr/share/containers/seccomp.json is the
 * node's default), translated into the OCI spec's linux.seccomp for this
 * machine, its kernel and the container's capabilities.
 *
 * The translation keeps a rule only where its conditions hold: includes
 * (every listed capability in the container's set, the machine's
 * architecture listed, the kernel at least minKernel) and excludes (none of
 * the listed capabilities, not this architecture, the kernel below
 * minKernel). The architectures are the machine's native one and its
 * sub-architectures from the profile's archMap.
 *
 * With HARDEN the result is then made as strict as Docker's default on the
 * points where containers-common allows more (it is written for nested
 * containers, which a Pi's services do not run):
 *   - the kernel keyrings (add_key, keyctl, request_key) are refused with
 *     EPERM: they are not namespaced, a key added in one container is seen
 *     by every other of the same uid;
 *   - without CAP_SYS_ADMIN, unshare and clone are refused with EPERM when
 *     their flags ask for a new user namespace (inside one, a process is
 *     root again and mounts, writes its own uid_map, reaches kernel code
 *     meant for root), and clone3 answers ENOSYS (its flags are behind a
 *     pointer that seccomp cannot read; C libraries then use clone).
 * Does not log. */
#ifndef BRM_SECCOMP_H
#define BRM_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

#define BRM_SECCOMP_DEFAULT_PROFILE "/usr/share/containers/seccomp.json"
#define BRM_SECCOMP_MAX_PROFILE (256u << 10)

struct brm_seccomp_host {
        const char *arch;      /* the profile's name for it: "amd64", "arm64", "arm" */
        const char *scmp_arch; /* "SCMP_ARCH_X86_64", ... */
        unsigned kernel[2];    /* major, minor */
};

/* This machine: its architecture (as compiled) and its kernel (uname). */
void brm_seccomp_host(struct brm_seccomp_host *ret);

/* Translates the profile TEXT (LEN bytes) for a container whose bounding
 * set is CAPS (bit n = capability n). 0 and a new jansson object in *RET
 * (the caller's reference), or -EINVAL and a one-line reason in WHY (what
 * is wrong and where, e.g. "syscalls[3].action: unknown action
 * 'SCMP_ACT_FOO'"), -ENOMEM. */
int brm_seccomp_translate(const char *text, size_t len, uint64_t caps, bool harden, const struct brm_seccomp_host *host,
                          struct json_t **ret, char *why, size_t why_size);

/* The same for the profile in the file PATH; a reason names the file. */
int brm_seccomp_translate_file(const char *path, uint64_t caps, bool harden, const struct brm_seccomp_host *host,
                               struct json_t **ret, char *why, size_t why_size);

#endif
