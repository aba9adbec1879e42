/* Keys, CSRs, certificates and the CA pin. ECDSA P-256 throughout.
 * Functions return 0 (or a length) on success and a negative errno on
 * failure; mbedTLS errors are translated by brm_err_mbedtls(). */
#ifndef BRM_PKI_H
#define BRM_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

/* Subject organisations: the master sets them when it signs, so they carry
 * the role of a verified certificate. */
#define BRM_ORG_NODE "bramble-node"
#define BRM_ORG_ADMIN "bramble-admin"
#define BRM_ORG_MASTER "bramble-master"
#define BRM_ORG_CA "bramble"

#define BRM_CERT_MAX_DER 2048
#define BRM_KEY_MAX_PEM 512

enum brm_cert_kind { BRM_CERT_CA, BRM_CERT_SERVER, BRM_CERT_CLIENT };

struct brm_cert_req {
        enum brm_cert_kind kind;
        const char *subject;               /* "CN=x,O=y" */
        mbedtls_pk_context *subject_key;   /* public part is used */
        int64_t not_before_ms;
        int64_t not_after_ms;
        const char *const *dns_names;      /* server only */
        size_t n_dns;
        const char *const *ips;            /* server only, textual IPv4/IPv6 */
        size_t n_ips;
};

/* Must be called once per process before any other function here. */
int brm_pki_init(void);
/* mbedTLS RNG callback backed by getrandom(2). */
int brm_pki_rng(void *ctx, unsigned char *out, size_t len);

/* key must be freshly mbedtls_pk_init()ed. */
int brm_pki_key_generate(mbedtls_pk_context *key);
/* PEM into buf (NUL-terminated); returns 0. */
int brm_pki_key_write_pem(mbedtls_pk_context *key, char *buf, size_t size);
/* Parses a PEM or DER private key; PEM data must include its NUL. */
int brm_pki_key_parse(mbedtls_pk_context *key, const uint8_t *data, size_t len);

/* A DER CSR for subject CN=cn signed by key; returns the DER length,
 * written at the start of buf. */
int brm_pki_csr_create(mbedtls_pk_context *key, const char *cn, uint8_t *buf, size_t size);

/* Checks a node's CSR against the signing policy: valid DER, valid self
 * signature, an EC P-256 key, a subject of exactly CN=expected_cn, and no
 * requested extensions other than key usage, client-auth extended key
 * usage, or a non-CA basic constraint (in particular no subjectAltName).
 * On success csr holds the parsed request (caller frees it). On failure
 * returns -EINVAL or -EACCES and, if ret_why is non-NULL, points it at a
 * static one-line reason (the one exception to "outputs untouched"). */
int brm_pki_csr_check(const uint8_t *der, size_t len, const char *expected_cn, mbedtls_x509_csr *csr,
                      const char **ret_why);

/* Issues a certificate signed by issuer_key/issuer_crt (both NULL for a
 * self-signed CA, then the subject key signs). Returns the DER length,
 * written at the start of buf. */
int brm_pki_issue(mbedtls_pk_context *issuer_key, const mbedtls_x509_crt *issuer_crt,
                  const struct brm_cert_req *req, uint8_t *buf, size_t size);

/* SHA-256 of a DER blob (the CA pin is this over the CA certificate). */
int brm_pki_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
/* SHA-256 of the DER SubjectPublicKeyInfo of key, hex (65 bytes). */
int brm_pki_pubkey_hash(mbedtls_pk_context *key, char out[65]);

/* Copies the first value of CN (oid "cn") or O ("o") from a parsed name. */
int brm_pki_name_get(const mbedtls_x509_name *name, const char *which, char *out, size_t size);

/* PEM of a DER certificate into buf. */
int brm_pki_cert_pem(const uint8_t *der, size_t len, char *buf, size_t size);

/* For a join: finds the certificate in the server's chain whose SHA-256 is
 * pin, checks it is a CA, and verifies the leaf against it (clock-behind
 * tolerated, see brm_pki_verify_cb) and that the leaf is for server use.
 * Returns 0 and copies the CA DER into ret_ca (BRM_CERT_MAX_DER bytes);
 * -EACCES when no certificate matches the pin or verification fails. */
int brm_pki_verify_pinned(const mbedtls_x509_crt *chain, const uint8_t pin[32], uint8_t *ret_ca,
                          size_t *ret_ca_len);

/* mbedtls verify callback shared by every TLS endpoint: a Raspberry Pi has
 * no real-time clock and may boot years in the past, so "not yet valid" is
 * forgiven; every other failure stands. */
int brm_pki_verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags);

#endif
