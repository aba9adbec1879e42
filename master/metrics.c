/* Prometheus metrics of the cluster and of the master (text exposition
 * format 0.0.4).
 *
 * A scrape walks the nodes once, in name order. Each node's NodeInfo and
 * last heartbeat are unpacked once, into an arena that is reset for the
 * next node, and each series goes straight into the buffer of its family;
 * the families are joined at the end, each under one HELP and TYPE. Numbers
 * are written by hand (integers exactly, floats with a fixed precision),
 * not through printf: a scrape of a thousand nodes stays in milliseconds.
 *
 * Names follow Prometheus' conventions (base units, _total counters) and,
 * where node_exporter or cAdvisor has a name for the same thing, that name
 * under the bramble_ prefix. The metrics a heartbeat carries are given only
 * for Ready nodes: a NotReady node's last heartbeat is old news, and a
 * flat line of it would look alive on a graph. Every known node has
 * bramble_node_ready and bramble_node_info. */
#include "metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"
#include "mtext.h"
#include "server.h"
#include "util.h"

enum fam {
        F_READY, F_INFO, F_SCHED, F_LABELS, F_AGE, F_LAST_SEEN, F_BOOT, F_CPU, F_CPUS, F_LOAD1, F_LOAD5, F_LOAD15,
        F_MEMTOTAL, F_MEMAVAIL, F_FSSIZE, F_FSAVAIL, F_RX, F_TX, F_TEMP, F_THROTTLED, F_AGENT_RSS, F_SHIM_RSS,
        F_LINK, F_WIFI,
        F_C_STATE, F_C_RESTARTS, F_C_OOM, F_C_MEM, F_C_CPU,
        F_S_DESIRED, F_S_RUNNING, F_S_READY,
        F_COUNT
};

