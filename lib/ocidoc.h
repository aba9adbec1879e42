/* The OCI image documents, parsed from bytes: the image index and the image
 * manifest (image-spec v1; Docker's schema 2 media types read the same
 * way), plus digests and platforms. No I/O, no logging: every function
 * takes untrusted input (a registry's answer, an archive's file, a layout
 * on a node), and tests/fuzz/fuzz_oci.c drives them all. Used by the
 * master's image store and registry client, the CLI's archive loader and
 * bramble-unpack. */
#ifndef BRM_OCIDOC_H
#define BRM_OCIDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Docker refuses images of more than 127 layers. */
#define BRM_OCI_MAX_LAYERS 128
#define BRM_OCI_DIGEST_SIZE 72 /* "sha256:" + 64 hex + NUL */
#define BRM_OCI_TYPE_SIZE 96
/* The largest index or manifest read: a 128-layer manifest is ~25 KiB;
 * Docker's registry refuses manifests over 4 MiB. */
#define BRM_OCI_DOC_MAX (4u << 20)

#define BRM_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define BRM_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BRM_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define BRM_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define BRM_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define BRM_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define BRM_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define BRM_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BRM_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define BRM_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define BRM_DOCKER_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"

struct brm_oci_desc {
        char media_type[BRM_OCI_TYPE_SIZE];
        char digest[BRM_OCI_DIGEST_SIZE];
        uint64_t size;
};

struct brm_oci_manifest {
        bool is_index;                  /* an image index (multi-platform image), not a manifest */
        char media_type[BRM_OCI_TYPE_SIZE];
        char config[BRM_OCI_DIGEST_SIZE];
        uint64_t config_size;
        size_t n_layers;
        char layers[BRM_OCI_MAX_LAYERS][BRM_OCI_DIGEST_SIZE];
        uint64_t layer_sizes[BRM_OCI_MAX_LAYERS];
};

/* "sha256:<64 lower-case hex>" -> the hex (65 bytes with the NUL); anything
 * else is -EINVAL, which also keeps a digest from naming a path outside
 * blobs/. */
int brm_oci_digest_hex(const char *digest, char hex[65]);

/* The image architecture of this build ("arm64", "amd64", "arm"). */
const char *brm_oci_host_arch(void);

/* Whether MT is the media type of an image index or Docker manifest list;
 * of an image manifest (OCI or Docker schema 2). */
bool brm_oci_is_index_type(const char *mt);
bool brm_oci_is_manifest_type(const char *mt);

/* Picks one manifest descriptor from an index: the one annotated with
 * org.opencontainers.image.ref.name TAG (any when TAG is NULL or ""), for
 * architecture ARCH when the descriptor names a platform. 0 and its digest
 * in ret_digest, or -EINVAL with a one-line reason (none, several, not an
 * index). */
int brm_oci_index_pick(const char *json, size_t len, const char *tag, const char *arch,
                       char ret_digest[BRM_OCI_DIGEST_SIZE], char *why, size_t why_size);

/* Picks the manifest for PLATFORM ("os/arch" or "os/arch/variant") from an
 * index: the descriptor whose platform matches; without a variant asked,
 * arm64 prefers "v8" or none, and any other variant is taken when it is
 * the only one. 0 and *ret filled, -ENOENT with the platforms it has ("has
 * no linux/arm64 variant (it has linux/amd64, linux/arm/v7)"), or -EINVAL
 * with what is malformed. */
int brm_oci_index_platform(const char *json, size_t len, const char *platform, struct brm_oci_desc *ret,
                           char *why, size_t why_size);

/* Reads a manifest (or recognises an index by its mediaType, is_index set
 * and nothing else read): 0 and *ret filled, or -EINVAL / -E2BIG with a
 * reason; *ret untouched on failure. */
int brm_oci_manifest_parse(const char *json, size_t len, struct brm_oci_manifest *ret, char *why, size_t why_size);

/* The platform an image config names ("linux/arm64", "linux/arm/v7") into
 * buf; -EINVAL when it names none. */
int brm_oci_config_platform(const char *json, size_t len, char *buf, size_t size);

#endif
