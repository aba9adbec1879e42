/* The OCI image config, parsed from bytes (the index and manifest readers
 * are lib/ocidoc.h). No I/O, no logging: it takes untrusted input, and
 * tests/fuzz/fuzz_oci.c drives it. Used by image.c in bramble-unpack. */
#ifndef BRM_OCI_H
#define BRM_OCI_H

#include <stdbool.h>
#include <stddef.h>

#include "image.h"
#include "ocidoc.h"

/* The defaults of an image config (Entrypoint, Cmd, Env, WorkingDir,
 * User) into img, whose strings the caller frees with
 * brm_image_config_free, also on failure. 0, -EINVAL (not JSON), -E2BIG
 * (more arguments or variables than a container takes), -ENOMEM. */
int brm_oci_config_parse(const char *json, size_t len, struct brm_image_config *img);

#endif
