/* Services as JSON and as tables; see svcprint.h. */
#include <stdio.h>
#include <string.h>

#include "svcspec.h"
#include "util.h"

#include "common.h"
#include "svcprint.h"

static const char *str(const char *s)
{
        return s ? s : "";
}

void brm_svc_ago(int64_t since_ms, int64_t now_ms, char *out, size_t size)
{
        char age[16];

        if (since_ms <= 0) {
                snprintf(out, size, "-");
                return;
        }
        brm_format_age(now_ms > since_ms ? now_ms - since_ms : 0, age, sizeof(age));
        snprintf(out, size, "%s ago", age);
}

void brm_svc_print_ls(FILE *f, const Bramble__ServiceListResponse *l)
{
        fprintf(f, "%-24s %-36s %-11s %s\n", "NAME", "IMAGE", "REPLICAS", "UPDATE");
        for (size_t i = 0; i < l->n_services; i++) {
                const Bramble__ServiceInfo *s = l->services[i];
                const Bramble__ServiceSpec *sp = s->spec;
                char reps[40];
                snprintf(reps, sizeof(reps), "%u/%u/%u", sp ? sp->replicas : 0, s->running, s->healthy);
                fprintf(f, "%-24s %-36s %-11s %s%s%s\n", sp ? str(sp->name) : "",
                        sp && sp->container ? str(sp->container->image) : "", reps,
                        s->update_state && s->update_state[0] ? s->update_state : "-",
                        s->update_reason && s->update_reason[0] ? ": " : "", str(s->update_reason));
        }
}

void brm_svc_print_ps(FILE *f, const Bramble__ServiceInfo *s, int64_t now_ms)
{
        fprintf(f, "%-20s %-16s %-8s %-9s %8s %-10s %s\n", "REPLICA", "NODE", "STATE", "HEALTH", "RESTARTS", "SINCE", "REASON");
        for (size_t i = 0; i < s->n_replicas; i++) {
                const Bramble__ServiceReplica *r = s->replicas[i];
                const Bramble__ContainerStatus *st = r->status;
                char since[24] = "-";
                if (st && st->has_since_ms)
                        brm_svc_ago(st->since_ms, now_ms, since, sizeof(since));
                fprintf(f, "%-20s %-16s %-8s %-9s %8u %-10s %s\n", r->name && r->name[0] ? r->name : "(to place)", r->node ? r->node : "-",
                        st && st->state ? st->state : "pending", st && st->health ? st->health : "-", st ? st->restarts : 0,
                        since, st ? str(st->reason) : "");
        }
        if (s->pending_reason && s->pending_reason[0])
                fprintf(f, "PENDING: %s\n", s->pending_reason);
}

static void print_strs(FILE *f, const char *label, char *const *v, size_t n)
{
        fprintf(f, "  %-16s", label);
        if (!n)
                fprintf(f, " -");
        for (size_t i = 0; i < n; i++)
                fprintf(f, " %s", v[i]);
        fputc('\n', f);
}

static void print_health(FILE *f, const Bramble__HealthCheck *h)
{
        if (!h) {
                fprintf(f, "  %-16s none\n", "health");
                return;
        }
        if (h->cmd)
                fprintf(f, "  %-16s cmd %s", "health", h->cmd);
        else if (h->has_http_port && h->http_port)
                fprintf(f, "  %-16s http %u%s", "health", h->http_port, h->http_path ? h->http_path : "/");
        else
                fprintf(f, "  %-16s tcp %u", "health", h->tcp_port);
        fprintf(f, " (every %ums, timeout %ums, %u retries, start period %ums)\n", brm_health_interval(h),
                brm_health_timeout(h), brm_health_retries(h), h->has_start_period_ms ? h->start_period_ms : 0);
}

