/* bramble: the operator CLI. main parses the global options and hands the
 * rest to the command the table below names; the commands live in one file
 * per concern (nodes, top, tokens, containers, logs, image, flash, upgrade). Exit codes are in
 * common.h: 0 done, 1 the request failed, 2 bad arguments, 3 credentials or
 * connection. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "util.h"

#include "common.h"
#include "containers.h"
#include "ctrflags.h"
#include "flash.h"
#include "image.h"
#include "images.h"
#include "logs.h"
#include "nodes.h"
#include "services.h"
#include "apply.h"
#include "events.h"
#include "tokens.h"
#include "apitokens.h"
#include "top.h"
#include "upgrade.h"

/* The dispatcher checks the count; the command checks its own arguments. */
#define ANY_ARGS (-1)
/* Column of the help text in the usage listing. */
#define HELP_COLUMN 38

/* One row per form of a command. The rows drive both the dispatch and the
 * usage text, in this order, so a command cannot exist without its help. */
struct command {
        const char *word;
        const char *sub;   /* the second word ('token create'), or NULL */
        int (*run)(struct brm_cli *c, int argc, char **argv);
        int nargs;         /* operands after the words, or ANY_ARGS */
        const char *args;  /* synopsis after the words; may go on over lines */
        const char *help;  /* what it does; lines after the first are indented */
};

static int version(struct brm_cli *c, int argc, char **argv)
{
        printf("bramble %s\n", BRM_VERSION);
        return 0;
}

