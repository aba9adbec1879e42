/* The cluster's state as JSON, the keys of 'bramble nodes -o json',
 * 'bramble ps -o json' and 'bramble service ls -o json': one builder for
 * the CLI and for the master's dashboard API, so both say the same. */
#include "statusjson.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "svcspec.h"

void brm_rfc3339(int64_t ms, char *out, size_t size)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Floats on the wire are single precision; print what was measured, not
 * the binary noise after it. */
static double round2(float v)
{
        return (double)(long long)((double)v * 100 + (v < 0 ? -0.5 : 0.5)) / 100;
}

const Bramble__UpdateStatus *brm_node_update(const Bramble__NodeStatus *n)
{
        if (n->last && n->last->update)
                return n->last->update;
        return n->info ? n->info->update : NULL;
}

/* KEY as an RFC 3339 time and KEY_ms, as last_seen is. */
static void add_time(cJSON *o, const char *key, bool has, int64_t ms)
{
        char ts[32], k[32];

        if (!has || ms <= 0)
                return;
        brm_rfc3339(ms, ts, sizeof(ts));
        cJSON_AddStringToObject(o, key, ts);
        snprintf(k, sizeof(k), "%s_ms", key);
        cJSON_AddNumberToObject(o, k, (double)ms);
}

cJSON *brm_json_update(const Bramble__UpdateStatus *u)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "state", u->state ? u->state : "");
        if (u->version)
                cJSON_AddStringToObject(o, "version", u->version);
        if (u->from_version)
                cJSON_AddStringToObject(o, "from_version", u->from_version);
        if (u->slot)
                cJSON_AddStringToObject(o, "slot", u->slot);
        if (u->reason)
                cJSON_AddStringToObject(o, "reason", u->reason);
        if (u->has_bytes_done)
                cJSON_AddNumberToObject(o, "bytes_done", (double)u->bytes_done);
        if (u->has_bytes_total)
                cJSON_AddNumberToObject(o, "bytes_total", (double)u->bytes_total);
        add_time(o, "started", u->has_started_ms, u->started_ms);
        add_time(o, "deadline", u->has_deadline_ms, u->deadline_ms);
        add_time(o, "finished", u->has_finished_ms, u->finished_ms);
        return o;
}

