/* bramble node upgrade and node rollback; see upgrade.h. Every argument is
 * checked, and the image read and checked whole, before anything is sent;
 * then the bundle is stored once, the rollout asked for, and followed on
 * the same connection. */
#include "upgrade.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "statusjson.h"
#include "util.h"

#include "common.h"
#include "ctrflags.h"
#include "osbuild.h"
#include "upgradefmt.h"

#define USAGE "usage: bramble node upgrade NODE...|--all --image FILE.img[.xz]|--bundle REF [--parallel N] " \
              "[--confirm-within D] [--healthy-for D] [--detach] [--upload-only] | --status"
#define POLL_MS 1000
#define RECONNECTS 5

#define WHY(...) (snprintf(why, why_size, __VA_ARGS__), -EINVAL)

/* The value of option argv[*i]: "--opt V" or "--opt=V". */
static const char *value(int argc, char **argv, int *i, const char *opt)
{
        size_t n = strlen(opt);

        if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=')
                return argv[*i] + n + 1;
        if (strcmp(argv[*i], opt) != 0)
                return NULL;
        return *i + 1 < argc ? argv[++*i] : "";
}

/* --confirm-within D and --healthy-for D, shared by upgrade and rollback:
 * 1 when argv[*i] was one of them, 0 when not, -EINVAL with why. */
static int window(int argc, char **argv, int *i, uint32_t *confirm_ms, uint32_t *healthy_ms, char *why,
                  size_t why_size)
{
        const char *v;

        if ((v = value(argc, argv, i, "--confirm-within"))) {
                if (brm_parse_duration_ms32(v, confirm_ms) < 0 || *confirm_ms < 10000)
                        return WHY("invalid --confirm-within '%s': expected a duration of at least 10s, like 5m", v);
                return 1;
        }
        if ((v = value(argc, argv, i, "--healthy-for"))) {
                if (brm_parse_duration_ms32(v, healthy_ms) < 0)
                        return WHY("invalid --healthy-for '%s': expected a duration like 30s", v);
                return 1;
        }
        return 0;
}

int brm_rollback_parse(int argc, char **argv, struct brm_rollback_args *a, char *why, size_t why_size)
{
        int r;

        memset(a, 0, sizeof(*a));
        a->confirm_ms = 5 * 60 * 1000;
        a->healthy_ms = 30 * 1000;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return 1;
                if ((r = window(argc, argv, &i, &a->confirm_ms, &a->healthy_ms, why, why_size)) < 0)
                        return r;
                if (r)
                        continue;
                if (argv[i][0] == '-')
                        return WHY("unknown option '%s'", argv[i]);
                if (a->node)
                        return WHY("one node at a time: '%s' and '%s'", a->node, argv[i]);
                if (!brm_valid_node_name(argv[i]))
                        return WHY("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", argv[i]);
                a->node = argv[i];
        }
        if (!a->node)
                return WHY("which node? name it");
        if (a->confirm_ms <= a->healthy_ms)
                return WHY("--confirm-within (%ums) must be longer than --healthy-for (%ums)", a->confirm_ms, a->healthy_ms);
        return 0;
}

