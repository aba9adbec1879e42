/* Wi-Fi in bramble.json from the CLI: the WPA2 key derivation against the
 * IEEE 802.11i test vectors, the --wifi-* and --master auto options, the
 * passphrases read from a stream, and the JSON the node reads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bootcfg.h"
#include "bootcfg_take.h"
#include "check.h"
#include "util.h"
#include "wifipsk.h"

#define TOKEN "bramble1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:abcdef.0123456789abcdef0123456789abcdef"
#define IEEE_PSK "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"

static void check_psk(void)
{
        char hex[65];

        /* IEEE 802.11i-2004, H.4.2 (the first two vectors). */
        CHECK_INT(brm_wifi_psk("IEEE", 4, "password", hex), ==, 0);
        CHECK_STR(hex, IEEE_PSK);
        CHECK_INT(brm_wifi_psk("ThisIsASSID", 11, "ThisIsAPassword", hex), ==, 0);
        CHECK_STR(hex, "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af");
}

/* brm_bootcfg_read_psks with text as stdin. */
static int read_psks(struct brm_bootcfg *cfg, const char *text)
{
        FILE *in = fmemopen((void *)text, strlen(text), "r");
        int r;

        CHECK(in != NULL);
        r = brm_bootcfg_read_psks("test", cfg, in);
        fclose(in);
        return r;
}

static void check_options(void)
{
        struct brm_bootcfg cfg = { 0 };
        char *ok[] = { "x", "IMG", "--master", "auto", "--token", TOKEN, "--wifi-ssid", "IEEE", "--wifi-ssid=attic",
                       "--wifi-hidden", "--wifi-psk-stdin", "--wifi-country=gb" };

        CHECK_INT(take_all((int)BRM_ARRAY_SIZE(ok), ok, &cfg), ==, 1);
        CHECK(cfg.master_auto);
        CHECK_INT(cfg.nmasters, ==, 0);
        CHECK_INT(cfg.nwifi, ==, 2);
        CHECK_STR(cfg.wifi[0].ssid, "IEEE");
        CHECK(!cfg.wifi[0].hidden);
        CHECK_STR(cfg.wifi[1].ssid, "attic");
        CHECK(cfg.wifi[1].hidden);
        CHECK(cfg.psk_stdin);
        CHECK_STR(cfg.country, "GB");

        /* A passphrase per line (CRLF too); 64 hex digits are the key itself. */
        CHECK_INT(read_psks(&cfg, "password\r\n" IEEE_PSK "\n"), ==, 0);
        CHECK_STR(cfg.wifi[0].psk, IEEE_PSK);
        CHECK_STR(cfg.wifi[1].psk, IEEE_PSK);
        CHECK_INT(read_psks(&cfg, "password\nF42C6FC52DF0EBEF9EBB4B90B38A5F902E83FE1B135A70E23AED762E9710A12E"), ==, 0);
        CHECK_STR(cfg.wifi[1].psk, IEEE_PSK);

        /* Bad passphrases: too short, too long, 64 characters not hex, missing, not ASCII. */
        CHECK_INT(read_psks(&cfg, "short\npassword\n"), ==, -EINVAL);
        CHECK_INT(read_psks(&cfg, "password\n"
                                  "0123456789012345678901234567890123456789012345678901234567890123456789\n"),
                  ==, -EINVAL);
        CHECK_INT(read_psks(&cfg, "password\n"
                                  "g42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e\n"),
                  ==, -EINVAL);
        CHECK_INT(read_psks(&cfg, "password\n"), ==, -EINVAL);
        CHECK_INT(read_psks(&cfg, "passw\xc3\xb6rd\npassword\n"), ==, -EINVAL);

        /* What goes together. */
        struct brm_bootcfg nopsk = { .nwifi = 1, .wifi = { { .ssid = "a" } }, .country = "GB" };
        CHECK_INT(read_psks(&nopsk, "password\n"), ==, -EINVAL);
        struct brm_bootcfg nocountry = { .nwifi = 1, .wifi = { { .ssid = "a" } }, .psk_stdin = true };
        CHECK_INT(read_psks(&nocountry, "password\n"), ==, -EINVAL);
        struct brm_bootcfg nossid = { .psk_stdin = true };
        CHECK_INT(read_psks(&nossid, "password\n"), ==, -EINVAL);
        struct brm_bootcfg none = { 0 };
        CHECK_INT(read_psks(&none, ""), ==, 0);

        /* Refused option values. */
        char *bad[][3] = {
                { "x", "--wifi-ssid", "" },
                { "x", "--wifi-ssid", "123456789012345678901234567890123" },
                { "x", "--wifi-ssid", "tab\there" },
                { "x", "--wifi-country", "XX" },
                { "x", "--wifi-country", "GBR" },
                { "x", "--wifi-hidden", "y" },
        };
        for (size_t k = 0; k < BRM_ARRAY_SIZE(bad); k++) {
                struct brm_bootcfg c = { 0 };
                CHECK_INT(take_all(3, bad[k], &c), ==, -EINVAL);
        }
        struct brm_bootcfg mixed = { 0 };
        char *m1[] = { "x", "--master", "h:1", "--master", "auto" };
        CHECK_INT(take_all(5, m1, &mixed), ==, -EINVAL);
        struct brm_bootcfg mixed2 = { 0 };
        char *m2[] = { "x", "--master", "auto", "--master", "h:1" };
        CHECK_INT(take_all(5, m2, &mixed2), ==, -EINVAL);
        CHECK(brm_bootcfg_country_known("de"));
        CHECK(brm_bootcfg_country_known("ZW"));
        CHECK(!brm_bootcfg_country_known("00"));
        CHECK(!brm_bootcfg_country_known("G"));
}

static void check_json(void)
{
        struct brm_bootcfg cfg = { .master_auto = true, .token = TOKEN, .nwifi = 2, .country = "GB" };
        cJSON *root, *w, *e;
        char *text = NULL;

        cfg.wifi[0] = (struct brm_bootcfg_wifi){ .ssid = "IEEE", .psk = IEEE_PSK };
        cfg.wifi[1] = (struct brm_bootcfg_wifi){ .ssid = "it's \"x\"", .psk = IEEE_PSK, .hidden = true };
        CHECK_INT(brm_bootcfg_json(&cfg, &text), ==, 0);
        CHECK(strstr(text, "password") == NULL);
        CHECK((root = cJSON_Parse(text)) != NULL);
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(root, "master")->valuestring, "auto");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(root, "country")->valuestring, "GB");
        w = cJSON_GetObjectItemCaseSensitive(root, "wifi");
        CHECK(cJSON_IsArray(w));
        CHECK_INT(cJSON_GetArraySize(w), ==, 2);
        e = cJSON_GetArrayItem(w, 1);
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(e, "ssid")->valuestring, "it's \"x\"");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(e, "psk")->valuestring, IEEE_PSK);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "hidden")));
        CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(w, 0), "hidden")));
        cJSON_Delete(root);
        free(text);

        /* No Wi-Fi: no "wifi" or "country" at all. */
        struct brm_bootcfg plain = { .masters = { "h:1" }, .nmasters = 1, .token = TOKEN };
        CHECK_INT(brm_bootcfg_json(&plain, &text), ==, 0);
        CHECK(strstr(text, "wifi") == NULL && strstr(text, "country") == NULL);
        free(text);
}

int main(void)
{
        check_psk();
        check_options();
        check_json();
        printf("wifi: ok\n");
        return 0;
}
