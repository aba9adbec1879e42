/* bramble service ...; see services.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "svcspec.h"
#include "util.h"

#include "common.h"
#include "ctrflags.h"
#include "services.h"
#include "svcprint.h"

enum {
        SF_REPLICAS = 0x200,
        SF_CONSTRAINT,
        SF_MAX_PER_NODE,
        SF_UPD_PARALLELISM,
        SF_UPD_MONITOR,
        SF_UPD_MAX_FAILURES,
        SF_UPD_ORDER,
        SF_ON_DISCONNECT,
        SF_ENV_ADD,
        SF_ENV_RM,
};

#define MAX_ENV_EDITS 64

/* Everything the flags of create and update said. */
struct svcflags {
        struct brm_ctrflags cf;
        bool has_replicas;
        uint32_t replicas;
        char *constraints[BRM_SERVICE_MAX_CONSTRAINTS];
        size_t n_constraints;
        bool constraints_given;
        bool has_max_per_node;
        uint32_t max_per_node;
        Bramble__UpdatePolicy update;
        bool update_given;
        bool has_disconnect;
        uint64_t disconnect_ms;
        char *env_add[MAX_ENV_EDITS], *env_rm[MAX_ENV_EDITS];
        size_t n_env_add, n_env_rm;
        bool args_given; /* "--" was there */
        char **args;
        size_t n_args;
};

static int bad_name(const char *name)
{
        return brm_cli_usage_error("'%s' is not a valid service name (1-%d characters of a-z, 0-9 and '-')", name,
                                   BRM_SERVICE_NAME_MAX);
}

static int take_u32(const char *flag, const char *arg, uint64_t min, uint64_t max, uint32_t *out)
{
        uint64_t v;

        if (brm_parse_u64(arg, min, max, &v) < 0)
                return brm_cli_usage_error("invalid %s '%s': expected a whole number from %llu to %llu", flag, arg,
                                           (unsigned long long)min, (unsigned long long)max);
        *out = (uint32_t)v;
        return 1;
}

/* One service flag: 1 taken, 0 not one, EXIT_USAGE refused. */
static int take_svc(struct svcflags *f, int o, const char *arg, int argc, char **argv, bool update)
{
        struct brm_constraint con;
        char why[256], joined[128];
        uint32_t ms;

        switch (o) {
        case SF_REPLICAS:
                f->has_replicas = true;
                return take_u32("--replicas", arg, 0, BRM_SERVICE_MAX_REPLICAS, &f->replicas);
        case SF_CONSTRAINT:
                if (brm_constraint_parse(arg, &con, why, sizeof(why)) < 0)
                        return brm_cli_usage_error("%s", why);
                if (f->n_constraints >= BRM_SERVICE_MAX_CONSTRAINTS)
                        return brm_cli_usage_error("at most %d --constraint values", BRM_SERVICE_MAX_CONSTRAINTS);
                f->constraints[f->n_constraints++] = (char *)arg;
                f->constraints_given = true;
                return 1;
        case SF_MAX_PER_NODE:
                f->has_max_per_node = true;
                return take_u32("--max-per-node", arg, 1, BRM_SERVICE_MAX_REPLICAS, &f->max_per_node);
        case SF_UPD_PARALLELISM:
                f->update_given = true;
                f->update.has_parallelism = 1;
                return take_u32("--update-parallelism", arg, 1, BRM_SERVICE_MAX_REPLICAS, &f->update.parallelism);
        case SF_UPD_MAX_FAILURES:
                f->update_given = true;
                f->update.has_max_failures = 1;
                return take_u32("--update-max-failures", arg, 0, BRM_SERVICE_MAX_REPLICAS, &f->update.max_failures);
        case SF_UPD_MONITOR:
                if (brm_parse_duration_ms32(arg, &ms) < 0)
                        return brm_cli_usage_error("invalid --update-monitor '%s': expected a duration like 10s or 1m", arg);
                f->update_given = true;
                f->update.has_monitor_ms = 1;
                f->update.monitor_ms = ms;
                return 1;
        case SF_UPD_ORDER:
                if (strcmp(arg, "start-first") != 0 && strcmp(arg, "stop-first") != 0)
                        return brm_cli_usage_error("invalid --update-order '%s': expected start-first or stop-first", arg);
                f->update_given = true;
                f->update.order = (char *)arg;
                return 1;
        case SF_ON_DISCONNECT:
                /* "stop-after 30s" may come as two words. */
                if (strcmp(arg, "stop-after") == 0 && optind < argc) {
                        snprintf(joined, sizeof(joined), "stop-after %s", argv[optind]);
                        arg = joined;
                        optind++;
                }
                if (brm_parse_on_disconnect(arg, &f->disconnect_ms) < 0)
                        return brm_cli_usage_error("invalid --on-disconnect '%s': expected keep or stop-after D "
                                                   "(a duration of at least 1s, like 30s)", arg);
                f->has_disconnect = true;
                return 1;
        case SF_ENV_ADD:
        case SF_ENV_RM:
                if (!update)
                        return 0;
                if (o == SF_ENV_ADD ? (!strchr(arg, '=') || arg[0] == '=') : (!arg[0] || strchr(arg, '=')))
                        return brm_cli_usage_error(o == SF_ENV_ADD ? "invalid --env-add '%s': expected KEY=VALUE"
                                                                   : "invalid --env-rm '%s': expected KEY",
                                                   arg);
                if ((o == SF_ENV_ADD ? f->n_env_add : f->n_env_rm) >= MAX_ENV_EDITS)
                        return brm_cli_usage_error("too many --env-add or --env-rm values");
                if (o == SF_ENV_ADD)
                        f->env_add[f->n_env_add++] = (char *)arg;
                else
                        f->env_rm[f->n_env_rm++] = (char *)arg;
                return 1;
        default:
                return 0;
        }
}