cJSON *brm_json_node(const Bramble__NodeStatus *n)
{
        const Bramble__NodeInfo *in = n->info;
        const Bramble__Heartbeat *hb = n->last;
        cJSON *o = cJSON_CreateObject();
        char ts[32];

        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "state", n->state);
        cJSON_AddBoolToObject(o, "connected", n->connected);
        cJSON_AddStringToObject(o, "schedule", n->schedule ? n->schedule : "");
        cJSON *labels = cJSON_AddArrayToObject(o, "labels");
        for (size_t i = 0; i < n->n_labels; i++)
                cJSON_AddItemToArray(labels, cJSON_CreateString(n->labels[i]));
        if (n->has_log_streams)
                cJSON_AddNumberToObject(o, "log_streams", n->log_streams);
        brm_rfc3339(n->created_ms, ts, sizeof(ts));
        cJSON_AddStringToObject(o, "created", ts);
        if (n->last_seen_ms) {
                brm_rfc3339(n->last_seen_ms, ts, sizeof(ts));
                cJSON_AddStringToObject(o, "last_seen", ts);
                cJSON_AddNumberToObject(o, "last_seen_ms", (double)n->last_seen_ms);
        } else {
                cJSON_AddNullToObject(o, "last_seen");
        }
        if (in) {
                if (in->arch)
                        cJSON_AddStringToObject(o, "arch", in->arch);
                if (in->model)
                        cJSON_AddStringToObject(o, "model", in->model);
                if (in->serial)
                        cJSON_AddStringToObject(o, "serial", in->serial);
                if (in->kernel)
                        cJSON_AddStringToObject(o, "kernel", in->kernel);
                if (in->os)
                        cJSON_AddStringToObject(o, "os", in->os);
                if (in->os_version)
                        cJSON_AddStringToObject(o, "os_version", in->os_version);
                if (in->slot)
                        cJSON_AddStringToObject(o, "slot", in->slot);
                if (in->has_cpu_count)
                        cJSON_AddNumberToObject(o, "cpu_count", in->cpu_count);
                if (in->has_cgroup_version)
                        cJSON_AddNumberToObject(o, "cgroup_version", in->cgroup_version);
                cJSON *ctl = cJSON_AddArrayToObject(o, "cgroup_controllers");
                for (size_t i = 0; i < in->n_cgroup_controllers; i++)
                        cJSON_AddItemToArray(ctl, cJSON_CreateString(in->cgroup_controllers[i]));
                if (in->agent_version)
                        cJSON_AddStringToObject(o, "agent_version", in->agent_version);
                if (in->runtime)
                        cJSON_AddStringToObject(o, "runtime", in->runtime);
                if (in->has_memory_controller)
                        cJSON_AddBoolToObject(o, "memory_controller", in->memory_controller);
                if (in->has_mem_total_bytes)
                        cJSON_AddNumberToObject(o, "mem_total_bytes", (double)in->mem_total_bytes);
        }
        if (brm_node_update(n))
                cJSON_AddItemToObject(o, "update", brm_json_update(brm_node_update(n)));
        if (hb) {
                if (hb->has_uptime_ms)
                        cJSON_AddNumberToObject(o, "uptime_ms", (double)hb->uptime_ms);
                if (hb->has_cpu_percent)
                        cJSON_AddNumberToObject(o, "cpu_percent", (double)(int)(hb->cpu_percent * 10 + 0.5) / 10);
                if (hb->has_load1) {
                        cJSON_AddNumberToObject(o, "load1", round2(hb->load1));
                        cJSON_AddNumberToObject(o, "load5", round2(hb->load5));
                        cJSON_AddNumberToObject(o, "load15", round2(hb->load15));
                }
                if (hb->has_mem_total_bytes) {
                        cJSON_DeleteItemFromObject(o, "mem_total_bytes");
                        cJSON_AddNumberToObject(o, "mem_total_bytes", (double)hb->mem_total_bytes);
                        cJSON_AddNumberToObject(o, "mem_available_bytes", (double)hb->mem_available_bytes);
                }
                if (hb->has_disk_total_bytes) {
                        cJSON_AddNumberToObject(o, "disk_total_bytes", (double)hb->disk_total_bytes);
                        cJSON_AddNumberToObject(o, "disk_free_bytes", (double)hb->disk_free_bytes);
                }
                if (hb->has_net_rx_bytes) {
                        cJSON_AddNumberToObject(o, "net_rx_bytes", (double)hb->net_rx_bytes);
                        cJSON_AddNumberToObject(o, "net_tx_bytes", (double)hb->net_tx_bytes);
                }
                if (hb->net_iface)
                        cJSON_AddStringToObject(o, "net_iface", hb->net_iface);
                if (hb->net_addr)
                        cJSON_AddStringToObject(o, "net_addr", hb->net_addr);
                if (hb->has_wifi_signal_dbm)
                        cJSON_AddNumberToObject(o, "wifi_signal_dbm", hb->wifi_signal_dbm);
                if (hb->has_log_streams)
                        cJSON_AddNumberToObject(o, "node_log_streams", hb->log_streams);
                if (hb->has_agent_rss_bytes)
                        cJSON_AddNumberToObject(o, "agent_rss_bytes", (double)hb->agent_rss_bytes);
                if (hb->has_shim_rss_bytes)
                        cJSON_AddNumberToObject(o, "shim_rss_bytes", (double)hb->shim_rss_bytes);
                if (hb->persist_error)
                        cJSON_AddStringToObject(o, "persist_error", hb->persist_error);
                if (hb->has_temp_celsius)
                        cJSON_AddNumberToObject(o, "temp_celsius", (double)(int)(hb->temp_celsius * 10 + 0.5) / 10);
                if (hb->throttle) {
                        const Bramble__Throttle *t = hb->throttle;
                        cJSON *th = cJSON_AddObjectToObject(o, "throttle");
                        cJSON_AddNumberToObject(th, "raw", t->raw);
                        cJSON_AddBoolToObject(th, "under_voltage", t->under_voltage);
                        cJSON_AddBoolToObject(th, "freq_capped", t->freq_capped);
                        cJSON_AddBoolToObject(th, "throttled", t->throttled);
                        cJSON_AddBoolToObject(th, "soft_temp_limit", t->soft_temp_limit);
                        cJSON_AddBoolToObject(th, "under_voltage_occurred", t->under_voltage_occurred);
                        cJSON_AddBoolToObject(th, "freq_capped_occurred", t->freq_capped_occurred);
                        cJSON_AddBoolToObject(th, "throttled_occurred", t->throttled_occurred);
                        cJSON_AddBoolToObject(th, "soft_temp_limit_occurred", t->soft_temp_limit_occurred);
                }
        }
        return o;
}

/* The labels, "k=v,k=v" (the operator's first), cut with "..." to fit;
 * "-" for none. -o json has them whole. */
