/* Blobs onto the master; see blobup.h. */
#include "blobup.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"

#include "common.h"

int brm_cli_blob_data(struct brm_cli *c, const void *data, size_t len, char *why, size_t why_size)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT;
        Bramble__BlobUpload up = BRAMBLE__BLOB_UPLOAD__INIT;

        up.has_data = 1;
        up.data.data = (uint8_t *)data;
        up.data.len = len;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_BLOB_UPLOAD;
        req.blob_upload = &up;
        if (brm_client_send(&c->client, &req) < 0) {
                snprintf(why, why_size, "%s", c->client.error);
                return EXIT_CONNECT;
        }
        return 0;
}

static int commit(struct brm_cli *c, const char *expect, int64_t size, bool stored, char ret_digest[BRM_OCI_DIGEST_SIZE],
                  uint64_t *ret_size, char *why, size_t why_size)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__BlobCommit commit = BRAMBLE__BLOB_COMMIT__INIT;
        int rc = 0;

        commit.digest = expect && expect[0] ? (char *)expect : NULL;
        commit.has_size = 1;
        commit.size = size;
        commit.has_stored = stored;
        commit.stored = stored;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_BLOB_COMMIT;
        req.blob_commit = &commit;
        if (brm_client_call(&c->client, &req, &resp) < 0) {
                snprintf(why, why_size, "%s", c->client.error);
                return EXIT_CONNECT;
        }
        if (resp->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                snprintf(why, why_size, "%s",
                         resp->error->message && resp->error->message[0] ? resp->error->message : "refused by the master");
                rc = EXIT_FAIL;
        } else if (resp->msg_case != BRAMBLE__ENVELOPE__MSG_BLOB_COMMITTED || !resp->blob_committed->digest) {
                snprintf(why, why_size, "unexpected reply from the master");
                rc = EXIT_FAIL;
        } else {
                snprintf(ret_digest, BRM_OCI_DIGEST_SIZE, "%s", resp->blob_committed->digest);
                if (ret_size)
                        *ret_size = resp->blob_committed->size;
        }
        brm_msg_free(resp);
        return rc;
}

int brm_cli_blob_commit(struct brm_cli *c, const char *expect, int64_t size, char ret_digest[BRM_OCI_DIGEST_SIZE],
                        uint64_t *ret_size, char *why, size_t why_size)
{
        return commit(c, expect, size, false, ret_digest, ret_size, why, why_size);
}

int brm_cli_blob_stored(struct brm_cli *c, const char *digest, uint64_t size, char *why, size_t why_size)
{
        char back[BRM_OCI_DIGEST_SIZE];
        uint64_t have = 0;
        int rc = commit(c, digest, (int64_t)size, true, back, &have, why, why_size);

        if (rc == 0 && (strcmp(back, digest) != 0 || have != size))
                rc = EXIT_FAIL; /* a master that did not understand the question */
        return rc;
}

int brm_cli_blob_put(struct brm_cli *c, const void *data, size_t len, char ret_digest[BRM_OCI_DIGEST_SIZE], char *why,
                     size_t why_size)
{
        int rc;

        if ((rc = brm_cli_blob_data(c, data, len, why, why_size)) != 0)
                return rc;
        return brm_cli_blob_commit(c, NULL, (int64_t)len, ret_digest, NULL, why, why_size);
}

int brm_cli_image_tag(struct brm_cli *c, const char *ref, const char *mt, const char *digest, uint64_t size,
                      char *ret_ref, size_t ref_size)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ImageTag t = BRAMBLE__IMAGE_TAG__INIT;
        Bramble__BlobDesc d = BRAMBLE__BLOB_DESC__INIT;
        int rc;

        d.digest = (char *)digest;
        d.media_type = (char *)mt;
        d.has_size = 1;
        d.size = size;
        t.ref = (char *)ref;
        t.desc = &d;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_TAG;
        req.image_tag = &t;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_IMAGES, &rc)))
                return rc;
        if (resp->images->n_images == 1 && resp->images->images[0]->ref)
                ref = resp->images->images[0]->ref;
        snprintf(ret_ref, ref_size, "%s", ref);
        brm_msg_free(resp);
        return 0;
}
