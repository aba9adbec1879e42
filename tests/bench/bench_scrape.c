/* What one /metrics scrape costs the master: registries of 100 nodes x 20
 * containers, 1,000 x 20 and 1,000 x 0 (every node Ready, with a full
 * heartbeat and NodeInfo; half of each node's containers replicas of ten
 * services), each rendered RUNS times by brm_metrics_render. Prints the
 * text's size, its series and the CPU time per render (getrusage, user +
 * system). Asserts nothing about time.
 *
 *     bench_scrape [RUNS]      (default 20)
 *     bench_scrape --smoke     (2 runs; checks that every line parses and
 *                               the series are at least what the nodes
 *                               and containers give) */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "metrics.h"
#include "server.h"
#include "util.h"

#define SERVICES 10
#define PER_NODE_MIN 28 /* series every Ready node with a full heartbeat has */
#define PER_CTR 5       /* state, restarts, OOM kills, memory, CPU */

static int die(const char *what)
{
        fprintf(stderr, "bench_scrape: %s\n", what);
        exit(1);
}

static void set_heartbeat(struct brm_node *n, unsigned containers, unsigned idx)
{
        Bramble__Heartbeat hb = BRAMBLE__HEARTBEAT__INIT;
        Bramble__Throttle th = BRAMBLE__THROTTLE__INIT;
        Bramble__ContainerStatus *cs = calloc(containers + 1, sizeof(*cs));
        Bramble__ContainerStatus **cp = calloc(containers + 1, sizeof(*cp));
        char(*names)[64] = calloc(containers + 1, sizeof(*names));
        uint8_t *buf;
        size_t len;

        if (!cs || !cp || !names)
                die("out of memory");
        hb.has_seq = hb.has_uptime_ms = hb.has_cpu_percent = hb.has_load1 = hb.has_load5 = hb.has_load15 = 1;
        hb.seq = 1000 + idx;
        hb.uptime_ms = 86400000ull * 3 + idx;
        hb.cpu_percent = 12.5f + (float)(idx % 50);
        hb.load1 = 0.42f;
        hb.load5 = 0.37f;
        hb.load15 = 0.31f;
        hb.has_mem_total_bytes = hb.has_mem_available_bytes = hb.has_disk_total_bytes = hb.has_disk_free_bytes = 1;
        hb.mem_total_bytes = 4045000704ull;
        hb.mem_available_bytes = 2811000832ull + idx * 4096ull;
        hb.disk_total_bytes = 30945320960ull;
        hb.disk_free_bytes = 20132659200ull - idx * 1048576ull;
        hb.has_net_rx_bytes = hb.has_net_tx_bytes = hb.has_temp_celsius = 1;
        hb.net_rx_bytes = 98765432100ull + idx;
        hb.net_tx_bytes = 12345678900ull + idx;
        hb.temp_celsius = 47.2f + (float)(idx % 20);
        th.has_under_voltage = th.has_freq_capped = th.has_throttled = th.has_soft_temp_limit = 1;
        th.has_under_voltage_occurred = th.has_freq_capped_occurred = 1;
        th.has_throttled_occurred = th.has_soft_temp_limit_occurred = 1;
        th.under_voltage_occurred = idx % 7 == 0;
        hb.throttle = &th;
        hb.has_agent_rss_bytes = hb.has_shim_rss_bytes = 1;
        hb.agent_rss_bytes = 3100000 + idx;
        hb.shim_rss_bytes = 1100000ull * containers;
        for (unsigned i = 0; i < containers; i++) {
                Bramble__ContainerStatus *c = &cs[i];
                bramble__container_status__init(c);
                if (i < containers / 2)
                        snprintf(names[i], sizeof(names[i]), "svc%u.%u", i % SERVICES, idx);
                else
                        snprintf(names[i], sizeof(names[i]), "app-%u", i);
                c->name = names[i];
                c->image = "registry.example.org/team/app:1.4.2";
                c->state = "running";
                c->has_pid = c->has_restarts = c->has_oom_kills = c->has_memory_bytes = 1;
                c->pid = (int32_t)(1000 + i);
                c->restarts = i % 3;
                c->memory_bytes = 24000000ull + i * 65536ull;
                c->has_cpu_percent = c->has_cpu_usage_usec = c->has_since_ms = 1;
                c->cpu_percent = 1.5f;
                c->cpu_usage_usec = 123456789ull + i;
                c->since_ms = 1764600000000ll;
                cp[i] = c;
        }
        hb.containers = cp;
        hb.n_containers = containers;
        len = bramble__heartbeat__get_packed_size(&hb);
        if (!(buf = malloc(len)))
                die("out of memory");
        bramble__heartbeat__pack(&hb, buf);
        if (brm_registry_set_blob(&n->last_hb, &n->last_hb_len, buf, len) < 0)
                die("out of memory");
        brm_registry_briefs(n, &hb);
        free(buf);
        free(cs);
        free(cp);
        free(names);
}

