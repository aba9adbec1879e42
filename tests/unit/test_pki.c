/* PKI: the CSR signing policy, issued certificate usages, and the CA pin. */
#include <errno.h>

#include <mbedtls/oid.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_csr.h>

#include "check.h"
#include "pki.h"
#include "util.h"

#define DAY_MS (86400LL * 1000)

static int csr_with(mbedtls_pk_context *key, const char *subject, const char *ext_oid, size_t ext_oid_len,
                    const unsigned char *val, size_t val_len, uint8_t *buf, size_t size)
{
        mbedtls_x509write_csr w;
        int r;

        mbedtls_x509write_csr_init(&w);
        mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
        mbedtls_x509write_csr_set_key(&w, key);
        CHECK_INT(mbedtls_x509write_csr_set_subject_name(&w, subject), ==, 0);
        if (ext_oid)
#if MBEDTLS_VERSION_MAJOR >= 3
                CHECK_INT(mbedtls_x509write_csr_set_extension(&w, ext_oid, ext_oid_len, 0, val, val_len), ==, 0);
#else
                CHECK_INT(mbedtls_x509write_csr_set_extension(&w, ext_oid, ext_oid_len, val, val_len), ==, 0);
#endif
        r = mbedtls_x509write_csr_der(&w, buf, size, brm_pki_rng, NULL);
        mbedtls_x509write_csr_free(&w);
        CHECK_INT(r, >, 0);
        memmove(buf, buf + size - (size_t)r, (size_t)r);
        return r;
}

static const char *policy(const uint8_t *der, size_t len, const char *cn, int *ret)
{
        mbedtls_x509_csr csr;
        const char *why = NULL;

        mbedtls_x509_csr_init(&csr);
        *ret = brm_pki_csr_check(der, len, cn, &csr, &why);
        mbedtls_x509_csr_free(&csr);
        return why;
}

static int issue(mbedtls_pk_context *ca_key, mbedtls_x509_crt *ca, mbedtls_pk_context *key, enum brm_cert_kind kind,
                 int64_t nb, int64_t na, uint8_t *der, size_t size)
{
        struct brm_cert_req req = { 0 };
        req.kind = kind;
        req.subject = kind == BRM_CERT_SERVER ? "CN=bramble-master,O=bramble-master" : "CN=pi-1,O=bramble-node";
        req.subject_key = key;
        req.not_before_ms = nb;
        req.not_after_ms = na;
        const char *dns[] = { "master.local" };
        const char *ips[] = { "127.0.0.1", "::1" };
        if (kind == BRM_CERT_SERVER) {
                req.dns_names = dns;
                req.n_dns = 1;
                req.ips = ips;
                req.n_ips = 2;
        }
        return brm_pki_issue(ca_key, ca, &req, der, size);
}

