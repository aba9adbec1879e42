/* The node's identity in its state dir: node.key (0600, generated here and
 * never sent anywhere), node.crt and ca.crt (written after a join). */
#ifndef BRM_IDENTITY_H
#define BRM_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "pki.h"
#include "tls.h"

struct brm_identity {
        char dir[1024];
        struct brm_tls_creds creds; /* key always; ca + cert once joined */
        bool joined;
        int64_t not_before_ms;
        int64_t not_after_ms;
};

/* Creates the state dir, loads or generates the key, loads the certificate
 * if present. Returns 0 or -errno (-EINVAL: a file is damaged, or node.crt
 * does not fit node.key; -ENOENT: node.key or ca.crt is missing while
 * node.crt is there); WHY then holds one line naming the file, what is
 * wrong with it and what to do. */
int brm_identity_load(struct brm_identity *id, const char *dir, char *why, size_t why_size);
void brm_identity_free(struct brm_identity *id);
/* A DER CSR for CN=name with the node key; returns its length. */
int brm_identity_csr(struct brm_identity *id, const char *name, uint8_t *buf, size_t size);
/* Checks cert is for our key and signed by ca (ca_der NULL = the stored
 * CA), writes the files atomically and reloads. -EACCES if it does not fit. */
int brm_identity_store(struct brm_identity *id, const uint8_t *cert_der, size_t cert_len, const uint8_t *ca_der,
                       size_t ca_len);
/* True once two thirds of the certificate's lifetime have passed. */
bool brm_identity_needs_renewal(const struct brm_identity *id, int64_t now_ms);

#endif
