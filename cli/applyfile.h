/* The file 'bramble apply -f' reads: YAML, or JSON (a .json name or a
 * first non-space '{'), holding
 *
 *   services:
 *     NAME: {image, replicas, command, env, memory, memory_high, cpus, pids,
 *            restart, network, workdir, cap_add, cap_drop, constraints,
 *            max_per_node, health, update, on_disconnect}
 *
 * turned into ServiceSpecs, each passing the service contract
 * (lib/svcspec.h). command is a list of strings (nothing is split or run
 * through a shell); env a map {K: V} or a list ["K=V"]. Anything wrong is
 * one line "FILE:LINE: services.web.replicas: must be ...", naming the
 * line of the value at fault. Pure (no I/O); fuzzed. */
#ifndef BRM_CLI_APPLYFILE_H
#define BRM_CLI_APPLYFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "bramble.pb-c.h"

#define BRM_APPLYFILE_MAX_BYTES (1 << 20)
#define BRM_APPLYFILE_MAX_SERVICES 1000

struct brm_applyfile {
        Bramble__ServiceSpec **services; /* in the file's order; heap, free with brm_applyfile_free */
        size_t n;
};

/* Whether a file of this name and text is read as JSON. */
bool brm_applyfile_is_json(const char *name, const char *text, size_t len);

/* Parses text (len bytes; name is used in messages and to tell JSON from
 * YAML) into out: 0, or -EINVAL with the one line in err and out empty. */
int brm_applyfile_parse(const char *name, const char *text, size_t len, struct brm_applyfile *out, char *err,
                        size_t err_size);
void brm_applyfile_free(struct brm_applyfile *f);

#endif
