/* The CA's signature on an OS update (ossig.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "mbedcompat.h"
#include "ossig.h"
#include "pki.h"

static int message_hash(const char *digest, const char *version, const char *arch, uint8_t hash[32])
{
        char msg[512];
        int n;

        if (!digest || !version || !arch || !*digest || !*version || !*arch)
                return -EINVAL;
        n = snprintf(msg, sizeof(msg), "bramble-os-update\n%s\n%s\n%s\n", digest, version, arch);
        if (n < 0 || (size_t)n >= sizeof(msg))
                return -EINVAL;
#if BRM_MBED3
        mbedtls_sha256((const unsigned char *)msg, (size_t)n, hash, 0);
#else
        mbedtls_sha256_ret((const unsigned char *)msg, (size_t)n, hash, 0);
#endif
        return 0;
}

int brm_ossig_sign(mbedtls_pk_context *key, const char *digest, const char *version, const char *arch, uint8_t *sig,
                   size_t size)
{
        uint8_t hash[32];
        size_t len = 0;
        int r;

        if ((r = message_hash(digest, version, arch, hash)) < 0)
                return r;
        if (size < BRM_OSSIG_MAX)
                return -ENOBUFS;
#if BRM_MBED3
        r = mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, size, &len, brm_pki_rng, NULL);
#else
        r = mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, &len, brm_pki_rng, NULL);
#endif
        return r ? -EIO : (int)len;
}

int brm_ossig_verify(mbedtls_x509_crt *ca, const char *digest, const char *version, const char *arch, const uint8_t *sig,
                     size_t len)
{
        uint8_t hash[32];
        int r;

        if ((r = message_hash(digest, version, arch, hash)) < 0)
                return r;
        if (!sig || len == 0 || len > BRM_OSSIG_MAX)
                return -EBADMSG;
        return mbedtls_pk_verify(&ca->pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, len) ? -EBADMSG : 0;
}
