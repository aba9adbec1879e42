#include "ca.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mbedtls/platform_util.h>

#include "fileio.h"
#include "util.h"

#define YEAR_MS (365LL * 86400 * 1000)
/* Certificates start a little in the past so that small clock differences
 * between master and nodes never make a fresh certificate "not yet valid". */
#define BACKDATE_MS (3600LL * 1000)

const struct brm_ca_file brm_ca_files[] = {
        { "ca.key", 0600, true },
        { "ca.crt", 0644, true },
        { "admin.json", 0600, false },
        { "join-token", 0600, false },
        { NULL, 0, false },
};

/* Reads and parses one PEM file of the CA; on failure says in detail which
 * file and what is wrong with it. */
static int load_pem(const char *path, bool is_key, mbedtls_pk_context *key, mbedtls_x509_crt *crt, char *detail,
                    size_t size)
{
        uint8_t *data;
        size_t len;
        int r;

        if ((r = brm_file_read(path, 16384, &data, &len)) < 0) {
                snprintf(detail, size, "%s: cannot read: %s", path, r == -EFBIG ? "larger than 16 KiB" : strerror(-r));
                return r;
        }
        if (is_key)
                r = brm_pki_key_parse(key, data, len + 1);
        else
                r = mbedtls_x509_crt_parse(crt, data, len + 1) == 0 ? 0 : -EINVAL;
        mbedtls_platform_zeroize(data, len);
        free(data);
        if (r < 0) {
                snprintf(detail, size, "%s: not a valid PEM %s (%zu bytes: truncated or damaged)", path,
                         is_key ? "private key" : "certificate", len);
                return -EINVAL;
        }
        return 0;
}

static int load_ca(struct brm_ca *ca, const char *keypath, const char *crtpath, char *detail, size_t size)
{
        char h1[65], h2[65];
        int r;

        if ((r = load_pem(keypath, true, &ca->key, NULL, detail, size)) < 0 ||
            (r = load_pem(crtpath, false, NULL, &ca->crt, detail, size)) < 0)
                return r;
        if (brm_pki_pubkey_hash(&ca->key, h1) < 0 || brm_pki_pubkey_hash(&ca->crt.pk, h2) < 0 || strcmp(h1, h2) != 0) {
                snprintf(detail, size, "%s does not belong to %s (the key and the certificate are from different CAs)",
                         keypath, crtpath);
                return -EINVAL;
        }
        return 0;
}

/* Which of the two files exist: a CA is created only when neither does, so
 * a lost file is never papered over with a new CA nodes do not trust. */
static int ca_presence(const char *keypath, const char *crtpath, char *detail, size_t size, bool *ret_none)
{
        bool key = access(keypath, F_OK) == 0, crt = access(crtpath, F_OK) == 0;

        if (key != crt) {
                snprintf(detail, size, "%s is missing but %s exists", key ? crtpath : keypath, key ? keypath : crtpath);
                return -ENOENT;
        }
        *ret_none = !key;
        return 0;
}

int brm_ca_check(const char *dir, char *detail, size_t size)
{
        char keypath[4096], crtpath[4096];
        struct brm_ca ca;
        bool none;
        int r;

        snprintf(detail, size, "%s", "");
        if (brm_path(keypath, sizeof(keypath), "%s/ca.key", dir) < 0 ||
            brm_path(crtpath, sizeof(crtpath), "%s/ca.crt", dir) < 0)
                return -ENAMETOOLONG;
        if ((r = ca_presence(keypath, crtpath, detail, size, &none)) < 0)
                return r;
        if (none) {
                snprintf(detail, size, "%s and %s are missing", keypath, crtpath);
                return -ENOENT;
        }
        mbedtls_pk_init(&ca.key);
        mbedtls_x509_crt_init(&ca.crt);
        r = load_ca(&ca, keypath, crtpath, detail, size);
        mbedtls_pk_free(&ca.key);
        mbedtls_x509_crt_free(&ca.crt);
        return r;
}

