/* bramble run / ps / stop / start / rm. Each option is parsed here, so a
 * typo gets a precise message before anything is sent; the spec as a whole
 * goes through the contract the master and the node check too
 * (lib/ctrspec.h), and the node checks what only it can know (is the image
 * there, can its cgroups enforce the limits). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "containers.h"
#include "ctrflags.h"
#include "svcprint.h"
#include "ctrspec.h"
#include "fileio.h"
#include "frame.h"
#include "statusjson.h"
#include "util.h"

/* A pull-through's progress: one line redrawn on a terminal. */
static void run_progress(void *arg, const Bramble__ImagePullProgress *p)
{
        bool *pulled = arg;
        char done[16], total[16];

        *pulled = true;
        if (!isatty(STDERR_FILENO) || !p->digest || strlen(p->digest) < 19)
                return;
        brm_cli_human_bytes(p->done, done, sizeof(done));
        brm_cli_human_bytes(p->total, total, sizeof(total));
        fprintf(stderr, "\r\033[2Kpulling %.19s  %s / %s", p->digest, done, total);
}

int brm_cli_run(struct brm_cli *c, int argc, char **argv)
{
        bool pulled = false;
        static const struct option opts[] = { BRM_CTRFLAGS_OPTIONS, { 0 } };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__RunRequest run = BRAMBLE__RUN_REQUEST__INIT;
        struct brm_ctrflags f;
        Bramble__ContainerSpec *spec = &f.spec;
        char why[256];
        int o, rc = 0;

        /* bramble run NODE NAME [options] [-- CMD ARGS...]: NODE and NAME
         * first, then options (getopt sees argv from NAME on), then the
         * command after "--". */
        if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-')
                return brm_cli_usage_error("%s", "usage: bramble run NODE NAME --image REF [options] [-- CMD ARGS...]");
        const char *node = argv[1], *name = argv[2];
        int oargc = argc - 2;
        char **oargv = argv + 2;
        brm_ctrflags_init(&f);
        optind = 1;
        while ((o = getopt_long(oargc, oargv, "+", opts, NULL)) != -1) {
                if ((rc = brm_ctrflags_take(&f, o, optarg)) != 1) {
                        brm_ctrflags_free(&f);
                        return EXIT_USAGE;
                }
        }
        rc = 0;
        int rest = optind;
        bool dashdash = optind > 1 && strcmp(oargv[optind - 1], "--") == 0;
        if (rest < oargc && !dashdash)
                rc = brm_cli_usage_error("unexpected argument '%s' (put the container's command after --)", oargv[rest]);
        else if (!brm_valid_node_name(node))
                rc = brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", node);
        else if (f.no_health)
                rc = brm_cli_usage_error("--no-health is for 'bramble service update'");
        else
                rc = brm_ctrflags_finish(&f);
        if (rc) {
                brm_ctrflags_free(&f);
                return rc;
        }
        spec->name = (char *)name;
        spec->n_args = (size_t)(oargc - rest);
        spec->args = oargv + rest;
        if (brm_ctrspec_check(spec, why, sizeof(why)) < 0) {
                brm_ctrflags_free(&f);
                return brm_cli_usage_error("%s", why);
        }
        run.node = (char *)node;
        run.spec = spec;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_RUN;
        req.run = &run;
        /* An image the master does not have is pulled first: progress
         * comes while it runs, and a stalled registry fails within 30 s. */
        if (spec->image && spec->image[0] != '/') {
                c->client.on_progress = run_progress;
                c->client.progress_arg = &pulled;
                if (brm_cli_connect(c) == 0 && c->timeout_ms < 60000)
                        brm_client_set_timeout(&c->client, 60000);
        }
        resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc);
        if (pulled && isatty(STDERR_FILENO))
                fputc('\n', stderr);
        brm_ctrflags_free(&f);
        if (!resp)
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"node\": \"%s\", \"name\": \"%s\", \"created\": true}\n", node, name);
        else
                printf("%s/%s created\n", node, name);
        return 0;
}