int main(void)
{
        mbedtls_pk_context ca_key, key, other;
        mbedtls_x509_crt ca, leaf, chain;
        uint8_t der[2048], ca_der[2048], pin[32], got_ca[BRM_CERT_MAX_DER];
        size_t got_len = 0;
        int64_t now = brm_now_ms();
        const char *why;
        int n, ca_len, r;
        uint32_t flags;

        CHECK_INT(brm_pki_init(), ==, 0);
        mbedtls_pk_init(&ca_key);
        mbedtls_pk_init(&key);
        mbedtls_pk_init(&other);
        CHECK_INT(brm_pki_key_generate(&ca_key), ==, 0);
        CHECK_INT(brm_pki_key_generate(&key), ==, 0);
        CHECK_INT(brm_pki_key_generate(&other), ==, 0);

        /* Key PEM round trip keeps the same public key. */
        {
                char pem[BRM_KEY_MAX_PEM * 2], h1[65], h2[65];
                mbedtls_pk_context k2;
                mbedtls_pk_init(&k2);
                CHECK_INT(brm_pki_key_write_pem(&key, pem, sizeof(pem)), ==, 0);
                CHECK_INT(brm_pki_key_parse(&k2, (uint8_t *)pem, strlen(pem) + 1), ==, 0);
                brm_pki_pubkey_hash(&key, h1);
                brm_pki_pubkey_hash(&k2, h2);
                CHECK_STR(h1, h2);
                mbedtls_pk_free(&k2);
                CHECK_INT(brm_pki_key_parse(&k2, (uint8_t *)"garbage", 8), <, 0);
                mbedtls_pk_free(&k2);
        }

        /* The CA. */
        {
                struct brm_cert_req req = { .kind = BRM_CERT_CA, .subject = "CN=test-ca,O=bramble", .subject_key = &ca_key,
                                            .not_before_ms = now - DAY_MS, .not_after_ms = now + 365 * DAY_MS };
                ca_len = brm_pki_issue(NULL, NULL, &req, ca_der, sizeof(ca_der));
                CHECK_INT(ca_len, >, 0);
        }
        mbedtls_x509_crt_init(&ca);
        CHECK_INT(mbedtls_x509_crt_parse_der(&ca, ca_der, (size_t)ca_len), ==, 0);
        brm_pki_sha256(ca_der, (size_t)ca_len, pin);

        /* A good CSR passes. */
        n = brm_pki_csr_create(&key, "pi-1", der, sizeof(der));
        CHECK_INT(n, >, 0);
        why = policy(der, (size_t)n, "pi-1", &r);
        CHECK_INT(r, ==, 0);
        /* Wrong name. */
        why = policy(der, (size_t)n, "pi-2", &r);
        CHECK_INT(r, ==, -EACCES);
        CHECK(why && strstr(why, "does not match"));
        /* Tampered signature. */
        der[n - 3] ^= 0x55;
        why = policy(der, (size_t)n, "pi-1", &r);
        CHECK_INT(r, <, 0);
        der[n - 3] ^= 0x55;
        /* Truncated / garbage. */
        why = policy(der, (size_t)n / 2, "pi-1", &r);
        CHECK_INT(r, ==, -EINVAL);
        CHECK(why && strstr(why, "not a valid DER"));
        /* Extra subject attributes. */
        n = csr_with(&key, "CN=pi-1,O=bramble-admin", NULL, 0, NULL, 0, der, sizeof(der));
        why = policy(der, (size_t)n, "pi-1", &r);
        CHECK_INT(r, ==, -EACCES);
        CHECK(why && strstr(why, "exactly CN="));
        /* Extra names. */
        {
                const unsigned char san[] = { 0x30, 0x0e, 0x82, 0x0c, 'e', 'v', 'i', 'l', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e' };
                n = csr_with(&key, "CN=pi-1", MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
                             san, sizeof(san), der, sizeof(der));
                why = policy(der, (size_t)n, "pi-1", &r);
                CHECK_INT(r, ==, -EACCES);
                CHECK(why && strstr(why, "subjectAltName"));
        }
        /* Server usage asked for. */
        {
                const unsigned char eku[] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
                n = csr_with(&key, "CN=pi-1", MBEDTLS_OID_EXTENDED_KEY_USAGE, MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
                             eku, sizeof(eku), der, sizeof(der));
                why = policy(der, (size_t)n, "pi-1", &r);
                CHECK_INT(r, ==, -EACCES);
                CHECK(why && strstr(why, "client authentication"));
                const unsigned char eku_ok[] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };
                n = csr_with(&key, "CN=pi-1", MBEDTLS_OID_EXTENDED_KEY_USAGE, MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
                             eku_ok, sizeof(eku_ok), der, sizeof(der));
                why = policy(der, (size_t)n, "pi-1", &r);
                CHECK_INT(r, ==, 0);
        }
        /* CA asked for. */
        {
                const unsigned char bc[] = { 0x30, 0x03, 0x01, 0x01, 0xff };
                n = csr_with(&key, "CN=pi-1", MBEDTLS_OID_BASIC_CONSTRAINTS, MBEDTLS_OID_SIZE(MBEDTLS_OID_BASIC_CONSTRAINTS), bc,
                             sizeof(bc), der, sizeof(der));
                why = policy(der, (size_t)n, "pi-1", &r);
                CHECK_INT(r, ==, -EACCES);
                CHECK(why && strstr(why, "certificate authority"));
        }

        /* A client certificate: verifies against the CA, client use only. */
        n = issue(&ca_key, &ca, &key, BRM_CERT_CLIENT, now - DAY_MS, now + DAY_MS, der, sizeof(der));
        CHECK_INT(n, >, 0);
        mbedtls_x509_crt_init(&leaf);
        CHECK_INT(mbedtls_x509_crt_parse_der(&leaf, der, (size_t)n), ==, 0);
        CHECK_INT(mbedtls_x509_crt_verify(&leaf, &ca, NULL, NULL, &flags, NULL, NULL), ==, 0);
        CHECK_INT(mbedtls_x509_crt_check_extended_key_usage(&leaf, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)), ==, 0);
        CHECK_INT(mbedtls_x509_crt_check_extended_key_usage(&leaf, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)), !=, 0);
        {
                char cn[64], o[64];
                CHECK_INT(brm_pki_name_get(&leaf.subject, "cn", cn, sizeof(cn)), ==, 0);
                CHECK_INT(brm_pki_name_get(&leaf.subject, "o", o, sizeof(o)), ==, 0);
                CHECK_STR(cn, "pi-1");
                CHECK_STR(o, "bramble-node");
        }
        /* The pin: a client certificate chain is not a master. */
        mbedtls_x509_crt_init(&chain);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, der, (size_t)n), ==, 0);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, ca_der, (size_t)ca_len), ==, 0);
        CHECK_INT(brm_pki_verify_pinned(&chain, pin, got_ca, &got_len), ==, -EACCES);
        mbedtls_x509_crt_free(&chain);
        mbedtls_x509_crt_free(&leaf);

        /* A server chain with the right pin passes and yields the CA. */
        n = issue(&ca_key, &ca, &other, BRM_CERT_SERVER, now - DAY_MS, now + DAY_MS, der, sizeof(der));
        CHECK_INT(n, >, 0);
        mbedtls_x509_crt_init(&chain);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, der, (size_t)n), ==, 0);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, ca_der, (size_t)ca_len), ==, 0);
        CHECK_INT(brm_pki_verify_pinned(&chain, pin, got_ca, &got_len), ==, 0);
        CHECK_U64(got_len, ==, (size_t)ca_len);
        CHECK(memcmp(got_ca, ca_der, got_len) == 0);
        /* A wrong pin is refused. */
        pin[0] ^= 1;
        CHECK_INT(brm_pki_verify_pinned(&chain, pin, got_ca, &got_len), ==, -EACCES);
        pin[0] ^= 1;
        mbedtls_x509_crt_free(&chain);

        /* A chain that carries the pinned CA but a leaf signed by another key fails. */
        {
                mbedtls_pk_context rogue;
                mbedtls_x509_crt rogue_ca;
                uint8_t rca[2048];
                struct brm_cert_req req = { .kind = BRM_CERT_CA, .subject = "CN=test-ca,O=bramble", .subject_key = NULL,
                                            .not_before_ms = now - DAY_MS, .not_after_ms = now + DAY_MS };
                int rl;
                mbedtls_pk_init(&rogue);
                CHECK_INT(brm_pki_key_generate(&rogue), ==, 0);
                req.subject_key = &rogue;
                rl = brm_pki_issue(NULL, NULL, &req, rca, sizeof(rca));
                CHECK_INT(rl, >, 0);
                mbedtls_x509_crt_init(&rogue_ca);
                CHECK_INT(mbedtls_x509_crt_parse_der(&rogue_ca, rca, (size_t)rl), ==, 0);
                n = issue(&rogue, &rogue_ca, &other, BRM_CERT_SERVER, now - DAY_MS, now + DAY_MS, der, sizeof(der));
                mbedtls_x509_crt_init(&chain);
                CHECK_INT(mbedtls_x509_crt_parse_der(&chain, der, (size_t)n), ==, 0);
                CHECK_INT(mbedtls_x509_crt_parse_der(&chain, ca_der, (size_t)ca_len), ==, 0);
                CHECK_INT(brm_pki_verify_pinned(&chain, pin, got_ca, &got_len), ==, -EACCES);
                mbedtls_x509_crt_free(&chain);
                mbedtls_x509_crt_free(&rogue_ca);
                mbedtls_pk_free(&rogue);
        }

        /* Expired is refused; not-yet-valid (a Pi booted with its clock behind) is forgiven. */
        n = issue(&ca_key, &ca, &other, BRM_CERT_SERVER, now - 3 * DAY_MS, now - DAY_MS, der, sizeof(der));
        mbedtls_x509_crt_init(&chain);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, der, (size_t)n), ==, 0);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, ca_der, (size_t)ca_len), ==, 0);
        CHECK_INT(brm_pki_verify_pinned(&chain, pin, got_ca, &got_len), ==, -EACCES);
        mbedtls_x509_crt_free(&chain);
        n = issue(&ca_key, &ca, &other, BRM_CERT_SERVER, now + DAY_MS, now + 3 * DAY_MS, der, sizeof(der));
        mbedtls_x509_crt_init(&chain);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, der, (size_t)n), ==, 0);
        CHECK_INT(mbedtls_x509_crt_parse_der(&chain, ca_der, (size_t)ca_len), ==, 0);
        CHECK_INT(brm_pki_verify_pinned(&chain, pin, got_ca, &got_len), ==, 0);
        mbedtls_x509_crt_free(&chain);

        mbedtls_x509_crt_free(&ca);
        mbedtls_pk_free(&ca_key);
        mbedtls_pk_free(&key);
        mbedtls_pk_free(&other);
        printf("pki: ok\n");
        return 0;
}
