/* The service flags and what they make; see svcflags.h. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#include "common.h"
#include "svcflags.h"

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

int brm_svcflags_bad_name(const char *name)
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
static int take_svc(struct brm_svcflags *f, int o, const char *arg, int argc, char **argv, bool update)
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
                if ((o == SF_ENV_ADD ? f->n_env_add : f->n_env_rm) >= BRM_SVCFLAGS_MAX_ENV_EDITS)
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

int brm_svcflags_parse(struct brm_svcflags *f, int argc, char **argv, bool update)
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
                return brm_svcflags_bad_name(argv[1]);
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

void brm_svcflags_create(struct brm_svcflags *f, const char *name, Bramble__ServiceSpec *s)
{
        bramble__service_spec__init(s);
        s->name = (char *)name;
        s->container = &f->cf.spec;
        f->cf.spec.args = f->args;
        f->cf.spec.n_args = f->n_args;
        if (f->has_disconnect) {
                f->cf.spec.has_disconnect_stop_ms = 1;
                f->cf.spec.disconnect_stop_ms = f->disconnect_ms;
        }
        s->has_replicas = 1;
        s->replicas = f->has_replicas ? f->replicas : 1;
        s->constraints = f->constraints;
        s->n_constraints = f->n_constraints;
        s->has_max_per_node = f->has_max_per_node;
        s->max_per_node = f->max_per_node;
        if (f->update_given)
                s->update = &f->update;
}

static size_t key_len(const char *kv)
{
        const char *eq = strchr(kv, '=');
        return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* The environment after --env-add and --env-rm; entries point into cur and
 * argv. */
static size_t edit_env(char **out, char *const *cur, size_t n, const struct brm_svcflags *f)
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
static void merge_container(Bramble__ContainerSpec *nc, Bramble__HealthCheck *nh, const struct brm_svcflags *f)
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

void brm_svcflags_update(const struct brm_svcflags *f, const Bramble__ServiceSpec *cur, struct brm_svcedit *e)
{
        Bramble__ServiceSpec *ns = &e->spec;
        Bramble__ContainerSpec *nc = &e->container;
        Bramble__UpdatePolicy *nu = &e->update;

        *ns = *cur;
        bramble__container_spec__init(nc);
        bramble__health_check__init(&e->health);
        bramble__update_policy__init(nu);
        if (cur->container)
                *nc = *cur->container;
        if (cur->update)
                *nu = *cur->update;
        ns->container = nc;
        merge_container(nc, &e->health, f);
        if (f->n_env_add || f->n_env_rm) {
                nc->n_env = edit_env(e->env, nc->env, nc->n_env, f);
                nc->env = e->env;
        }
        if (f->has_replicas)
                ns->has_replicas = 1, ns->replicas = f->replicas;
        if (f->constraints_given)
                ns->constraints = (char **)f->constraints, ns->n_constraints = f->n_constraints;
        if (f->has_max_per_node)
                ns->has_max_per_node = 1, ns->max_per_node = f->max_per_node;
        if (f->update.has_parallelism)
                nu->has_parallelism = 1, nu->parallelism = f->update.parallelism;
        if (f->update.has_monitor_ms)
                nu->has_monitor_ms = 1, nu->monitor_ms = f->update.monitor_ms;
        if (f->update.has_max_failures)
                nu->has_max_failures = 1, nu->max_failures = f->update.max_failures;
        if (f->update.order)
                nu->order = f->update.order;
        ns->update = f->update_given || cur->update ? nu : NULL;
}
