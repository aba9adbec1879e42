/* bramble api-token create / ls / revoke and bramble dashboard: access to
 * the master's HTTPS port (--http-listen) for Prometheus and browsers. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "pki.h"
#include "util.h"

#include "apitokens.h"
#include "common.h"

static cJSON *api_token_json(const Bramble__ApiTokenInfo *t)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "id", t->id ? t->id : "");
        cJSON_AddStringToObject(o, "role", t->role ? t->role : "");
        brm_cli_json_time(o, "created", t->created_ms);
        brm_cli_json_time(o, "expires", t->expires_ms);
        brm_cli_json_time(o, "last_used", t->last_used_ms);
        cJSON_AddBoolToObject(o, "revoked", t->revoked);
        cJSON_AddStringToObject(o, "description", t->description ? t->description : "");
        return o;
}

static int parse_ttl(const char *arg, uint64_t *ttl)
{
        if (brm_parse_duration_ms(arg, ttl) < 0)
                return brm_cli_usage_error("invalid --ttl '%s': expected a duration like 30m, 24h or 90d (0 = never expires)",
                                           arg);
        return 0;
}

int brm_cli_api_token_create(struct brm_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
                { "role", required_argument, NULL, 'r' },
                { "ttl", required_argument, NULL, 't' },
                { "description", required_argument, NULL, 'd' },
                { 0 },
        };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ApiTokenCreateRequest tc = BRAMBLE__API_TOKEN_CREATE_REQUEST__INIT;
        uint64_t ttl = 0;
        int o, rc = 0;

        optind = 1;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (o == 'r') {
                        if (strcmp(optarg, "metrics") != 0 && strcmp(optarg, "viewer") != 0)
                                return brm_cli_usage_error("invalid --role '%s': expected metrics or viewer", optarg);
                        tc.role = optarg;
                }
                if (o == 't' && (rc = parse_ttl(optarg, &ttl)) != 0)
                        return rc;
                if (o == 'd')
                        tc.description = optarg;
                if (o == '?')
                        return EXIT_USAGE;
        }
        if (optind < argc)
                return brm_cli_usage_error("unexpected argument '%s'", argv[optind]);
        if (!tc.role)
                return brm_cli_usage_error("api-token create needs --role metrics or --role viewer");
        tc.has_ttl_ms = 1;
        tc.ttl_ms = ttl;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_API_TOKEN_CREATE;
        req.api_token_create = &tc;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_API_TOKEN_CREATED, &rc)))
                return rc;
        if (c->json) {
                cJSON *j = api_token_json(resp->api_token_created->info);
                cJSON_AddStringToObject(j, "token", resp->api_token_created->token);
                brm_cli_print_json(j);
        } else {
                printf("%s\n", resp->api_token_created->token);
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_api_token_list(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__TokenListRequest tl = BRAMBLE__TOKEN_LIST_REQUEST__INIT;
        int64_t now = brm_now_ms();
        int rc = 0;

        req.msg_case = BRAMBLE__ENVELOPE__MSG_API_TOKEN_LIST;
        req.api_token_list = &tl;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_API_TOKENS, &rc)))
                return rc;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < resp->api_tokens->n_tokens; i++)
                        cJSON_AddItemToArray(arr, api_token_json(resp->api_tokens->tokens[i]));
                brm_cli_print_json(arr);
        } else {
                printf("%-8s %-8s %-8s %-12s %-12s %s\n", "ID", "ROLE", "STATUS", "EXPIRES", "LAST USED", "DESCRIPTION");
                for (size_t i = 0; i < resp->api_tokens->n_tokens; i++) {
                        const Bramble__ApiTokenInfo *t = resp->api_tokens->tokens[i];
                        char exp[24], used[24] = "-";
                        const char *status = t->revoked                              ? "revoked"
                                             : t->expires_ms && now >= t->expires_ms ? "expired"
                                                                                     : "valid";
                        brm_cli_expires(t->expires_ms, now, exp, sizeof(exp));
                        if (t->last_used_ms) {
                                char age[20];
                                brm_format_age(now - t->last_used_ms, age, sizeof(age));
                                snprintf(used, sizeof(used), "%s ago", age);
                        }
                        printf("%-8s %-8s %-8s %-12s %-12s %s\n", t->id, t->role, status, exp, used,
                               t->description ? t->description : "");
                }
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_api_token_revoke(struct brm_cli *c, int argc, char **argv)
{
        const char *id = argv[1];
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__TokenRevokeRequest tr = BRAMBLE__TOKEN_REVOKE_REQUEST__INIT;
        int rc = 0;

        tr.id = (char *)id;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_API_TOKEN_REVOKE;
        req.api_token_revoke = &tr;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"revoked\": \"%s\"}\n", id);
        else
                printf("API token %s revoked; its sessions are signed out\n", id);
        return 0;
}

/* The host a browser should use: the one the master listens on, or, when
 * it listens on every address, the one this CLI reached it by. */