cJSON *brm_json_ps_entry(const Bramble__PsEntry *e)
{
        const Bramble__ContainerStatus *st = e->status;
        const char *node = e->node;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "node", node);
        cJSON_AddStringToObject(o, "name", st->name ? st->name : "");
        cJSON_AddStringToObject(o, "image", st->image ? st->image : "");
        cJSON_AddStringToObject(o, "state", st->state ? st->state : "");
        if (e->service)
                cJSON_AddStringToObject(o, "service", e->service);
        else
                cJSON_AddNullToObject(o, "service");
        if (st->health)
                cJSON_AddStringToObject(o, "health", st->health);
        else
                cJSON_AddNullToObject(o, "health");
        if (st->health_log)
                cJSON_AddStringToObject(o, "health_log", st->health_log);
        if (st->has_since_ms)
                cJSON_AddNumberToObject(o, "since_ms", (double)st->since_ms);
        cJSON_AddNumberToObject(o, "pid", st->has_pid ? st->pid : 0);
        cJSON_AddNumberToObject(o, "restarts", st->restarts);
        if (st->has_exit_code)
                cJSON_AddNumberToObject(o, "exit_code", st->exit_code);
        else
                cJSON_AddNullToObject(o, "exit_code");
        cJSON_AddNumberToObject(o, "oom_kills", st->oom_kills);
        if (st->has_memory_bytes)
                cJSON_AddNumberToObject(o, "memory_bytes", (double)st->memory_bytes);
        else
                cJSON_AddNullToObject(o, "memory_bytes");
        if (st->has_cpu_percent)
                cJSON_AddNumberToObject(o, "cpu_percent", (double)(long long)(st->cpu_percent * 10 + 0.5) / 10);
        else
                cJSON_AddNullToObject(o, "cpu_percent");
        cJSON_AddStringToObject(o, "reason", st->reason ? st->reason : "");
        cJSON_AddStringToObject(o, "security", e->security ? e->security : "");
        if (e->node_persist_error)
                cJSON_AddStringToObject(o, "node_persist_error", e->node_persist_error);
        return o;
}

static const char *str(const char *s)
{
        return s ? s : "";
}

static cJSON *str_array(char *const *v, size_t n)
{
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
}

cJSON *brm_svc_health_json(const Bramble__HealthCheck *h)
{
        cJSON *o;

        if (!h)
                return NULL;
        o = cJSON_CreateObject();
        if (h->cmd)
                cJSON_AddStringToObject(o, "cmd", h->cmd);
        if (h->has_http_port && h->http_port) {
                cJSON_AddNumberToObject(o, "http_port", h->http_port);
                cJSON_AddStringToObject(o, "http_path", h->http_path ? h->http_path : "/");
        }
        if (h->has_tcp_port && h->tcp_port)
                cJSON_AddNumberToObject(o, "tcp_port", h->tcp_port);
        cJSON_AddNumberToObject(o, "interval_ms", brm_health_interval(h));
        cJSON_AddNumberToObject(o, "timeout_ms", brm_health_timeout(h));
        cJSON_AddNumberToObject(o, "retries", brm_health_retries(h));
        cJSON_AddNumberToObject(o, "start_period_ms", h->has_start_period_ms ? h->start_period_ms : 0);
        return o;
}

cJSON *brm_svc_container_json(const Bramble__ContainerSpec *sp)
{
        cJSON *o = cJSON_CreateObject(), *h;

        if (!sp)
                return o;
        cJSON_AddStringToObject(o, "image", str(sp->image));
        if (sp->has_memory_max)
                cJSON_AddNumberToObject(o, "memory_max", (double)sp->memory_max);
        if (sp->has_memory_high)
                cJSON_AddNumberToObject(o, "memory_high", (double)sp->memory_high);
        if (sp->has_cpu_millis)
                cJSON_AddNumberToObject(o, "cpus", sp->cpu_millis / 1000.0);
        if (sp->has_pids_max)
                cJSON_AddNumberToObject(o, "pids_max", sp->pids_max);
        cJSON_AddStringToObject(o, "restart", sp->restart && sp->restart[0] ? sp->restart : "always");
        cJSON_AddStringToObject(o, "network", sp->network && sp->network[0] ? sp->network : "host");
        cJSON_AddStringToObject(o, "workdir", str(sp->workdir));
        cJSON_AddItemToObject(o, "args", str_array(sp->args, sp->n_args));
        cJSON_AddItemToObject(o, "env", str_array(sp->env, sp->n_env));
        cJSON_AddItemToObject(o, "cap_add", str_array(sp->cap_add, sp->n_cap_add));
        cJSON_AddItemToObject(o, "cap_drop", str_array(sp->cap_drop, sp->n_cap_drop));
        cJSON_AddStringToObject(o, "seccomp", !sp->seccomp || !sp->seccomp[0] ? "default"
                                              : strcmp(sp->seccomp, "unconfined") == 0 ? "unconfined"
                                                                                        : "custom");
        if ((h = brm_svc_health_json(sp->health)))
                cJSON_AddItemToObject(o, "health", h);
        else
                cJSON_AddNullToObject(o, "health");
        cJSON_AddNumberToObject(o, "disconnect_stop_ms", sp->has_disconnect_stop_ms ? (double)sp->disconnect_stop_ms : 0);
        return o;
}

