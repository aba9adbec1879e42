#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "err.h"
#include "mbedcompat.h"
#include "util.h"

/* DER of the extended-key-usage extension values. */
static const unsigned char eku_server[] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
static const unsigned char eku_client[] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };
static const unsigned char oid_ext_req[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e };
static const unsigned char oid_ku[] = { 0x55, 0x1d, 0x0f };
static const unsigned char oid_eku[] = { 0x55, 0x1d, 0x25 };
static const unsigned char oid_bc[] = { 0x55, 0x1d, 0x13 };
static const unsigned char oid_san[] = { 0x55, 0x1d, 0x11 };
static const unsigned char oid_client_auth[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };

int brm_pki_init(void)
{
#if BRM_MBED3
        if (psa_crypto_init() != PSA_SUCCESS)
                return -EIO;
#endif
        return 0;
}

int brm_pki_rng(void *ctx, unsigned char *out, size_t len)
{
        return brm_random(out, len) < 0 ? MBEDTLS_ERR_ERROR_GENERIC_ERROR : 0;
}

int brm_pki_key_generate(mbedtls_pk_context *key)
{
        int r = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (r != 0)
                return brm_err_mbedtls(r);
        r = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key), brm_pki_rng, NULL);
        return brm_err_mbedtls(r);
}

int brm_pki_key_write_pem(mbedtls_pk_context *key, char *buf, size_t size)
{
        return brm_err_mbedtls(mbedtls_pk_write_key_pem(key, (unsigned char *)buf, size));
}

int brm_pki_key_parse(mbedtls_pk_context *key, const uint8_t *data, size_t len)
{
#if BRM_MBED3
        int r = mbedtls_pk_parse_key(key, data, len, NULL, 0, brm_pki_rng, NULL);
#else
        int r = mbedtls_pk_parse_key(key, data, len, NULL, 0);
#endif
        if (r != 0)
                return brm_err_mbedtls(r);
        if (mbedtls_pk_get_type(key) != MBEDTLS_PK_ECKEY)
                return -EINVAL;
        return 0;
}

/* mbedTLS writes DER at the end of the buffer; move it to the front. */
static int der_to_front(int r, uint8_t *buf, size_t size)
{
        if (r < 0)
                return brm_err_mbedtls(r);
        memmove(buf, buf + size - (size_t)r, (size_t)r);
        return r;
}

int brm_pki_csr_create(mbedtls_pk_context *key, const char *cn, uint8_t *buf, size_t size)
{
        mbedtls_x509write_csr w;
        char subject[128];
        int r;

        if (snprintf(subject, sizeof(subject), "CN=%s", cn) >= (int)sizeof(subject))
                return -EINVAL;
        mbedtls_x509write_csr_init(&w);
        mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
        mbedtls_x509write_csr_set_key(&w, key);
        r = mbedtls_x509write_csr_set_subject_name(&w, subject);
        if (r == 0)
                r = mbedtls_x509write_csr_der(&w, buf, size, brm_pki_rng, NULL);
        mbedtls_x509write_csr_free(&w);
        return der_to_front(r, buf, size);
}

static int oid_is(const mbedtls_asn1_buf *oid, const unsigned char *want, size_t len)
{
        return oid->len == len && memcmp(oid->p, want, len) == 0;
}

/* Walks the CSR's attributes: only an extensionRequest with allowed
 * extensions may be present. */
