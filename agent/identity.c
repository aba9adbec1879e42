#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "err.h"
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

/* What to do when node.crt or ca.crt is lost: the key is still good, so
 * the node joins again with it and keeps its name. */
#define REJOIN "restore it from a backup, or remove node.crt and ca.crt and start the agent with a join token " \
               "(--token) to join again with the same key"
/* When node.key is lost: a new key is a new node to the master. */
#define NEWKEY "restore it from a backup; without it the node must join anew: 'bramble node rm' it on the " \
               "master, remove node.key, node.crt and ca.crt from the state dir and start the agent with a join token"

/* WHY for a file of the state dir that cannot be used. Returns -EINVAL
 * for a damaged file, else R. */
static int problem(const struct brm_identity *id, const char *file, int r, size_t len, const char *kind,
                   const char *todo, char *why, size_t size)
{
        if (r == -EINVAL || r == -EFBIG)
                snprintf(why, size, "%s/%s is damaged (%s%zu bytes, not %s): %s", id->dir, file,
                         r == -EFBIG ? "over " : "", len, kind, todo);
        else if (r == -ENOENT)
                snprintf(why, size, "%s/%s is missing (node.crt is there): %s", id->dir, file, todo);
        else
                snprintf(why, size, "%s/%s cannot be read (%s): check the state dir's owner and permissions", id->dir,
                         file, brm_strerror(r));
        return r == -EFBIG ? -EINVAL : r;
}

static bool have(const struct brm_identity *id, const char *file)
{
        char path[1100];
        return brm_path(path, sizeof(path), "%s/%s", id->dir, file) >= 0 && access(path, F_OK) == 0;
}

static int load_key(struct brm_identity *id, char *why, size_t size)
{
        char pem[BRM_KEY_MAX_PEM * 2];
        uint8_t *data;
        size_t len = 0;
        int r = read_into(id->dir, "node.key", &data, &len);

        if (r == 0) {
                r = brm_tls_creds_set_key(&id->creds, data, len + 1);
                mbedtls_platform_zeroize(data, len);
                free(data);
                return r < 0 ? problem(id, "node.key", -EINVAL, len, "a private key", NEWKEY, why, size) : 0;
        }
        if (r == -EFBIG)
                len = 65536;
        if (r != -ENOENT || have(id, "node.crt"))
                return problem(id, "node.key", r, len, "a private key", NEWKEY, why, size);
        /* First start: the key is made here and written before any join, so
         * a retried join asks for the same key. */
        if ((r = brm_pki_key_generate(&id->creds.key)) < 0 || (r = brm_pki_key_write_pem(&id->creds.key, pem, sizeof(pem))) < 0) {
                snprintf(why, size, "cannot make the node's key: %s", brm_strerror(r));
                return r;
        }
        r = write_file(id->dir, "node.key", pem, strlen(pem), 0600);
        mbedtls_platform_zeroize(pem, sizeof(pem));
        if (r < 0)
                snprintf(why, size, "cannot write %s/node.key: %s", id->dir, brm_strerror(r));
        return r;
}

/* Reads one certificate file of the state dir into CRT. */
static int load_cert(struct brm_identity *id, const char *file, mbedtls_x509_crt *crt, char *why, size_t size)
{
        uint8_t *data;
        size_t len = 0;
        int r = read_into(id->dir, file, &data, &len);

        if (r == -EFBIG)
                len = 65536;
        if (r < 0)
                return problem(id, file, r, len, "a certificate", REJOIN, why, size);
        mbedtls_x509_crt_free(crt);
        mbedtls_x509_crt_init(crt);
        /* With its NUL: mbedTLS takes PEM only NUL-terminated. */
        r = mbedtls_x509_crt_parse(crt, data, len + 1);
        free(data);
        return r != 0 ? problem(id, file, -EINVAL, len, "a certificate", REJOIN, why, size) : 0;
}

/* node.crt, and with it ca.crt; 1 (and nothing in WHY) when the node has
 * not joined yet. */
static int load_certs(struct brm_identity *id, char *why, size_t size)
{
        char mine[65], theirs[65];
        int r;

        if (!have(id, "node.crt"))
                return 1;
        if ((r = load_cert(id, "node.crt", &id->creds.cert, why, size)) < 0)
                return r;
        id->creds.has_cert = true;
        if ((r = load_cert(id, "ca.crt", &id->creds.ca, why, size)) < 0)
                return r;
        id->creds.has_ca = true;
        if (brm_pki_pubkey_hash(&id->creds.cert.pk, theirs) < 0 || brm_pki_pubkey_hash(&id->creds.key, mine) < 0 ||
            strcmp(mine, theirs) != 0) {
                snprintf(why, size, "%s/node.crt is not for this node's key (node.key): %s", id->dir, REJOIN);
                return -EINVAL;
        }
        id->joined = true;
        id->not_before_ms = x509_ms(&id->creds.cert.valid_from);
        id->not_after_ms = x509_ms(&id->creds.cert.valid_to);
        return 0;
}

int brm_identity_load(struct brm_identity *id, const char *dir, char *why, size_t why_size)
{
        int r;

        memset(id, 0, sizeof(*id));
        brm_tls_creds_init(&id->creds);
        snprintf(id->dir, sizeof(id->dir), "%s", dir);
        if ((r = brm_mkdir_p(dir, 0700)) < 0) {
                snprintf(why, why_size, "cannot create the state dir %s: %s", dir, brm_strerror(r));
                return r;
        }
        if ((r = load_key(id, why, why_size)) < 0)
                return r;
        r = load_certs(id, why, why_size);
        return r > 0 ? 0 : r; /* 1: not joined yet */
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
        {
                char why[1400];
                r = load_certs(id, why, sizeof(why));
        }
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
