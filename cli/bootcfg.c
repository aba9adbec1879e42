/* The join settings: checked one option at a time, so both commands that
 * take them give the same one-line errors, and written as bramble.json
 * (parsed on the node by image/rootfs/etc/bramble/bootcfg.awk). */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mbedtls/platform_util.h>

#include "err.h"
#include "token.h"
#include "util.h"

#include "bootcfg.h"
#include "common.h"
#include "wifipsk.h"

/* ISO 3166-1 alpha-2 (the countries wireless-regdb has rules for are among
 * them); the node's bootcfg.awk checks against the same list. */
static const char countries[] =
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
        "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
        "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
        "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
        "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
        "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
        "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
        "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
        "VN VU WF WS YE YT ZA ZM ZW ";

bool brm_bootcfg_country_known(const char *cc)
{
        char want[4];

        if (strlen(cc) != 2 || !isalpha((unsigned char)cc[0]) || !isalpha((unsigned char)cc[1]))
                return false;
        want[0] = (char)toupper((unsigned char)cc[0]);
        want[1] = (char)toupper((unsigned char)cc[1]);
        want[2] = ' ';
        want[3] = '\0';
        for (const char *p = countries; *p; p += 3)
                if (memcmp(p, want, 3) == 0)
                        return true;
        return false;
}

/* --wifi-hidden and --wifi-psk-stdin, which take no value: 1 when argv[*i]
 * is one, 0 when not, -EINVAL when misplaced. */
static int take_flag(const char *cmd, const char *a, struct brm_bootcfg *cfg)
{
        if (strcmp(a, "--wifi-psk-stdin") == 0) {
                cfg->psk_stdin = true;
                return 1;
        }
        if (strcmp(a, "--wifi-hidden") != 0)
                return 0;
        if (cfg->nwifi == 0) {
                brm_cli_command_error(cmd, "%s", "--wifi-hidden marks the --wifi-ssid before it; give --wifi-ssid first");
                return -EINVAL;
        }
        cfg->wifi[cfg->nwifi - 1].hidden = true;
        return 1;
}

