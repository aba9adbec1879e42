/* bramble nodes / node rm / label / cordon / uncordon / drain: the
 * cluster's nodes, with their state, scheduling, labels and the figures of
 * their last heartbeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "svcspec.h"
#include "statusjson.h"
#include "util.h"

#include "common.h"
#include "nodes.h"
#include "svcprint.h"

static void join_labels(const Bramble__NodeStatus *n, char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (size_t i = 0; i < n->n_labels && len < size; i++)
                len += (size_t)snprintf(out + len, size - len, "%s%s", i ? "," : "", n->labels[i]);
        if (len >= size && size > 4)
                memcpy(out + size - 4, "...", 4);
        if (!out[0])
                snprintf(out, size, "-");
}

int brm_cli_nodes(struct brm_cli *c, int argc, char **argv)
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
                        cJSON_AddItemToArray(arr, brm_json_node(resp->nodes->nodes[i]));
                brm_cli_print_json(arr);
        } else {
                /* VERSION is as wide as the longest (a version is never cut). */
                int vw = 7;
                for (size_t i = 0; i < resp->nodes->n_nodes; i++) {
                        const Bramble__NodeInfo *in = resp->nodes->nodes[i]->info;
                        if (in && in->os_version && (int)strlen(in->os_version) > vw)
                                vw = (int)strlen(in->os_version);
                }
                printf("%-20s %-9s %-9s %-6s %-10s %5s %-13s %-7s %-14s %-*s %-24s %s\n", "NAME", "STATE", "SCHED", "AGE",
                       "LAST SEEN", "CPU", "MEMORY", "TEMP", "NETWORK", vw, "VERSION", "MODEL", "LABELS");
                for (size_t i = 0; i < resp->nodes->n_nodes; i++) {
                        const Bramble__NodeStatus *n = resp->nodes->nodes[i];
                        const Bramble__Heartbeat *hb = n->last;
                        char age[16], seen[24] = "never", cpu[16] = "-", mem[32] = "-", temp[16] = "-", a[12], b[12];
                        char labels[48], net[32] = "-";
                        join_labels(n, labels, sizeof(labels));
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
                        /* How it reaches the master: "eth0", "wlan0 -61dBm". */
                        if (hb && hb->net_iface && hb->has_wifi_signal_dbm)
                                snprintf(net, sizeof(net), "%.15s %ddBm", hb->net_iface, (int)hb->wifi_signal_dbm);
                        else if (hb && hb->net_iface)
                                snprintf(net, sizeof(net), "%.15s", hb->net_iface);
                        printf("%-20s %-9s %-9s %-6s %-10s %5s %-13s %-7s %-14s %-*s %-24s %s%s", n->name, n->state,
                               n->schedule && n->schedule[0] ? n->schedule : "-", age, seen, cpu, mem, temp, net, vw,
                               n->info && n->info->os_version ? n->info->os_version : "-",
                               n->info && n->info->model ? n->info->model : (n->info && n->info->arch ? n->info->arch : "-"),
                               labels, hb && hb->throttle && hb->throttle->under_voltage ? "  [UNDER-VOLTAGE]" : "");
                        if (hb && hb->persist_error)
                                printf("  [STATE NOT PERSISTED: %s]", hb->persist_error);
                        putchar('\n');
                }
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_node_rm(struct brm_cli *c, int argc, char **argv)
{
        const char *name = argv[1];
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

int brm_cli_node_label(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__NodeLabelRequest q = BRAMBLE__NODE_LABEL_REQUEST__INIT;
        char why[256], **set, **rm;
        int rc = 0;

        if (argc < 3)
                return brm_cli_usage_error("usage: bramble node label NODE KEY=VALUE... KEY-...");
        if (!brm_valid_node_name(argv[1]))
                return brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", argv[1]);
        set = calloc((size_t)argc, sizeof(char *));
        rm = calloc((size_t)argc, sizeof(char *));
        if (!set || !rm) {
                free(set);
                free(rm);
                return EXIT_FAIL;
        }
        for (int i = 2; i < argc && !rc; i++) {
                size_t len = strlen(argv[i]);
                if (len > 1 && argv[i][len - 1] == '-' && !strchr(argv[i], '=')) {
                        argv[i][len - 1] = '\0';
                        if (brm_label_check(argv[i], true, why, sizeof(why)) < 0)
                                rc = brm_cli_usage_error("%s", why);
                        rm[q.n_remove++] = argv[i];
                } else {
                        if (brm_label_check(argv[i], false, why, sizeof(why)) < 0)
                                rc = brm_cli_usage_error("%s (to remove a label give KEY-)", why);
                        set[q.n_set++] = argv[i];
                }
        }
        if (!rc) {
                q.node = argv[1];
                q.set = set;
                q.remove = rm;
                req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LABEL;
                req.node_label = &q;
                if ((resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc))) {
                        brm_msg_free(resp);
                        if (c->json)
                                printf("{\"node\": \"%s\", \"labeled\": true}\n", argv[1]);
                        else
                                printf("node %s labeled (%zu set, %zu removed)\n", argv[1], q.n_set, q.n_remove);
                }
        }
        free(set);
        free(rm);
        return rc;
}

