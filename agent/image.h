/* Images on the node: what --image names, resolved to a root file system and
 * the image config's defaults.
 *
 * An image reference is one of
 *   - a root file-system directory (no defaults: the container's args say
 *     what runs),
 *   - an OCI image layout directory (oci-layout + index.json + blobs/), as
 *     skopeo copy and umoci write them, optionally "DIR:TAG" to pick the
 *     manifest whose org.opencontainers.image.ref.name is TAG,
 *   - an oci-archive tarball of such a layout, optionally "FILE:TAG".
 * Layouts are unpacked with libarchive into a content-addressed store
 * (STORE/blobs/sha256/HEX for blobs taken out of archives, STORE/rootfs/HEX
 * for the root file system of the manifest with digest HEX). Every blob is
 * checked against its sha256 digest, and layer whiteouts (.wh.NAME,
 * .wh..wh..opq) are honoured. A layer may write through the symbolic links
 * of lower layers (merged /usr: bin -> usr/bin), always resolved inside the
 * root (unpackfs.h). Unpacking runs once per manifest; later resolutions
 * reuse the store. Nothing here logs.
 *
 * The agent itself links only the reference checks (imageref.c); resolving
 * and unpacking (image.c, with libarchive) run in the bramble-unpack helper
 * (unpack.h), so the agent maps none of libarchive's libraries. */
#ifndef BRM_IMAGE_H
#define BRM_IMAGE_H

#include <stddef.h>

#include "spec.h"

enum brm_image_kind { BRM_IMAGE_ROOTFS, BRM_IMAGE_LAYOUT, BRM_IMAGE_ARCHIVE };

/* The defaults an image brings; strings are heap-allocated and freed by
 * brm_image_config_free, arrays are NULL-terminated. */
struct brm_image_config {
        char rootfs[1024];              /* absolute path of the root file system */
        char digest[72];                /* "sha256:..." of the manifest; "" for a directory */
        char *entrypoint[BRM_MAX_ARGS];
        char *cmd[BRM_MAX_ARGS];
        char *env[BRM_MAX_ENV];
        char workdir[256];
        char user[64];
};

void brm_image_config_free(struct brm_image_config *c);

/* Cheap check without unpacking: what kind of image REF names, or -errno and
 * a one-line reason (missing path, a directory that is neither a root file
 * system nor a layout, a layout without the tag). */
int brm_image_identify(const char *ref, enum brm_image_kind *ret_kind, char *why, size_t why_size);

/* Splits "PATH:TAG" into its parts when PATH alone names something and the
 * whole does not; tag is "" when there is none. 0 or -ENAMETOOLONG. */
int brm_image_split_ref(const char *ref, char *path, size_t size, char *tag, size_t tag_size);

/* For REF naming a root file-system directory at PATH: its absolute path
 * into img->rootfs. 0, or -errno with a reason (img->rootfs untouched). */
int brm_image_rootfs_path(const char *ref, const char *path, struct brm_image_config *img, char *why, size_t why_size);

/* Resolves REF, unpacking it into STORE when needed (may take seconds: call
 * it off the event loop). 0, or -errno with a one-line reason; on failure
 * nothing half-unpacked is left in the store. */
int brm_image_resolve(const char *store, const char *ref, struct brm_image_config *ret, char *why, size_t why_size);

#endif
