/* The OCI runtime spec (config.json) the agent writes for each container.
 *
 * What every container gets, and why: pid, mount, uts and ipc namespaces
 * (plus net with --network none; host network otherwise, the usual need on
 * a Pi cluster); no_new_privileges; a reduced capability set (Podman's
 * default: no NET_RAW, no MKNOD, no AUDIT_WRITE); the masked and read-only
 * /proc and /sys paths of runc's and Docker's defaults; device access denied
 * but for the runtime's standard nodes; a read-only root with tmpfs /tmp and
 * /run (images are shared between containers and must stay pristine); the
 * cgroup path fixed by the agent and the limits the spec asks for. */
#ifndef BRM_OCISPEC_H
#define BRM_OCISPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "image.h"
#include "spec.h"

struct json_t;

struct brm_ocispec_params {
        const struct brm_container_spec *spec;
        const struct brm_image_config *image; /* rootfs + defaults */
        const char *cgroups_path;             /* from brm_cgroup_container_path */
        unsigned cgroup_version;              /* 2: memory.high via "unified"; 1: soft limit */
        bool swap;                            /* memory+swap accounting: forbid swap past the limit */
        const char *seccomp_profile;          /* the node's default profile; NULL = BRM_SECCOMP_DEFAULT_PROFILE */
};

/* Builds config.json. The process is the spec's args if any (they replace
 * the image's entrypoint and command), else the image's entrypoint + cmd;
 * the environment is the image's with the spec's entries added or replacing
 * by name; the working directory is the spec's, else the image's, else "/".
 * The capabilities are the default set with the spec's changes, and the
 * seccomp filter the spec's profile, none ("unconfined"), or the node's
 * default profile hardened (seccomp.h).
 * Returns 0 and a malloc'd JSON string; else -errno and a one-line reason
 * in WHY: -EINVAL nothing to run or a user the image does not define,
 * -EPROTO a seccomp profile that is missing or wrong, -ENOMEM. */
int brm_ocispec_build(const struct brm_ocispec_params *p, char **ret_json, char *why, size_t why_size);
/* Whether the seccomp filter of spec S can be built here (PROFILE: the
 * node's default, NULL = seccomp.h's): 0, or -EINVAL and a reason. */
int brm_ocispec_seccomp_check(const struct brm_container_spec *s, const char *profile, char *why, size_t why_size);
/* The capability bits a container of spec S gets. */
uint64_t brm_ocispec_caps(const struct brm_container_spec *s);

/* The container spec as the node persists it (desired.json, spec.json).
 * WITH_STOPPED false leaves out the stopped flag: that form compares two
 * specs for "needs a new container" (stopping one is not a change of it).
 * Returns a jansson object (the caller's reference; json_decref) or NULL
 * when out of memory or a string is not UTF-8. */
struct json_t *brm_ocispec_encode_spec(const struct brm_container_spec *s, bool with_stopped);
/* The inverse; strings in ret->args/env are malloc'd (brm_ocispec_spec_free).
 * -EINVAL when a field is missing, of the wrong type or too long. */
int brm_ocispec_decode_spec(const struct json_t *o, struct brm_container_spec *ret);
/* Deep copy of a spec whose args/env may point anywhere. */
int brm_ocispec_spec_dup(const struct brm_container_spec *s, struct brm_container_spec *ret);
void brm_ocispec_spec_free(struct brm_container_spec *s);

#endif