/* Parses argv = {"create"|"update", NAME, flags..., [--, CMD...]}: 0, or
 * the exit code after the error. */
static int parse_flags(struct svcflags *f, int argc, char **argv, bool update)
{
        static const struct option opts[] = {
                BRM_CTRFLAGS_OPTIONS,
                { "replicas", required_argument, NULL, SF_REPLICAS },
                { "constraint", required_argument, NULL, SF_CONSTRAINT },
                { "max-per-node", required_argument, NULL, SF_MAX_PER_NODE },
                { "update-parallelism", required_argument, NULL, SF_UPD_PARALLELISM },
                { "update-monitor", required_argument, NULL, SF_UPD_MONITOR },
                { "update-max-failures", required_argument, NULL, SF_UPD_MAX_FAILURES },
                { "update-order", required_argument, NULL, SF_UPD_ORDER },
                { "on-disconnect", required_argument, NULL, SF_ON_DISCONNECT },
                { "env-add", required_argument, NULL, SF_ENV_ADD },
                { "env-rm", required_argument, NULL, SF_ENV_RM },
                { 0 },
        };
        int o, r, oargc = argc - 1;
        char **oargv = argv + 1;

        memset(f, 0, sizeof(*f));
        brm_ctrflags_init(&f->cf);
        bramble__update_policy__init(&f->update);
        if (argc < 2 || argv[1][0] == '-')
                return brm_cli_usage_error("usage: bramble service %s NAME %s[options] [-- CMD ARGS...]", argv[0],
                                           update ? "" : "--image REF ");
        if (!brm_valid_service_name(argv[1]))
                return bad_name(argv[1]);
        optind = 1;
        opterr = 0;
        while ((o = getopt_long(oargc, oargv, "+:", opts, NULL)) != -1) {
                if (o == '?' || o == ':')
                        return brm_cli_usage_error(o == ':' ? "%s needs a value" : "unknown option '%s'", oargv[optind - 1]);
                r = brm_ctrflags_take(&f->cf, o, optarg);
                if (r == 0)
                        r = take_svc(f, o, optarg, oargc, oargv, update);
                if (r == 0)
                        return brm_cli_usage_error("unknown option '%s' for service %s", oargv[optind - 1], argv[0]);
                if (r != 1)
                        return EXIT_USAGE;
        }
        opterr = 1;
        f->args_given = optind > 1 && strcmp(oargv[optind - 1], "--") == 0;
        if (optind < oargc && !f->args_given)
                return brm_cli_usage_error("unexpected argument '%s' (put the container's command after --)", oargv[optind]);
        f->args = oargv + optind;
        f->n_args = (size_t)(oargc - optind);
        if (!update && f->cf.no_health)
                return brm_cli_usage_error("--no-health is for 'bramble service update'");
        return brm_ctrflags_finish(&f->cf);
}

