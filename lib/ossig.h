/* The cluster CA's signature on an OS update bundle: the master signs what
 * it sends a node to install (NodeUpgrade), the node checks it with its
 * ca.crt before it writes anything. What is signed is the SHA-256 of
 * "bramble-os-update\n" DIGEST "\n" VERSION "\n" ARCH "\n": the bundle's
 * manifest (which names every part by its SHA-256), its version and the
 * architecture it is for, so none of them can be swapped for another. */
#ifndef BRM_OSSIG_H
#define BRM_OSSIG_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

/* An ECDSA signature in DER is at most this long for P-256. */
#define BRM_OSSIG_MAX 80

/* Signs with KEY (the CA's private key). The signature's length, or
 * -errno. */
int brm_ossig_sign(mbedtls_pk_context *key, const char *digest, const char *version, const char *arch, uint8_t *sig,
                   size_t size);

/* 0 when SIG is CA's signature over these; -EBADMSG when it is not (or
 * is malformed), -EINVAL for arguments that cannot be signed. */
int brm_ossig_verify(mbedtls_x509_crt *ca, const char *digest, const char *version, const char *arch, const uint8_t *sig,
                     size_t len);

#endif
