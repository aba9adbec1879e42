/* bramble: the operator CLI. Exit codes: 0 done, 1 the master refused or
 * failed the request, 2 bad arguments, 3 credentials or connection. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <mbedtls/platform_util.h>

#include "client.h"
#include "err.h"
#include "fileio.h"
#include "frame.h"
#include "pki.h"
#include "util.h"

#include "cli.h"
#include "image.h"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: bramble [--config FILE] [-o table|json] COMMAND\n"
                "\n"
                "commands:\n"
                "  nodes                               list nodes with state and resource use\n"
                "  node rm NAME                        remove a node (its certificate stops working)\n"
                "  token create [--ttl 24h] [--uses N] [--description TEXT]\n"
                "                                      create a join token (--ttl 0 = never expires)\n"
                "  token list                          list join tokens\n"
                "  token revoke ID                     revoke a join token\n"
                "  run NODE NAME --image REF [--memory 64M] [--memory-high 48M] [--cpus 0.5] [--pids 100]\n"
                "      [--restart always|on-failure|never] [--env K=V]... [--workdir DIR] [--network host|none]\n"
                "      [-- CMD ARGS...]                run a container on a node\n"
                "  ps [NODE]                           list containers\n"
                "  stop|start|rm NODE/NAME             stop, start again, or remove a container\n"
                "  logs [-f] [--tail N] [--since 15m|TIME] [-t] [--stdout|--stderr] NODE/NAME\n"
                "                                      print a container's output (-f: keep following it;\n"
                "                                      -t: prefix each line with its time; --since takes a\n"
                "                                      duration or an RFC 3339 time like 2026-11-22T10:00:00Z)\n"
                "  logs [options] NODE --agent|--kernel\n"
                "                                      print the node agent's own log or the kernel's\n"
                "  image configure IMG --master HOST:PORT --token TOKEN [--name-prefix P]\n"
                "                                      write bramble.json into an SD-card image file\n"
                "  flash IMG TARGET [--master HOST:PORT --token TOKEN] [--name-prefix P] [--no-bmap]\n"
                "                                      write the image to a card, verify it, configure it\n"
                "  version                             print the version\n"
                "\n"
                "Credentials come from --config FILE, else $BRAMBLE_CONFIG, else ~/.config/bramble/admin.json\n"
                "(the admin.json that bramble-master writes into its data dir on first start).\n");
}

int brm_cli_usage_error(const char *fmt, const char *arg)
{
        fprintf(stderr, "bramble: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\n(see 'bramble --help')\n");
        return EXIT_USAGE;
}

static int load_creds(struct cli *c)
{
        char def[1100], err[300];
        const char *path = c->config;
        uint8_t *text = NULL;
        size_t len;
        cJSON *root = NULL;
        const char *names[] = { "master", "ca", "cert", "key" };
        const cJSON *v[4];
        int r;

        if (!path)
                path = getenv("BRAMBLE_CONFIG");
        if (!path || !*path) {
                const char *home = getenv("HOME");
                snprintf(def, sizeof(def), "%s/.config/bramble/admin.json", home ? home : "");
                path = def;
        }
        r = brm_file_read(path, 1 << 20, &text, &len);
        if (r < 0) {
                fprintf(stderr, "bramble: cannot read credentials %s: %s%s\n", path, brm_strerror(r),
                        r == -ENOENT ? " (pass --config or set BRAMBLE_CONFIG to the master's admin.json)" : "");
                return EXIT_CONNECT;
        }
        root = cJSON_Parse((char *)text);
        if (!root || !cJSON_IsObject(root)) {
                fprintf(stderr, "bramble: credentials %s: not a JSON object\n", path);
                r = EXIT_CONNECT;
                goto out;
        }
        for (int i = 0; i < 4; i++) {
                v[i] = cJSON_GetObjectItemCaseSensitive(root, names[i]);
                if (!cJSON_IsString(v[i]) || !*v[i]->valuestring) {
                        fprintf(stderr, "bramble: credentials %s: field '%s' is missing or not a string\n", path, names[i]);
                        r = EXIT_CONNECT;
                        goto out;
                }
        }
        snprintf(c->master, sizeof(c->master), "%s", v[0]->valuestring);
        brm_tls_creds_init(&c->creds);
        err[0] = '\0';
        if (brm_tls_creds_add_ca(&c->creds, (uint8_t *)v[1]->valuestring, strlen(v[1]->valuestring) + 1) < 0)
                snprintf(err, sizeof(err), "field 'ca' is not a PEM certificate");
        else if (brm_tls_creds_add_cert(&c->creds, (uint8_t *)v[2]->valuestring, strlen(v[2]->valuestring) + 1) < 0)
                snprintf(err, sizeof(err), "field 'cert' is not a PEM certificate");
        else if (brm_tls_creds_set_key(&c->creds, (uint8_t *)v[3]->valuestring, strlen(v[3]->valuestring) + 1) < 0)
                snprintf(err, sizeof(err), "field 'key' is not a PEM EC private key");
        if (err[0]) {
                fprintf(stderr, "bramble: credentials %s: %s\n", path, err);
                r = EXIT_CONNECT;
                goto out;
        }
        r = 0;
out:
        cJSON_Delete(root);
        if (text) {
                mbedtls_platform_zeroize(text, len);
                free(text);
        }
        return r;
}

int brm_cli_connect(struct cli *c)
{
        int r;

        if (c->connected)
                return 0;
        if ((r = load_creds(c)) != 0)
                return r;
        if (brm_client_connect(&c->client, c->master, &c->creds, BRM_TLS_VERIFY_REQUIRED, c->timeout_ms) < 0) {
                fprintf(stderr, "bramble: %s\n", c->client.error);
                return EXIT_CONNECT;
        }
        c->connected = true;
        return 0;
}

Bramble__Envelope *brm_cli_call(struct cli *c, Bramble__Envelope *req, Bramble__Envelope__MsgCase want, int *rc)
{
        Bramble__Envelope *resp;
        int r;

        if ((r = brm_cli_connect(c)) != 0) {
                *rc = r;
                return NULL;
        }
        if (brm_client_call(&c->client, req, &resp) < 0) {
                fprintf(stderr, "bramble: %s\n", c->client.error);
                *rc = EXIT_CONNECT;
                return NULL;
        }
        if (resp->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                fprintf(stderr, "bramble: %s\n", resp->error->message ? resp->error->message : "the master refused the request");
                *rc = resp->error->code == -EACCES && resp->id == 0 ? EXIT_CONNECT : EXIT_REFUSED;
                brm_msg_free(resp);
                return NULL;
        }
        if (resp->msg_case != want) {
                fprintf(stderr, "bramble: unexpected reply from the master\n");
                *rc = EXIT_REFUSED;
                brm_msg_free(resp);
                return NULL;
        }
        return resp;
}

static void rfc3339(int64_t ms, char *out, size_t size)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void brm_cli_human_bytes(uint64_t b, char *out, size_t size)
{
        const char *units[] = { "B", "K", "M", "G", "T" };
        double v = (double)b;
        int i = 0;

        while (v >= 1024 && i < 4) {
                v /= 1024;
                i++;
        }
        snprintf(out, size, v < 10 && i ? "%.1f%s" : "%.0f%s", v, units[i]);
}

/* Floats on the wire are single precision; print what was measured, not
 * the binary noise after it. */