static int send_spec(struct brm_cli *c, Bramble__ServiceSpec *s, bool update)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        char why[512];
        int rc = 0;

        if (brm_svcspec_check(s, why, sizeof(why)) < 0)
                return brm_cli_usage_error("%s", why);
        if (update) {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_UPDATE;
                req.service_update = s;
        } else {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_CREATE;
                req.service_create = s;
        }
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"service\": \"%s\", \"%s\": true}\n", s->name, update ? "updated" : "created");
        else if (update)
                printf("service %s updated (the master rolls it out; follow with 'bramble service ps %s')\n", s->name, s->name);
        else
                printf("service %s created (%u replica%s)\n", s->name, s->replicas, s->replicas == 1 ? "" : "s");
        return 0;
}

int brm_cli_service_create(struct brm_cli *c, int argc, char **argv)
{
        Bramble__ServiceSpec s = BRAMBLE__SERVICE_SPEC__INIT;
        struct svcflags f;
        int rc;

        if ((rc = parse_flags(&f, argc, argv, false)) != 0)
                goto out;
        if (!f.cf.spec.image) {
                rc = brm_cli_usage_error("service create needs --image REF");
                goto out;
        }
        s.name = argv[1];
        s.container = &f.cf.spec;
        f.cf.spec.args = f.args;
        f.cf.spec.n_args = f.n_args;
        if (f.has_disconnect) {
                f.cf.spec.has_disconnect_stop_ms = 1;
                f.cf.spec.disconnect_stop_ms = f.disconnect_ms;
        }
        s.has_replicas = 1;
        s.replicas = f.has_replicas ? f.replicas : 1;
        s.constraints = f.constraints;
        s.n_constraints = f.n_constraints;
        s.has_max_per_node = f.has_max_per_node;
        s.max_per_node = f.max_per_node;
        if (f.update_given)
                s.update = &f.update;
        rc = send_spec(c, &s, false);
out:
        brm_ctrflags_free(&f.cf);
        return rc;
}

/* Reads one service: the reply (free it) with the info in *ret, or NULL
 * after the error with *rc set. */
static Bramble__Envelope *get_service(struct brm_cli *c, const char *name, const Bramble__ServiceInfo **ret, int *rc)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;

        q.name = (char *)name;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_LIST;
        req.service_list = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_SERVICES, rc)))
                return NULL;
        for (size_t i = 0; i < resp->services->n_services; i++) {
                const Bramble__ServiceInfo *s = resp->services->services[i];
                if (s->spec && s->spec->name && strcmp(s->spec->name, name) == 0) {
                        *ret = s;
                        return resp;
                }
        }
        brm_msg_free(resp);
        fprintf(stderr, "bramble: no service named '%s'\n", name);
        *rc = EXIT_FAIL;
        return NULL;
}