static const struct family {
        const char *name, *type, *help;
} fams[F_COUNT] = {
        [F_READY] = { "bramble_node_ready", "gauge", "1 while the node is Ready (heartbeats arriving), else 0." },
        [F_INFO] = { "bramble_node_info", "gauge", "What the node told of itself when it connected; always 1." },
        [F_SCHED] = { "bramble_node_scheduling", "gauge",
                "The node's scheduling state (schedulable, cordoned, draining); always 1." },
        [F_LABELS] = { "bramble_node_labels", "gauge", "The operator's node labels, as label_KEY labels; always 1." },
        [F_AGE] = { "bramble_node_heartbeat_age_seconds", "gauge",
                "Seconds since the node's last heartbeat reached the master (nodes heard from since it started)." },
        [F_LAST_SEEN] = { "bramble_node_last_seen_timestamp_seconds", "gauge",
                "When the master last heard from the node (Unix time)." },
        [F_BOOT] = { "bramble_node_boot_time_seconds", "gauge", "When the node booted (Unix time), from its uptime." },
        [F_CPU] = { "bramble_node_cpu_usage_ratio", "gauge",
                "Share of all the node's CPU time spent busy over the last heartbeat interval (0 to 1)." },
        [F_CPUS] = { "bramble_node_cpus", "gauge", "CPU cores the node has." },
        [F_LOAD1] = { "bramble_node_load1", "gauge", "1-minute load average." },
        [F_LOAD5] = { "bramble_node_load5", "gauge", "5-minute load average." },
        [F_LOAD15] = { "bramble_node_load15", "gauge", "15-minute load average." },
        [F_MEMTOTAL] = { "bramble_node_memory_total_bytes", "gauge",
                "Memory the kernel can use (MemTotal in /proc/meminfo)." },
        [F_MEMAVAIL] = { "bramble_node_memory_available_bytes", "gauge",
                "Memory available to start new work without swapping (MemAvailable)." },
        [F_FSSIZE] = { "bramble_node_filesystem_size_bytes", "gauge",
                "Size of the file system holding the agent's state (containers, images, logs)." },
        [F_FSAVAIL] = { "bramble_node_filesystem_avail_bytes", "gauge",
                "Bytes of that file system available to unprivileged users." },
        [F_RX] = { "bramble_node_network_receive_bytes_total", "counter",
                "Bytes received on all network interfaces but loopback." },
        [F_TX] = { "bramble_node_network_transmit_bytes_total", "counter",
                "Bytes sent on all network interfaces but loopback." },
        [F_TEMP] = { "bramble_node_temperature_celsius", "gauge", "SoC temperature." },
        [F_THROTTLED] = { "bramble_node_throttled", "gauge",
                "Raspberry Pi firmware throttling flags: 1 when the condition holds now (when=now) or has held "
                "since boot (when=since_boot)." },
        [F_AGENT_RSS] = { "bramble_node_agent_resident_memory_bytes", "gauge", "Resident memory of the node's agent." },
        [F_SHIM_RSS] = { "bramble_node_shim_resident_memory_bytes", "gauge",
                "Resident memory of the node's container shims together." },
        [F_LINK] = { "bramble_node_network_link_info", "gauge",
                "The interface and local address the node reaches the master from; always 1." },
        [F_WIFI] = { "bramble_node_wifi_signal_dbm", "gauge",
                "Wi-Fi signal of the interface the node reaches the master from, in dBm." },
        [F_C_STATE] = { "bramble_container_state", "gauge",
                "The container's state (pending, running, exited, backoff, failed, stopped); always 1." },
        [F_C_RESTARTS] = { "bramble_container_restarts_total", "counter", "Times the node restarted the container." },
        [F_C_OOM] = { "bramble_container_oom_kills_total", "counter",
                "Processes of the container killed for want of memory." },
        [F_C_MEM] = { "bramble_container_memory_working_set_bytes", "gauge",
                "The container's memory use less inactive file cache." },
        [F_C_CPU] = { "bramble_container_cpu_usage_seconds_total", "counter",
                "CPU time the container's cgroup has used (from 0 again after a restart)." },
        [F_S_DESIRED] = { "bramble_service_replicas_desired", "gauge", "Replicas the service asks for." },
        [F_S_RUNNING] = { "bramble_service_replicas_running", "gauge", "Replicas running on Ready nodes." },
        [F_S_READY] = { "bramble_service_replicas_ready", "gauge",
                "Running replicas that are healthy, or have no health check." },
};

struct arena {
        uint8_t *base;
        size_t used, cap;
        struct arena_big *big;
};

/* Services by name, for the service label of a replica's container. */
struct svc_index {
        struct brm_service **slot;
        size_t mask;
};

struct render {
        struct brm_master *m;
        struct brm_mtext fam[F_COUNT];
        size_t name_len[F_COUNT];
        struct brm_mtext lab;    /* the current node's node="…" */
        struct brm_mtext clab;   /* the current container's labels */
        struct arena arena;
        struct svc_index svc;
        uint64_t now_mono;
};

/* Starts a series of family f: its name and labels, then a space. */
static struct brm_mtext *series(struct render *x, enum fam f, const struct brm_mtext *labels)
{
        struct brm_mtext *b = &x->fam[f];

        brm_mtext_put(b, fams[f].name, x->name_len[f]);
        brm_mtext_putc(b, '{');
        brm_mtext_put(b, labels->p, labels->len);
        brm_mtext_put(b, "} ", 2);
        return b;
}

static void gauge_u64(struct render *x, enum fam f, const struct brm_mtext *labels, uint64_t v)
{
        struct brm_mtext *b = series(x, f, labels);
        brm_mtext_u64(b, v);
        brm_mtext_putc(b, '\n');
}

static void gauge_float(struct render *x, enum fam f, const struct brm_mtext *labels, double v, unsigned digits)
{
        struct brm_mtext *b = series(x, f, labels);
        brm_mtext_float(b, v, digits);
        brm_mtext_putc(b, '\n');
}