static double round2(float v)
{
        return (double)(long long)((double)v * 100 + (v < 0 ? -0.5 : 0.5)) / 100;
}

static cJSON *node_json(const Bramble__NodeStatus *n)
{
        const Bramble__NodeInfo *in = n->info;
        const Bramble__Heartbeat *hb = n->last;
        cJSON *o = cJSON_CreateObject();
        char ts[32];

        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "state", n->state);
        cJSON_AddBoolToObject(o, "connected", n->connected);
        if (n->has_log_streams)
                cJSON_AddNumberToObject(o, "log_streams", n->log_streams);
        rfc3339(n->created_ms, ts, sizeof(ts));
        cJSON_AddStringToObject(o, "created", ts);
        if (n->last_seen_ms) {
                rfc3339(n->last_seen_ms, ts, sizeof(ts));
                cJSON_AddStringToObject(o, "last_seen", ts);
                cJSON_AddNumberToObject(o, "last_seen_ms", (double)n->last_seen_ms);
        } else {
                cJSON_AddNullToObject(o, "last_seen");
        }
        if (in) {
                if (in->arch)
                        cJSON_AddStringToObject(o, "arch", in->arch);
                if (in->model)
                        cJSON_AddStringToObject(o, "model", in->model);
                if (in->serial)
                        cJSON_AddStringToObject(o, "serial", in->serial);
                if (in->kernel)
                        cJSON_AddStringToObject(o, "kernel", in->kernel);
                if (in->os)
                        cJSON_AddStringToObject(o, "os", in->os);
                if (in->has_cpu_count)
                        cJSON_AddNumberToObject(o, "cpu_count", in->cpu_count);
                if (in->has_cgroup_version)
                        cJSON_AddNumberToObject(o, "cgroup_version", in->cgroup_version);
                cJSON *ctl = cJSON_AddArrayToObject(o, "cgroup_controllers");
                for (size_t i = 0; i < in->n_cgroup_controllers; i++)
                        cJSON_AddItemToArray(ctl, cJSON_CreateString(in->cgroup_controllers[i]));
                if (in->agent_version)
                        cJSON_AddStringToObject(o, "agent_version", in->agent_version);
                if (in->runtime)
                        cJSON_AddStringToObject(o, "runtime", in->runtime);
                if (in->has_memory_controller)
                        cJSON_AddBoolToObject(o, "memory_controller", in->memory_controller);
                if (in->has_mem_total_bytes)
                        cJSON_AddNumberToObject(o, "mem_total_bytes", (double)in->mem_total_bytes);
        }
        if (hb) {
                if (hb->has_uptime_ms)
                        cJSON_AddNumberToObject(o, "uptime_ms", (double)hb->uptime_ms);
                if (hb->has_cpu_percent)
                        cJSON_AddNumberToObject(o, "cpu_percent", (double)(int)(hb->cpu_percent * 10 + 0.5) / 10);
                if (hb->has_load1) {
                        cJSON_AddNumberToObject(o, "load1", round2(hb->load1));
                        cJSON_AddNumberToObject(o, "load5", round2(hb->load5));
                        cJSON_AddNumberToObject(o, "load15", round2(hb->load15));
                }
                if (hb->has_mem_total_bytes) {
                        cJSON_DeleteItemFromObject(o, "mem_total_bytes");
                        cJSON_AddNumberToObject(o, "mem_total_bytes", (double)hb->mem_total_bytes);
                        cJSON_AddNumberToObject(o, "mem_available_bytes", (double)hb->mem_available_bytes);
                }
                if (hb->has_disk_total_bytes) {
                        cJSON_AddNumberToObject(o, "disk_total_bytes", (double)hb->disk_total_bytes);
                        cJSON_AddNumberToObject(o, "disk_free_bytes", (double)hb->disk_free_bytes);
                }
                if (hb->has_net_rx_bytes) {
                        cJSON_AddNumberToObject(o, "net_rx_bytes", (double)hb->net_rx_bytes);
                        cJSON_AddNumberToObject(o, "net_tx_bytes", (double)hb->net_tx_bytes);
                }
                if (hb->has_log_streams)
                        cJSON_AddNumberToObject(o, "node_log_streams", hb->log_streams);
                if (hb->has_agent_rss_bytes)
                        cJSON_AddNumberToObject(o, "agent_rss_bytes", (double)hb->agent_rss_bytes);
                if (hb->has_shim_rss_bytes)
                        cJSON_AddNumberToObject(o, "shim_rss_bytes", (double)hb->shim_rss_bytes);
                if (hb->has_temp_celsius)
                        cJSON_AddNumberToObject(o, "temp_celsius", (double)(int)(hb->temp_celsius * 10 + 0.5) / 10);
                if (hb->throttle) {
                        const Bramble__Throttle *t = hb->throttle;
                        cJSON *th = cJSON_AddObjectToObject(o, "throttle");
                        cJSON_AddNumberToObject(th, "raw", t->raw);
                        cJSON_AddBoolToObject(th, "under_voltage", t->under_voltage);
                        cJSON_AddBoolToObject(th, "freq_capped", t->freq_capped);
                        cJSON_AddBoolToObject(th, "throttled", t->throttled);
                        cJSON_AddBoolToObject(th, "soft_temp_limit", t->soft_temp_limit);
                        cJSON_AddBoolToObject(th, "under_voltage_occurred", t->under_voltage_occurred);
                        cJSON_AddBoolToObject(th, "freq_capped_occurred", t->freq_capped_occurred);
                        cJSON_AddBoolToObject(th, "throttled_occurred", t->throttled_occurred);
                        cJSON_AddBoolToObject(th, "soft_temp_limit_occurred", t->soft_temp_limit_occurred);
                }
        }
        return o;
}