static size_t key_len(const char *kv)
{
        const char *eq = strchr(kv, '=');
        return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* The environment after --env-add and --env-rm; entries point into cur and
 * argv. */
static size_t edit_env(char **out, char *const *cur, size_t n, const struct svcflags *f)
{
        size_t m = 0;

        for (size_t i = 0; i < n; i++) {
                bool drop = false;
                for (size_t j = 0; j < f->n_env_rm && !drop; j++)
                        drop = key_len(cur[i]) == strlen(f->env_rm[j]) && strncmp(cur[i], f->env_rm[j], key_len(cur[i])) == 0;
                for (size_t j = 0; j < f->n_env_add && !drop; j++)
                        drop = key_len(cur[i]) == key_len(f->env_add[j]) && strncmp(cur[i], f->env_add[j], key_len(cur[i])) == 0;
                if (!drop && m < BRM_CTRSPEC_MAX_ENV + 1)
                        out[m++] = cur[i];
        }
        for (size_t j = 0; j < f->n_env_add && m < BRM_CTRSPEC_MAX_ENV + 1; j++)
                out[m++] = f->env_add[j];
        return m;
}

/* What the update flags replace, laid over the current container spec. */
static void merge_container(Bramble__ContainerSpec *nc, Bramble__HealthCheck *nh, const struct svcflags *f)
{
        const Bramble__ContainerSpec *g = &f->cf.spec;

        if (g->image)
                nc->image = g->image;
        if (g->has_memory_max)
                nc->has_memory_max = 1, nc->memory_max = g->memory_max;
        if (g->has_memory_high)
                nc->has_memory_high = 1, nc->memory_high = g->memory_high;
        if (g->has_cpu_millis)
                nc->has_cpu_millis = 1, nc->cpu_millis = g->cpu_millis;
        if (g->has_pids_max)
                nc->has_pids_max = 1, nc->pids_max = g->pids_max;
        if (g->restart)
                nc->restart = g->restart;
        if (g->network)
                nc->network = g->network;
        if (g->workdir)
                nc->workdir = g->workdir;
        if (g->seccomp)
                nc->seccomp = g->seccomp;
        if (f->cf.env_given)
                nc->env = g->env, nc->n_env = g->n_env;
        if (f->cf.cap_add_given)
                nc->cap_add = g->cap_add, nc->n_cap_add = g->n_cap_add;
        if (f->cf.cap_drop_given)
                nc->cap_drop = g->cap_drop, nc->n_cap_drop = g->n_cap_drop;
        if (f->args_given)
                nc->args = f->args, nc->n_args = f->n_args;
        if (f->has_disconnect)
                nc->has_disconnect_stop_ms = 1, nc->disconnect_stop_ms = f->disconnect_ms;
        if (f->cf.no_health) {
                nc->health = NULL;
        } else if (f->cf.health_given) {
                const Bramble__HealthCheck *h = &f->cf.health;
                if (nc->health)
                        *nh = *nc->health;
                if (f->cf.health_kinds) {
                        nh->cmd = h->cmd;
                        nh->has_http_port = h->has_http_port, nh->http_port = h->http_port, nh->http_path = h->http_path;
                        nh->has_tcp_port = h->has_tcp_port, nh->tcp_port = h->tcp_port;
                }
                if (h->has_interval_ms)
                        nh->has_interval_ms = 1, nh->interval_ms = h->interval_ms;
                if (h->has_timeout_ms)
                        nh->has_timeout_ms = 1, nh->timeout_ms = h->timeout_ms;
                if (h->has_retries)
                        nh->has_retries = 1, nh->retries = h->retries;
                if (h->has_start_period_ms)
                        nh->has_start_period_ms = 1, nh->start_period_ms = h->start_period_ms;
                nc->health = nh;
        }
}

int brm_cli_service_update(struct brm_cli *c, int argc, char **argv)
{
        const Bramble__ServiceInfo *cur;
        Bramble__Envelope *resp = NULL;
        Bramble__ServiceSpec ns;
        Bramble__ContainerSpec nc = BRAMBLE__CONTAINER_SPEC__INIT;
        Bramble__HealthCheck nh = BRAMBLE__HEALTH_CHECK__INIT;
        Bramble__UpdatePolicy nu = BRAMBLE__UPDATE_POLICY__INIT;
        char *env[BRM_CTRSPEC_MAX_ENV + 1 + MAX_ENV_EDITS];
        struct svcflags f;
        int rc;

        if ((rc = parse_flags(&f, argc, argv, true)) != 0)
                goto out;
        if (argc == 2) {
                rc = brm_cli_usage_error("service update %s: nothing to change (give the flags to change)", argv[1]);
                goto out;
        }
        if (!(resp = get_service(c, argv[1], &cur, &rc)))
                goto out;
        ns = *cur->spec;
        if (cur->spec->container)
                nc = *cur->spec->container;
        if (cur->spec->update)
                nu = *cur->spec->update;
        ns.container = &nc;
        merge_container(&nc, &nh, &f);
        if (f.n_env_add || f.n_env_rm) {
                nc.n_env = edit_env(env, nc.env, nc.n_env, &f);
                nc.env = env;
        }
        if (f.has_replicas)
                ns.has_replicas = 1, ns.replicas = f.replicas;
        if (f.constraints_given)
                ns.constraints = f.constraints, ns.n_constraints = f.n_constraints;
        if (f.has_max_per_node)
                ns.has_max_per_node = 1, ns.max_per_node = f.max_per_node;
        if (f.update.has_parallelism)
                nu.has_parallelism = 1, nu.parallelism = f.update.parallelism;
        if (f.update.has_monitor_ms)
                nu.has_monitor_ms = 1, nu.monitor_ms = f.update.monitor_ms;
        if (f.update.has_max_failures)
                nu.has_max_failures = 1, nu.max_failures = f.update.max_failures;
        if (f.update.order)
                nu.order = f.update.order;
        if (f.update_given || cur->spec->update)
                ns.update = &nu;
        rc = send_spec(c, &ns, true);
out:
        brm_msg_free(resp);
        brm_ctrflags_free(&f.cf);
        return rc;
}

int brm_cli_service_ls(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;
        int rc = 0;

        if (argc > 1)
                return brm_cli_usage_error("unexpected argument '%s' (usage: bramble service ls)", argv[1]);
        req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_LIST;
        req.service_list = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_SERVICES, &rc)))
                return rc;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < resp->services->n_services; i++)
                        cJSON_AddItemToArray(arr, brm_svc_json(resp->services->services[i]));
                brm_cli_print_json(arr);
        } else {
                brm_svc_print_ls(stdout, resp->services);
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_service_show(struct brm_cli *c, int argc, char **argv)
{
        const Bramble__ServiceInfo *s;
        Bramble__Envelope *resp;
        bool ps = strcmp(argv[0], "ps") == 0;
        int rc = 0;

        if (argc != 2 || argv[1][0] == '-')
                return brm_cli_usage_error("usage: bramble service %s NAME", argv[0]);
        if (!brm_valid_service_name(argv[1]))
                return bad_name(argv[1]);
        if (!(resp = get_service(c, argv[1], &s, &rc)))
                return rc;
        if (c->json) {
                cJSON *o = brm_svc_json(s);
                if (ps) {
                        cJSON *reps = cJSON_DetachItemFromObject(o, "replicas");
                        cJSON_Delete(o);
                        o = reps;
                }
                brm_cli_print_json(o);
        } else if (ps) {
                brm_svc_print_ps(stdout, s, brm_now_ms());
        } else {
                brm_svc_print_inspect(stdout, s, brm_now_ms());
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_service_scale(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;
        uint64_t n;
        int rc = 0;

        if (argc != 3)
                return brm_cli_usage_error("usage: bramble service scale NAME N");
        if (!brm_valid_service_name(argv[1]))
                return bad_name(argv[1]);
        if (brm_parse_u64(argv[2], 0, BRM_SERVICE_MAX_REPLICAS, &n) < 0)
                return brm_cli_usage_error("invalid replica count '%s': expected a whole number from 0 to %d", argv[2],
                                           BRM_SERVICE_MAX_REPLICAS);
        q.name = argv[1];
        q.has_replicas = 1;
        q.replicas = (uint32_t)n;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_SCALE;
        req.service_scale = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"service\": \"%s\", \"replicas\": %u}\n", argv[1], q.replicas);
        else
                printf("service %s scaled to %u\n", argv[1], q.replicas);
        return 0;
}

int brm_cli_service_change(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;
        bool rm = strcmp(argv[0], "rm") == 0;
        int rc = 0;

        if (argc != 2 || argv[1][0] == '-')
                return brm_cli_usage_error("usage: bramble service %s NAME", argv[0]);
        if (!brm_valid_service_name(argv[1]))
                return bad_name(argv[1]);
        q.name = argv[1];
        if (rm) {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_REMOVE;
                req.service_remove = &q;
        } else {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_ROLLBACK;
                req.service_rollback = &q;
        }
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"service\": \"%s\", \"%s\": true}\n", argv[1], rm ? "removed" : "rolling_back");
        else
                printf(rm ? "service %s removed\n" : "service %s rolling back to its previous spec\n", argv[1]);
        return 0;
}
