/* The node's copy of cluster images: one OCI image layout in
 * IMAGES/layout (IMAGES is the supervisor's image dir, STATE/images), which
 * bramble-unpack reads as any layout:
 *
 *   oci-layout, index.json, blobs/sha256/HEX   the layout
 *   tmp/HEX.part                               a blob being fetched
 *
 * A blob is written to its .part file as it arrives, so a fetch cut by a
 * lost session or an agent restart goes on from the part's size; it is
 * renamed into blobs/ only after its SHA-256 and size are checked. Each
 * image has one index.json entry: its manifest, whose
 * org.opencontainers.image.ref.name is the manifest's hex digest (the tag
 * bramble-unpack is given: "IMAGES/layout:HEX") and whose annotation
 * org.bramble.ref lists the cluster references naming it, separated by
 * commas (references have none). index.json is rewritten whole (temporary
 * file, fsync, rename).
 *
 * Plain file I/O, no logging, unit-tested (tests/unit/test_fetchstore.c).
 * Everything but brm_fetchstore_commit runs on the loop thread (each is a
 * few small file operations); commit reads the whole part and fsyncs, so
 * the caller runs it in the thread pool. Functions return 0 or -errno,
 * with a one-line reason where they take why. */
#ifndef BRM_FETCHSTORE_H
#define BRM_FETCHSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brm_fetchstore {
        char dir[600]; /* IMAGES/layout */
};

/* Creates the layout under IMAGES when it is missing (an existing one is
 * kept as it is). */
int brm_fetchstore_open(struct brm_fetchstore *fs, const char *images_dir);

/* Whether index.json has an entry for cluster reference REF whose manifest
 * blob is stored: 0 and the reference for bramble-unpack
 * ("IMAGES/layout:HEX") into buf, or -ENOENT. */
int brm_fetchstore_lookup(const struct brm_fetchstore *fs, const char *ref, char *buf, size_t size);

/* Every cluster reference the layout holds a manifest for, joined by ','
 * in a malloc'd string ("" for none); -ENOENT without an index. */
int brm_fetchstore_refs(const struct brm_fetchstore *fs, char **ret);

/* Whether blobs/sha256/HEX is stored with SIZE bytes. */
bool brm_fetchstore_has(const struct brm_fetchstore *fs, const char *hex, uint64_t size);

/* Bytes already in tmp/HEX.part (0 when there is none). */
uint64_t brm_fetchstore_part_size(const struct brm_fetchstore *fs, const char *hex);

/* Opens tmp/HEX.part for appending (created if missing); the fd. A part
 * longer than SIZE (a blob that changed on the master) is emptied. The
 * bytes it holds into *ret_offset. */
int brm_fetchstore_part_open(const struct brm_fetchstore *fs, const char *hex, uint64_t size, uint64_t *ret_offset);

/* Removes tmp/HEX.part. */
void brm_fetchstore_part_remove(const struct brm_fetchstore *fs, const char *hex);

/* Checks tmp/HEX.part (hashed from its first byte) against HEX and SIZE;
 * a match is fsynced and renamed into blobs/sha256/HEX, a mismatch is
 * removed (-EBADMSG, with why naming the digest). Blocking. */
int brm_fetchstore_commit(const struct brm_fetchstore *fs, const char *hex, uint64_t size, char *why,
                          size_t why_size);

/* Adds REF to index.json: to the entry of manifest HEX when there is one,
 * else as a new entry (MEDIA_TYPE, SIZE); REF leaves any other entry. */
int brm_fetchstore_add_ref(const struct brm_fetchstore *fs, const char *ref, const char *hex, uint64_t size,
                           const char *media_type, char *why, size_t why_size);

/* "sha256:HEX" -> HEX (lower-case, 64 digits); -EINVAL for anything else,
 * which also keeps a digest from naming a path outside the layout. */
int brm_fetchstore_digest_hex(const char *digest, char hex[65]);

/* "IMAGES/layout:HEX" into buf. */
int brm_fetchstore_local_ref(const struct brm_fetchstore *fs, const char *hex, char *buf, size_t size);

/* Free bytes on the layout's file system (0 when unknown). */
uint64_t brm_fetchstore_free_bytes(const struct brm_fetchstore *fs);

#endif