static const char *check_attributes(const mbedtls_x509_csr *csr)
{
        unsigned char *p = csr->cri.p, *end = csr->cri.p + csr->cri.len, *attrs_end;
        size_t len;

        /* CertificationRequestInfo ::= SEQUENCE { version, subject, spki, [0] attributes } */
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                return "CSR is malformed";
        end = p + len;
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_INTEGER) != 0)
                return "CSR is malformed";
        p += len;
        for (int i = 0; i < 2; i++) {
                if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                        return "CSR is malformed";
                p += len;
        }
        if (p == end)
                return NULL;
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED) != 0)
                return "CSR is malformed";
        attrs_end = p + len;
        while (p < attrs_end) {
                unsigned char *attr_end, *set_end;
                mbedtls_asn1_buf oid;

                if (mbedtls_asn1_get_tag(&p, attrs_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                        return "CSR attribute is malformed";
                attr_end = p + len;
                if (mbedtls_asn1_get_tag(&p, attr_end, &oid.len, MBEDTLS_ASN1_OID) != 0)
                        return "CSR attribute is malformed";
                oid.p = p;
                p += oid.len;
                if (!oid_is(&oid, oid_ext_req, sizeof(oid_ext_req)))
                        return "CSR carries an attribute other than an extension request";
                if (mbedtls_asn1_get_tag(&p, attr_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET) != 0)
                        return "CSR extension request is malformed";
                set_end = p + len;
                while (p < set_end) {
                        unsigned char *exts_end;
                        if (mbedtls_asn1_get_tag(&p, set_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                                return "CSR extension request is malformed";
                        exts_end = p + len;
                        while (p < exts_end) {
                                unsigned char *ext_end, *vp, *vend;
                                mbedtls_asn1_buf eoid;
                                int critical = 0;
                                size_t vlen;

                                if (mbedtls_asn1_get_tag(&p, exts_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                                        return "CSR extension is malformed";
                                ext_end = p + len;
                                if (mbedtls_asn1_get_tag(&p, ext_end, &eoid.len, MBEDTLS_ASN1_OID) != 0)
                                        return "CSR extension is malformed";
                                eoid.p = p;
                                p += eoid.len;
                                if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
                                    mbedtls_asn1_get_bool(&p, ext_end, &critical) != 0)
                                        return "CSR extension is malformed";
                                if (mbedtls_asn1_get_tag(&p, ext_end, &vlen, MBEDTLS_ASN1_OCTET_STRING) != 0)
                                        return "CSR extension is malformed";
                                vp = p;
                                vend = p + vlen;
                                if (oid_is(&eoid, oid_san, sizeof(oid_san)))
                                        return "CSR asks for extra names (subjectAltName); only CN=<node name> is signed";
                                if (oid_is(&eoid, oid_eku, sizeof(oid_eku))) {
                                        size_t slen;
                                        if (mbedtls_asn1_get_tag(&vp, vend, &slen, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                                                return "CSR extended key usage is malformed";
                                        while (vp < vend) {
                                                size_t olen;
                                                if (mbedtls_asn1_get_tag(&vp, vend, &olen, MBEDTLS_ASN1_OID) != 0)
                                                        return "CSR extended key usage is malformed";
                                                if (olen != sizeof(oid_client_auth) || memcmp(vp, oid_client_auth, olen) != 0)
                                                        return "CSR asks for a usage other than client authentication";
                                                vp += olen;
                                        }
                                } else if (oid_is(&eoid, oid_bc, sizeof(oid_bc))) {
                                        size_t slen;
                                        int ca = 0;
                                        if (mbedtls_asn1_get_tag(&vp, vend, &slen, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                                                return "CSR basic constraints are malformed";
                                        if (vp < vend && *vp == MBEDTLS_ASN1_BOOLEAN && mbedtls_asn1_get_bool(&vp, vend, &ca) != 0)
                                                return "CSR basic constraints are malformed";
                                        if (ca)
                                                return "CSR asks to be a certificate authority";
                                } else if (!oid_is(&eoid, oid_ku, sizeof(oid_ku))) {
                                        return "CSR asks for an extension that is not allowed";
                                }
                                p = ext_end;
                        }
                }
                p = attr_end;
        }
        return NULL;
}

int brm_pki_csr_check(const uint8_t *der, size_t len, const char *expected_cn, mbedtls_x509_csr *csr,
                      const char **ret_why)
{
        const char *why = NULL;
        unsigned char hash[MBEDTLS_MD_MAX_SIZE];
        const mbedtls_md_info_t *md;
        char cn[128];
        int r;

        if (mbedtls_x509_csr_parse_der(csr, der, len) != 0) {
                why = "CSR is not a valid DER certificate request";
                r = -EINVAL;
                goto fail;
        }
        md = mbedtls_md_info_from_type(csr->BRM_PRIV(sig_md));
        if (!md || mbedtls_md(md, csr->cri.p, csr->cri.len, hash) != 0 ||
            mbedtls_pk_verify_ext(csr->BRM_PRIV(sig_pk), csr->BRM_PRIV(sig_opts), &csr->pk,
                                  csr->BRM_PRIV(sig_md), hash, mbedtls_md_get_size(md),
                                  csr->BRM_PRIV(sig).p, csr->BRM_PRIV(sig).len) != 0) {
                why = "CSR signature does not match its key";
                r = -EACCES;
                goto fail;
        }
        if (mbedtls_pk_get_type(&csr->pk) != MBEDTLS_PK_ECKEY ||
            mbedtls_pk_ec(csr->pk)->BRM_PRIV(grp).id != MBEDTLS_ECP_DP_SECP256R1) {
                why = "CSR key must be ECDSA P-256";
                r = -EINVAL;
                goto fail;
        }
        if (csr->subject.next || brm_pki_name_get(&csr->subject, "cn", cn, sizeof(cn)) < 0) {
                why = "CSR subject must be exactly CN=<node name>";
                r = -EACCES;
                goto fail;
        }
        if (strcmp(cn, expected_cn) != 0) {
                why = "CSR subject CN does not match the requested node name";
                r = -EACCES;
                goto fail;
        }
        why = check_attributes(csr);
        if (why) {
                r = -EACCES;
                goto fail;
        }
        return 0;
fail:
        if (ret_why)
                *ret_why = why;
        return r;
}

static void format_time(int64_t ms, char out[16])
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        /* X.509 GeneralizedTime years stop at 9999. */
        if (tm.tm_year + 1900 > 9999)
                tm.tm_year = 9999 - 1900;
        strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* Appends a DER length to p; returns the new end. */
static unsigned char *put_len(unsigned char *p, size_t len)
{
        if (len < 128) {
                *p++ = (unsigned char)len;
        } else if (len < 256) {
                *p++ = 0x81;
                *p++ = (unsigned char)len;
        } else {
                *p++ = 0x82;
                *p++ = (unsigned char)(len >> 8);
                *p++ = (unsigned char)len;
        }
        return p;
}

/* subjectAltName value: SEQUENCE of dNSName [2] and iPAddress [7]. */
static int build_san(const struct brm_cert_req *req, unsigned char *out, size_t size)
{
        unsigned char body[1024], *p = body;

        for (size_t i = 0; i < req->n_dns; i++) {
                size_t n = strlen(req->dns_names[i]);
                if (n > 253 || (size_t)(p - body) + n + 4 > sizeof(body))
                        return -EINVAL;
                *p++ = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2;
                p = put_len(p, n);
                memcpy(p, req->dns_names[i], n);
                p += n;
        }
        for (size_t i = 0; i < req->n_ips; i++) {
                unsigned char addr[16];
                size_t n;
                if (inet_pton(AF_INET, req->ips[i], addr) == 1)
                        n = 4;
                else if (inet_pton(AF_INET6, req->ips[i], addr) == 1)
                        n = 16;
                else
                        return -EINVAL;
                if ((size_t)(p - body) + n + 2 > sizeof(body))
                        return -EINVAL;
                *p++ = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7;
                *p++ = (unsigned char)n;
                memcpy(p, addr, n);
                p += n;
        }
        size_t blen = (size_t)(p - body);
        if (blen + 4 > size)
                return -EINVAL;
        unsigned char *q = out;
        *q++ = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
        q = put_len(q, blen);
        memcpy(q, body, blen);
        return (int)((size_t)(q - out) + blen);
}

int brm_pki_issue(mbedtls_pk_context *issuer_key, const mbedtls_x509_crt *issuer_crt,
                  const struct brm_cert_req *req, uint8_t *buf, size_t size)
{
        mbedtls_x509write_cert w;
        unsigned char serial[16], san[1100];
        char nb[16], na[16], issuer_name[256];
        int r;

        mbedtls_x509write_crt_init(&w);
        if ((r = brm_random(serial, sizeof(serial))) < 0)
                goto out;
        serial[0] &= 0x7f; /* a positive INTEGER */
        serial[0] |= 0x40; /* and never a leading zero byte */
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
        r = mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial));
#else
        {
                mbedtls_mpi mpi;
                mbedtls_mpi_init(&mpi);
                r = mbedtls_mpi_read_binary(&mpi, serial, sizeof(serial));
                if (r == 0)
                        r = mbedtls_x509write_crt_set_serial(&w, &mpi);
                mbedtls_mpi_free(&mpi);
        }
#endif
        if (r != 0)
                goto mbed;
        mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&w, req->subject_key);
        mbedtls_x509write_crt_set_issuer_key(&w, issuer_key ? issuer_key : req->subject_key);
        if ((r = mbedtls_x509write_crt_set_subject_name(&w, req->subject)) != 0)
                goto mbed;
        if (issuer_crt) {
                if (mbedtls_x509_dn_gets(issuer_name, sizeof(issuer_name), &issuer_crt->subject) < 0) {
                        r = -EINVAL;
                        goto out;
                }
                r = mbedtls_x509write_crt_set_issuer_name(&w, issuer_name);
        } else {
                r = mbedtls_x509write_crt_set_issuer_name(&w, req->subject);
        }
        if (r != 0)
                goto mbed;
        format_time(req->not_before_ms, nb);
        format_time(req->not_after_ms, na);
        if ((r = mbedtls_x509write_crt_set_validity(&w, nb, na)) != 0)
                goto mbed;
        if ((r = mbedtls_x509write_crt_set_basic_constraints(&w, req->kind == BRM_CERT_CA, 0)) != 0)
                goto mbed;
        if ((r = mbedtls_x509write_crt_set_subject_key_identifier(&w)) != 0)
                goto mbed;
        if (req->kind != BRM_CERT_CA && (r = mbedtls_x509write_crt_set_authority_key_identifier(&w)) != 0)
                goto mbed;
        if (req->kind == BRM_CERT_CA) {
                r = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
        } else {
                r = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
                if (r == 0)
                        r = mbedtls_x509write_crt_set_extension(
                                &w, MBEDTLS_OID_EXTENDED_KEY_USAGE, MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                req->kind == BRM_CERT_SERVER ? eku_server : eku_client, sizeof(eku_server));
        }
        if (r != 0)
                goto mbed;
        if (req->kind == BRM_CERT_SERVER && req->n_dns + req->n_ips > 0) {
                int n = build_san(req, san, sizeof(san));
                if (n < 0) {
                        r = n;
                        goto out;
                }
                r = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                        MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san, (size_t)n);
                if (r != 0)
                        goto mbed;
        }
        r = der_to_front(mbedtls_x509write_crt_der(&w, buf, size, brm_pki_rng, NULL), buf, size);
        goto out;
mbed:
        r = brm_err_mbedtls(r);
out:
        mbedtls_x509write_crt_free(&w);
        return r;
}

int brm_pki_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
        if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data, len, out) != 0)
                return -EINVAL;
        return 0;
}

int brm_pki_pubkey_hash(mbedtls_pk_context *key, char out[65])
{
        unsigned char der[256];
        uint8_t h[32];
        int n = mbedtls_pk_write_pubkey_der(key, der, sizeof(der));

        if (n < 0)
                return brm_err_mbedtls(n);
        if (brm_pki_sha256(der + sizeof(der) - n, (size_t)n, h) < 0)
                return -EINVAL;
        brm_hex(h, 32, out);
        return 0;
}

int brm_pki_name_get(const mbedtls_x509_name *name, const char *which, char *out, size_t size)
{
        const char *oid = strcmp(which, "cn") == 0 ? MBEDTLS_OID_AT_CN : MBEDTLS_OID_AT_ORGANIZATION;
        size_t oid_len = strlen(oid);

        for (; name; name = name->next) {
                if (name->oid.len != oid_len || memcmp(name->oid.p, oid, oid_len) != 0)
                        continue;
                if (name->val.len >= size || memchr(name->val.p, '\0', name->val.len))
                        return -EINVAL;
                memcpy(out, name->val.p, name->val.len);
                out[name->val.len] = '\0';
                return 0;
        }
        return -ENOENT;
}

int brm_pki_cert_pem(const uint8_t *der, size_t len, char *buf, size_t size)
{
        size_t olen;
        int r = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n", der, len,
                                         (unsigned char *)buf, size, &olen);
        return brm_err_mbedtls(r);
}

