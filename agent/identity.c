#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#include "fileio.h"
#include "util.h"

static int64_t x509_ms(const mbedtls_x509_time *t)
{
        struct tm tm = { 0 };

        tm.tm_year = t->year - 1900;
        tm.tm_mon = t->mon - 1;
        tm.tm_mday = t->day;
        tm.tm_hour = t->hour;
        tm.tm_min = t->min;
        tm.tm_sec = t->sec;
        return (int64_t)timegm(&tm) * 1000;
}

static int read_into(const char *dir, const char *file, uint8_t **ret, size_t *ret_len)
{
        char path[1100];

        if (brm_path(path, sizeof(path), "%s/%s", dir, file) < 0)
                return -ENAMETOOLONG;
        return brm_file_read(path, 65536, ret, ret_len);
}

static int write_file(const char *dir, const char *file, const void *data, size_t len, mode_t mode)
{
        char path[1100];

        if (brm_path(path, sizeof(path), "%s/%s", dir, file) < 0)
                return -ENAMETOOLONG;
        return brm_file_write_atomic(path, data, len, mode);
}

static int load_key(struct brm_identity *id)
{
        char pem[BRM_KEY_MAX_PEM * 2];
        uint8_t *data;
        size_t len;
        int r = read_into(id->dir, "node.key", &data, &len);

        if (r == 0) {
                r = brm_tls_creds_set_key(&id->creds, data, len + 1);
                mbedtls_platform_zeroize(data, len);
                free(data);
                return r;
        }
        if (r != -ENOENT)
                return r;
        /* First start: the key is made here and written before any join, so
         * a retried join asks for the same key. */
        if ((r = brm_pki_key_generate(&id->creds.key)) < 0 || (r = brm_pki_key_write_pem(&id->creds.key, pem, sizeof(pem))) < 0)
                return r;
        r = write_file(id->dir, "node.key", pem, strlen(pem), 0600);
        mbedtls_platform_zeroize(pem, sizeof(pem));
        return r;
}

static int load_certs(struct brm_identity *id)
{
        uint8_t *crt = NULL, *ca = NULL;
        size_t crt_len, ca_len;
        int r;

        r = read_into(id->dir, "node.crt", &crt, &crt_len);
        if (r == 0)
                r = read_into(id->dir, "ca.crt", &ca, &ca_len);
        if (r == 0) {
                mbedtls_x509_crt_free(&id->creds.cert);
                mbedtls_x509_crt_init(&id->creds.cert);
                mbedtls_x509_crt_free(&id->creds.ca);
                mbedtls_x509_crt_init(&id->creds.ca);
                if ((r = brm_tls_creds_add_cert(&id->creds, crt, crt_len + 1)) == 0)
                        r = brm_tls_creds_add_ca(&id->creds, ca, ca_len + 1);
        }
        free(crt);
        free(ca);
        if (r < 0)
                return r;
        id->joined = true;
        id->not_before_ms = x509_ms(&id->creds.cert.valid_from);
        id->not_after_ms = x509_ms(&id->creds.cert.valid_to);
        return 0;
}

int brm_identity_load(struct brm_identity *id, const char *dir)
{
        int r;

        memset(id, 0, sizeof(*id));
        brm_tls_creds_init(&id->creds);
        snprintf(id->dir, sizeof(id->dir), "%s", dir);
        if ((r = brm_mkdir_p(dir, 0700)) < 0)
                return r;
        if ((r = load_key(id)) < 0)
                return r;
        r = load_certs(id);
        if (r == -ENOENT)
                return 0; /* not joined yet */
        return r;
}

void brm_identity_free(struct brm_identity *id)
{
        brm_tls_creds_free(&id->creds);
}

int brm_identity_csr(struct brm_identity *id, const char *name, uint8_t *buf, size_t size)
{
        return brm_pki_csr_create(&id->creds.key, name, buf, size);
}

int brm_identity_store(struct brm_identity *id, const uint8_t *cert_der, size_t cert_len, const uint8_t *ca_der,
                       size_t ca_len)
{
        mbedtls_x509_crt crt, ca;
        char pem[4096];
        uint32_t flags = 0;
        char mine[65], theirs[65];
        int r = -EACCES;

        mbedtls_x509_crt_init(&crt);
        mbedtls_x509_crt_init(&ca);
        if (mbedtls_x509_crt_parse_der(&crt, cert_der, cert_len) != 0)
                goto out;
        if (ca_der ? mbedtls_x509_crt_parse_der(&ca, ca_der, ca_len) != 0
                   : mbedtls_x509_crt_parse_der(&ca, id->creds.ca.raw.p, id->creds.ca.raw.len) != 0)
                goto out;
        if (mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, brm_pki_verify_cb, NULL) != 0)
                goto out;
        if (brm_pki_pubkey_hash(&crt.pk, theirs) < 0 || brm_pki_pubkey_hash(&id->creds.key, mine) < 0 ||
            strcmp(mine, theirs) != 0)
                goto out;
        /* The CA first: node.crt is what marks the node as joined. */
        if (ca_der) {
                if ((r = brm_pki_cert_pem(ca_der, ca_len, pem, sizeof(pem))) < 0 ||
                    (r = write_file(id->dir, "ca.crt", pem, strlen(pem), 0644)) < 0)
                        goto out;
        }
        if ((r = brm_pki_cert_pem(cert_der, cert_len, pem, sizeof(pem))) < 0 ||
            (r = write_file(id->dir, "node.crt", pem, strlen(pem), 0644)) < 0)
                goto out;
        r = load_certs(id);
out:
        mbedtls_x509_crt_free(&crt);
        mbedtls_x509_crt_free(&ca);
        return r;
}

bool brm_identity_needs_renewal(const struct brm_identity *id, int64_t now_ms)
{
        if (!id->joined)
                return false;
        return now_ms >= id->not_before_ms + (id->not_after_ms - id->not_before_ms) * 2 / 3;
}