int brm_cli_ps(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__PsRequest ps = BRAMBLE__PS_REQUEST__INIT;
        int rc = 0;

        if (argc > 2)
                return brm_cli_usage_error("unexpected argument '%s' (usage: bramble ps [NODE])", argv[2]);
        if (argc == 2) {
                if (!brm_valid_node_name(argv[1]))
                        return brm_cli_usage_error("'%s' is not a node name", argv[1]);
                ps.node = argv[1];
        }
        req.msg_case = BRAMBLE__ENVELOPE__MSG_PS;
        req.ps = &ps;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_PS_RESULT, &rc)))
                return rc;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < resp->ps_result->n_containers; i++)
                        cJSON_AddItemToArray(arr, brm_json_ps_entry(resp->ps_result->containers[i]));
                brm_cli_print_json(arr);
        } else {
                printf("%-12s %-16s %-12s %-8s %-9s %7s %8s %4s %3s %9s %5s  %s\n", "NODE", "NAME", "SERVICE", "STATE",
                       "HEALTH", "PID", "RESTARTS", "EXIT", "OOM", "MEMORY", "CPU", "REASON");
                for (size_t i = 0; i < resp->ps_result->n_containers; i++) {
                        const Bramble__PsEntry *e = resp->ps_result->containers[i];
                        const Bramble__ContainerStatus *st = e->status;
                        char pid[16] = "-", exit_code[16] = "-", mem[16] = "-", cpu[16] = "-";
                        if (st->has_pid && st->pid > 0)
                                snprintf(pid, sizeof(pid), "%d", st->pid);
                        if (st->has_exit_code)
                                snprintf(exit_code, sizeof(exit_code), "%d", st->exit_code);
                        if (st->has_memory_bytes)
                                brm_cli_human_bytes(st->memory_bytes, mem, sizeof(mem));
                        if (st->has_cpu_percent)
                                snprintf(cpu, sizeof(cpu), "%.0f%%", st->cpu_percent);
                        printf("%-12s %-16s %-12s %-8s %-9s %7s %8u %4s %3u %9s %5s  %s\n", e->node, st->name ? st->name : "",
                               e->service && e->service[0] ? e->service : "-", st->state ? st->state : "",
                               st->health && st->health[0] ? st->health : "-", pid, st->restarts, exit_code, st->oom_kills, mem, cpu,
                               st->reason ? st->reason : "");
                }
                /* Less confinement than the defaults is said where nobody
                 * misses it, once per container, under the table. */
                for (size_t i = 0; i < resp->ps_result->n_containers; i++) {
                        const Bramble__PsEntry *e = resp->ps_result->containers[i];
                        if (e->security && e->security[0])
                                printf("SECURITY: %s/%s runs with %s\n", e->node, e->status->name ? e->status->name : "",
                                       e->security);
                }
                /* Once per node, under the table. */
                for (size_t i = 0; i < resp->ps_result->n_containers; i++) {
                        const Bramble__PsEntry *e = resp->ps_result->containers[i];
                        bool told = false;
                        if (!e->node_persist_error)
                                continue;
                        for (size_t j = 0; j < i && !told; j++)
                                told = strcmp(resp->ps_result->containers[j]->node, e->node) == 0;
                        if (!told)
                                printf("node %s: STATE NOT PERSISTED: %s (changes are applied in memory; the node keeps "
                                       "trying)\n",
                                       e->node, e->node_persist_error);
                }
        }
        brm_msg_free(resp);
        return 0;
}

/* NODE/NAME, the one argument of stop, start, rm and inspect: 0, or the
 * usage error's exit code. */
static int node_slash_name(int argc, char **argv, char node[64], Bramble__ContainerRequest *cr)
{
        const char *slash;

        if (argc != 2 || !(slash = strchr(argv[1], '/')) || (size_t)(slash - argv[1]) >= 64)
                return brm_cli_usage_error("usage: bramble %s NODE/NAME", argv[0]);
        memcpy(node, argv[1], (size_t)(slash - argv[1]));
        node[slash - argv[1]] = '\0';
        if (!brm_valid_node_name(node))
                return brm_cli_usage_error("'%s' is not a node name", node);
        if (!brm_valid_container_name(slash + 1))
                return brm_cli_usage_error("'%s' is not a valid container name", slash + 1);
        cr->node = node;
        cr->name = (char *)slash + 1;
        return 0;
}

int brm_cli_container_change(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ContainerRequest cr = BRAMBLE__CONTAINER_REQUEST__INIT;
        const char *cmd = argv[0];
        char node[64];
        int rc = 0;

        if ((rc = node_slash_name(argc, argv, node, &cr)) != 0)
                return rc;
        if (strcmp(cmd, "stop") == 0) {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_STOP;
                req.stop = &cr;
        } else if (strcmp(cmd, "start") == 0) {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_START;
                req.start = &cr;
        } else {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_REMOVE;
                req.remove = &cr;
        }
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        printf(c->json ? "{\"%s\": \"%s\"}\n" : "%s %s\n", strcmp(cmd, "rm") == 0 ? "removed" : strcmp(cmd, "stop") == 0 ? "stopped" : "started",
               argv[1]);
        return 0;
}

/* ---- inspect ---- */