int brm_upgrade_parse(int argc, char **argv, struct brm_upgrade_args *a, char *why, size_t why_size)
{
        const char *v;
        uint64_t n;
        int r;

        memset(a, 0, sizeof(*a));
        a->parallel = 1;
        a->confirm_ms = 5 * 60 * 1000;
        a->healthy_ms = 30 * 1000;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return 1;
                if (strcmp(argv[i], "--all") == 0) {
                        a->all = true;
                } else if (strcmp(argv[i], "--status") == 0) {
                        a->status = true;
                } else if (strcmp(argv[i], "--detach") == 0) {
                        a->detach = true;
                } else if (strcmp(argv[i], "--upload-only") == 0) {
                        a->upload_only = true;
                } else if ((v = value(argc, argv, &i, "--image"))) {
                        if (!v[0])
                                return WHY("--image needs a file: an image built by image/build.sh (.img or .img.xz)");
                        a->image = v;
                } else if ((v = value(argc, argv, &i, "--bundle"))) {
                        if (!v[0] || strlen(v) > 200)
                                return WHY("--bundle needs the name of a stored bundle, like bramble-os:1.2");
                        a->bundle = v;
                } else if ((v = value(argc, argv, &i, "--parallel"))) {
                        if (brm_parse_u64(v, 1, BRM_UPGRADE_PARALLEL_MAX, &n) < 0)
                                return WHY("invalid --parallel '%s': expected 1-%d nodes at a time", v, BRM_UPGRADE_PARALLEL_MAX);
                        a->parallel = (uint32_t)n;
                } else if ((r = window(argc, argv, &i, &a->confirm_ms, &a->healthy_ms, why, why_size)) != 0) {
                        if (r < 0)
                                return r;
                } else if (argv[i][0] == '-') {
                        return WHY("unknown option '%s'", argv[i]);
                } else {
                        if (!brm_valid_node_name(argv[i]))
                                return WHY("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", argv[i]);
                        if (a->n_nodes == BRM_UPGRADE_MAX_NODES)
                                return WHY("more than %d nodes named: use --all", BRM_UPGRADE_MAX_NODES);
                        a->nodes[a->n_nodes++] = argv[i];
                }
        }
        if (a->status) {
                if (a->n_nodes || a->all || a->image || a->bundle || a->detach || a->upload_only)
                        return WHY("--status takes no other argument");
                return 0;
        }
        if (a->n_nodes && a->all)
                return WHY("name nodes or give --all, not both");
        if (a->image && a->bundle)
                return WHY("give --image or --bundle, not both");
        if (!a->image && !a->bundle)
                return WHY("--image FILE.img[.xz] is required (an image built by image/build.sh), or --bundle REF");
        if (a->bundle && a->upload_only)
                return WHY("--upload-only stores an image's bundle: give --image");
        if (!a->n_nodes && !a->all && !a->upload_only)
                return WHY("which nodes? name them, or give --all");
        if (a->upload_only && (a->n_nodes || a->all || a->detach))
                return WHY("--upload-only stores the bundle and upgrades no node: give no node, --all or --detach");
        if (a->confirm_ms <= a->healthy_ms)
                return WHY("--confirm-within (%ums) must be longer than --healthy-for (%ums)", a->confirm_ms, a->healthy_ms);
        if (a->image && access(a->image, R_OK) < 0)
                return WHY("cannot read %s: %s", a->image, strerror(errno));
        return 0;
}

/* ---- following a rollout ---- */

/* upgrade_status on the connection, opened again when it was lost.
 * Returns the answer (UpgradeInfo or Error), or NULL with *ret_exit. */
static Bramble__Envelope *status_call(struct brm_cli *c, struct brm_upgrade_follow *f, int *ret_exit)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__UpgradeRequest q = BRAMBLE__UPGRADE_REQUEST__INIT;

        req.msg_case = BRAMBLE__ENVELOPE__MSG_UPGRADE_STATUS;
        req.upgrade_status = &q;
        for (int tries = 0;; tries++) {
                if (c->connected && brm_client_call(&c->client, &req, &resp) == 0)
                        return resp;
                brm_upgrade_follow_end_line(f);
                if (c->connected) {
                        fprintf(stderr, "bramble: lost the master (%s); the rollout goes on there, reconnecting\n",
                                c->client.error);
                        brm_client_close(&c->client);
                        c->connected = false;
                }
                if (tries == RECONNECTS) {
                        fprintf(stderr, "bramble: cannot reach the master; rollout %llu goes on there "
                                        "(see it with 'bramble node upgrade --status')\n", (unsigned long long)f->id);
                        *ret_exit = EXIT_CONNECT;
                        return NULL;
                }
                sleep(tries < 3 ? 1u << tries : 8); /* 1, 2, 4, 8, 8 s: a master restart fits */
                if (brm_cli_connect(c) != 0)
                        continue;
        }
}

static int follow(struct brm_cli *c, const Bramble__UpgradeInfo *first)
{
        struct brm_upgrade_follow *f = calloc(1, sizeof(*f));
        int rc = -1;

        if (!f)
                return EXIT_FAIL;
        f->out = stdout;
        f->err = stderr;
        f->id = first->id;
        f->tty = isatty(STDOUT_FILENO) && !c->json;
        f->json = c->json;
        while (rc < 0) {
                Bramble__Envelope *resp = status_call(c, f, &rc);

                if (!resp)
                        break;
                if (resp->msg_case == BRAMBLE__ENVELOPE__MSG_UPGRADE_INFO) {
                        rc = brm_upgrade_follow_step(f, resp->upgrade_info, brm_now_ms());
                } else {
                        brm_upgrade_follow_end_line(f);
                        if (resp->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                                rc = brm_cli_print_error(resp);
                        } else {
                                fprintf(stderr, "bramble: unexpected reply from the master\n");
                                rc = EXIT_FAIL;
                        }
                }
                brm_msg_free(resp);
                if (rc < 0)
                        usleep(POLL_MS * 1000);
        }
        free(f);
        return rc;
}

