/* WPA2 passphrase to key, with mbedTLS's PKCS#5 PBKDF2: mbedTLS 3.3 and
 * newer take the hash by type (the context form is deprecated there);
 * 2.28, the host's, has only the context form. */
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include "err.h"

#include "wifipsk.h"

int brm_wifi_psk(const void *ssid, size_t ssid_len, const char *pass, char ret_hex[65])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char key[32];
        int r;

#if MBEDTLS_VERSION_NUMBER >= 0x03030000
        r = mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA1, (const unsigned char *)pass, strlen(pass), ssid, ssid_len, 4096,
                                          sizeof(key), key);
#else
        mbedtls_md_context_t md;
        mbedtls_md_init(&md);
        r = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), 1);
        if (r == 0)
                r = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)pass, strlen(pass), ssid, ssid_len, 4096,
                                              sizeof(key), key);
        mbedtls_md_free(&md);
#endif
        if (r != 0) {
                mbedtls_platform_zeroize(key, sizeof(key));
                return brm_err_mbedtls(r);
        }
        for (size_t i = 0; i < sizeof(key); i++) {
                ret_hex[2 * i] = hex[key[i] >> 4];
                ret_hex[2 * i + 1] = hex[key[i] & 15];
        }
        ret_hex[64] = '\0';
        mbedtls_platform_zeroize(key, sizeof(key));
        return 0;
}
