#include "svcspec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctrspec.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

uint32_t brm_health_interval(const Bramble__HealthCheck *h)
{
        return h && h->has_interval_ms && h->interval_ms ? h->interval_ms : BRM_HEALTH_INTERVAL_MS;
}

uint32_t brm_health_timeout(const Bramble__HealthCheck *h)
{
        return h && h->has_timeout_ms && h->timeout_ms ? h->timeout_ms : BRM_HEALTH_TIMEOUT_MS;
}

uint32_t brm_health_retries(const Bramble__HealthCheck *h)
{
        return h && h->has_retries && h->retries ? h->retries : BRM_HEALTH_RETRIES;
}

uint32_t brm_update_parallelism(const Bramble__UpdatePolicy *u)
{
        return u && u->has_parallelism && u->parallelism ? u->parallelism : BRM_UPDATE_PARALLELISM;
}

uint32_t brm_update_monitor(const Bramble__UpdatePolicy *u)
{
        return u && u->has_monitor_ms && u->monitor_ms ? u->monitor_ms : BRM_UPDATE_MONITOR_MS;
}

bool brm_update_stop_first(const Bramble__UpdatePolicy *u)
{
        return u && u->order && strcmp(u->order, "stop-first") == 0;
}

bool brm_valid_service_name(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > BRM_SERVICE_NAME_MAX || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

static bool printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        return false;
        return true;
}

static int check_ms(const char *flag, bool has, uint32_t v, char *why, size_t why_size)
{
        if (has && v && (v < BRM_HEALTH_MIN_MS || v > BRM_HEALTH_MAX_MS)) {
                WHY("%s must be from 100ms to 24h", flag);
                return -EINVAL;
        }
        return 0;
}

int brm_health_check(const Bramble__HealthCheck *h, const char *network, char *why, size_t why_size)
{
        int kinds;

        if (!h)
                return 0;
        kinds = (h->cmd != NULL) + (h->has_http_port && h->http_port) + (h->has_tcp_port && h->tcp_port);
        if (kinds != 1) {
                WHY(kinds ? "give one of --health-cmd, --health-http and --health-tcp, not several"
                          : "a health check needs one of --health-cmd, --health-http PORT/PATH or --health-tcp PORT");
                return -EINVAL;
        }
        if (h->cmd && (!h->cmd[0] || strlen(h->cmd) > BRM_HEALTH_CMD_MAX)) {
                WHY("--health-cmd must be 1 to %d bytes", BRM_HEALTH_CMD_MAX);
                return -EINVAL;
        }
        if ((h->has_http_port && h->http_port > 65535) || (h->has_tcp_port && h->tcp_port > 65535)) {
                WHY("a health check port must be from 1 to 65535");
                return -EINVAL;
        }
        if (h->http_path && (h->http_path[0] != '/' || strlen(h->http_path) > 1024 || !printable(h->http_path) ||
                             strchr(h->http_path, ' '))) {
                WHY("--health-http path '%.64s' must start with '/' and be at most 1024 printable characters without "
                    "spaces", h->http_path);
                return -EINVAL;
        }
        if (((h->has_http_port && h->http_port) || (h->has_tcp_port && h->tcp_port)) && network &&
            strcmp(network, "host") != 0) {
                WHY("--health-http and --health-tcp reach the container on the node's 127.0.0.1, so they need "
                    "--network host (use --health-cmd with --network %.16s)", network);
                return -EINVAL;
        }
        if (check_ms("--health-interval", h->has_interval_ms, h->interval_ms, why, why_size) < 0 ||
            check_ms("--health-timeout", h->has_timeout_ms, h->timeout_ms, why, why_size) < 0)
                return -EINVAL;
        if (h->has_start_period_ms && h->start_period_ms > BRM_HEALTH_MAX_MS) {
                WHY("--health-start-period must be at most 24h");
                return -EINVAL;
        }
        if (h->has_retries && h->retries > 100) {
                WHY("--health-retries must be from 1 to 100");
                return -EINVAL;
        }
        return 0;
}

static bool key_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-' || c == '/';
}