void brm_svc_print_inspect(FILE *f, const Bramble__ServiceInfo *s, int64_t now_ms)
{
        const Bramble__ServiceSpec *sp = s->spec;
        const Bramble__ContainerSpec *c = sp ? sp->container : NULL;
        const Bramble__UpdatePolicy *u = sp ? sp->update : NULL;
        char a[32], b[32];

        fprintf(f, "service %s (version %llu)\n", sp ? str(sp->name) : "", (unsigned long long)s->version);
        fprintf(f, "  %-16s %s\n", "image", c ? str(c->image) : "");
        fprintf(f, "  %-16s %u desired, %u running, %u healthy\n", "replicas", sp ? sp->replicas : 0, s->running, s->healthy);
        if (s->pending_reason && s->pending_reason[0])
                fprintf(f, "  %-16s %s\n", "pending", s->pending_reason);
        fprintf(f, "  %-16s %s%s%s\n", "update state", s->update_state && s->update_state[0] ? s->update_state : "-",
                s->update_reason && s->update_reason[0] ? ": " : "", str(s->update_reason));
        if (sp) {
                print_strs(f, "constraints", sp->constraints, sp->n_constraints);
                if (sp->has_max_per_node && sp->max_per_node)
                        fprintf(f, "  %-16s %u\n", "max per node", sp->max_per_node);
                else
                        fprintf(f, "  %-16s no limit (spread)\n", "max per node");
        }
        fprintf(f, "  %-16s parallelism %u, monitor %ums, max failures %u, %s\n", "update policy",
                brm_update_parallelism(u), brm_update_monitor(u), u && u->has_max_failures ? u->max_failures : 0,
                brm_update_stop_first(u) ? "stop-first" : "start-first");
        if (c) {
                a[0] = b[0] = '\0';
                if (c->has_memory_max)
                        brm_cli_human_bytes(c->memory_max, a, sizeof(a));
                if (c->has_memory_high)
                        brm_cli_human_bytes(c->memory_high, b, sizeof(b));
                fprintf(f, "  %-16s limit %s%s%s\n", "memory", a[0] ? a : "none", b[0] ? ", high " : "", b);
                if (c->has_cpu_millis)
                        fprintf(f, "  %-16s %.3g cores\n", "cpus", c->cpu_millis / 1000.0);
                if (c->has_pids_max)
                        fprintf(f, "  %-16s %u\n", "pids limit", c->pids_max);
                fprintf(f, "  %-16s %s\n", "restart", c->restart && c->restart[0] ? c->restart : "always");
                fprintf(f, "  %-16s %s\n", "network", c->network && c->network[0] ? c->network : "host");
                if (c->workdir && c->workdir[0])
                        fprintf(f, "  %-16s %s\n", "workdir", c->workdir);
                print_strs(f, "command", c->args, c->n_args);
                print_strs(f, "env", c->env, c->n_env);
                print_strs(f, "cap-add", c->cap_add, c->n_cap_add);
                print_strs(f, "cap-drop", c->cap_drop, c->n_cap_drop);
                if (c->seccomp && c->seccomp[0])
                        fprintf(f, "  %-16s %s\n", "seccomp", strcmp(c->seccomp, "unconfined") == 0 ? "unconfined" : "own profile");
                print_health(f, c->health);
                if (c->has_disconnect_stop_ms && c->disconnect_stop_ms)
                        fprintf(f, "  %-16s stop after %llums without the master\n", "on disconnect",
                                (unsigned long long)c->disconnect_stop_ms);
                else
                        fprintf(f, "  %-16s keep running\n", "on disconnect");
        }
        if (s->created_ms) {
                brm_svc_ago(s->created_ms, now_ms, a, sizeof(a));
                fprintf(f, "  %-16s %s\n", "created", a);
        }
        if (s->updated_ms) {
                brm_svc_ago(s->updated_ms, now_ms, a, sizeof(a));
                fprintf(f, "  %-16s %s\n", "updated", a);
        }
        if (s->previous && s->previous->container)
                fprintf(f, "  %-16s %s (what 'service rollback' returns to)\n", "previous image",
                        str(s->previous->container->image));
        fprintf(f, "replicas:\n");
        brm_svc_print_ps(f, s, now_ms);
}

size_t brm_svc_replicas_on(const Bramble__ServiceListResponse *l, const char *node, char *first, size_t first_size,
                           char *reason, size_t reason_size)
{
        size_t n = 0;

        first[0] = reason[0] = '\0';
        for (size_t i = 0; i < l->n_services; i++) {
                const Bramble__ServiceInfo *s = l->services[i];
                size_t before = n;
                for (size_t j = 0; j < s->n_replicas; j++) {
                        const Bramble__ServiceReplica *r = s->replicas[j];
                        if (!r->node || strcmp(r->node, node) != 0)
                                continue;
                        if (!n++)
                                snprintf(first, first_size, "%s", str(r->name));
                }
                if (n > before && !reason[0]) {
                        if (s->pending_reason && s->pending_reason[0])
                                snprintf(reason, reason_size, "%s: %s", s->spec ? str(s->spec->name) : "", s->pending_reason);
                        else if (s->update_reason && s->update_reason[0])
                                snprintf(reason, reason_size, "%s: %s", s->spec ? str(s->spec->name) : "", s->update_reason);
                }
        }
        return n;
}

size_t brm_svc_replicas_reported(const Bramble__ServiceListResponse *l, const Bramble__Heartbeat *hb, char *first,
                                 size_t first_size)
{
        size_t n = 0;

        first[0] = '\0';
        for (size_t k = 0; hb && k < hb->n_containers; k++) {
                const char *name = hb->containers[k]->name ? hb->containers[k]->name : "";
                const char *dot = strrchr(name, '.');
                if (!dot || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1))
                        continue;
                for (size_t i = 0; i < l->n_services; i++) {
                        const char *svc = l->services[i]->spec ? str(l->services[i]->spec->name) : "";
                        if (strlen(svc) == (size_t)(dot - name) && strncmp(svc, name, (size_t)(dot - name)) == 0) {
                                if (!n++)
                                        snprintf(first, first_size, "%s", name);
                                break;
                        }
                }
        }
        return n;
}
