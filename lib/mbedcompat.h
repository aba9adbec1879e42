/* The differences between mbedTLS 2.28 (Debian 12, the development host) and
 * 3.6 (Debian 13, the Pi image), kept in one place. */
#ifndef BRM_MBEDCOMPAT_H
#define BRM_MBEDCOMPAT_H

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <mbedtls/build_info.h>
#include <psa/crypto.h>
#define BRM_MBED3 1
#define BRM_PRIV(x) MBEDTLS_PRIVATE(x)
#else
#include <mbedtls/config.h>
#define BRM_MBED3 0
#define BRM_PRIV(x) x
#endif

#endif