void brm_cli_print_json(cJSON *root)
{
        char *text = cJSON_Print(root);
        if (text)
                printf("%s\n", text);
        free(text);
        cJSON_Delete(root);
}

static int cmd_nodes(struct cli *c)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__NodeListRequest nl = BRAMBLE__NODE_LIST_REQUEST__INIT;
        int64_t now = brm_now_ms();
        int rc = 0;

        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LIST;
        req.node_list = &nl;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_NODES, &rc)))
                return rc;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < resp->nodes->n_nodes; i++)
                        cJSON_AddItemToArray(arr, node_json(resp->nodes->nodes[i]));
                brm_cli_print_json(arr);
        } else {
                printf("%-20s %-9s %-6s %-10s %5s %-13s %-7s %s\n", "NAME", "STATE", "AGE", "LAST SEEN", "CPU", "MEMORY",
                       "TEMP", "MODEL");
                for (size_t i = 0; i < resp->nodes->n_nodes; i++) {
                        const Bramble__NodeStatus *n = resp->nodes->nodes[i];
                        const Bramble__Heartbeat *hb = n->last;
                        char age[16], seen[24] = "never", cpu[16] = "-", mem[32] = "-", temp[16] = "-", a[12], b[12];
                        brm_format_age(now - n->created_ms, age, sizeof(age));
                        if (n->last_seen_ms) {
                                brm_format_age(now - n->last_seen_ms, seen, sizeof(seen));
                                strcat(seen, " ago");
                        }
                        if (hb && hb->has_cpu_percent)
                                snprintf(cpu, sizeof(cpu), "%.0f%%", hb->cpu_percent);
                        if (hb && hb->has_mem_total_bytes) {
                                brm_cli_human_bytes(hb->mem_total_bytes - hb->mem_available_bytes, a, sizeof(a));
                                brm_cli_human_bytes(hb->mem_total_bytes, b, sizeof(b));
                                snprintf(mem, sizeof(mem), "%s/%s", a, b);
                        }
                        if (hb && hb->has_temp_celsius)
                                snprintf(temp, sizeof(temp), "%.1fC", hb->temp_celsius);
                        printf("%-20s %-9s %-6s %-10s %5s %-13s %-7s %s%s\n", n->name, n->state, age, seen, cpu, mem, temp,
                               n->info && n->info->model ? n->info->model : (n->info && n->info->arch ? n->info->arch : "-"),
                               hb && hb->throttle && hb->throttle->under_voltage ? "  [UNDER-VOLTAGE]" : "");
                }
        }
        brm_msg_free(resp);
        return 0;
}

