/* Apply files into ServiceSpecs; see applyfile.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrspec.h"
#include "svcspec.h"
#include "util.h"

#include "applyfile.h"
#include "applytree.h"
#include "ctrflags.h"

struct ctx {
        const char *name;
        char *err;
        size_t err_size;
};

/* "FILE:LINE: PATH: what"; returns -EINVAL. */
static int bad(struct ctx *x, const struct brm_anode *n, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int bad(struct ctx *x, const struct brm_anode *n, const char *path, const char *fmt, ...)
{
        va_list ap;
        int len = snprintf(x->err, x->err_size, "%s:%d: %s: ", x->name, n ? n->line : 1, path);

        if (len >= 0 && (size_t)len < x->err_size) {
                va_start(ap, fmt);
                vsnprintf(x->err + len, x->err_size - (size_t)len, fmt, ap);
                va_end(ap);
        }
        /* One line, whatever a value held. */
        for (char *p = x->err; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        return -EINVAL;
}

static int oom(struct ctx *x, const struct brm_anode *n, const char *path)
{
        return bad(x, n, path, "out of memory");
}

static int get_str(struct ctx *x, const struct brm_anode *n, const char *path, char **out)
{
        if (n->kind != BRM_A_SCALAR || n->null)
                return bad(x, n, path, "must be a string");
        free(*out);
        if (!(*out = strdup(n->text)))
                return oom(x, n, path);
        return 0;
}

static int get_uint(struct ctx *x, const struct brm_anode *n, const char *path, uint64_t min, uint64_t max, uint32_t *out)
{
        uint64_t v;

        if (n->kind != BRM_A_SCALAR || n->null || n->quoted || brm_parse_u64(n->text, min, max, &v) < 0)
                return bad(x, n, path, "must be a whole number from %llu to %llu", (unsigned long long)min,
                           (unsigned long long)max);
        *out = (uint32_t)v;
        return 0;
}

static int get_dur(struct ctx *x, const struct brm_anode *n, const char *path, uint32_t *out)
{
        if (n->kind != BRM_A_SCALAR || n->null || brm_parse_duration_ms32(n->text, out) < 0)
                return bad(x, n, path, "must be a duration like 10s, 500ms or 5m");
        return 0;
}

static int get_size(struct ctx *x, const struct brm_anode *n, const char *path, uint64_t *out)
{
        if (n->kind != BRM_A_SCALAR || n->null || brm_parse_size(n->text, out) < 0 || *out < 4096)
                return bad(x, n, path, "must be a size like 64M, 512K or 1G (at least 4K)");
        return 0;
}

static int one_of(struct ctx *x, const struct brm_anode *n, const char *path, const char *const *names, const char *expect,
                  char **out)
{
        if (n->kind == BRM_A_SCALAR && !n->null)
                for (const char *const *k = names; *k; k++)
                        if (strcmp(n->text, *k) == 0)
                                return get_str(x, n, path, out);
        return bad(x, n, path, "must be %s", expect);
}

/* A list of strings, each checked by check (may be NULL). */
static int get_list(struct ctx *x, const struct brm_anode *n, const char *path, size_t max, char ***out, size_t *n_out,
                    int (*check)(struct ctx *, const struct brm_anode *, const char *))
{
        char sub[160];

        if (n->kind != BRM_A_LIST)
                return bad(x, n, path, "must be a list, like [\"a\", \"b\"]");
        if (n->n > max)
                return bad(x, n, path, "at most %zu entries", max);
        if (n->n && !(*out = calloc(n->n, sizeof(char *))))
                return oom(x, n, path);
        for (size_t i = 0; i < n->n; i++) {
                snprintf(sub, sizeof(sub), "%.120s[%zu]", path, i);
                if (get_str(x, n->kids[i], sub, &(*out)[i]) < 0)
                        return -EINVAL;
                (*n_out)++;
                if (check && check(x, n->kids[i], sub) < 0)
                        return -EINVAL;
        }
        return 0;
}

static int check_cap(struct ctx *x, const struct brm_anode *n, const char *path)
{
        return brm_ctrspec_cap_bits(n->text) ? 0 : bad(x, n, path, "'%.64s' is not a capability (such as NET_ADMIN, or ALL)", n->text);
}

static int check_constraint(struct ctx *x, const struct brm_anode *n, const char *path)
{
        struct brm_constraint c;
        char why[256];

        return brm_constraint_parse(n->text, &c, why, sizeof(why)) < 0 ? bad(x, n, path, "%s", why) : 0;
}

static int check_env(struct ctx *x, const struct brm_anode *n, const char *path)
{
        return strchr(n->text, '=') && n->text[0] != '=' ? 0 : bad(x, n, path, "'%.64s' is not KEY=VALUE", n->text);
}

static int get_env(struct ctx *x, const struct brm_anode *n, const char *path, Bramble__ContainerSpec *c)
{
        char sub[160];

        if (n->kind == BRM_A_LIST)
                return get_list(x, n, path, BRM_CTRSPEC_MAX_ENV, &c->env, &c->n_env, check_env);
        if (n->kind != BRM_A_MAP)
                return bad(x, n, path, "must be a map {KEY: VALUE} or a list [\"KEY=VALUE\"]");
        if (n->n > BRM_CTRSPEC_MAX_ENV)
                return bad(x, n, path, "at most %d entries", BRM_CTRSPEC_MAX_ENV);
        if (n->n && !(c->env = calloc(n->n, sizeof(char *))))
                return oom(x, n, path);
        for (size_t i = 0; i < n->n; i++) {
                const struct brm_anode *v = n->kids[i];
                snprintf(sub, sizeof(sub), "%.100s.%.50s", path, n->keys[i]);
                if (!n->keys[i][0] || strchr(n->keys[i], '='))
                        return bad(x, v, sub, "not a variable name");
                if (v->kind != BRM_A_SCALAR)
                        return bad(x, v, sub, "must be a string");
                if (asprintf(&c->env[i], "%s=%s", n->keys[i], v->null ? "" : v->text) < 0) {
                        c->env[i] = NULL;
                        return oom(x, v, sub);
                }
                c->n_env++;
        }
        return 0;
}

static int get_health(struct ctx *x, const struct brm_anode *n, const char *path, Bramble__HealthCheck *h)
{
        char sub[160];
        uint32_t port;

        if (n->kind != BRM_A_MAP)
                return bad(x, n, path, "must be a map like {cmd: \"...\", interval: 10s}");
        for (size_t i = 0; i < n->n; i++) {
                const char *k = n->keys[i];
                const struct brm_anode *v = n->kids[i];
                int r;
                snprintf(sub, sizeof(sub), "%.100s.%.50s", path, k);
                if (strcmp(k, "cmd") == 0) {
                        r = get_str(x, v, sub, &h->cmd);
                } else if (strcmp(k, "http") == 0) {
                        Bramble__HealthCheck t = BRAMBLE__HEALTH_CHECK__INIT;
                        if (v->kind != BRM_A_SCALAR || v->null || brm_parse_health_http(v->text, &t) < 0)
                                return bad(x, v, sub, "must be PORT/PATH like \"8080/healthz\", or a port");
                        h->has_http_port = 1;
                        h->http_port = t.http_port;
                        free(h->http_path);
                        r = (h->http_path = strdup(t.http_path)) ? 0 : oom(x, v, sub);
                } else if (strcmp(k, "tcp") == 0) {
                        r = get_uint(x, v, sub, 1, 65535, &port);
                        h->has_tcp_port = 1;
                        h->tcp_port = port;
                } else if (strcmp(k, "interval") == 0) {
                        r = get_dur(x, v, sub, &h->interval_ms);
                        h->has_interval_ms = 1;
                } else if (strcmp(k, "timeout") == 0) {
                        r = get_dur(x, v, sub, &h->timeout_ms);
                        h->has_timeout_ms = 1;
                } else if (strcmp(k, "start_period") == 0) {
                        r = get_dur(x, v, sub, &h->start_period_ms);
                        h->has_start_period_ms = 1;
                } else if (strcmp(k, "retries") == 0) {
                        r = get_uint(x, v, sub, 1, 100, &h->retries);
                        h->has_retries = 1;
                } else {
                        return bad(x, v, sub, "unknown key (expected cmd, http, tcp, interval, timeout, retries, start_period)");
                }
                if (r < 0)
                        return r;
        }
        if ((h->cmd != NULL) + h->has_http_port + h->has_tcp_port != 1)
                return bad(x, n, path, "give exactly one of cmd, http and tcp");
        return 0;
}

static int get_update(struct ctx *x, const struct brm_anode *n, const char *path, Bramble__UpdatePolicy *u)
{
        static const char *const orders[] = { "start-first", "stop-first", NULL };
        char sub[160];

        if (n->kind != BRM_A_MAP)
                return bad(x, n, path, "must be a map like {parallelism: 1, monitor: 10s}");
        for (size_t i = 0; i < n->n; i++) {
                const char *k = n->keys[i];
                const struct brm_anode *v = n->kids[i];
                int r;
                snprintf(sub, sizeof(sub), "%.100s.%.50s", path, k);
                if (strcmp(k, "parallelism") == 0) {
                        r = get_uint(x, v, sub, 1, BRM_SERVICE_MAX_REPLICAS, &u->parallelism);
                        u->has_parallelism = 1;
                } else if (strcmp(k, "monitor") == 0) {
                        r = get_dur(x, v, sub, &u->monitor_ms);
                        u->has_monitor_ms = 1;
                } else if (strcmp(k, "max_failures") == 0) {
                        r = get_uint(x, v, sub, 0, BRM_SERVICE_MAX_REPLICAS, &u->max_failures);
                        u->has_max_failures = 1;
                } else if (strcmp(k, "order") == 0) {
                        r = one_of(x, v, sub, orders, "start-first or stop-first", &u->order);
                } else {
                        return bad(x, v, sub, "unknown key (expected parallelism, monitor, max_failures, order)");
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One key of a service. */
static int service_key(struct ctx *x, const char *k, const struct brm_anode *v, const char *sub, Bramble__ServiceSpec *s)
{
        static const char *const restarts[] = { "always", "on-failure", "never", NULL };
        static const char *const networks[] = { "host", "none", NULL };
        Bramble__ContainerSpec *c = s->container;
        uint64_t ms;

        if (strcmp(k, "image") == 0)
                return get_str(x, v, sub, &c->image);
        if (strcmp(k, "replicas") == 0)
                return get_uint(x, v, sub, 0, BRM_SERVICE_MAX_REPLICAS, &s->replicas);
        if (strcmp(k, "command") == 0)
                return v->kind == BRM_A_LIST ? get_list(x, v, sub, BRM_CTRSPEC_MAX_ARGS, &c->args, &c->n_args, NULL)
                                             : bad(x, v, sub, "must be a list, like [\"/bin/web\", \"--port\", \"8080\"] "
                                                              "(nothing is split or run through a shell)");
        if (strcmp(k, "env") == 0)
                return get_env(x, v, sub, c);
        if (strcmp(k, "memory") == 0) {
                c->has_memory_max = 1;
                return get_size(x, v, sub, &c->memory_max);
        }
        if (strcmp(k, "memory_high") == 0) {
                c->has_memory_high = 1;
                return get_size(x, v, sub, &c->memory_high);
        }
        if (strcmp(k, "cpus") == 0) {
                c->has_cpu_millis = 1;
                if (v->kind != BRM_A_SCALAR || v->null || brm_parse_cpus(v->text, &c->cpu_millis) < 0)
                        return bad(x, v, sub, "must be a number of cores greater than 0, like 0.5");
                return 0;
        }
        if (strcmp(k, "pids") == 0) {
                c->has_pids_max = 1;
                return get_uint(x, v, sub, 1, BRM_CTRSPEC_MAX_PIDS, &c->pids_max);
        }
        if (strcmp(k, "restart") == 0)
                return one_of(x, v, sub, restarts, "always, on-failure or never", &c->restart);
        if (strcmp(k, "network") == 0)
                return one_of(x, v, sub, networks, "host or none", &c->network);
        if (strcmp(k, "workdir") == 0) {
                if (get_str(x, v, sub, &c->workdir) < 0)
                        return -EINVAL;
                return c->workdir[0] == '/' ? 0 : bad(x, v, sub, "must be an absolute path");
        }
        if (strcmp(k, "cap_add") == 0)
                return get_list(x, v, sub, BRM_CTRSPEC_NCAPS, &c->cap_add, &c->n_cap_add, check_cap);
        if (strcmp(k, "cap_drop") == 0)
                return get_list(x, v, sub, BRM_CTRSPEC_NCAPS, &c->cap_drop, &c->n_cap_drop, check_cap);
        if (strcmp(k, "constraints") == 0)
                return get_list(x, v, sub, BRM_SERVICE_MAX_CONSTRAINTS, &s->constraints, &s->n_constraints, check_constraint);
        if (strcmp(k, "max_per_node") == 0) {
                s->has_max_per_node = 1;
                return get_uint(x, v, sub, 1, BRM_SERVICE_MAX_REPLICAS, &s->max_per_node);
        }
        if (strcmp(k, "health") == 0) {
                if (!(c->health = malloc(sizeof(*c->health))))
                        return oom(x, v, sub);
                bramble__health_check__init(c->health);
                return get_health(x, v, sub, c->health);
        }
        if (strcmp(k, "update") == 0) {
                if (!(s->update = malloc(sizeof(*s->update))))
                        return oom(x, v, sub);
                bramble__update_policy__init(s->update);
                return get_update(x, v, sub, s->update);
        }
        if (strcmp(k, "on_disconnect") == 0) {
                if (v->kind != BRM_A_SCALAR || v->null || brm_parse_on_disconnect(v->text, &ms) < 0)
                        return bad(x, v, sub, "must be keep or \"stop-after D\" (a duration of at least 1s, like 30s)");
                c->has_disconnect_stop_ms = 1;
                c->disconnect_stop_ms = ms;
                return 0;
        }
        return bad(x, v, sub, "unknown key (expected image, replicas, command, env, memory, memory_high, cpus, pids, "
                              "restart, network, workdir, cap_add, cap_drop, constraints, max_per_node, health, update, "
                              "on_disconnect)");
}

static int service(struct ctx *x, const char *name, const struct brm_anode *n, Bramble__ServiceSpec *s)
{
        char path[96], sub[160], why[512];
        bool has_image = false;

        snprintf(path, sizeof(path), "services.%.60s", name);
        if (!brm_valid_service_name(name))
                return bad(x, n, path, "'%.64s' is not a valid service name: use 1-%d characters of a-z, 0-9 and '-', "
                                       "starting with a letter or digit", name, BRM_SERVICE_NAME_MAX);
        if (n->kind != BRM_A_MAP)
                return bad(x, n, path, "must be a map of the service's settings (image, replicas, ...)");
        if (!(s->name = strdup(name)) || !(s->container = malloc(sizeof(*s->container))))
                return oom(x, n, path);
        bramble__container_spec__init(s->container);
        s->has_replicas = 1;
        s->replicas = 1;
        for (size_t i = 0; i < n->n; i++) {
                snprintf(sub, sizeof(sub), "%s.%.60s", path, n->keys[i]);
                if (service_key(x, n->keys[i], n->kids[i], sub, s) < 0)
                        return -EINVAL;
                has_image |= strcmp(n->keys[i], "image") == 0;
        }
        if (!has_image)
                return bad(x, n, path, "image is required");
        if (brm_svcspec_check(s, why, sizeof(why)) < 0)
                return bad(x, n, path, "%s", why);
        return 0;
}

bool brm_applyfile_is_json(const char *name, const char *text, size_t len)
{
        size_t nl = name ? strlen(name) : 0;

        if (nl >= 5 && strcmp(name + nl - 5, ".json") == 0)
                return true;
        for (size_t i = 0; i < len; i++)
                if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
                        return text[i] == '{';
        return false;
}

void brm_applyfile_free(struct brm_applyfile *f)
{
        for (size_t i = 0; i < f->n; i++)
                protobuf_c_message_free_unpacked(&f->services[i]->base, NULL);
        free(f->services);
        f->services = NULL;
        f->n = 0;
}

int brm_applyfile_parse(const char *name, const char *text, size_t len, struct brm_applyfile *out, char *err,
                        size_t err_size)
{
        struct ctx x = { .name = name, .err = err, .err_size = err_size };
        struct brm_anode *root, *svcs = NULL;
        char what[256];
        int line, r = -EINVAL;

        out->services = NULL;
        out->n = 0;
        if (len > BRM_APPLYFILE_MAX_BYTES) {
                snprintf(err, err_size, "%s:1: the file is larger than 1 MiB", name);
                return -EINVAL;
        }
        if (!(root = brm_atree_parse(text, len, brm_applyfile_is_json(name, text, len), &line, what, sizeof(what)))) {
                snprintf(err, err_size, "%s:%d: %s", name, line, what);
                return -EINVAL;
        }
        if (root->kind != BRM_A_MAP) {
                bad(&x, root, "top level", "must be a map with the key services");
                goto out;
        }
        for (size_t i = 0; i < root->n; i++) {
                if (strcmp(root->keys[i], "services") != 0) {
                        bad(&x, root->kids[i], root->keys[i], "unknown key (expected services)");
                        goto out;
                }
                svcs = root->kids[i];
        }
        if (!svcs) {
                bad(&x, root, "services", "missing: the file needs services: {NAME: {image: ..., ...}}");
                goto out;
        }
        if (svcs->kind != BRM_A_MAP && !(svcs->kind == BRM_A_SCALAR && svcs->null)) {
                bad(&x, svcs, "services", "must be a map of service names to their settings");
                goto out;
        }
        if (svcs->kind == BRM_A_MAP && svcs->n > BRM_APPLYFILE_MAX_SERVICES) {
                bad(&x, svcs, "services", "at most %d services", BRM_APPLYFILE_MAX_SERVICES);
                goto out;
        }
        if (svcs->kind == BRM_A_MAP && svcs->n && !(out->services = calloc(svcs->n, sizeof(*out->services)))) {
                oom(&x, svcs, "services");
                goto out;
        }
        for (size_t i = 0; svcs->kind == BRM_A_MAP && i < svcs->n; i++) {
                Bramble__ServiceSpec *s = malloc(sizeof(*s));
                if (!s) {
                        oom(&x, svcs->kids[i], "services");
                        goto out;
                }
                bramble__service_spec__init(s);
                out->services[out->n++] = s;
                if (service(&x, svcs->keys[i], svcs->kids[i], s) < 0)
                        goto out;
        }
        r = 0;
out:
        brm_atree_free(root);
        if (r < 0)
                brm_applyfile_free(out);
        return r;
}