/* ---- status ---- */

static int status(struct brm_cli *c)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *nodes, *info;
        Bramble__NodeListRequest nl = BRAMBLE__NODE_LIST_REQUEST__INIT;
        Bramble__UpgradeRequest q = BRAMBLE__UPGRADE_REQUEST__INIT;
        const Bramble__UpgradeInfo *ui = NULL;
        int64_t now = brm_now_ms();
        char why[512] = "";
        int rc = 0;

        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LIST;
        req.node_list = &nl;
        if (!(nodes = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_NODES, &rc)))
                return rc;
        req = (Bramble__Envelope)BRAMBLE__ENVELOPE__INIT;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_UPGRADE_STATUS;
        req.upgrade_status = &q;
        if (brm_client_call(&c->client, &req, &info) < 0) {
                fprintf(stderr, "bramble: %s\n", c->client.error);
                brm_msg_free(nodes);
                return EXIT_CONNECT;
        }
        /* An Error: no rollout yet (or a master without OS updates). */
        if (info->msg_case == BRAMBLE__ENVELOPE__MSG_UPGRADE_INFO)
                ui = info->upgrade_info;
        else if (info->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR && info->error->message)
                snprintf(why, sizeof(why), "%s", info->error->message);
        if (c->json) {
                cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "nodes");
                for (size_t i = 0; i < nodes->nodes->n_nodes; i++) {
                        const Bramble__NodeStatus *n = nodes->nodes->nodes[i];
                        const Bramble__UpdateStatus *u = brm_node_update(n);
                        cJSON *e = cJSON_CreateObject();
                        cJSON_AddStringToObject(e, "name", n->name);
                        if (n->info && n->info->os_version)
                                cJSON_AddStringToObject(e, "os_version", n->info->os_version);
                        else
                                cJSON_AddNullToObject(e, "os_version");
                        if (n->info && n->info->slot)
                                cJSON_AddStringToObject(e, "slot", n->info->slot);
                        else
                                cJSON_AddNullToObject(e, "slot");
                        cJSON_AddItemToObject(e, "update", u ? brm_json_update(u) : cJSON_CreateNull());
                        cJSON_AddItemToArray(arr, e);
                }
                cJSON_AddItemToObject(o, "rollout", ui ? brm_upgrade_info_json(ui) : cJSON_CreateNull());
                brm_cli_print_json(o);
        } else {
                printf("%-20s %-16s %-4s %s\n", "NODE", "VERSION", "SLOT", "UPDATE");
                for (size_t i = 0; i < nodes->nodes->n_nodes; i++) {
                        const Bramble__NodeStatus *n = nodes->nodes->nodes[i];
                        char cell[512];
                        brm_upgrade_update_cell(brm_node_update(n), now, cell, sizeof(cell));
                        printf("%-20s %-16s %-4s %s\n", n->name, n->info && n->info->os_version ? n->info->os_version : "-",
                               n->info && n->info->slot ? n->info->slot : "-", cell);
                }
                printf("\n");
                if (ui)
                        brm_upgrade_print_info(stdout, ui, now);
                else
                        printf("no rollout%s%s\n", why[0] ? ": " : "", why);
        }
        brm_msg_free(info);
        brm_msg_free(nodes);
        return 0;
}

/* ---- the commands ---- */

static void help(void)
{
        printf("%s\n"
               "Makes an OS update bundle of the image file (a .img or .img.xz that image/build.sh built),\n"
               "stores it on the master as bramble-os:VERSION, and has the master upgrade the nodes\n"
               "PARALLEL at a time: each is drained, writes the bundle into its other root slot, boots it,\n"
               "and commits it once it has been connected for --healthy-for (default 30s) within\n"
               "--confirm-within (default 5m) of the reboot; otherwise it goes back to its old slot and the\n"
               "rollout stops. Progress is followed until the rollout ends (--detach: not followed).\n"
               "--upload-only: store the bundle, upgrade nothing; --bundle REF: upgrade to a bundle stored\n"
               "already (bramble image ls lists them as bramble-os:VERSION).\n"
               "--status: each node's version, slot and last update, and the current or last rollout.\n",
               USAGE);
}

