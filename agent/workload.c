#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrspec.h"
#include "svcspec.h"
#include "err.h"
#include "log.h"

#define MOD "workload"

static const char *state_names[] = {
        [BRM_CS_PENDING] = "pending", [BRM_CS_RUNNING] = "running", [BRM_CS_EXITED] = "exited",
        [BRM_CS_BACKOFF] = "backoff", [BRM_CS_FAILED] = "failed",   [BRM_CS_STOPPED] = "stopped",
};

static void removed(const char *name, const char *moved_to, void *arg)
{
        struct brm_workload *w = arg;
        if (w->on_removed)
                w->on_removed(name, moved_to, w->on_removed_arg);
}

bool brm_workload_has(void *arg, const char *name)
{
        struct brm_workload *w = arg;
        return w->sup && brm_supervisor_has(w->sup, name);
}

void brm_workload_open(struct brm_workload *w, uv_loop_t *loop, const struct brm_agent_config *cfg,
                       struct brm_fetch *fetch, void (*on_removed)(const char *name, const char *moved_to, void *arg), void *arg)
{
        struct brm_supervisor_opts opts = {
                .state_dir = cfg->state_dir, .runtime = cfg->runtime[0] ? cfg->runtime : NULL, .cgroup_root = NULL,
                .log_max_size = cfg->log_max_size, .log_max_files = cfg->log_max_files,
                .log_reserve = cfg->log_reserve,
                .seccomp_profile = cfg->seccomp_profile[0] ? cfg->seccomp_profile : NULL,
                .on_removed = removed, .on_removed_arg = w, .fetch = fetch,
        };
        int r;

        memset(w, 0, sizeof(*w));
        w->on_removed = on_removed;
        w->on_removed_arg = arg;
        r = brm_supervisor_open(loop, &opts, &w->sup);
        if (r < 0) {
                w->sup = NULL;
                snprintf(w->unavailable, sizeof(w->unavailable), "containers unavailable on this node: %s",
                         r == -ENOENT ? "no working OCI runtime (install crun or runc)" : brm_strerror(r));
                brm_warn(MOD, "%s", w->unavailable);
                return;
        }
        brm_supervisor_caps(w->sup, &w->caps);
        brm_info(MOD, "containers via %s, cgroup v%u%s", w->caps.runtime, w->caps.cgroup_version,
                 w->caps.memory_controller ? "" : ", no memory controller (memory limits will be refused)");
}

static void free_statuses(struct brm_workload *w)
{
        free(w->st);
        free(w->msgs);
        free(w->ptrs);
        w->st = NULL;
        w->msgs = NULL;
        w->ptrs = NULL;
        w->n_st = 0;
}

void brm_workload_close(struct brm_workload *w)
{
        free_statuses(w);
        if (w->sup)
                brm_supervisor_close(w->sup, NULL, NULL);
        w->sup = NULL;
}

/* Converts a wire spec; fails with a reason for what the supervisor's
 * fixed-size fields cannot hold. Pointers in ret point into p. */
/* The wire spec as the supervisor takes it, after the contract every side
 * checks (lib/ctrspec.h): what passed the CLI and the master passes here,
 * and what the node refuses, they refuse too. */
static int convert(const Bramble__ContainerSpec *p, struct brm_container_spec *ret, char *why, size_t why_size)
{
        struct brm_container_spec s;
        int r;

        if ((r = brm_ctrspec_check(p, why, why_size)) < 0)
                return r;
        memset(&s, 0, sizeof(s));
        snprintf(s.name, sizeof(s.name), "%s", p->name);
        snprintf(s.image, sizeof(s.image), "%s", p->image);
        if (p->workdir)
                snprintf(s.workdir, sizeof(s.workdir), "%s", p->workdir);
        s.memory_max = p->has_memory_max ? p->memory_max : 0;
        s.memory_high = p->has_memory_high ? p->memory_high : 0;
        s.cpu_millis = p->has_cpu_millis ? p->cpu_millis : 0;
        s.pids_max = p->has_pids_max ? p->pids_max : 0;
        /* The enums are in the contract's order (checked, so never -1). */
        s.restart = (enum brm_restart)brm_ctrspec_lookup(brm_ctrspec_restart_names, 3, p->restart);
        s.network = (enum brm_network)brm_ctrspec_lookup(brm_ctrspec_network_names, 2, p->network);
        for (size_t i = 0; i < p->n_args; i++)
                s.args[i] = p->args[i];
        for (size_t i = 0; i < p->n_env; i++)
                s.env[i] = p->env[i];
        s.stopped = p->has_stopped && p->stopped;
        for (size_t i = 0; i < p->n_cap_add; i++)
                s.cap_add |= brm_ctrspec_cap_bits(p->cap_add[i]);
        for (size_t i = 0; i < p->n_cap_drop; i++)
                s.cap_drop |= brm_ctrspec_cap_bits(p->cap_drop[i]);
        s.seccomp = p->seccomp && p->seccomp[0] ? p->seccomp : NULL;
        s.disconnect_stop_ms = p->has_disconnect_stop_ms ? p->disconnect_stop_ms : 0;
        if (p->health) {
                const Bramble__HealthCheck *h = p->health;
                if ((r = brm_health_check(h, p->network, why, why_size)) < 0)
                        return r;
                s.has_health = true;
                s.health.cmd = h->cmd && h->cmd[0] ? h->cmd : NULL; /* borrowed, as args and env */
                s.health.http_port = h->has_http_port ? (uint16_t)h->http_port : 0;
                if (h->http_path)
                        snprintf(s.health.http_path, sizeof(s.health.http_path), "%s", h->http_path);
                s.health.tcp_port = h->has_tcp_port ? (uint16_t)h->tcp_port : 0;
                s.health.interval_ms = brm_health_interval(h);
                s.health.timeout_ms = brm_health_timeout(h);
                s.health.retries = brm_health_retries(h);
                s.health.start_period_ms = h->has_start_period_ms ? h->start_period_ms : 0;
        }
        *ret = s;
        return 0;
}