int brm_pki_verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
        *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_FUTURE;
        return 0;
}

int brm_pki_verify_pinned(const mbedtls_x509_crt *chain, const uint8_t pin[32], uint8_t *ret_ca, size_t *ret_ca_len)
{
        const mbedtls_x509_crt *c;
        mbedtls_x509_crt ca;
        uint32_t flags = 0;
        uint8_t h[32];
        int r;

        if (!chain)
                return -EACCES;
        for (c = chain; c && c->raw.len > 0; c = c->next) {
                if (brm_pki_sha256(c->raw.p, c->raw.len, h) == 0 && brm_memeq_ct(h, pin, 32) == 0)
                        break;
        }
        if (!c || c->raw.len == 0 || c->raw.len > BRM_CERT_MAX_DER)
                return -EACCES;
        mbedtls_x509_crt_init(&ca);
        r = mbedtls_x509_crt_parse_der(&ca, c->raw.p, c->raw.len);
        if (r == 0 && !ca.BRM_PRIV(ca_istrue))
                r = -1;
        if (r == 0)
                r = mbedtls_x509_crt_verify((mbedtls_x509_crt *)chain, &ca, NULL, NULL, &flags, brm_pki_verify_cb, NULL);
        if (r == 0)
                r = mbedtls_x509_crt_check_extended_key_usage(chain, MBEDTLS_OID_SERVER_AUTH,
                                                              MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
        mbedtls_x509_crt_free(&ca);
        if (r != 0)
                return -EACCES;
        memcpy(ret_ca, c->raw.p, c->raw.len);
        *ret_ca_len = c->raw.len;
        return 0;
}
