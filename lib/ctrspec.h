/* The container-spec contract: what makes a ContainerSpec valid, said once
 * and used by all three sides: the CLI before it sends a request, the
 * master before it stores one, the node before it accepts one. What only a
 * node can know (is the image there, can its cgroups enforce the limits)
 * the node checks on its own (agent/spec.h). Does not log. */
#ifndef BRM_CTRSPEC_H
#define BRM_CTRSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "bramble.pb-c.h"

#define BRM_CTRSPEC_MAX_ARGS 63       /* the node keeps them NULL-terminated in 64 */
#define BRM_CTRSPEC_MAX_ENV 63
#define BRM_CTRSPEC_MAX_IMAGE 511     /* bytes */
#define BRM_CTRSPEC_MAX_WORKDIR 255
#define BRM_CTRSPEC_MAX_STRING 16384  /* one argument or environment entry */
#define BRM_CTRSPEC_MIN_MEMORY 4096
#define BRM_CTRSPEC_MAX_PIDS 4194304
#define BRM_CTRSPEC_MAX_CPU_MILLIS 1024000
#define BRM_CTRSPEC_MAX_SECCOMP 65536 /* a profile's JSON text: a desired state travels in one frame */
#define BRM_CTRSPEC_NCAPS 41          /* CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40) */
#define BRM_CTRSPEC_CAPS_ALL ((UINT64_C(1) << BRM_CTRSPEC_NCAPS) - 1)

/* The restart and network values, in the order of the node's enums; a
 * spec without one means the first. */
extern const char *const brm_ctrspec_restart_names[3];
extern const char *const brm_ctrspec_network_names[2];

/* The index of S in NAMES (N of them), 0 for NULL; -1 when unknown. */
int brm_ctrspec_lookup(const char *const *names, size_t n, const char *s);

/* Capability N's name without its prefix ("SYS_ADMIN"); NULL past the last. */
const char *brm_ctrspec_cap_name(unsigned n);
/* The bit of capability NAME ("sys_admin", "CAP_SYS_ADMIN"), or
 * BRM_CTRSPEC_CAPS_ALL for "ALL"; 0 when unknown. */
uint64_t brm_ctrspec_cap_bits(const char *name);
/* The capabilities of a container given the default set and the spec's
 * additions and removals, as Docker reckons them: --cap-add ALL is every
 * capability less the dropped ones; otherwise the defaults less the
 * dropped ones (all of them with --cap-drop ALL) plus the added ones. */
uint64_t brm_ctrspec_caps(uint64_t defaults, uint64_t add, uint64_t drop);
/* "seccomp=unconfined cap-add=SYS_ADMIN,NET_ADMIN cap-drop=CHOWN" for a
 * spec whose confinement differs from the defaults, "" otherwise. */
void brm_ctrspec_security(const Bramble__ContainerSpec *spec, char *out, size_t size);

/* 0, or -EINVAL with one line in why naming the field and what it must
 * be: the name, the image, sizes and counts, restart and network values,
 * limits in range, KEY=VALUE environment entries, an absolute working
 * directory, known capability names (none both added and dropped), a
 * seccomp value of "unconfined" or a profile of at most
 * BRM_CTRSPEC_MAX_SECCOMP bytes, and UTF-8 everywhere (the OCI runtime
 * spec is JSON). */
int brm_ctrspec_check(const Bramble__ContainerSpec *spec, char *why, size_t why_size);

#endif
