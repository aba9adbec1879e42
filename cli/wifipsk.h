/* The WPA2 pre-shared key of a Wi-Fi network: PBKDF2-HMAC-SHA1 of the
 * passphrase, salted with the SSID, 4096 rounds, 32 bytes (IEEE 802.11i
 * H.4), the same key wpa_passphrase prints. The CLI writes this key into
 * bramble.json, never the passphrase. */
#ifndef BRM_CLI_WIFIPSK_H
#define BRM_CLI_WIFIPSK_H

#include <stddef.h>

/* Derives the key for passphrase pass (8-63 characters, not checked here)
 * and the SSID's bytes, as 64 lower-case hex digits and a NUL in ret_hex.
 * Returns 0, or a negative errno (brm_err_mbedtls) when mbedTLS fails. */
int brm_wifi_psk(const void *ssid, size_t ssid_len, const char *pass, char ret_hex[65]);

#endif
