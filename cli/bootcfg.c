/* The join settings: checked one option at a time, so both commands that
 * take them give the same one-line errors, and written as bramble.json
 * (parsed on the node by image/rootfs/etc/bramble/bootcfg.awk). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "token.h"
#include "util.h"

#include "bootcfg.h"
#include "common.h"

int brm_bootcfg_take_opt(const char *cmd, int argc, char **argv, int *i, struct brm_bootcfg *cfg)
{
        static const char *names[] = { "--master", "--token", "--name-prefix", "--name" };
        const char *a = argv[*i], *val = NULL;
        size_t k, n;

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
        default:
                if (!brm_valid_node_name(val)) {
                        brm_cli_command_error(cmd, "--name '%s': expected 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'", val);
                        return -EINVAL;
                }
                cfg->name = val;
                return 1;
        }
}

int brm_bootcfg_json(const struct brm_bootcfg *cfg, char **ret_text)
{
        cJSON *root = cJSON_CreateObject(), *m;
        char *printed = NULL, *text = NULL;
        bool ok = root != NULL;
        size_t len;
        int r = -ENOMEM;

        /* One master is a string, as people write it by hand; several are a list. */
        if (ok && cfg->nmasters == 1) {
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
