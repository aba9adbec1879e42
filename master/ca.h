/* The cluster CA and the master's own credentials, kept in the data dir:
 * ca.key (0600), ca.crt, admin.json (0600). The server certificate is
 * issued afresh at every start for the current --advertise names; nodes
 * trust the master through the CA pin and the server-auth usage, not its
 * address, so a new server certificate never breaks them. */
#ifndef BRM_CA_H
#define BRM_CA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pki.h"
#include "tls.h"

struct brm_ca {
        mbedtls_pk_context key;
        mbedtls_x509_crt crt;
        uint8_t der[BRM_CERT_MAX_DER];
        size_t der_len;
        uint8_t hash[32];
        struct brm_tls_creds server; /* server cert + CA chain + key; ca = cluster CA */
};

/* The files the CA and the operator's credentials live in, relative to the
 * data dir, with their modes; a snapshot copies them. Ends with a NULL
 * name. */
struct brm_ca_file {
        const char *name;
        mode_t mode;
        bool required; /* a cluster cannot run without it */
};
extern const struct brm_ca_file brm_ca_files[];

/* Loads the CA from dir, or creates it when neither ca.key nor ca.crt
 * exists (then *ret_created = true). Issues the server certificate for
 * names (DNS names or IP addresses). On failure detail names the file and
 * what is wrong with it: -ENOENT when only one of the two exists, -EINVAL
 * when one does not parse or the two do not match, another -errno when
 * one cannot be read. */
int brm_ca_open(struct brm_ca *ca, const char *dir, const char *const *names, size_t n_names, bool *ret_created,
                char *detail, size_t size);

/* Checks that dir holds a usable CA (both files parse and belong together)
 * without changing anything. Returns 0, or -errno with detail as for
 * brm_ca_open (-ENOENT also when both are missing). */
int brm_ca_check(const char *dir, char *detail, size_t size);
void brm_ca_close(struct brm_ca *ca);

/* Signs a certificate for subject_key with subject "CN=cn,O=org" for
 * client use, valid from a little before now for validity_ms. Returns the
 * DER length in buf. */
int brm_ca_sign_client(struct brm_ca *ca, mbedtls_pk_context *subject_key, const char *cn, const char *org,
                       int64_t validity_ms, uint8_t *buf, size_t size, int64_t *ret_not_after_ms);

/* Writes dir/admin.json with a fresh admin key and certificate. */
int brm_ca_write_admin(struct brm_ca *ca, const char *dir, const char *master_addr);

#endif
