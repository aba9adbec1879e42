/* The agent's side of bramble-unpack, the helper that resolves an image
 * reference and unpacks its layers (image.c, with libarchive). The helper
 * runs only when an image must be resolved, so the agent maps none of
 * libarchive and its libraries (compression, XML, ICU) while it idles. */
#ifndef BRM_UNPACK_H
#define BRM_UNPACK_H

#include <stddef.h>

#include "image.h"

/* Runs "HELPER STORE REF" and waits for it (blocking: call it off the event
 * loop, as brm_image_resolve). 0 and *ret filled (free it with
 * brm_image_config_free), or -errno with a one-line reason in why: the
 * helper's own (a bad image) or why the helper could not answer. */
int brm_unpack_run(const char *helper, const char *store, const char *ref, struct brm_image_config *ret, char *why,
                   size_t why_size);

#endif