int brm_bootcfg_take_opt(const char *cmd, int argc, char **argv, int *i, struct brm_bootcfg *cfg)
{
        static const char *names[] = { "--master", "--token", "--name-prefix", "--name", "--wifi-ssid", "--wifi-country" };
        const char *a = argv[*i], *val = NULL;
        size_t k, n;
        int r;

        if ((r = take_flag(cmd, a, cfg)) != 0)
                return r;
        for (k = 0; k < BRM_ARRAY_SIZE(names); k++) {
                n = strlen(names[k]);
                if (strcmp(a, names[k]) == 0) {
                        if (*i + 1 >= argc) {
                                brm_cli_command_error(cmd, "%s needs a value", names[k]);
                                return -EINVAL;
                        }
                        val = argv[++*i];
                        break;
                }
                if (strncmp(a, names[k], n) == 0 && a[n] == '=') {
                        val = a + n + 1;
                        break;
                }
        }
        if (!val)
                return 0;
        switch (k) {
        case 0: {
                char host[256];
                uint16_t port;
                if (strcmp(val, "auto") == 0) {
                        if (cfg->nmasters) {
                                brm_cli_command_error(cmd, "%s", "--master auto finds the master by mDNS: give it alone, not with HOST:PORT");
                                return -EINVAL;
                        }
                        cfg->master_auto = true;
                        return 1;
                }
                if (cfg->master_auto) {
                        brm_cli_command_error(cmd, "--master %s: --master auto was given already", val);
                        return -EINVAL;
                }
                if (brm_parse_hostport(val, host, sizeof(host), &port) < 0) {
                        brm_cli_command_error(cmd, "--master '%s' is not HOST:PORT, e.g. 192.168.1.10:7443", val);
                        return -EINVAL;
                }
                if (cfg->nmasters == BRM_BOOTCFG_MAX_MASTERS) {
                        brm_cli_command_error(cmd, "at most %d --master addresses", BRM_BOOTCFG_MAX_MASTERS);
                        return -EINVAL;
                }
                cfg->masters[cfg->nmasters++] = val;
                return 1;
        }
        case 4: {
                size_t len = strlen(val);
                if (len == 0 || len > 32) {
                        brm_cli_command_error(cmd, "--wifi-ssid '%s': %zu bytes; a network name is 1-32 bytes", val, len);
                        return -EINVAL;
                }
                for (size_t j = 0; j < len; j++)
                        if ((unsigned char)val[j] < 0x20 || val[j] == 0x7f) {
                                brm_cli_command_error(cmd, "%s", "--wifi-ssid: control characters are not supported in a network name");
                                return -EINVAL;
                        }
                if (cfg->nwifi == BRM_BOOTCFG_MAX_WIFI) {
                        brm_cli_command_error(cmd, "at most %d --wifi-ssid networks", BRM_BOOTCFG_MAX_WIFI);
                        return -EINVAL;
                }
                cfg->wifi[cfg->nwifi++] = (struct brm_bootcfg_wifi){ .ssid = val };
                return 1;
        }
        case 5:
                if (!brm_bootcfg_country_known(val)) {
                        brm_cli_command_error(cmd, "--wifi-country '%s' is not an ISO 3166 alpha-2 country code (whose Wi-Fi rules apply), e.g. GB, US, DE", val);
                        return -EINVAL;
                }
                cfg->country[0] = (char)toupper((unsigned char)val[0]);
                cfg->country[1] = (char)toupper((unsigned char)val[1]);
                cfg->country[2] = '\0';
                return 1;
        case 1: {
                const char *why = brm_token_problem(val);
                if (why) {
                        brm_cli_command_error(cmd, "--token: %s", why);
                        return -EINVAL;
                }
                cfg->token = val;
                return 1;
        }
        case 2: {
                size_t len = strlen(val);
                /* The node name is PREFIX-<6 characters of the serial>. */
                if (len == 0 || len > 56 || !brm_valid_node_name(val)) {
                        brm_cli_command_error(cmd, "--name-prefix '%s': expected 1-56 characters of a-z, 0-9 and '-', not starting or ending with '-'", val);
                        return -EINVAL;
                }
                cfg->prefix = val;
                return 1;
        }
        case 3:
        default:
                if (!brm_valid_node_name(val)) {
                        brm_cli_command_error(cmd, "--name '%s': expected 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'", val);
                        return -EINVAL;
                }
                cfg->name = val;
                return 1;
        }
}

/* One line from in, without its newline, into buf; a prompt with the echo
 * off when in is a terminal. Returns its length, or -1 at the end. */
static int read_secret(FILE *in, const char *ssid, char *buf, size_t size)
{
        struct termios old, quiet;
        bool tty = isatty(fileno(in)) && tcgetattr(fileno(in), &old) == 0;
        size_t len;

        if (tty) {
                fprintf(stderr, "Wi-Fi passphrase for '%s': ", ssid);
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                tcsetattr(fileno(in), TCSAFLUSH, &quiet);
        }
        char *got = fgets(buf, (int)size, in);
        if (tty) {
                tcsetattr(fileno(in), TCSAFLUSH, &old);
                fputc('\n', stderr);
        }
        if (!got)
                return -1;
        len = strcspn(buf, "\r\n");
        if (buf[len] == '\0' && len == size - 1) /* longer than the buffer */
                return (int)size;
        buf[len] = '\0';
        return (int)len;
}