/* ---- an arena for unpacking ----
 *
 * A node's NodeInfo and heartbeat are unpacked into one block that is
 * reused for the next node; what does not fit (a heartbeat with hundreds
 * of containers) gets blocks of its own, freed at the reset. */

struct arena_big {
        struct arena_big *next;
        max_align_t data[];
};

static int arena_init(struct arena *a, size_t cap)
{
        a->used = 0;
        a->big = NULL;
        a->cap = cap;
        return (a->base = malloc(cap)) ? 0 : -ENOMEM;
}

static void *arena_alloc(void *data, size_t size)
{
        struct arena *a = data;
        struct arena_big *big;

        size = (size + 15) & ~(size_t)15;
        if (size <= a->cap - a->used) {
                void *p = a->base + a->used;
                a->used += size;
                return p;
        }
        if (!(big = malloc(sizeof(*big) + size)))
                return NULL;
        big->next = a->big;
        a->big = big;
        return big->data;
}

static void arena_nofree(void *data, void *p)
{
        (void)data;
        (void)p;
}

static ProtobufCAllocator arena_allocator(struct arena *a)
{
        return (ProtobufCAllocator){ .alloc = arena_alloc, .free = arena_nofree, .allocator_data = a };
}

static void arena_reset(struct arena *a)
{
        while (a->big) {
                struct arena_big *next = a->big->next;
                free(a->big);
                a->big = next;
        }
        a->used = 0;
}

static void arena_destroy(struct arena *a)
{
        arena_reset(a);
        free(a->base);
        a->base = NULL;
}

/* ---- services ---- */

static uint64_t hash_name(const char *s, size_t n)
{
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
        return h;
}

static int svc_index_build(struct svc_index *ix, struct brm_master *m)
{
        size_t size = 8;

        while (size < m->svc.count * 2)
                size <<= 1;
        if (!(ix->slot = calloc(size, sizeof(*ix->slot))))
                return -ENOMEM;
        ix->mask = size - 1;
        for (struct brm_service *s = m->svc.list; s; s = s->next) {
                size_t i = hash_name(s->name, strlen(s->name)) & ix->mask;
                while (ix->slot[i])
                        i = (i + 1) & ix->mask;
                ix->slot[i] = s;
        }
        return 0;
}

/* The service whose replica a container named SERVICE.N is, or NULL. */
static const struct brm_service *service_of(const struct svc_index *ix, const char *name)
{
        const char *dot = strrchr(name, '.');
        size_t n;

        if (!dot || !dot[1] || dot == name)
                return NULL;
        for (const char *p = dot + 1; *p; p++)
                if (*p < '0' || *p > '9')
                        return NULL;
        n = (size_t)(dot - name);
        for (size_t i = hash_name(name, n) & ix->mask; ix->slot[i]; i = (i + 1) & ix->mask)
                if (strncmp(ix->slot[i]->name, name, n) == 0 && ix->slot[i]->name[n] == '\0')
                        return ix->slot[i];
        return NULL;
}

static void render_services(struct render *x)
{
        struct brm_mtext *lab = &x->lab;

        for (struct brm_service *s = x->m->svc.list; s; s = s->next) {
                unsigned running = 0, ready = 0;
                for (const struct brm_replica *r = s->replicas; r; r = r->next) {
                        const struct brm_node *n = brm_registry_get(&x->m->reg, r->node);
                        const struct brm_brief *b = n && n->ready ? brm_registry_brief(n, r->name) : NULL;
                        if (b && b->state == BRM_BRIEF_RUNNING) {
                                running++;
                                ready += b->health == BRM_HEALTH_NONE || b->health == BRM_HEALTH_HEALTHY;
                        }
                }
                lab->len = 0;
                brm_mtext_label(lab, false, "service", s->name);
                gauge_u64(x, F_S_DESIRED, lab, s->spec && s->spec->has_replicas ? s->spec->replicas : 0);
                gauge_u64(x, F_S_RUNNING, lab, running);
                gauge_u64(x, F_S_READY, lab, ready);
        }
}