int brm_cli_node_upgrade(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__UpgradeRequest q = BRAMBLE__UPGRADE_REQUEST__INIT;
        struct brm_upgrade_args *a = calloc(1, sizeof(*a));
        struct brm_osbuild *b = NULL;
        char why[600], ref[256];
        int r, rc = 0;

        if (!a)
                return EXIT_FAIL;
        if ((r = brm_upgrade_parse(argc, argv, a, why, sizeof(why))) != 0) {
                if (r > 0)
                        help();
                free(a);
                return r > 0 ? 0 : brm_cli_usage_error("node upgrade: %s", why);
        }
        if (a->status) {
                free(a);
                return status(c);
        }
        if (!(b = calloc(1, sizeof(*b)))) {
                free(a);
                return EXIT_FAIL;
        }
        if (a->bundle) {
                snprintf(ref, sizeof(ref), "%s", a->bundle);
        } else if ((rc = brm_osbuild_make(b, "node upgrade", a->image)) != 0 ||
                   (rc = brm_osbuild_upload(b, c, ref, sizeof(ref))) != 0) {
                goto out;
        }
        if (!a->upload_only && !a->bundle)
                fprintf(stderr, "stored %s (%s, %zu parts, %llu bytes)\n", ref, b->manifest_digest, b->n,
                        (unsigned long long)b->total);
        if (a->upload_only) {
                if (c->json)
                        printf("{\"ref\": \"%s\", \"digest\": \"%s\", \"version\": \"%s\"}\n", ref, b->manifest_digest,
                               b->v.version);
                else
                        printf("stored %s (%s)\n", ref, b->manifest_digest);
                goto out;
        }
        q.n_nodes = a->n_nodes;
        q.nodes = (char **)a->nodes;
        q.has_all = a->all;
        q.all = a->all;
        q.ref = ref;
        q.has_parallel = 1;
        q.parallel = a->parallel;
        q.has_confirm_within_ms = 1;
        q.confirm_within_ms = a->confirm_ms;
        q.has_healthy_ms = 1;
        q.healthy_ms = a->healthy_ms;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_UPGRADE;
        req.upgrade = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_UPGRADE_INFO, &rc)))
                goto out;
        if (a->detach) {
                if (c->json)
                        brm_cli_print_json(brm_upgrade_info_json(resp->upgrade_info));
                else
                        printf("rollout %llu started: %s on %zu node(s), %u at a time "
                               "(follow it with 'bramble node upgrade --status')\n",
                               (unsigned long long)resp->upgrade_info->id, ref, resp->upgrade_info->n_nodes, a->parallel);
        } else {
                if (!c->json)
                        printf("rollout %llu: %s on %zu node(s), %u at a time\n", (unsigned long long)resp->upgrade_info->id,
                               ref, resp->upgrade_info->n_nodes, a->parallel);
                rc = follow(c, resp->upgrade_info);
        }
        brm_msg_free(resp);
out:
        brm_osbuild_free(b);
        free(b);
        free(a);
        return rc;
}

int brm_cli_node_rollback(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__NodeRollback q = BRAMBLE__NODE_ROLLBACK__INIT;
        struct brm_rollback_args a;
        char why[256];
        int rc = brm_rollback_parse(argc, argv, &a, why, sizeof(why));

        if (rc == 1) {
                printf("usage: bramble node rollback NODE [--confirm-within D] [--healthy-for D]\n\n"
                       "The node boots its other slot again (the version it ran before its last update), as a try:\n"
                       "it commits once connected for --healthy-for (default 30s) within --confirm-within (default\n"
                       "5m) of the reboot; otherwise it comes back on the slot it runs now.\n");
                return 0;
        }
        if (rc < 0)
                return brm_cli_usage_error("%s", why);
        q.node = (char *)a.node;
        q.has_confirm_within_ms = q.has_healthy_ms = true;
        q.confirm_within_ms = a.confirm_ms;
        q.healthy_ms = a.healthy_ms;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_ROLLBACK;
        req.node_rollback = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"rollback\": \"%s\"}\n", a.node);
        else
                printf("node %s: rolling back to its other slot (follow it with 'bramble node upgrade --status')\n", a.node);
        return 0;
}