static int cmd_node_rm(struct cli *c, const char *name)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__NodeRemoveRequest rm = BRAMBLE__NODE_REMOVE_REQUEST__INIT;
        int rc = 0;

        if (!brm_valid_node_name(name))
                return brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", name);
        rm.name = (char *)name;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_REMOVE;
        req.node_remove = &rm;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"removed\": \"%s\"}\n", name);
        else
                printf("node %s removed\n", name);
        return 0;
}

static cJSON *token_json(const Bramble__TokenInfo *t)
{
        cJSON *o = cJSON_CreateObject();
        char ts[32];

        cJSON_AddStringToObject(o, "id", t->id);
        rfc3339(t->created_ms, ts, sizeof(ts));
        cJSON_AddStringToObject(o, "created", ts);
        if (t->expires_ms) {
                rfc3339(t->expires_ms, ts, sizeof(ts));
                cJSON_AddStringToObject(o, "expires", ts);
        } else {
                cJSON_AddNullToObject(o, "expires");
        }
        cJSON_AddNumberToObject(o, "uses", t->uses);
        if (t->uses_max)
                cJSON_AddNumberToObject(o, "uses_max", t->uses_max);
        else
                cJSON_AddNullToObject(o, "uses_max");
        cJSON_AddBoolToObject(o, "revoked", t->revoked);
        cJSON_AddStringToObject(o, "description", t->description ? t->description : "");
        return o;
}

static int cmd_token_create(struct cli *c, int argc, char **argv)
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

static int cmd_token_list(struct cli *c)
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
                        char exp[24] = "never", uses[24];
                        const char *status = t->revoked                               ? "revoked"
                                             : t->expires_ms && now >= t->expires_ms ? "expired"
                                             : t->uses_max && t->uses >= t->uses_max ? "used-up"
                                                                                     : "valid";
                        if (t->expires_ms && now < t->expires_ms) {
                                brm_format_age(t->expires_ms - now, exp, sizeof(exp));
                                memmove(exp + 3, exp, strlen(exp) + 1);
                                memcpy(exp, "in ", 3);
                        } else if (t->expires_ms) {
                                snprintf(exp, sizeof(exp), "-");
                        }
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