/* ---- nodes ---- */

static void render_info(struct render *x, const struct brm_node *n, const Bramble__NodeInfo *info)
{
        struct brm_mtext *b = &x->clab;

        b->len = 0;
        brm_mtext_put(b, x->lab.p, x->lab.len);
        brm_mtext_label(b, true, "model", info ? info->model : NULL);
        brm_mtext_label(b, true, "kernel", info ? info->kernel : NULL);
        brm_mtext_label(b, true, "arch", info ? info->arch : NULL);
        brm_mtext_label(b, true, "agent_version", info ? info->agent_version : NULL);
        brm_mtext_label(b, true, "os", info ? info->os : NULL);
        brm_mtext_label(b, true, "runtime", info ? info->runtime : NULL);
        brm_mtext_label(b, true, "os_version", info ? info->os_version : NULL);
        brm_mtext_label(b, true, "slot", info ? info->slot : NULL);
        gauge_u64(x, F_INFO, b, 1);
        if (info && info->has_cpu_count)
                gauge_u64(x, F_CPUS, &x->lab, info->cpu_count);
        b->len = 0;
        brm_mtext_put(b, x->lab.p, x->lab.len);
        brm_mtext_label(b, true, "state", n->schedule[0] ? n->schedule : "schedulable");
        gauge_u64(x, F_SCHED, b, 1);
}

/* The operator's "key=value" lines as label_KEY="value" (kube-state-metrics'
 * kube_node_labels): characters a label name cannot hold become '_', and
 * a key that comes out the same as an earlier one is left out. */
static void render_labels(struct render *x, const struct brm_node *n)
{
        struct brm_mtext *b = &x->clab;
        char names[32][80], key[80], val[256];
        size_t count = 0;

        if (!n->labels)
                return;
        b->len = 0;
        brm_mtext_put(b, x->lab.p, x->lab.len);
        for (const char *p = n->labels; *p && count < 32;) {
                const char *end = strchr(p, '\n'), *eq;
                size_t len = end ? (size_t)(end - p) : strlen(p), k = 0, klen, vlen;
                bool dup = false;

                eq = memchr(p, '=', len);
                if (eq && eq > p) {
                        klen = (size_t)(eq - p);
                        vlen = len - klen - 1;
                        k = (size_t)snprintf(key, sizeof(key), "label_%.*s", (int)klen, p);
                        for (size_t i = 6; i < k && i < sizeof(key) - 1; i++)
                                if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
                                      (key[i] >= '0' && key[i] <= '9')))
                                        key[i] = '_';
                        for (size_t i = 0; i < count && !dup; i++)
                                dup = strcmp(names[i], key) == 0;
                        if (!dup) {
                                snprintf(names[count++], sizeof(names[0]), "%s", key);
                                snprintf(val, sizeof(val), "%.*s", (int)vlen, eq + 1);
                                brm_mtext_label(b, true, key, val);
                        }
                }
                p += len + (end != NULL);
        }
        if (count)
                gauge_u64(x, F_LABELS, b, 1);
}

static void render_throttle(struct render *x, const Bramble__Throttle *t)
{
        static const char *const reasons[4] = { "under_voltage", "freq_capped", "throttled", "soft_temp_limit" };
        const protobuf_c_boolean has[8] = { t->has_under_voltage, t->has_freq_capped, t->has_throttled,
                                            t->has_soft_temp_limit, t->has_under_voltage_occurred,
                                            t->has_freq_capped_occurred, t->has_throttled_occurred,
                                            t->has_soft_temp_limit_occurred };
        const protobuf_c_boolean v[8] = { t->under_voltage, t->freq_capped, t->throttled, t->soft_temp_limit,
                                          t->under_voltage_occurred, t->freq_capped_occurred, t->throttled_occurred,
                                          t->soft_temp_limit_occurred };
        struct brm_mtext *b = &x->clab;

        for (int i = 0; i < 8; i++) {
                if (!has[i])
                        continue;
                b->len = 0;
                brm_mtext_put(b, x->lab.p, x->lab.len);
                brm_mtext_label(b, true, "reason", reasons[i % 4]);
                brm_mtext_label(b, true, "when", i < 4 ? "now" : "since_boot");
                gauge_u64(x, F_THROTTLED, b, v[i] ? 1 : 0);
        }
}

