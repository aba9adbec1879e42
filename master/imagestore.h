/* The master's image store: one OCI image layout in DATA_DIR/images
 * (oci-layout, index.json, blobs/sha256/HEX), so skopeo and umoci read it
 * as it is. Every blob enters through a writer: its bytes go to a
 * temporary file under DATA_DIR/images/tmp, are hashed as they are
 * written, and only a blob whose SHA-256 and size match its descriptor is
 * renamed into blobs/: a failed, cut or corrupt transfer leaves nothing in
 * the store. A partial file named by its digest is kept for a resumed
 * transfer (a registry pull with a Range request).
 *
 * index.json names each stored image by its reference
 * (org.opencontainers.image.ref.name "docker.io/library/nginx:1.27") and
 * points at its top document: a manifest, or an index of per-platform
 * manifests of which the store holds those pulled. It is rewritten whole
 * (temporary file, fsync, rename) on every change, from the loop thread
 * only.
 *
 * Blob writers, brm_imagestore_has and brm_imagestore_blob_path may run on
 * any thread (one writer per thread; a registry pull's thread uses them);
 * everything else belongs to the loop thread. Functions return 0 or -errno and, where
 * they take why, a one-line reason. */
#ifndef BRM_IMAGESTORE_H
#define BRM_IMAGESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/md.h>

#include "ocidoc.h"

#define BRM_IMAGESTORE_DIR "images"
#define BRM_IMAGE_REF_MAX 256

struct brm_imagestore {
        char dir[1024]; /* DATA_DIR/images */
};

/* Creates the layout if it is not there (oci-layout, an empty index.json,
 * blobs/sha256, tmp) and removes temporary files older than a day. */
int brm_imagestore_open(struct brm_imagestore *s, const char *data_dir, char *why, size_t why_size);

/* DIR/blobs/sha256/HEX for DIGEST into buf; -EINVAL for a malformed digest. */
int brm_imagestore_blob_path(const struct brm_imagestore *s, const char *digest, char *buf, size_t size);

/* Whether the store holds DIGEST; its size into *ret_size (may be NULL). */
bool brm_imagestore_has(const struct brm_imagestore *s, const char *digest, uint64_t *ret_size);

/* Reads a stored blob of at most MAX bytes into a malloc'd buffer (NUL
 * after the end); -E2BIG when it is larger, -ENOENT when absent. */
int brm_imagestore_read(const struct brm_imagestore *s, const char *digest, size_t max, char **ret, size_t *ret_len);

/* Stores a blob held in memory (a manifest, an index, a config) after
 * checking it against DIGEST (NULL: the blob's own digest, returned in
 * ret_digest, which may be NULL). */
int brm_imagestore_put(struct brm_imagestore *s, const void *data, size_t len, const char *digest,
                       char ret_digest[BRM_OCI_DIGEST_SIZE], char *why, size_t why_size);

/* ---- blob writers ---- */

struct brm_blobw {
        int fd;
        char tmp[1100];
        char digest[BRM_OCI_DIGEST_SIZE]; /* expected, "" when unknown until commit */
        uint64_t size;                    /* bytes written so far (with a resumed prefix) */
        mbedtls_md_context_t md;
        const struct brm_imagestore *s;
};

/* Opens a writer. With DIGEST, a partial file of an earlier attempt for
 * it is resumed: its bytes are hashed again and *ret_offset says where to
 * continue (0 without one); without DIGEST (NULL or ""), a fresh
 * temporary file. */
int brm_blobw_open(const struct brm_imagestore *s, const char *digest, struct brm_blobw *w, uint64_t *ret_offset);

/* Appends bytes. -EFBIG when more than LIMIT bytes would be written in
 * all (0: no limit), so an endless answer cannot fill the disk. */
int brm_blobw_write(struct brm_blobw *w, const void *data, size_t len, uint64_t limit);

/* Checks the bytes written against DIGEST (NULL or "": the digest given to
 * open; if none either, the blob's own digest is taken) and SIZE (-1: not
 * checked), fsyncs and renames into blobs/. The writer is closed either
 * way; on a mismatch the temporary file is removed. The digest stored
 * goes into ret_digest (may be NULL). */
int brm_blobw_commit(struct brm_blobw *w, const char *digest, int64_t size, char ret_digest[BRM_OCI_DIGEST_SIZE],
                     char *why, size_t why_size);

/* Closes the writer; KEEP_PARTIAL keeps a digest-named partial file for a
 * later resume, otherwise it is removed. */
void brm_blobw_abort(struct brm_blobw *w, bool keep_partial);

/* ---- names ---- */

struct brm_image_entry {
        char ref[BRM_IMAGE_REF_MAX];
        struct brm_oci_desc desc;       /* the top document */
};

/* Points REF at DESC (whose blob must be stored), replacing what it named
 * before. */
int brm_imagestore_tag(struct brm_imagestore *s, const char *ref, const struct brm_oci_desc *desc, char *why,
                       size_t why_size);

/* The top document REF names; -ENOENT when the store has no such name. */
int brm_imagestore_lookup(const struct brm_imagestore *s, const char *ref, struct brm_oci_desc *ret);

/* All names, in index.json order, in an array the caller frees. */
int brm_imagestore_list(const struct brm_imagestore *s, struct brm_image_entry **ret, size_t *ret_n);

/* Removes the name REF (its blobs stay until a prune); -ENOENT if absent. */
int brm_imagestore_untag(struct brm_imagestore *s, const char *ref, char *why, size_t why_size);

/* The manifest for PLATFORM under REF's top document: the top document
 * itself when it is a manifest (checked against its config's platform), or
 * the index's entry for PLATFORM when the store holds it. -ENOENT with
 * the platforms the image has when none fits; -ENODATA when the index
 * lists PLATFORM but its manifest was not pulled. */
int brm_imagestore_resolve(const struct brm_imagestore *s, const char *ref, const char *platform,
                           struct brm_oci_desc *ret, char *why, size_t why_size);

/* What REF's top document DESC holds in the store: the platforms of its
 * stored manifests ("linux/amd64, linux/arm64") into buf, and the bytes of
 * their blobs (each blob counted once) into *ret_bytes. */
int brm_imagestore_describe(const struct brm_imagestore *s, const struct brm_oci_desc *desc, char *buf, size_t size,
                            uint64_t *ret_bytes);

/* Calls FN for each blob a stored manifest names (config, then layers in
 * order) with its digest and size; stops at FN's first non-zero return,
 * which it returns. -EBADMSG (with why) for a manifest that is not one. */
int brm_imagestore_manifest_blobs(const struct brm_imagestore *s, const char *manifest_digest,
                                  int (*fn)(const char *digest, uint64_t size, void *arg), void *arg, char *why,
                                  size_t why_size);

/* Calls FN with each manifest digest an index lists (stored or not);
 * stops at FN's first negative return, which it returns. -EBADMSG (with
 * why) when the blob is not an image index. */
int brm_imagestore_index_each(const struct brm_imagestore *s, const char *index_digest,
                              int (*fn)(const struct brm_imagestore *s, const char *digest, char *why, size_t why_size),
                              char *why, size_t why_size);

/* Removes every blob that no name reaches (top documents, the manifests of
 * stored indexes, their configs and layers); counts what went. Partial
 * files go when they are a day old (brm_imagestore_open). */
int brm_imagestore_prune(struct brm_imagestore *s, uint64_t *ret_blobs, uint64_t *ret_bytes, char *why,
                         size_t why_size);

#endif
