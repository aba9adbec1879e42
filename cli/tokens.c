/* bramble token create / list / revoke: the join tokens a node presents
 * (once, with its CSR) to get its certificate. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "util.h"

#include "common.h"
#include "tokens.h"

static cJSON *token_json(const Bramble__TokenInfo *t)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "id", t->id);
        brm_cli_json_time(o, "created", t->created_ms);
        brm_cli_json_time(o, "expires", t->expires_ms);
        cJSON_AddNumberToObject(o, "uses", t->uses);
        if (t->uses_max)
                cJSON_AddNumberToObject(o, "uses_max", t->uses_max);
        else
                cJSON_AddNullToObject(o, "uses_max");
        cJSON_AddBoolToObject(o, "revoked", t->revoked);
        cJSON_AddStringToObject(o, "description", t->description ? t->description : "");
        return o;
}

int brm_cli_token_create(struct brm_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
                { "ttl", required_argument, NULL, 't' },
                { "uses", required_argument, NULL, 'u' },
                { "description", required_argument, NULL, 'd' },
                { 0 },
        };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__TokenCreateRequest tc = BRAMBLE__TOKEN_CREATE_REQUEST__INIT;
        uint64_t ttl = 24ULL * 3600 * 1000, uses = 0;
        int o, rc = 0;

        optind = 1;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (o == 't' && brm_parse_duration_ms(optarg, &ttl) < 0)
                        return brm_cli_usage_error("invalid --ttl '%s': expected a duration like 30m, 24h or 7d (0 = never expires)",
                                           optarg);
                if (o == 'u' && brm_parse_u64(optarg, 1, 1000000, &uses) < 0)
                        return brm_cli_usage_error("invalid --uses '%s': expected a whole number from 1 to 1000000", optarg);
                if (o == 'd')
                        tc.description = optarg;
                if (o == '?')
                        return EXIT_USAGE;
        }
        if (optind < argc)
                return brm_cli_usage_error("unexpected argument '%s'", argv[optind]);
        tc.has_ttl_ms = tc.has_uses = 1;
        tc.ttl_ms = ttl;
        tc.uses = (uint32_t)uses;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_TOKEN_CREATE;
        req.token_create = &tc;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_TOKEN_CREATED, &rc)))
                return rc;
        if (c->json) {
                cJSON *o2 = token_json(resp->token_created->info);
                cJSON_AddStringToObject(o2, "token", resp->token_created->token);
                brm_cli_print_json(o2);
        } else {
                printf("%s\n", resp->token_created->token);
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_token_list(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__TokenListRequest tl = BRAMBLE__TOKEN_LIST_REQUEST__INIT;
        int64_t now = brm_now_ms();
        int rc = 0;

        req.msg_case = BRAMBLE__ENVELOPE__MSG_TOKEN_LIST;
        req.token_list = &tl;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_TOKENS, &rc)))
                return rc;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < resp->tokens->n_tokens; i++)
                        cJSON_AddItemToArray(arr, token_json(resp->tokens->tokens[i]));
                brm_cli_print_json(arr);
        } else {
                printf("%-8s %-10s %-12s %-8s %s\n", "ID", "STATUS", "EXPIRES", "USES", "DESCRIPTION");
                for (size_t i = 0; i < resp->tokens->n_tokens; i++) {
                        const Bramble__TokenInfo *t = resp->tokens->tokens[i];
                        char exp[24], uses[24];
                        const char *status = t->revoked                               ? "revoked"
                                             : t->expires_ms && now >= t->expires_ms ? "expired"
                                             : t->uses_max && t->uses >= t->uses_max ? "used-up"
                                                                                     : "valid";
                        brm_cli_expires(t->expires_ms, now, exp, sizeof(exp));
                        if (t->uses_max)
                                snprintf(uses, sizeof(uses), "%u/%u", t->uses, t->uses_max);
                        else
                                snprintf(uses, sizeof(uses), "%u", t->uses);
                        printf("%-8s %-10s %-12s %-8s %s\n", t->id, status, exp, uses, t->description ? t->description : "");
                }
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_token_revoke(struct brm_cli *c, int argc, char **argv)
{
        const char *id = argv[1];
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__TokenRevokeRequest tr = BRAMBLE__TOKEN_REVOKE_REQUEST__INIT;
        int rc = 0;

        tr.id = (char *)id;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_TOKEN_REVOKE;
        req.token_revoke = &tr;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"revoked\": \"%s\"}\n", id);
        else
                printf("token %s revoked\n", id);
        return 0;
}