static void render_container(struct render *x, const Bramble__ContainerStatus *c)
{
        struct brm_mtext *b = &x->clab, *o;
        const struct brm_service *svc;

        if (!c->name)
                return;
        b->len = 0;
        brm_mtext_put(b, x->lab.p, x->lab.len);
        brm_mtext_label(b, true, "container", c->name);
        if ((svc = service_of(&x->svc, c->name)))
                brm_mtext_label(b, true, "service", svc->name);
        if (c->has_restarts)
                gauge_u64(x, F_C_RESTARTS, b, c->restarts);
        if (c->has_oom_kills)
                gauge_u64(x, F_C_OOM, b, c->oom_kills);
        if (c->has_memory_bytes)
                gauge_u64(x, F_C_MEM, b, c->memory_bytes);
        if (c->has_cpu_usage_usec) {
                o = series(x, F_C_CPU, b);
                brm_mtext_fixed(o, c->cpu_usage_usec, 6);
                brm_mtext_putc(o, '\n');
        }
        if (c->state) {
                brm_mtext_label(b, true, "state", c->state);
                gauge_u64(x, F_C_STATE, b, 1);
        }
}

static void render_heartbeat(struct render *x, const struct brm_node *n, const Bramble__Heartbeat *hb)
{
        const struct brm_mtext *lab = &x->lab;

        if (hb->has_uptime_ms && n->last_seen_ms > 0 && (int64_t)hb->uptime_ms <= n->last_seen_ms)
                gauge_float(x, F_BOOT, lab, (double)(n->last_seen_ms - (int64_t)hb->uptime_ms) / 1000.0, 0);
        if (hb->has_cpu_percent)
                gauge_float(x, F_CPU, lab, hb->cpu_percent / 100.0, 4);
        if (hb->has_load1)
                gauge_float(x, F_LOAD1, lab, hb->load1, 2);
        if (hb->has_load5)
                gauge_float(x, F_LOAD5, lab, hb->load5, 2);
        if (hb->has_load15)
                gauge_float(x, F_LOAD15, lab, hb->load15, 2);
        if (hb->has_mem_total_bytes)
                gauge_u64(x, F_MEMTOTAL, lab, hb->mem_total_bytes);
        if (hb->has_mem_available_bytes)
                gauge_u64(x, F_MEMAVAIL, lab, hb->mem_available_bytes);
        if (hb->has_disk_total_bytes)
                gauge_u64(x, F_FSSIZE, lab, hb->disk_total_bytes);
        if (hb->has_disk_free_bytes)
                gauge_u64(x, F_FSAVAIL, lab, hb->disk_free_bytes);
        if (hb->has_net_rx_bytes)
                gauge_u64(x, F_RX, lab, hb->net_rx_bytes);
        if (hb->has_net_tx_bytes)
                gauge_u64(x, F_TX, lab, hb->net_tx_bytes);
        if (hb->has_temp_celsius)
                gauge_float(x, F_TEMP, lab, hb->temp_celsius, 1);
        if (hb->throttle)
                render_throttle(x, hb->throttle);
        if (hb->net_iface) {
                struct brm_mtext *b = &x->clab;
                b->len = 0;
                brm_mtext_put(b, x->lab.p, x->lab.len);
                brm_mtext_label(b, true, "interface", hb->net_iface);
                brm_mtext_label(b, true, "address", hb->net_addr ? hb->net_addr : "");
                gauge_u64(x, F_LINK, b, 1);
        }
        if (hb->has_wifi_signal_dbm)
                gauge_float(x, F_WIFI, lab, hb->wifi_signal_dbm, 0);
        if (hb->has_agent_rss_bytes)
                gauge_u64(x, F_AGENT_RSS, lab, hb->agent_rss_bytes);
        if (hb->has_shim_rss_bytes)
                gauge_u64(x, F_SHIM_RSS, lab, hb->shim_rss_bytes);
        for (size_t i = 0; i < hb->n_containers; i++)
                render_container(x, hb->containers[i]);
}