static int check_key(const char *k, size_t n, const char *what, char *why, size_t why_size)
{
        if (n == 0 || n > BRM_LABEL_KEY_MAX) {
                WHY("%s: the key must be 1 to %d characters", what, BRM_LABEL_KEY_MAX);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
                if (!key_char(k[i])) {
                        WHY("%s: the key may hold only a-z, A-Z, 0-9, '.', '_', '-' and '/'", what);
                        return -EINVAL;
                }
        return 0;
}

static int check_value(const char *v, const char *what, char *why, size_t why_size)
{
        if (strlen(v) > BRM_LABEL_VALUE_MAX || !printable(v)) {
                WHY("%s: the value must be at most %d printable ASCII characters", what, BRM_LABEL_VALUE_MAX);
                return -EINVAL;
        }
        return 0;
}

int brm_label_check(const char *label, bool only_key, char *why, size_t why_size)
{
        char what[96];
        const char *eq;

        if (!label) {
                WHY("an empty label");
                return -EINVAL;
        }
        snprintf(what, sizeof(what), "label '%.64s'", label);
        eq = strchr(label, '=');
        if (only_key) {
                if (eq) {
                        WHY("%s: to remove a label give its key followed by '-'", what);
                        return -EINVAL;
                }
                return check_key(label, strlen(label), what, why, why_size);
        }
        if (!eq) {
                WHY("%s is not key=value", what);
                return -EINVAL;
        }
        if (check_key(label, (size_t)(eq - label), what, why, why_size) < 0)
                return -EINVAL;
        return check_value(eq + 1, what, why, why_size);
}

int brm_constraint_parse(const char *expr, struct brm_constraint *c, char *why, size_t why_size)
{
        char what[96];
        const char *op;
        size_t klen;

        if (!expr)
                expr = "";
        snprintf(what, sizeof(what), "--constraint '%.64s'", expr);
        op = expr + strcspn(expr, "=!~");
        if (!*op || (op[0] == '!' && op[1] != '=')) {
                WHY("%s: expected key=value, key!=value or key~substring", what);
                return -EINVAL;
        }
        klen = (size_t)(op - expr);
        if (check_key(expr, klen, what, why, why_size) < 0)
                return -EINVAL;
        memcpy(c->key, expr, klen);
        c->key[klen] = 0;
        c->op = op[0];
        op += op[0] == '!' ? 2 : 1;
        if (check_value(op, what, why, why_size) < 0)
                return -EINVAL;
        if (c->op == '~' && !*op) {
                WHY("%s: the substring is empty", what);
                return -EINVAL;
        }
        snprintf(c->value, sizeof(c->value), "%s", op);
        return 0;
}

bool brm_constraint_match(const struct brm_constraint *c, const char *const *labels, size_t n)
{
        size_t klen = strlen(c->key);

        for (size_t i = 0; i < n; i++) {
                const char *l = labels[i];
                if (strncmp(l, c->key, klen) != 0 || l[klen] != '=')
                        continue;
                l += klen + 1;
                switch (c->op) {
                case '=':
                        return strcmp(l, c->value) == 0;
                case '!':
                        return strcmp(l, c->value) != 0;
                default:
                        return strstr(l, c->value) != NULL;
                }
        }
        return c->op == '!';
}

int brm_svcspec_check(const Bramble__ServiceSpec *s, char *why, size_t why_size)
{
        struct brm_constraint c;
        char name[BRM_SERVICE_NAME_MAX + 8];
        char *saved;
        int r;

        if (!s) {
                WHY("the request has no service spec");
                return -EINVAL;
        }
        if (!brm_valid_service_name(s->name)) {
                WHY("'%.64s' is not a valid service name: use 1-%d characters of a-z, 0-9 and '-', starting with a "
                    "letter or digit", s->name ? s->name : "", BRM_SERVICE_NAME_MAX);
                return -EINVAL;
        }
        if (!s->container) {
                WHY("service %s has no container spec (--image is required)", s->name);
                return -EINVAL;
        }
        if (!s->has_replicas || s->replicas > BRM_SERVICE_MAX_REPLICAS) {
                WHY("--replicas must be from 0 to %d", BRM_SERVICE_MAX_REPLICAS);
                return -EINVAL;
        }
        snprintf(name, sizeof(name), "%s.1", s->name);
        saved = s->container->name;
        s->container->name = name;
        r = brm_ctrspec_check(s->container, why, why_size);
        s->container->name = saved;
        if (r < 0)
                return r;
        if (s->container->stopped) {
                WHY("a service's replicas cannot be stopped: scale it to 0");
                return -EINVAL;
        }
        if (s->n_constraints > BRM_SERVICE_MAX_CONSTRAINTS) {
                WHY("%zu constraints: at most %d", s->n_constraints, BRM_SERVICE_MAX_CONSTRAINTS);
                return -EINVAL;
        }
        for (size_t i = 0; i < s->n_constraints; i++)
                if (brm_constraint_parse(s->constraints[i], &c, why, why_size) < 0)
                        return -EINVAL;
        if (s->has_max_per_node && s->max_per_node > BRM_SERVICE_MAX_REPLICAS) {
                WHY("--max-per-node must be from 1 to %d", BRM_SERVICE_MAX_REPLICAS);
                return -EINVAL;
        }
        if (s->update) {
                const Bramble__UpdatePolicy *u = s->update;
                if (u->has_parallelism && (u->parallelism == 0 || u->parallelism > BRM_SERVICE_MAX_REPLICAS)) {
                        WHY("--update-parallelism must be from 1 to %d", BRM_SERVICE_MAX_REPLICAS);
                        return -EINVAL;
                }
                if (u->has_monitor_ms && (u->monitor_ms < BRM_HEALTH_MIN_MS || u->monitor_ms > BRM_HEALTH_MAX_MS)) {
                        WHY("--update-monitor must be from 100ms to 24h");
                        return -EINVAL;
                }
                if (u->has_max_failures && u->max_failures > BRM_SERVICE_MAX_REPLICAS) {
                        WHY("--update-max-failures must be at most %d", BRM_SERVICE_MAX_REPLICAS);
                        return -EINVAL;
                }
                if (u->order && strcmp(u->order, "start-first") != 0 && strcmp(u->order, "stop-first") != 0) {
                        WHY("--update-order '%.32s' is not known: expected start-first or stop-first", u->order);
                        return -EINVAL;
                }
        }
        return 0;
}
