/* The container flags of run, service create and service update; see
 * ctrflags.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "svcspec.h"
#include "util.h"

#include "common.h"
#include "ctrflags.h"

void brm_ctrflags_init(struct brm_ctrflags *f)
{
        memset(f, 0, sizeof(*f));
        bramble__container_spec__init(&f->spec);
        bramble__health_check__init(&f->health);
        f->spec.env = f->env;
        f->spec.cap_add = f->cap_add;
        f->spec.cap_drop = f->cap_drop;
}

void brm_ctrflags_free(struct brm_ctrflags *f)
{
        free(f->profile);
        f->profile = NULL;
}

int brm_parse_duration_ms32(const char *s, uint32_t *ret_ms)
{
        uint64_t v;

        if (brm_parse_duration_ms(s, &v) < 0 || v > UINT32_MAX)
                return -EINVAL;
        *ret_ms = (uint32_t)v;
        return 0;
}

int brm_parse_health_http(const char *s, Bramble__HealthCheck *h)
{
        char port[8];
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        uint64_t v;

        if (n == 0 || n >= sizeof(port))
                return -EINVAL;
        memcpy(port, s, n);
        port[n] = '\0';
        if (brm_parse_u64(port, 1, 65535, &v) < 0)
                return -EINVAL;
        h->has_http_port = 1;
        h->http_port = (uint32_t)v;
        h->http_path = (char *)(slash ? slash : "/");
        return 0;
}

int brm_parse_on_disconnect(const char *s, uint64_t *ret_ms)
{
        uint64_t v;

        if (strcmp(s, "keep") == 0) {
                *ret_ms = 0;
                return 0;
        }
        if (strncmp(s, "stop-after", 10) != 0 || (s[10] != ' ' && s[10] != '='))
                return -EINVAL;
        s += 11;
        while (*s == ' ')
                s++;
        if (brm_parse_duration_ms(s, &v) < 0 || v < 1000 || v > BRM_HEALTH_MAX_MS * 7ULL)
                return -EINVAL;
        *ret_ms = v;
        return 0;
}

static int health_flag(struct brm_ctrflags *f, int o, const char *arg)
{
        Bramble__HealthCheck *h = &f->health;
        static const char *const names[] = { "--health-cmd", "--health-http", "--health-tcp", "--health-interval",
                                             "--health-timeout", "--health-retries", "--health-start-period" };
        const char *flag = names[o - BRM_CF_HEALTH_CMD];
        uint32_t ms;
        uint64_t v;

        f->health_given = true;
        switch (o) {
        case BRM_CF_HEALTH_CMD:
                if (!arg[0])
                        return brm_cli_usage_error("invalid --health-cmd '': expected a command for /bin/sh -c");
                h->cmd = (char *)arg;
                f->health_kinds++;
                return 1;
        case BRM_CF_HEALTH_HTTP:
                if (brm_parse_health_http(arg, h) < 0)
                        return brm_cli_usage_error("invalid --health-http '%s': expected PORT/PATH like 8080/healthz", arg);
                f->health_kinds++;
                return 1;
        case BRM_CF_HEALTH_TCP:
                if (brm_parse_u64(arg, 1, 65535, &v) < 0)
                        return brm_cli_usage_error("invalid --health-tcp '%s': expected a port from 1 to 65535", arg);
                h->has_tcp_port = 1;
                h->tcp_port = (uint32_t)v;
                f->health_kinds++;
                return 1;
        case BRM_CF_HEALTH_RETRIES:
                if (brm_parse_u64(arg, 1, 100, &v) < 0)
                        return brm_cli_usage_error("invalid --health-retries '%s': expected a whole number from 1 to 100", arg);
                h->has_retries = 1;
                h->retries = (uint32_t)v;
                return 1;
        default:
                if (brm_parse_duration_ms32(arg, &ms) < 0)
                        return brm_cli_usage_error("invalid %s '%s': expected a duration like 10s, 500ms or 1m", flag, arg);
                if (o == BRM_CF_HEALTH_INTERVAL) {
                        h->has_interval_ms = 1;
                        h->interval_ms = ms;
                } else if (o == BRM_CF_HEALTH_TIMEOUT) {
                        h->has_timeout_ms = 1;
                        h->timeout_ms = ms;
                } else {
                        h->has_start_period_ms = 1;
                        h->start_period_ms = ms;
                }
                return 1;
        }
}

int brm_ctrflags_take(struct brm_ctrflags *f, int o, const char *arg)
{
        Bramble__ContainerSpec *spec = &f->spec;
        uint64_t v;
        uint32_t millis;
        size_t len;
        int r;

        if (o >= BRM_CF_HEALTH_CMD && o <= BRM_CF_HEALTH_START)
                return health_flag(f, o, arg);
        switch (o) {
        case BRM_CF_NO_HEALTH:
                f->no_health = true;
                return 1;
        case 'i':
                spec->image = (char *)arg;
                return 1;
        case 'm':
        case 'H':
                if (brm_parse_size(arg, &v) < 0 || v < 4096)
                        return brm_cli_usage_error(o == 'm' ? "invalid --memory '%s': expected a size like 64M, 512K or 1G (at least 4K)"
                                                            : "invalid --memory-high '%s': expected a size like 48M (at least 4K)",
                                                   arg);
                if (o == 'm') {
                        spec->has_memory_max = 1;
                        spec->memory_max = v;
                } else {
                        spec->has_memory_high = 1;
                        spec->memory_high = v;
                }
                return 1;
        case 'c':
                if (brm_parse_cpus(arg, &millis) < 0)
                        return brm_cli_usage_error("invalid --cpus '%s': expected a number of cores greater than 0, e.g. 0.5", arg);
                spec->has_cpu_millis = 1;
                spec->cpu_millis = millis;
                return 1;
        case 'p':
                if (brm_parse_u64(arg, 1, 4194304, &v) < 0)
                        return brm_cli_usage_error("invalid --pids '%s': expected a whole number from 1 to 4194304", arg);
                spec->has_pids_max = 1;
                spec->pids_max = (uint32_t)v;
                return 1;
        case 'r':
                if (strcmp(arg, "always") && strcmp(arg, "on-failure") && strcmp(arg, "never"))
                        return brm_cli_usage_error("invalid --restart '%s': expected always, on-failure or never", arg);
                spec->restart = (char *)arg;
                return 1;
        case 'e':
                if (!strchr(arg, '=') || arg[0] == '=')
                        return brm_cli_usage_error("invalid --env '%s': expected KEY=VALUE", arg);
                if (spec->n_env >= BRM_CTRSPEC_MAX_ENV)
                        return brm_cli_usage_error("at most %d --env values", BRM_CTRSPEC_MAX_ENV);
                f->env[spec->n_env++] = (char *)arg;
                f->env_given = true;
                return 1;
        case 'w':
                if (arg[0] != '/')
                        return brm_cli_usage_error("invalid --workdir '%s': expected an absolute path", arg);
                spec->workdir = (char *)arg;
                return 1;
        case 'n':
                if (strcmp(arg, "host") && strcmp(arg, "none"))
                        return brm_cli_usage_error("invalid --network '%s': expected host or none", arg);
                spec->network = (char *)arg;
                return 1;
        case 'A':
        case 'D':
                if (!brm_ctrspec_cap_bits(arg))
                        return brm_cli_usage_error("invalid --cap-%s '%s': expected a capability such as NET_ADMIN "
                                                   "or SYS_PTRACE, or ALL",
                                                   o == 'A' ? "add" : "drop", arg);
                if ((o == 'A' ? spec->n_cap_add : spec->n_cap_drop) >= BRM_CTRSPEC_NCAPS)
                        return brm_cli_usage_error("too many --cap-%s values", o == 'A' ? "add" : "drop");
                if (o == 'A') {
                        f->cap_add[spec->n_cap_add++] = (char *)arg;
                        f->cap_add_given = true;
                } else {
                        f->cap_drop[spec->n_cap_drop++] = (char *)arg;
                        f->cap_drop_given = true;
                }
                return 1;
        case 'S':
                if (strncmp(arg, "seccomp=", 8) != 0 || !arg[8])
                        return brm_cli_usage_error("invalid --security-opt '%s': expected seccomp=unconfined or "
                                                   "seccomp=FILE (a profile in Docker's format)",
                                                   arg);
                free(f->profile);
                f->profile = NULL;
                if (strcmp(arg + 8, "unconfined") == 0) {
                        spec->seccomp = "unconfined";
                        return 1;
                }
                if ((r = brm_file_read(arg + 8, BRM_CTRSPEC_MAX_SECCOMP, &f->profile, &len)) < 0)
                        return brm_cli_usage_error("cannot read the seccomp profile %s: %s", arg + 8,
                                                   r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
                spec->seccomp = (char *)f->profile;
                return 1;
        default:
                return 0;
        }
}

int brm_ctrflags_finish(struct brm_ctrflags *f)
{
        char why[256];

        if (f->no_health && f->health_given)
                return brm_cli_usage_error("--no-health and --health-* exclude each other");
        if (f->health_kinds > 1) {
                brm_health_check(&f->health, NULL, why, sizeof(why));
                return brm_cli_usage_error("%s", why);
        }
        if (f->health_given)
                f->spec.health = &f->health;
        return 0;
}