static int create_ca(struct brm_ca *ca, const char *keypath, const char *crtpath)
{
        char pem[4096], subject[96];
        uint8_t der[BRM_CERT_MAX_DER], rnd[4];
        struct brm_cert_req req = { 0 };
        int64_t now = brm_now_ms();
        int r, n;

        if ((r = brm_pki_key_generate(&ca->key)) < 0)
                return r;
        brm_random(rnd, sizeof(rnd));
        snprintf(subject, sizeof(subject), "CN=bramble-ca-%02x%02x%02x%02x,O=" BRM_ORG_CA, rnd[0], rnd[1], rnd[2], rnd[3]);
        req.kind = BRM_CERT_CA;
        req.subject = subject;
        req.subject_key = &ca->key;
        req.not_before_ms = now - BACKDATE_MS;
        req.not_after_ms = now + 20 * YEAR_MS;
        if ((n = brm_pki_issue(NULL, NULL, &req, der, sizeof(der))) < 0)
                return n;
        if ((r = brm_pki_key_write_pem(&ca->key, pem, sizeof(pem))) < 0)
                return r;
        /* The key first: a CA certificate without its key would be useless. */
        if ((r = brm_file_write_atomic(keypath, pem, strlen(pem), 0600)) < 0)
                return r;
        if ((r = brm_pki_cert_pem(der, (size_t)n, pem, sizeof(pem))) < 0)
                return r;
        if ((r = brm_file_write_atomic(crtpath, pem, strlen(pem), 0644)) < 0)
                return r;
        return mbedtls_x509_crt_parse_der(&ca->crt, der, (size_t)n) == 0 ? 0 : -EINVAL;
}

static int is_ip(const char *s)
{
        return strspn(s, "0123456789.") == strlen(s) || strchr(s, ':') != NULL;
}

static int issue_server(struct brm_ca *ca, const char *const *names, size_t n_names)
{
        const char *dns[34], *ips[34];
        size_t nd = 0, ni = 0;
        uint8_t der[BRM_CERT_MAX_DER];
        struct brm_cert_req req = { 0 };
        int64_t now = brm_now_ms();
        int r, n;

        brm_tls_creds_init(&ca->server);
        if ((r = brm_pki_key_generate(&ca->server.key)) < 0)
                return r;
        dns[nd++] = "localhost";
        ips[ni++] = "127.0.0.1";
        for (size_t i = 0; i < n_names && nd < 32 && ni < 32; i++) {
                if (is_ip(names[i]))
                        ips[ni++] = names[i];
                else
                        dns[nd++] = names[i];
        }
        req.kind = BRM_CERT_SERVER;
        req.subject = "CN=bramble-master,O=" BRM_ORG_MASTER;
        req.subject_key = &ca->server.key;
        req.not_before_ms = now - BACKDATE_MS;
        req.not_after_ms = now + YEAR_MS;
        req.dns_names = dns;
        req.n_dns = nd;
        req.ips = ips;
        req.n_ips = ni;
        if ((n = brm_pki_issue(&ca->key, &ca->crt, &req, der, sizeof(der))) < 0)
                return n;
        /* The chain carries the CA so a joining node can pin it by hash. */
        if ((r = brm_tls_creds_add_cert(&ca->server, der, (size_t)n)) < 0 ||
            (r = brm_tls_creds_add_cert(&ca->server, ca->der, ca->der_len)) < 0 ||
            (r = brm_tls_creds_add_ca(&ca->server, ca->der, ca->der_len)) < 0)
                return r;
        return 0;
}