static const char *seccomp_kind(const Bramble__ContainerSpec *sp)
{
        if (!sp->seccomp || !sp->seccomp[0])
                return "default";
        return strcmp(sp->seccomp, "unconfined") == 0 ? "unconfined" : "custom";
}

static void print_list(const char *label, char *const *v, size_t n)
{
        printf("  %-13s", label);
        if (!n)
                printf(" -");
        for (size_t i = 0; i < n; i++)
                printf(" %s", v[i]);
        printf("\n");
}

int brm_cli_inspect(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ContainerRequest cr = BRAMBLE__CONTAINER_REQUEST__INIT;
        const Bramble__InspectResponse *ir;
        const Bramble__ContainerSpec *sp;
        const Bramble__ContainerStatus *st;
        char node[64], a[32], b[32];
        int rc = 0;

        if ((rc = node_slash_name(argc, argv, node, &cr)) != 0)
                return rc;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_INSPECT;
        req.inspect = &cr;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_INSPECT_RESULT, &rc)))
                return rc;
        ir = resp->inspect_result;
        sp = ir->spec;
        st = ir->status;
        if (!sp || !st) {
                brm_msg_free(resp);
                fprintf(stderr, "bramble: the master's answer has no spec or status\n");
                return 1;
        }
        if (c->json) {
                Bramble__PsEntry e = BRAMBLE__PS_ENTRY__INIT;
                e.node = ir->node ? ir->node : node;
                e.status = (Bramble__ContainerStatus *)st;
                e.security = ir->security;
                cJSON *o = brm_json_ps_entry(&e), *spec = brm_svc_container_json(sp);
                cJSON_AddItemToObject(o, "spec", spec);
                cJSON_AddBoolToObject(spec, "stopped", sp->has_stopped && sp->stopped);
                brm_cli_print_json(o);
        } else {
                printf("%s/%s\n", ir->node ? ir->node : node, st->name ? st->name : cr.name);
                printf("  %-13s %s\n", "image", sp->image ? sp->image : "");
                printf("  %-13s %s", "state", st->state ? st->state : "");
                if (st->has_pid && st->pid > 0)
                        printf(" (pid %d)", st->pid);
                if (st->has_exit_code)
                        printf(", last exit %d", st->exit_code);
                printf(", %u restarts, %u OOM kills\n", st->restarts, st->oom_kills);
                if (st->reason && st->reason[0])
                        printf("  %-13s %s\n", "reason", st->reason);
                a[0] = b[0] = '\0';
                if (st->has_memory_bytes)
                        brm_cli_human_bytes(st->memory_bytes, a, sizeof(a));
                if (sp->has_memory_max)
                        brm_cli_human_bytes(sp->memory_max, b, sizeof(b));
                printf("  %-13s %s (limit %s", "memory", a[0] ? a : "-", b[0] ? b : "none");
                if (sp->has_memory_high) {
                        brm_cli_human_bytes(sp->memory_high, b, sizeof(b));
                        printf(", high %s", b);
                }
                printf(")\n");
                if (st->has_cpu_percent)
                        snprintf(a, sizeof(a), "%.0f%%", st->cpu_percent);
                else
                        snprintf(a, sizeof(a), "-");
                if (sp->has_cpu_millis)
                        printf("  %-13s %s (limit %.3g cores)\n", "cpu", a, sp->cpu_millis / 1000.0);
                else
                        printf("  %-13s %s (no limit)\n", "cpu", a);
                if (sp->has_pids_max)
                        printf("  %-13s %u\n", "pids limit", sp->pids_max);
                printf("  %-13s %s\n", "restart", sp->restart && sp->restart[0] ? sp->restart : "always");
                printf("  %-13s %s\n", "network", sp->network && sp->network[0] ? sp->network : "host");
                if (sp->workdir && sp->workdir[0])
                        printf("  %-13s %s\n", "workdir", sp->workdir);
                print_list("command", sp->args, sp->n_args);
                print_list("env", sp->env, sp->n_env);
                print_list("cap-add", sp->cap_add, sp->n_cap_add);
                print_list("cap-drop", sp->cap_drop, sp->n_cap_drop);
                printf("  %-13s %s\n", "seccomp",
                       strcmp(seccomp_kind(sp), "default") == 0      ? "the node's default profile"
                       : strcmp(seccomp_kind(sp), "unconfined") == 0 ? "none (unconfined)"
                                                                     : "the container's own profile");
                if (ir->security && ir->security[0])
                        printf("SECURITY: %s/%s runs with %s\n", ir->node ? ir->node : node, cr.name, ir->security);
        }
        brm_msg_free(resp);
        return 0;
}