static int cmd_token_revoke(struct cli *c, const char *id)
{
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

static int run(struct cli *c, int argc, char **argv)
{
        const char *cmd = argv[0];

        if (strcmp(cmd, "nodes") == 0) {
                if (argc > 1)
                        return brm_cli_usage_error("unexpected argument '%s'", argv[1]);
                return cmd_nodes(c);
        }
        if (strcmp(cmd, "node") == 0) {
                if (argc == 3 && strcmp(argv[1], "rm") == 0)
                        return cmd_node_rm(c, argv[2]);
                return brm_cli_usage_error("%s", "usage: bramble node rm NAME");
        }
        if (strcmp(cmd, "token") == 0) {
                if (argc >= 2 && strcmp(argv[1], "create") == 0)
                        return cmd_token_create(c, argc - 1, argv + 1);
                if (argc == 2 && strcmp(argv[1], "list") == 0)
                        return cmd_token_list(c);
                if (argc == 3 && strcmp(argv[1], "revoke") == 0)
                        return cmd_token_revoke(c, argv[2]);
                return brm_cli_usage_error("%s", "usage: bramble token create|list|revoke ID");
        }
        if (strcmp(cmd, "run") == 0)
                return brm_cli_run(c, argc, argv);
        if (strcmp(cmd, "ps") == 0)
                return brm_cli_ps(c, argc, argv);
        if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "start") == 0 || strcmp(cmd, "rm") == 0)
                return brm_cli_container_change(c, argc, argv);
        if (strcmp(cmd, "logs") == 0)
                return brm_cli_logs(c, argc, argv);
        if (strcmp(cmd, "image") == 0) {
                if (argc >= 2 && strcmp(argv[1], "configure") == 0)
                        return brm_cli_image_configure(argc - 1, argv + 1);
                return brm_cli_usage_error("%s", "usage: bramble image configure IMG --master HOST:PORT --token TOKEN [--name-prefix P] [--name N]");
        }
        if (strcmp(cmd, "flash") == 0)
                return brm_cli_flash(argc, argv);
        if (strcmp(cmd, "version") == 0) {
                printf("bramble %s\n", BRM_VERSION);
                return 0;
        }
        return brm_cli_usage_error("unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "output", required_argument, NULL, 'o' },
                { "timeout", required_argument, NULL, 'T' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        struct cli c = { .timeout_ms = 10000 };
        uint64_t v;
        int o, rc;

        /* Global options come before the command ("+" stops at the first non-option). */
        while ((o = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
                switch (o) {
                case 'c':
                        c.config = optarg;
                        break;
                case 'o':
                        if (strcmp(optarg, "json") == 0)
                                c.json = true;
                        else if (strcmp(optarg, "table") != 0)
                                return brm_cli_usage_error("invalid -o '%s': expected table or json", optarg);
                        break;
                case 'T':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 100 || v > 600000)
                                return brm_cli_usage_error("invalid --timeout '%s': expected a duration like 10s", optarg);
                        c.timeout_ms = (int)v;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        /* "-o json" may also follow the command, as in 'bramble nodes -o json'. */
        int n = 0;
        char **rest = calloc((size_t)(argc - optind) + 1, sizeof(char *));
        if (!rest)
                return 1;
        for (int i = optind; i < argc; i++) {
                /* Everything after "--" belongs to the container's command. */
                if (strcmp(argv[i], "--") == 0) {
                        while (i < argc)
                                rest[n++] = argv[i++];
                        break;
                }
                if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
                        if (strcmp(argv[i + 1], "json") == 0)
                                c.json = true;
                        else if (strcmp(argv[i + 1], "table") != 0) {
                                free(rest);
                                return brm_cli_usage_error("invalid -o '%s': expected table or json", argv[i + 1]);
                        }
                        i++;
                        continue;
                }
                if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
                        free(rest);
                        return brm_cli_usage_error("%s needs a value: table or json", argv[i]);
                }
                rest[n++] = argv[i];
        }
        if (brm_pki_init() < 0) {
                free(rest);
                fprintf(stderr, "bramble: crypto initialisation failed\n");
                return 1;
        }
        rc = run(&c, n, rest);
        free(rest);
        if (c.connected)
                brm_client_close(&c.client);
        brm_tls_creds_free(&c.creds);
        return rc;
}