int brm_ca_open(struct brm_ca *ca, const char *dir, const char *const *names, size_t n_names, bool *ret_created,
                char *detail, size_t size)
{
        char keypath[4096], crtpath[4096];
        bool created = false;
        int r;

        snprintf(detail, size, "%s", "");
        memset(ca, 0, sizeof(*ca));
        mbedtls_pk_init(&ca->key);
        mbedtls_x509_crt_init(&ca->crt);
        brm_tls_creds_init(&ca->server);
        if (brm_path(keypath, sizeof(keypath), "%s/ca.key", dir) < 0 ||
            brm_path(crtpath, sizeof(crtpath), "%s/ca.crt", dir) < 0)
                return -ENAMETOOLONG;
        if ((r = ca_presence(keypath, crtpath, detail, size, &created)) < 0)
                return r;
        if (created) {
                if ((r = create_ca(ca, keypath, crtpath)) < 0)
                        snprintf(detail, size, "creating %s: %s", keypath, strerror(-r));
        } else {
                r = load_ca(ca, keypath, crtpath, detail, size);
        }
        if (r < 0)
                return r;
        if (ca->crt.raw.len > sizeof(ca->der)) {
                snprintf(detail, size, "%s: certificate larger than %zu bytes", crtpath, sizeof(ca->der));
                return -EINVAL;
        }
        memcpy(ca->der, ca->crt.raw.p, ca->crt.raw.len);
        ca->der_len = ca->crt.raw.len;
        brm_pki_sha256(ca->der, ca->der_len, ca->hash);
        if ((r = issue_server(ca, names, n_names)) < 0) {
                snprintf(detail, size, "issuing the server certificate: %s", strerror(-r));
                return r;
        }
        *ret_created = created;
        return 0;
}

void brm_ca_close(struct brm_ca *ca)
{
        mbedtls_pk_free(&ca->key);
        mbedtls_x509_crt_free(&ca->crt);
        brm_tls_creds_free(&ca->server);
}

int brm_ca_sign_client(struct brm_ca *ca, mbedtls_pk_context *subject_key, const char *cn, const char *org,
                       int64_t validity_ms, uint8_t *buf, size_t size, int64_t *ret_not_after_ms)
{
        struct brm_cert_req req = { 0 };
        char subject[160];
        int64_t now = brm_now_ms();
        int n;

        if (snprintf(subject, sizeof(subject), "CN=%s,O=%s", cn, org) >= (int)sizeof(subject))
                return -EINVAL;
        req.kind = BRM_CERT_CLIENT;
        req.subject = subject;
        req.subject_key = subject_key;
        /* Backdating eats into the lifetime nodes measure renewal from; keep
         * it small against short lifetimes. */
        req.not_before_ms = now - (validity_ms / 10 < BACKDATE_MS ? validity_ms / 10 : BACKDATE_MS);
        req.not_after_ms = now + validity_ms;
        n = brm_pki_issue(&ca->key, &ca->crt, &req, buf, size);
        if (n >= 0)
                *ret_not_after_ms = req.not_after_ms;
        return n;
}

int brm_ca_write_admin(struct brm_ca *ca, const char *dir, const char *master_addr)
{
        mbedtls_pk_context key;
        char path[4096], keypem[BRM_KEY_MAX_PEM * 2], crtpem[4096], capem[4096], *text = NULL;
        uint8_t der[BRM_CERT_MAX_DER];
        int64_t not_after;
        cJSON *root = NULL;
        int r, n;

        if (brm_path(path, sizeof(path), "%s/admin.json", dir) < 0)
                return -ENAMETOOLONG;
        mbedtls_pk_init(&key);
        if ((r = brm_pki_key_generate(&key)) < 0)
                goto out;
        if ((n = brm_ca_sign_client(ca, &key, "admin", BRM_ORG_ADMIN, 10 * YEAR_MS, der, sizeof(der), &not_after)) < 0) {
                r = n;
                goto out;
        }
        if ((r = brm_pki_key_write_pem(&key, keypem, sizeof(keypem))) < 0 ||
            (r = brm_pki_cert_pem(der, (size_t)n, crtpem, sizeof(crtpem))) < 0 ||
            (r = brm_pki_cert_pem(ca->der, ca->der_len, capem, sizeof(capem))) < 0)
                goto out;
        r = -ENOMEM;
        if (!(root = cJSON_CreateObject()) || !cJSON_AddStringToObject(root, "master", master_addr) ||
            !cJSON_AddStringToObject(root, "ca", capem) || !cJSON_AddStringToObject(root, "cert", crtpem) ||
            !cJSON_AddStringToObject(root, "key", keypem) || !(text = cJSON_Print(root)))
                goto out;
        r = brm_file_write_atomic(path, text, strlen(text), 0600);
out:
        mbedtls_platform_zeroize(keypem, sizeof(keypem));
        if (text)
                mbedtls_platform_zeroize(text, strlen(text));
        free(text);
        cJSON_Delete(root);
        mbedtls_pk_free(&key);
        return r;
}