int brm_workload_check(struct brm_workload *w, const Bramble__ContainerSpec *spec, char *why, size_t why_size)
{
        struct brm_container_spec s;
        int r;

        if (!w->sup) {
                snprintf(why, why_size, "%s", w->unavailable);
                return -ENOTSUP;
        }
        if ((r = convert(spec, &s, why, why_size)) < 0)
                return r;
        return brm_supervisor_check(w->sup, &s, why, why_size);
}

int brm_workload_apply(struct brm_workload *w, const Bramble__DesiredState *ds, char *why, size_t why_size)
{
        struct brm_container_spec *specs;
        size_t n = 0;
        int r = 0;

        if (!w->sup) {
                if (ds->n_containers)
                        brm_warn(MOD, "ignoring %zu desired containers: %s", ds->n_containers, w->unavailable);
                return ds->n_containers ? -ENOTSUP : 0;
        }
        specs = calloc(ds->n_containers ? ds->n_containers : 1, sizeof(*specs));
        if (!specs)
                return -ENOMEM;
        for (size_t i = 0; i < ds->n_containers; i++) {
                if (convert(ds->containers[i], &specs[n], why, why_size) < 0) {
                        brm_warn(MOD, "skipping container %s: %s", ds->containers[i]->name ? ds->containers[i]->name : "?", why);
                        continue;
                }
                n++;
        }
        r = brm_supervisor_apply(w->sup, specs, n);
        free(specs);
        return r;
}

void brm_workload_handle_desired(void *arg, struct brm_conn *conn, const Bramble__Envelope *env)
{
        char why[256] = "";
        int r = brm_workload_apply(arg, env->desired, why, sizeof(why));

        /* Records that could not be written do not fail it: they are
         * retried, and the heartbeat says why meanwhile. */
        if (r < 0 && r != -ENOTSUP)
                brm_err(MOD, "applying the desired containers failed: %s", why[0] ? why : brm_strerror(r));
}

void brm_workload_handle_check(void *arg, struct brm_conn *conn, const Bramble__Envelope *env)
{
        char why[256] = "";
        int r = env->container_check->spec ? brm_workload_check(arg, env->container_check->spec, why, sizeof(why))
                                           : -EINVAL;

        if (r < 0)
                brm_conn_send_error(conn, env->id, r, why[0] ? why : brm_strerror(r));
        else
                brm_conn_send_ok(conn, env->id);
}

void brm_workload_fill_heartbeat(struct brm_workload *w, Bramble__Heartbeat *hb)
{
        struct brm_container_status *st = NULL;
        size_t n = 0;

        free_statuses(w);
        hb->n_containers = 0;
        hb->containers = NULL;
        if (w->sup) {
                hb->has_shim_rss_bytes = 1;
                hb->shim_rss_bytes = brm_supervisor_shim_rss(w->sup);
                hb->persist_error = (char *)brm_supervisor_persist_problem(w->sup);
        }
        if (!w->sup || brm_supervisor_status(w->sup, &st, &n) < 0 || n == 0) {
                free(st);
                return;
        }
        w->msgs = calloc(n, sizeof(*w->msgs));
        w->ptrs = calloc(n, sizeof(*w->ptrs));
        if (!w->msgs || !w->ptrs) {
                free(st);
                free_statuses(w);
                return;
        }
        w->st = st;
        w->n_st = n;
        for (size_t i = 0; i < n; i++) {
                Bramble__ContainerStatus *m = &w->msgs[i];
                bramble__container_status__init(m);
                m->name = st[i].name;
                m->image = st[i].image;
                m->state = (char *)state_names[st[i].state];
                m->has_pid = m->has_restarts = m->has_oom_kills = 1;
                m->pid = st[i].pid;
                m->restarts = st[i].restarts;
                m->oom_kills = st[i].oom_kills;
                m->has_exit_code = st[i].has_exit_code;
                m->exit_code = st[i].exit_code;
                m->has_memory_bytes = st[i].has_memory;
                m->memory_bytes = st[i].memory_bytes;
                m->has_cpu_percent = st[i].has_cpu;
                m->cpu_percent = st[i].cpu_percent;
                m->has_cpu_usage_usec = st[i].has_cpu_usage;
                m->cpu_usage_usec = st[i].cpu_usage_usec;
                m->reason = st[i].reason[0] ? st[i].reason : NULL;
                m->has_since_ms = st[i].since_ms > 0;
                m->since_ms = st[i].since_ms;
                if (st[i].health) {
                        m->health = (char *)st[i].health;
                        m->health_log = st[i].health_log[0] ? st[i].health_log : NULL;
                        m->has_health_failures = 1;
                        m->health_failures = st[i].health_failures;
                }
                w->ptrs[i] = m;
        }
        hb->n_containers = n;
        hb->containers = w->ptrs;
}

void brm_workload_fill_info(struct brm_workload *w, Bramble__NodeInfo *info)
{
        if (!w->sup)
                return;
        info->runtime = w->caps.runtime;
        info->has_memory_controller = 1;
        info->memory_controller = w->caps.memory_controller;
}
