/* The OCI image documents, parsed from bytes: the image index, the image
 * manifest and the image config (image-spec v1; Docker's schema 2 media
 * types read the same way). No I/O, no logging: every function takes
 * untrusted input, and tests/fuzz/fuzz_oci.c drives them all. Used by
 * image.c in bramble-unpack. */
#ifndef BRM_OCI_H
#define BRM_OCI_H

#include <stdbool.h>
#include <stddef.h>

#include "image.h"

/* Docker refuses images of more than 127 layers. */
#define BRM_OCI_MAX_LAYERS 128
#define BRM_OCI_DIGEST_SIZE 72 /* "sha256:" + 64 hex + NUL */

struct brm_oci_manifest {
        bool is_index;                  /* an image index (multi-platform image), not a manifest */
        char config[BRM_OCI_DIGEST_SIZE];
        size_t n_layers;
        char layers[BRM_OCI_MAX_LAYERS][BRM_OCI_DIGEST_SIZE];
};

/* "sha256:<64 lower-case hex>" -> the hex (65 bytes with the NUL); anything
 * else is -EINVAL, which also keeps a digest from naming a path outside
 * blobs/. */
int brm_oci_digest_hex(const char *digest, char hex[65]);

/* The image architecture of this build ("arm64", "amd64", "arm"). */
const char *brm_oci_host_arch(void);

/* Picks one manifest descriptor from an index: the one annotated with
 * org.opencontainers.image.ref.name TAG (any when TAG is NULL or ""), for
 * architecture ARCH when the descriptor names a platform. 0 and its digest
 * in ret_digest, or -EINVAL with a one-line reason (none, several, not an
 * index). */
int brm_oci_index_pick(const char *json, size_t len, const char *tag, const char *arch,
                       char ret_digest[BRM_OCI_DIGEST_SIZE], char *why, size_t why_size);

/* Reads a manifest (or recognises an index by its mediaType, is_index set
 * and nothing else read): 0 and *ret filled, or -EINVAL / -E2BIG with a
 * reason; *ret untouched on failure. */
int brm_oci_manifest_parse(const char *json, size_t len, struct brm_oci_manifest *ret, char *why, size_t why_size);

/* The defaults of an image config (Entrypoint, Cmd, Env, WorkingDir,
 * User) into img, whose strings the caller frees with
 * brm_image_config_free, also on failure. 0, -EINVAL (not JSON), -E2BIG
 * (more arguments or variables than a container takes), -ENOMEM. */
int brm_oci_config_parse(const char *json, size_t len, struct brm_image_config *img);

#endif