static void url_host(const struct brm_cli *c, const char *listen_host, char *out, size_t size)
{
        char host[256];
        uint16_t port;

        if (listen_host && *listen_host && strcmp(listen_host, "0.0.0.0") != 0 && strcmp(listen_host, "::") != 0)
                snprintf(host, sizeof(host), "%s", listen_host);
        else if (brm_parse_hostport(c->master, host, sizeof(host), &port) < 0)
                snprintf(host, sizeof(host), "127.0.0.1");
        snprintf(out, size, strchr(host, ':') ? "[%s]" : "%s", host);
}

int brm_cli_dashboard(struct brm_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
                { "ca", no_argument, NULL, 'c' },
                { "ttl", required_argument, NULL, 't' },
                { "token", required_argument, NULL, 'k' },
                { 0 },
        };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__DashboardRequest dr = BRAMBLE__DASHBOARD_REQUEST__INIT;
        const Bramble__DashboardResponse *d;
        bool ca_only = false;
        uint64_t ttl = 0;
        char host[300], url[512];
        int o, rc = 0;

        optind = 1;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (o == 'c')
                        ca_only = true;
                if (o == 't' && (rc = parse_ttl(optarg, &ttl)) != 0)
                        return rc;
                if (o == 'k')
                        dr.token_id = optarg;
                if (o == '?')
                        return EXIT_USAGE;
        }
        if (optind < argc)
                return brm_cli_usage_error("unexpected argument '%s'", argv[optind]);
        if (ca_only) {
                /* The CA the browser and Prometheus must trust, the one this
                 * CLI trusts the master by: checked by connecting. */
                char pem[4096];
                if ((rc = brm_cli_connect(c)) != 0)
                        return rc;
                if (!c->creds.has_ca || brm_pki_cert_pem(c->creds.ca.raw.p, c->creds.ca.raw.len, pem, sizeof(pem)) < 0) {
                        fprintf(stderr, "bramble: the credentials hold no cluster CA\n");
                        return EXIT_FAIL;
                }
                fputs(pem, stdout);
                return 0;
        }
        if (ttl) {
                dr.has_ttl_ms = 1;
                dr.ttl_ms = ttl;
        }
        req.msg_case = BRAMBLE__ENVELOPE__MSG_DASHBOARD;
        req.dashboard = &dr;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_DASHBOARD_LINK, &rc)))
                return rc;
        d = resp->dashboard_link;
        url_host(c, d->http_host, host, sizeof(host));
        snprintf(url, sizeof(url), "https://%s:%u/login?code=%s", host, d->http_port, d->code ? d->code : "");
        if (c->json) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "url", url);
                cJSON_AddNumberToObject(j, "code_ttl_ms", (double)d->code_ttl_ms);
                if (d->token)
                        cJSON_AddItemToObject(j, "token", api_token_json(d->token));
                brm_cli_print_json(j);
        } else {
                printf("%s\n", url);
                fprintf(stderr,
                        "Open this link within %llu s; it works once. The browser stays signed in until API token %s\n"
                        "expires or is revoked ('bramble api-token revoke %s'). The page is served with the master's\n"
                        "certificate: have the browser trust the cluster CA ('bramble dashboard --ca > bramble-ca.pem').\n",
                        (unsigned long long)(d->code_ttl_ms / 1000), d->token && d->token->id ? d->token->id : "?",
                        d->token && d->token->id ? d->token->id : "ID");
        }
        brm_msg_free(resp);
        return 0;
}
