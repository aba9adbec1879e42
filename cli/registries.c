/* bramble registry login / ls / logout: the registries the master pulls
 * from. The password is read from standard input, never from the command
 * line (where ps and shell history would show it), and is never printed. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "frame.h"

#include "common.h"
#include "images.h"

#define PASSWORD_MAX 1024
#define CA_MAX (256u << 10)

int brm_cli_registry_login(struct brm_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
                { "username", required_argument, NULL, 'u' },
                { "password-stdin", no_argument, NULL, 'p' },
                { "ca-file", required_argument, NULL, 'c' },
                { "insecure-http", no_argument, NULL, 'i' },
                { 0 },
        };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__RegistryLogin l = BRAMBLE__REGISTRY_LOGIN__INIT;
        char password[PASSWORD_MAX + 2] = "";
        uint8_t *ca = NULL;
        size_t ca_len = 0;
        bool from_stdin = false;
        const char *ca_file = NULL;
        int o, rc, r;

        optind = 0; /* reinitialise: options may follow the operands */
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (o) {
                case 'u':
                        l.username = optarg;
                        break;
                case 'p':
                        from_stdin = true;
                        break;
                case 'c':
                        ca_file = optarg;
                        break;
                case 'i':
                        l.has_insecure_http = l.insecure_http = 1;
                        break;
                default:
                        return brm_cli_usage_error("usage: bramble registry login HOST[:PORT] [--username U --password-stdin] [--ca-file FILE] [--insecure-http]");
                }
        }
        if (argc - optind != 1)
                return brm_cli_usage_error("usage: bramble registry login HOST[:PORT] [--username U --password-stdin] [--ca-file FILE] [--insecure-http]");
        l.host = argv[optind];
        if (l.username && !from_stdin)
                return brm_cli_usage_error("registry login: --username needs --password-stdin (the password is read from standard input)");
        if (from_stdin) {
                size_t n;
                if (!l.username)
                        return brm_cli_usage_error("registry login: --password-stdin needs --username");
                if (!fgets(password, sizeof(password), stdin))
                        return brm_cli_usage_error("registry login: no password on standard input");
                n = strlen(password);
                while (n && (password[n - 1] == '\n' || password[n - 1] == '\r'))
                        password[--n] = '\0';
                if (n == 0 || n > PASSWORD_MAX - 1)
                        return brm_cli_usage_error("registry login: the password must be 1 to %d bytes", PASSWORD_MAX - 1);
                l.password = password;
        }
        if (ca_file) {
                if ((r = brm_file_read(ca_file, CA_MAX, &ca, &ca_len)) < 0)
                        return brm_cli_usage_error("registry login: cannot read --ca-file %s: %s", ca_file, strerror(-r));
                l.has_ca_pem = 1;
                l.ca_pem.data = ca;
                l.ca_pem.len = ca_len;
        }
        req.msg_case = BRAMBLE__ENVELOPE__MSG_REGISTRY_LOGIN;
        req.registry_login = &l;
        resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc);
        memset(password, 0, sizeof(password));
        free(ca);
        if (!resp)
                return rc;
        brm_msg_free(resp);
        if (!c->json)
                printf("the master now pulls from %s%s%s\n", l.host, l.username ? " as " : "", l.username ? l.username : "");
        return 0;
}

int brm_cli_registry_ls(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__RegistryRequest q = BRAMBLE__REGISTRY_REQUEST__INIT;
        const Bramble__RegistryListResponse *l;
        int rc;

        if (argc != 1)
                return brm_cli_usage_error("usage: bramble registry ls");
        req.msg_case = BRAMBLE__ENVELOPE__MSG_REGISTRY_LIST;
        req.registry_list = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_REGISTRIES, &rc)))
                return rc;
        l = resp->registries;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < l->n_registries; i++) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddItemToArray(arr, o);
                        cJSON_AddStringToObject(o, "host", l->registries[i]->host);
                        cJSON_AddStringToObject(o, "username", l->registries[i]->username ? l->registries[i]->username : "");
                        cJSON_AddBoolToObject(o, "ca", l->registries[i]->has_ca);
                        cJSON_AddBoolToObject(o, "insecure_http", l->registries[i]->insecure_http);
                }
                brm_cli_print_json(arr);
        } else {
                printf("%-32s %-20s %-4s %s\n", "HOST", "USERNAME", "CA", "TRANSPORT");
                for (size_t i = 0; i < l->n_registries; i++) {
                        const Bramble__RegistryInfo *e = l->registries[i];
                        printf("%-32s %-20s %-4s %s\n", e->host, e->username && e->username[0] ? e->username : "-",
                               e->has_ca ? "yes" : "-", e->insecure_http ? "http (insecure)" : "https");
                }
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_registry_logout(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__RegistryRequest q = BRAMBLE__REGISTRY_REQUEST__INIT;
        int rc;

        if (argc != 2)
                return brm_cli_usage_error("usage: bramble registry logout HOST[:PORT]");
        q.host = argv[1];
        req.msg_case = BRAMBLE__ENVELOPE__MSG_REGISTRY_LOGOUT;
        req.registry_logout = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (!c->json)
                printf("removed the credentials and CA for %s\n", argv[1]);
        return 0;
}