static const struct command commands[] = {
        { "nodes", NULL, brm_cli_nodes, 0, "", "list nodes with state and resource use" },
        { "top", NULL, brm_cli_top, ANY_ARGS, "[--sort cpu|mem|temp|name] [--interval 2s] [--once]",
          "the nodes' figures, refreshed on the terminal\n"
          "(keys c m t n: sort; q: quit)" },
        { "node", "rm", brm_cli_node_rm, 1, "NAME", "remove a node (its certificate stops working)" },
        { "node", "label", brm_cli_node_label, ANY_ARGS, "NODE KEY=VALUE... KEY-...", "set (KEY=VALUE) or remove (KEY-) a node's labels" },
        { "node", "cordon", brm_cli_node_schedule, ANY_ARGS, "NODE", "place no new replicas on a node" },
        { "node", "uncordon", brm_cli_node_schedule, ANY_ARGS, "NODE", "let a cordoned or drained node take replicas again" },
        { "node", "drain", brm_cli_node_drain, ANY_ARGS, "NODE [--timeout 10m]",
          "cordon a node and wait until its replicas have moved away" },
        { "node", "upgrade", brm_cli_node_upgrade, ANY_ARGS,
          "NODE...|--all --image FILE.img[.xz]|--bundle REF [--parallel N]\n"
          "      [--confirm-within 5m] [--healthy-for 30s] [--detach] [--upload-only]",
          "update the nodes' OS from an image file, a node at\n"
          "a time, each rolled back if it does not come up" },
        { "node", "upgrade", brm_cli_node_upgrade, ANY_ARGS, "--status", "each node's OS version and slot, and the last rollout" },
        { "node", "rollback", brm_cli_node_rollback, ANY_ARGS, "NODE [--confirm-within D] [--healthy-for D]",
          "boot a node's previous OS slot again" },
        { "token", "create", brm_cli_token_create, ANY_ARGS, "[--ttl 24h] [--uses N] [--description TEXT]",
          "create a join token (--ttl 0 = never expires)" },
        { "token", "list", brm_cli_token_list, 0, "", "list join tokens" },
        { "token", "revoke", brm_cli_token_revoke, 1, "ID", "revoke a join token" },
        { "run", NULL, brm_cli_run, ANY_ARGS,
          "NODE NAME --image REF " BRM_CTRFLAGS_SYNOPSIS "\n"
          "      [-- CMD ARGS...]",
          "run a container on a node" },
        { "service", "create", brm_cli_service_create, ANY_ARGS,
          "NAME --image REF " BRM_CTRFLAGS_SYNOPSIS "\n" BRM_SVCFLAGS_SYNOPSIS "\n"
          "      [-- CMD ARGS...]",
          "run N replicas of a container across the cluster" },
        { "service", "update", brm_cli_service_update, ANY_ARGS,
          "NAME [any create flag] [--env-add K=V]... [--env-rm K]... [--no-health]\n"
          "      [-- CMD ARGS...]",
          "change a service: a rolling update, rolled back\n"
          "if new replicas fail (--env and --constraint\n"
          "replace the whole list)" },
        { "service", "ls", brm_cli_service_ls, ANY_ARGS, "", "list services: replicas desired/running/healthy" },
        { "service", "ps", brm_cli_service_show, ANY_ARGS, "NAME", "list a service's replicas" },
        { "service", "inspect", brm_cli_service_show, ANY_ARGS, "NAME", "show a service whole" },
        { "service", "scale", brm_cli_service_scale, ANY_ARGS, "NAME N", "set a service's number of replicas" },
        { "service", "rollback", brm_cli_service_change, ANY_ARGS, "NAME", "return a service to its previous spec" },
        { "service", "rm", brm_cli_service_change, ANY_ARGS, "NAME", "remove a service and its replicas" },
        { "apply", NULL, brm_cli_apply, ANY_ARGS, "-f FILE [--prune] [--dry-run]",
          "create or update the services a YAML or JSON file\n"
          "describes (--prune: remove the others)" },
        { "api-token", "create", brm_cli_api_token_create, ANY_ARGS, "--role metrics|viewer [--ttl D] [--description T]",
          "create a token for the master's HTTPS port: metrics reads /metrics,\nviewer also the dashboard (--ttl 0 = never expires)" },
        { "api-token", "ls", brm_cli_api_token_list, 0, "", "list API tokens" },
        { "api-token", "revoke", brm_cli_api_token_revoke, 1, "ID", "revoke an API token (its browser sessions end)" },
        { "dashboard", NULL, brm_cli_dashboard, ANY_ARGS, "[--ttl 12h] [--token ID] | --ca",
          "print a one-time sign-in link for the web dashboard\n(--ca: print the cluster CA for browsers and Prometheus)" },
        { "events", NULL, brm_cli_events, ANY_ARGS, "[-f]", "what the master decided about services and why\n(-f: keep following)" },
        { "ps", NULL, brm_cli_ps, ANY_ARGS, "[NODE]", "list containers" },
        { "inspect", NULL, brm_cli_inspect, ANY_ARGS, "NODE/NAME", "show a container whole: its spec, confinement and status" },
        { "stop", NULL, brm_cli_container_change, ANY_ARGS, "NODE/NAME", "stop a container" },
        { "start", NULL, brm_cli_container_change, ANY_ARGS, "NODE/NAME", "start a stopped container again" },
        { "rm", NULL, brm_cli_container_change, ANY_ARGS, "NODE/NAME", "remove a container" },
        { "logs", NULL, brm_cli_logs, ANY_ARGS, "[-f] [--tail N] [--since 15m|TIME] [-t] [--stdout|--stderr] NODE/NAME",
          "print a container's output (-f: keep following it;\n"
          "-t: prefix each line with its time; --since takes a\n"
          "duration or an RFC 3339 time like 2026-11-22T10:00:00Z)" },
        /* The same command, its other form: dispatch stops at the row above. */
        { "logs", NULL, brm_cli_logs, ANY_ARGS, "[options] NODE --agent|--kernel",
          "print the node agent's own log or the kernel's" },
        { "image", "configure", brm_cli_image_configure, ANY_ARGS,
          "IMG --master HOST:PORT --token TOKEN [--name-prefix P] [--name N]",
          "write bramble.json into an SD-card image file" },
        { "image", "pull", brm_cli_image_pull, ANY_ARGS, "REF [--platform OS/ARCH[/VARIANT]]...",
          "pull an image from its registry into the master's store" },
        { "image", "load", brm_cli_image_load, ANY_ARGS, "FILE [--name REF]",
          "store an oci-archive or docker-archive on the master" },
        { "image", "ls", brm_cli_image_ls, ANY_ARGS, "[REF]", "list the cluster's images" },
        { "image", "rm", brm_cli_image_rm, ANY_ARGS, "REF", "remove an image's name (refused while a container uses it)" },
        { "image", "prune", brm_cli_image_prune, ANY_ARGS, "", "delete the blobs no image name reaches" },
        { "registry", "login", brm_cli_registry_login, ANY_ARGS,
          "HOST[:PORT] [--username U --password-stdin] [--ca-file FILE] [--insecure-http]",
          "let the master pull from a registry" },
        { "registry", "ls", brm_cli_registry_ls, ANY_ARGS, "", "list the registries the master knows" },
        { "registry", "logout", brm_cli_registry_logout, ANY_ARGS, "HOST[:PORT]", "forget a registry's credentials and CA" },
        { "flash", NULL, brm_cli_flash, ANY_ARGS, "IMG TARGET [--master HOST:PORT --token TOKEN] [--name-prefix P] [--no-bmap]",
          "write the image to a card, verify it, configure it" },
        { "version", NULL, version, ANY_ARGS, "", "print the version" },
};

