/* Blobs onto the master from the CLI: BlobUpload frames, the BlobCommit
 * that stores them (the master checks the digest and size), and the
 * ImageTag that names a stored manifest. Shared by 'image load' (archives)
 * and 'node upgrade' (OS bundles). */
#ifndef BRM_CLI_BLOBUP_H
#define BRM_CLI_BLOBUP_H

#include <stddef.h>
#include <stdint.h>

#include "ocidoc.h"

struct brm_cli;

/* Sends one BlobUpload frame of the blob being uploaded. Returns 0, or
 * EXIT_CONNECT with why filled. */
int brm_cli_blob_data(struct brm_cli *c, const void *data, size_t len, char *why, size_t why_size);

/* Ends the blob: BlobCommit with the digest it must have (NULL or "": its
 * bytes' own) and its size (-1: not checked). Returns 0 with the digest
 * and size the master stored, or EXIT_FAIL (the master refused it) or
 * EXIT_CONNECT with why filled. */
int brm_cli_blob_commit(struct brm_cli *c, const char *expect, int64_t size, char ret_digest[BRM_OCI_DIGEST_SIZE],
                        uint64_t *ret_size, char *why, size_t why_size);

/* Whether the master already holds blob DIGEST of SIZE bytes (a BlobCommit
 * asking, with no bytes sent): 0 when it does, EXIT_FAIL when it does not
 * (or cannot say: an older master), EXIT_CONNECT with why filled. */
int brm_cli_blob_stored(struct brm_cli *c, const char *digest, uint64_t size, char *why, size_t why_size);

/* A small blob held in memory: its data and its commit. Returns as
 * brm_cli_blob_commit. */
int brm_cli_blob_put(struct brm_cli *c, const void *data, size_t len, char ret_digest[BRM_OCI_DIGEST_SIZE], char *why,
                     size_t why_size);

/* Names the stored document DIGEST (media type MT, SIZE bytes) REF. Returns
 * 0 with the name as the master stored it in ret_ref ("busybox:1" is
 * docker.io/library/busybox:1), or the exit code after printing the
 * master's one-line error. */
int brm_cli_image_tag(struct brm_cli *c, const char *ref, const char *mt, const char *digest, uint64_t size,
                      char *ret_ref, size_t ref_size);

#endif