static cJSON *spec_json(const Bramble__ServiceSpec *sp)
{
        const Bramble__UpdatePolicy *u;
        cJSON *o, *up;

        if (!sp)
                return cJSON_CreateNull();
        u = sp->update;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", str(sp->name));
        cJSON_AddNumberToObject(o, "replicas", sp->replicas);
        cJSON_AddItemToObject(o, "container", brm_svc_container_json(sp->container));
        cJSON_AddItemToObject(o, "constraints", str_array(sp->constraints, sp->n_constraints));
        cJSON_AddNumberToObject(o, "max_per_node", sp->has_max_per_node ? sp->max_per_node : 0);
        up = cJSON_AddObjectToObject(o, "update");
        cJSON_AddNumberToObject(up, "parallelism", brm_update_parallelism(u));
        cJSON_AddNumberToObject(up, "monitor_ms", brm_update_monitor(u));
        cJSON_AddNumberToObject(up, "max_failures", u && u->has_max_failures ? u->max_failures : 0);
        cJSON_AddStringToObject(up, "order", brm_update_stop_first(u) ? "stop-first" : "start-first");
        return o;
}

cJSON *brm_svc_json(const Bramble__ServiceInfo *s)
{
        const Bramble__ServiceSpec *sp = s->spec;
        cJSON *o = cJSON_CreateObject(), *reps;
        char ts[32];

        cJSON_AddStringToObject(o, "name", sp ? str(sp->name) : "");
        cJSON_AddNumberToObject(o, "version", (double)s->version);
        cJSON_AddStringToObject(o, "image", sp && sp->container ? str(sp->container->image) : "");
        cJSON_AddNumberToObject(o, "desired", sp ? sp->replicas : 0);
        cJSON_AddNumberToObject(o, "running", s->running);
        cJSON_AddNumberToObject(o, "healthy", s->healthy);
        cJSON_AddStringToObject(o, "update_state", str(s->update_state));
        cJSON_AddStringToObject(o, "update_reason", str(s->update_reason));
        cJSON_AddStringToObject(o, "pending_reason", str(s->pending_reason));
        if (s->created_ms) {
                brm_rfc3339(s->created_ms, ts, sizeof(ts));
                cJSON_AddStringToObject(o, "created", ts);
        }
        if (s->updated_ms) {
                brm_rfc3339(s->updated_ms, ts, sizeof(ts));
                cJSON_AddStringToObject(o, "updated", ts);
        }
        cJSON_AddItemToObject(o, "spec", spec_json(sp));
        cJSON_AddItemToObject(o, "previous", spec_json(s->previous));
        reps = cJSON_AddArrayToObject(o, "replicas");
        for (size_t i = 0; i < s->n_replicas; i++) {
                const Bramble__ServiceReplica *r = s->replicas[i];
                const Bramble__ContainerStatus *st = r->status;
                cJSON *x = cJSON_CreateObject();
                cJSON_AddItemToArray(reps, x);
                cJSON_AddStringToObject(x, "name", str(r->name));
                if (r->node)
                        cJSON_AddStringToObject(x, "node", r->node);
                else
                        cJSON_AddNullToObject(x, "node");
                cJSON_AddNumberToObject(x, "version", (double)r->version);
                cJSON_AddStringToObject(x, "state", st ? str(st->state) : "pending");
                if (st && st->health)
                        cJSON_AddStringToObject(x, "health", st->health);
                else
                        cJSON_AddNullToObject(x, "health");
                if (st && st->health_log)
                        cJSON_AddStringToObject(x, "health_log", st->health_log);
                cJSON_AddNumberToObject(x, "restarts", st ? st->restarts : 0);
                if (st && st->has_since_ms)
                        cJSON_AddNumberToObject(x, "since_ms", (double)st->since_ms);
                else
                        cJSON_AddNullToObject(x, "since_ms");
                cJSON_AddStringToObject(x, "reason", st ? str(st->reason) : "");
        }
        return o;
}