/* Prints s, starting every line after the first at column indent. */
static void print_indented(FILE *f, const char *s, int indent)
{
        for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1)
                fprintf(f, "%.*s\n%*s", (int)(nl - s), s, indent, "");
        fputs(s, f);
}

static void print_row(FILE *f, const struct command *k)
{
        const char *last;
        int col;

        fprintf(f, "  %s%s%s%s", k->word, k->sub ? " " : "", k->sub ? k->sub : "", *k->args ? " " : "");
        fputs(k->args, f);
        /* The help goes after the synopsis' last line when it fits. */
        last = strrchr(k->args, '\n');
        col = last ? (int)strlen(last + 1)
                   : 2 + (int)(strlen(k->word) + (k->sub ? 1 + strlen(k->sub) : 0) + (*k->args ? 1 + strlen(k->args) : 0));
        if (col + 2 <= HELP_COLUMN)
                fprintf(f, "%*s", HELP_COLUMN - col, "");
        else
                fprintf(f, "\n%*s", HELP_COLUMN, "");
        print_indented(f, k->help, HELP_COLUMN);
        fputc('\n', f);
}

static void usage(FILE *f)
{
        fprintf(f, "usage: bramble [--config FILE] [-o table|json] COMMAND\n"
                   "\n"
                   "commands:\n");
        for (size_t i = 0; i < BRM_ARRAY_SIZE(commands); i++)
                print_row(f, &commands[i]);
        fprintf(f, "\n"
                   "Credentials come from --config FILE, else $BRAMBLE_CONFIG, else ~/.config/bramble/admin.json\n"
                   "(the admin.json that bramble-master writes into its data dir on first start).\n");
}

/* 'bramble service --help': the rows of one command word. */
static int group_help(const char *word)
{
        printf("usage: bramble [-o table|json] %s SUBCOMMAND\n\n", word);
        for (size_t i = 0; i < BRM_ARRAY_SIZE(commands); i++)
                if (strcmp(commands[i].word, word) == 0)
                        print_row(stdout, &commands[i]);
        return 0;
}

/* A command word given without a subcommand it knows, e.g. 'bramble token'. */
static int group_usage(const struct command *first)
{
        char line[256];
        size_t n = 0, rows = 0;

        n += (size_t)snprintf(line, sizeof(line), "usage: bramble %s ", first->word);
        for (size_t i = 0; i < BRM_ARRAY_SIZE(commands); i++) {
                if (strcmp(commands[i].word, first->word) != 0)
                        continue;
                if (n < sizeof(line))
                        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", rows ? "|" : "", commands[i].sub);
                rows++;
        }
        /* One subcommand: its whole synopsis. */
        if (rows == 1 && *first->args && n < sizeof(line))
                snprintf(line + n, sizeof(line) - n, " %s", first->args);
        return brm_cli_usage_error("%s", line);
}

/* Runs the command argv names; returns its exit code. */
static int dispatch(struct brm_cli *c, int argc, char **argv)
{
        const struct command *group = NULL;

        for (size_t i = 0; i < BRM_ARRAY_SIZE(commands); i++) {
                const struct command *k = &commands[i];
                int operands;

                if (strcmp(k->word, argv[0]) != 0)
                        continue;
                if (!k->sub) {
                        if (argc == 2 && strcmp(argv[1], "--help") == 0) {
                                print_row(stdout, k);
                                return 0;
                        }
                        operands = argc - 1;
                        if (k->nargs != ANY_ARGS && operands > k->nargs)
                                return brm_cli_usage_error("unexpected argument '%s'", argv[1 + k->nargs]);
                        if (k->nargs != ANY_ARGS && operands < k->nargs)
                                return brm_cli_usage_error("usage: bramble %s %s", k->word, k->args);
                        return k->run(c, argc, argv);
                }
                if (!group)
                        group = k;
                if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
                        return group_help(k->word);
                operands = argc - 2;
                if (argc == 3 && strcmp(k->sub, argv[1]) == 0 && strcmp(argv[2], "--help") == 0) {
                        print_row(stdout, k);
                        return 0;
                }
                if (argc >= 2 && strcmp(k->sub, argv[1]) == 0 && (k->nargs == ANY_ARGS || operands == k->nargs))
                        return k->run(c, argc - 1, argv + 1);
        }
        if (group)
                return group_usage(group);
        return brm_cli_usage_error("unknown command '%s'", argv[0]);
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
        struct brm_cli c = { .timeout_ms = 10000 };
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
                return EXIT_FAIL;
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
                return EXIT_FAIL;
        }
        rc = dispatch(&c, n, rest);
        free(rest);
        if (c.connected)
                brm_client_close(&c.client);
        brm_tls_creds_free(&c.creds);
        return rc;
}