static int send_schedule(struct brm_cli *c, const char *node, const char *schedule)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__NodeScheduleRequest q = BRAMBLE__NODE_SCHEDULE_REQUEST__INIT;
        int rc = 0;

        q.node = (char *)node;
        q.schedule = (char *)schedule;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_SCHEDULE;
        req.node_schedule = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        return 0;
}

int brm_cli_node_schedule(struct brm_cli *c, int argc, char **argv)
{
        bool cordon = strcmp(argv[0], "cordon") == 0;
        int rc;

        if (argc != 2 || argv[1][0] == '-')
                return brm_cli_usage_error("usage: bramble node %s NODE", argv[0]);
        if (!brm_valid_node_name(argv[1]))
                return brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", argv[1]);
        if ((rc = send_schedule(c, argv[1], cordon ? "cordoned" : "")) != 0)
                return rc;
        if (c->json)
                printf("{\"node\": \"%s\", \"schedule\": \"%s\"}\n", argv[1], cordon ? "cordoned" : "");
        else
                printf(cordon ? "node %s cordoned: no new replicas go there\n" : "node %s takes replicas again\n", argv[1]);
        return 0;
}

/* How many containers named as replicas of SVCS node NODE's last heartbeat
 * still lists (the first in first). */
static size_t still_reported(struct brm_cli *c, const Bramble__ServiceListResponse *svcs, const char *node, char *first,
                             size_t first_size, int *rc)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__NodeListRequest nl = BRAMBLE__NODE_LIST_REQUEST__INIT;
        size_t n = 0;

        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LIST;
        req.node_list = &nl;
        first[0] = '\0';
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_NODES, rc)))
                return 0;
        for (size_t i = 0; i < resp->nodes->n_nodes; i++)
                if (strcmp(resp->nodes->nodes[i]->name, node) == 0 && resp->nodes->nodes[i]->connected)
                        n = brm_svc_replicas_reported(svcs, resp->nodes->nodes[i]->last, first, first_size);
        brm_msg_free(resp);
        return n;
}

int brm_cli_node_drain(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;
        const char *node = NULL;
        uint64_t timeout_ms = 600000, start;
        char first[80], reason[300], shown[160] = "";
        bool tty = isatty(STDOUT_FILENO) && !c->json;
        size_t left = 0;
        int rc;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--timeout") == 0 || strncmp(argv[i], "--timeout=", 10) == 0) {
                        const char *v = argv[i][9] == '=' ? argv[i] + 10 : (i + 1 < argc ? argv[++i] : NULL);
                        if (!v)
                                return brm_cli_usage_error("--timeout needs a value, like 10m");
                        if (brm_parse_duration_ms(v, &timeout_ms) < 0 || timeout_ms < 1000)
                                return brm_cli_usage_error("invalid --timeout '%s': expected a duration like 10m (at least 1s)", v);
                } else if (argv[i][0] == '-') {
                        return brm_cli_usage_error("unknown option '%s' (usage: bramble node drain NODE [--timeout 10m])", argv[i]);
                } else if (node) {
                        return brm_cli_usage_error("unexpected argument '%s' (one node at a time)", argv[i]);
                } else {
                        node = argv[i];
                }
        }
        if (!node)
                return brm_cli_usage_error("usage: bramble node drain NODE [--timeout 10m]");
        if (!brm_valid_node_name(node))
                return brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", node);
        if ((rc = send_schedule(c, node, "draining")) != 0)
                return rc;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_LIST;
        req.service_list = &q;
        start = brm_mono_ms();
        for (;;) {
                char line[160];
                if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_SERVICES, &rc)))
                        return rc;
                left = brm_svc_replicas_on(resp->services, node, first, sizeof(first), reason, sizeof(reason));
                if (!left) {
                        /* Moved: done once the node has stopped its copies
                         * too (its heartbeat lists them until then). */
                        left = still_reported(c, resp->services, node, first, sizeof(first), &rc);
                        snprintf(line, sizeof(line), "waiting for %s to stop %s: %zu replica%s left", node, first, left,
                                 left == 1 ? "" : "s");
                } else {
                        snprintf(line, sizeof(line), "moving %s off %s: %zu replica%s left", first, node, left,
                                 left == 1 ? "" : "s");
                }
                brm_msg_free(resp);
                if (rc)
                        return rc;
                if (!left)
                        break;
                if (strcmp(line, shown) != 0 && !c->json) {
                        printf(tty ? "\r\033[2K%s" : "%s\n", line);
                        fflush(stdout);
                        snprintf(shown, sizeof(shown), "%s", line);
                }
                if (brm_mono_ms() - start >= timeout_ms) {
                        if (tty)
                                putchar('\n');
                        fprintf(stderr, "bramble: node %s not drained after %llus: %zu replica%s left%s%s\n", node,
                                (unsigned long long)(timeout_ms / 1000), left, left == 1 ? "" : "s", reason[0] ? "; " : "",
                                reason);
                        return EXIT_FAIL;
                }
                usleep(500 * 1000);
        }
        if (tty && shown[0])
                putchar('\n');
        if (c->json)
                printf("{\"node\": \"%s\", \"drained\": true}\n", node);
        else
                printf("node %s drained\n", node);
        return 0;
}