static void render_node(struct render *x, struct brm_node *n)
{
        ProtobufCAllocator a = arena_allocator(&x->arena);
        Bramble__NodeInfo *info = NULL;
        Bramble__Heartbeat *hb = NULL;

        x->lab.len = 0;
        brm_mtext_label(&x->lab, false, "node", n->name);
        gauge_u64(x, F_READY, &x->lab, n->ready);
        if (n->info)
                info = bramble__node_info__unpack(&a, n->info_len, n->info);
        render_info(x, n, info);
        render_labels(x, n);
        if (n->last_seen_mono)
                gauge_float(x, F_AGE, &x->lab, (double)(x->now_mono - n->last_seen_mono) / 1000.0, 3);
        if (n->last_seen_ms > 0)
                gauge_float(x, F_LAST_SEEN, &x->lab, (double)n->last_seen_ms / 1000.0, 3);
        if (n->ready && n->last_hb && (hb = bramble__heartbeat__unpack(&a, n->last_hb_len, n->last_hb)))
                render_heartbeat(x, n, hb);
        arena_reset(&x->arena);
}

static int cmp_node(const void *a, const void *b)
{
        return strcmp((*(struct brm_node *const *)a)->name, (*(struct brm_node *const *)b)->name);
}

/* ---- the whole ---- */

static void render_free(struct render *x)
{
        for (int f = 0; f < F_COUNT; f++)
                brm_mtext_free(&x->fam[f]);
        brm_mtext_free(&x->lab);
        brm_mtext_free(&x->clab);
        arena_destroy(&x->arena);
        free(x->svc.slot);
}

int brm_metrics_render(struct brm_master *m, char **out, size_t *len)
{
        struct render x = { .m = m };
        struct brm_node **nodes = NULL;
        struct brm_mtext o = { 0 };
        size_t n = 0, total = 0;
        bool oom;

        x.now_mono = brm_mono_ms();
        for (int f = 0; f < F_COUNT; f++)
                x.name_len[f] = strlen(fams[f].name);
        if (arena_init(&x.arena, 64 * 1024) < 0 || svc_index_build(&x.svc, m) < 0 ||
            (m->reg.count && !(nodes = malloc(m->reg.count * sizeof(*nodes))))) {
                render_free(&x);
                return -ENOMEM;
        }
        for (size_t b = 0; b < m->reg.n_buckets; b++)
                for (struct brm_node *nd = m->reg.buckets[b]; nd && n < m->reg.count; nd = nd->hnext)
                        nodes[n++] = nd;
        qsort(nodes, n, sizeof(*nodes), cmp_node);
        for (size_t i = 0; i < n; i++)
                render_node(&x, nodes[i]);
        free(nodes);
        render_services(&x);
        oom = x.lab.oom || x.clab.oom;
        for (int f = 0; f < F_COUNT; f++) {
                oom |= x.fam[f].oom;
                total += x.fam[f].len + 256;
        }
        brm_mtext_reserve(&o, total + 16384);
        for (int f = 0; f < F_COUNT && !oom; f++) {
                if (!x.fam[f].len)
                        continue;
                brm_metrics_header(&o, fams[f].name, fams[f].type, fams[f].help);
                brm_mtext_put(&o, x.fam[f].p, x.fam[f].len);
        }
        brm_metrics_master(&o, m);
        render_free(&x);
        if (oom || o.oom) {
                brm_mtext_free(&o);
                return -ENOMEM;
        }
        *out = o.p;
        *len = o.len;
        return 0;
}