static void build(struct brm_master *m, unsigned nodes, unsigned containers, struct brm_service *svc,
                  Bramble__ServiceSpec *specs)
{
        Bramble__NodeInfo info = BRAMBLE__NODE_INFO__INIT;
        struct brm_node_rec *rec = calloc(1, sizeof(*rec));
        uint8_t ib[1024];
        size_t il;

        if (!rec || brm_registry_init(&m->reg) < 0)
                die("out of memory");
        info.arch = "aarch64";
        info.model = "Raspberry Pi 4 Model B Rev 1.5";
        info.kernel = "6.12.57+deb13-arm64";
        info.agent_version = "0.9.0";
        info.os = "Debian GNU/Linux 13 (trixie)";
        info.runtime = "crun 1.21";
        info.has_cpu_count = info.has_mem_total_bytes = 1;
        info.cpu_count = 4;
        info.mem_total_bytes = 4045000704ull;
        il = bramble__node_info__pack(&info, ib);
        for (unsigned k = 0; k < SERVICES && containers; k++) {
                memset(&svc[k], 0, sizeof(svc[k]));
                bramble__service_spec__init(&specs[k]);
                specs[k].has_replicas = 1;
                specs[k].replicas = nodes;
                snprintf(svc[k].name, sizeof(svc[k].name), "svc%u", k);
                svc[k].spec = &specs[k];
                svc[k].next = k + 1 < SERVICES ? &svc[k + 1] : NULL;
        }
        m->svc.list = containers ? svc : NULL;
        m->svc.count = containers ? SERVICES : 0;
        for (unsigned i = 0; i < nodes; i++) {
                struct brm_node *n;
                snprintf(rec->name, sizeof(rec->name), "pi-%04u", i);
                if (brm_registry_put(&m->reg, rec, &n) < 0 || brm_registry_set_blob(&n->info, &n->info_len, ib, il) < 0)
                        die("out of memory");
                set_heartbeat(n, containers, i);
                n->ready = true;
                n->last_seen_ms = brm_now_ms();
                n->last_seen_mono = brm_mono_ms();
                for (unsigned c = 0; c < containers / 2; c++) {
                        struct brm_replica *r = calloc(1, sizeof(*r));
                        struct brm_service *s = &svc[c % SERVICES];
                        if (!r)
                                die("out of memory");
                        snprintf(r->name, sizeof(r->name), "svc%u.%u", c % SERVICES, i);
                        snprintf(r->node, sizeof(r->node), "%s", rec->name);
                        r->next = s->replicas;
                        s->replicas = r;
                        s->n_replicas++;
                }
        }
        free(rec);
}

static void teardown(struct brm_master *m, struct brm_service *svc)
{
        for (struct brm_service *s = m->svc.list; s; s = s->next)
                while (s->replicas) {
                        struct brm_replica *r = s->replicas;
                        s->replicas = r->next;
                        free(r);
                }
        (void)svc;
        brm_registry_free(&m->reg);
}

/* One sample line: NAME[{L="V",...}] VALUE. */
static bool sample_ok(const char *p, const char *end)
{
        char num[64], *e;

        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':'))
                return false;
        while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                           *p == '_' || *p == ':'))
                p++;
        if (p < end && *p == '{') {
                for (p++; p < end && *p != '}';) {
                        while (p < end && *p != '=')
                                p++;
                        if (p + 1 >= end || p[1] != '"')
                                return false;
                        for (p += 2; p < end && *p != '"'; p++)
                                if (*p == '\\' && ++p < end && *p != '\\' && *p != '"' && *p != 'n')
                                        return false;
                        if (p >= end)
                                return false;
                        p++;
                        if (p < end && *p == ',')
                                p++;
                }
                if (p >= end)
                        return false;
                p++;
        }
        if (p >= end || *p++ != ' ' || end - p <= 0 || (size_t)(end - p) >= sizeof(num))
                return false;
        memcpy(num, p, (size_t)(end - p));
        num[end - p] = '\0';
        strtod(num, &e);
        return *e == '\0' && e != num;
}

/* Series in the text; -1 when a line does not parse. */
static long count_series(const char *t, size_t len)
{
        const char *p = t, *end = t + len;
        long series = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl)
                        return -1;
                if (*p != '#') {
                        if (!sample_ok(p, nl))
                                return -1;
                        series++;
                }
                p = nl + 1;
        }
        return series;
}

static double cpu_ms(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv)
{
        static const unsigned cases[][2] = { { 100, 20 }, { 1000, 20 }, { 1000, 0 } };
        bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
        unsigned runs = smoke ? 2 : argc > 1 ? (unsigned)atoi(argv[1]) : 20;
        static struct brm_service svc[SERVICES];
        static Bramble__ServiceSpec specs[SERVICES];
        struct brm_master *m = calloc(1, sizeof(*m));

        if (!m || runs < 1)
                return die("usage: bench_scrape [RUNS | --smoke]");
        printf("%-16s %12s %9s %14s %14s\n", "nodes x ctrs", "bytes", "series", "cpu ms/render", "us/node");
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                unsigned nodes = cases[k][0], ctrs = cases[k][1];
                char *text = NULL, label[32];
                size_t len = 0;
                long series;
                double t0, ms;

                build(m, nodes, ctrs, svc, specs);
                /* One untimed render warms the allocator and the caches. */
                if (brm_metrics_render(m, &text, &len) < 0)
                        return die("render failed");
                series = count_series(text, len);
                free(text);
                if (series < 0)
                        return die("a line of the text does not parse");
                if (series < (long)nodes * PER_NODE_MIN + (long)nodes * ctrs * PER_CTR)
                        return die("fewer series than the nodes and containers give");
                t0 = cpu_ms();
                for (unsigned r = 0; r < runs; r++) {
                        if (brm_metrics_render(m, &text, &len) < 0)
                                return die("render failed");
                        free(text);
                }
                ms = (cpu_ms() - t0) / runs;
                snprintf(label, sizeof(label), "%u x %u", nodes, ctrs);
                printf("%-16s %12zu %9ld %14.2f %14.2f\n", label, len, series, ms, ms * 1000.0 / nodes);
                teardown(m, svc);
                memset(m, 0, sizeof(*m));
        }
        free(m);
        return 0;
}