int brm_bootcfg_read_psks(const char *cmd, struct brm_bootcfg *cfg, FILE *in)
{
        char line[128];
        int r = 0;

        const char *missing = NULL;

        if (cfg->nwifi == 0 && cfg->psk_stdin)
                missing = "--wifi-psk-stdin needs --wifi-ssid";
        else if (cfg->nwifi == 0 && cfg->country[0])
                missing = "--wifi-country needs --wifi-ssid";
        else if (cfg->nwifi && !cfg->psk_stdin)
                missing = "--wifi-ssid needs --wifi-psk-stdin: the passphrase is read from stdin, a line per network";
        else if (cfg->nwifi && !cfg->country[0])
                missing = "--wifi-ssid needs --wifi-country CC: the ISO 3166 country whose Wi-Fi rules apply, e.g. GB";
        if (missing) {
                brm_cli_command_error(cmd, "%s", missing);
                return -EINVAL;
        }
        for (int i = 0; i < cfg->nwifi && r == 0; i++) {
                struct brm_bootcfg_wifi *w = &cfg->wifi[i];
                int len = read_secret(in, w->ssid, line, sizeof(line));
                bool hex = len == 64 && strspn(line, "0123456789abcdefABCDEF") == 64;

                if (len < 0) {
                        brm_cli_command_error(cmd, "--wifi-psk-stdin: no passphrase for SSID '%s' on stdin (line %d; one line per --wifi-ssid)", w->ssid, i + 1);
                        r = -EINVAL;
                } else if (hex) {
                        for (int j = 0; j < 64; j++)
                                w->psk[j] = (char)tolower((unsigned char)line[j]);
                        w->psk[64] = '\0';
                } else if (len < 8 || len > 63) {
                        brm_cli_command_error(cmd, "--wifi-psk-stdin: the passphrase for SSID '%s' (line %d) has %d characters; expected 8-63, or a key of 64 hex digits", w->ssid, i + 1, len);
                        r = -EINVAL;
                } else if (strspn(line, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != (size_t)len) {
                        brm_cli_command_error(cmd, "--wifi-psk-stdin: the passphrase for SSID '%s' (line %d) must be printable ASCII", w->ssid, i + 1);
                        r = -EINVAL;
                } else if ((r = brm_wifi_psk(w->ssid, strlen(w->ssid), line, w->psk)) < 0) {
                        fprintf(stderr, "bramble %s: cannot derive the Wi-Fi key for SSID '%s': %s\n", cmd, w->ssid, brm_strerror(r));
                }
        }
        mbedtls_platform_zeroize(line, sizeof(line));
        return r;
}

int brm_bootcfg_json(const struct brm_bootcfg *cfg, char **ret_text)
{
        cJSON *root = cJSON_CreateObject(), *m;
        char *printed = NULL, *text = NULL;
        bool ok = root != NULL;
        size_t len;
        int r = -ENOMEM;

        /* One master is a string, as people write it by hand; several are a list. */
        if (ok && cfg->master_auto) {
                ok = cJSON_AddStringToObject(root, "master", "auto") != NULL;
        } else if (ok && cfg->nmasters == 1) {
                ok = cJSON_AddStringToObject(root, "master", cfg->masters[0]) != NULL;
        } else if (ok) {
                ok = (m = cJSON_AddArrayToObject(root, "master")) != NULL;
                for (int i = 0; ok && i < cfg->nmasters; i++)
                        ok = cJSON_AddItemToArray(m, cJSON_CreateString(cfg->masters[i]));
        }
        ok = ok && cJSON_AddStringToObject(root, "token", cfg->token);
        ok = ok && cJSON_AddStringToObject(root, "name_prefix", cfg->prefix ? cfg->prefix : "bramble");
        if (cfg->name)
                ok = ok && cJSON_AddStringToObject(root, "name", cfg->name);
        if (ok && cfg->nwifi > 0) {
                cJSON *list = cJSON_AddArrayToObject(root, "wifi"), *w;
                ok = list != NULL;
                for (int i = 0; ok && i < cfg->nwifi; i++) {
                        ok = cJSON_AddItemToArray(list, w = cJSON_CreateObject());
                        ok = ok && cJSON_AddStringToObject(w, "ssid", cfg->wifi[i].ssid);
                        ok = ok && cJSON_AddStringToObject(w, "psk", cfg->wifi[i].psk);
                        ok = ok && cJSON_AddBoolToObject(w, "hidden", cfg->wifi[i].hidden);
                }
                ok = ok && cJSON_AddStringToObject(root, "country", cfg->country);
        }
        if (!ok || !(printed = cJSON_Print(root)))
                goto out;
        len = strlen(printed);
        if (!(text = malloc(len + 2)))
                goto out;
        memcpy(text, printed, len);
        memcpy(text + len, "\n", 2);
        *ret_text = text;
        r = 0;
out:
        free(printed);
        cJSON_Delete(root);
        return r;
}
