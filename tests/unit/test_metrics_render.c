/* The master's /metrics text (master/metrics.c, master/mtext.c) over a
 * hand-made registry: a Ready node with throttling flags, labels and
 * containers (one a service replica), a NotReady node, a node never seen
 * and a node whose model needs escaping; a service; the master's counters.
 * Asserts specific lines and the grouping of every family under one HELP
 * and TYPE, then runs `promtool check metrics` over the text when promtool
 * is installed (the prometheus package), else exits 77 after the rest. */
#include <errno.h>
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "metrics.h"
#include "mtext.h"
#include "server.h"
#include "util.h"

static char *text;
static size_t text_len;

static void has(const char *line)
{
        if (!strstr(text, line))
                CHECK_FAIL_("missing line: %s\n--- output ---\n%s", line, text);
}

static void lacks(const char *s)
{
        if (strstr(text, s))
                CHECK_FAIL_("unexpected: %s\n--- output ---\n%s", s, text);
}

static void add_node(struct brm_master *m, const char *name, const char *labels, const char *schedule,
                     struct brm_node **ret)
{
        struct brm_node_rec *rec = calloc(1, sizeof(*rec));

        CHECK(rec != NULL);
        snprintf(rec->name, sizeof(rec->name), "%s", name);
        snprintf(rec->labels, sizeof(rec->labels), "%s", labels);
        snprintf(rec->schedule, sizeof(rec->schedule), "%s", schedule);
        CHECK_INT(brm_registry_put(&m->reg, rec, ret), ==, 0);
        free(rec);
}

static void set_info(struct brm_node *n, const char *model)
{
        Bramble__NodeInfo info = BRAMBLE__NODE_INFO__INIT;
        uint8_t buf[1024];
        size_t len;

        info.arch = "aarch64";
        info.model = (char *)model;
        info.kernel = "6.12.57+deb13-arm64";
        info.agent_version = "0.9.0";
        info.os = "Debian GNU/Linux 13 (trixie)";
        info.runtime = "crun 1.21";
        info.os_version = "0.9.0-12-gabc1234";
        info.slot = "b";
        info.has_cpu_count = 1;
        info.cpu_count = 4;
        len = bramble__node_info__pack(&info, buf);
        CHECK_INT(brm_registry_set_blob(&n->info, &n->info_len, buf, len), ==, 0);
}

static void ctr(Bramble__ContainerStatus *c, const char *name, const char *state, const char *health)
{
        bramble__container_status__init(c);
        c->name = (char *)name;
        c->state = (char *)state;
        c->health = (char *)health;
        c->has_restarts = c->has_oom_kills = 1;
}

/* pi-a's heartbeat (full) or pi-b's (old, with a container of its own). */
static void set_heartbeat(struct brm_node *n, bool full)
{
        Bramble__Heartbeat hb = BRAMBLE__HEARTBEAT__INIT;
        Bramble__Throttle th = BRAMBLE__THROTTLE__INIT;
        Bramble__ContainerStatus cs[3], *cp[3] = { &cs[0], &cs[1], &cs[2] };
        uint8_t *buf;
        size_t len;

        hb.has_uptime_ms = 1;
        hb.uptime_ms = 3600500;
        hb.has_load1 = 1;
        hb.load1 = 0.5f;
        ctr(&cs[0], full ? "web.1" : "web.2", "running", "healthy");
        ctr(&cs[1], "db", "running", NULL);
        cs[1].restarts = 3;
        cs[1].oom_kills = 1;
        cs[1].has_memory_bytes = cs[1].has_cpu_usage_usec = 1;
        cs[1].memory_bytes = 52428800;
        cs[1].cpu_usage_usec = 2500000;
        ctr(&cs[2], "job", "exited", NULL);
        hb.containers = cp;
        hb.n_containers = full ? 3 : 1;
        if (full) {
                hb.has_cpu_percent = hb.has_load5 = hb.has_load15 = hb.has_mem_total_bytes = 1;
                hb.cpu_percent = 25.5f;
                hb.load5 = 0.25f;
                hb.load15 = 1.0f;
                hb.mem_total_bytes = 4294967296ull;
                hb.has_mem_available_bytes = hb.has_disk_total_bytes = hb.has_disk_free_bytes = 1;
                hb.mem_available_bytes = 3000000000ull;
                hb.disk_total_bytes = 31000000000ull;
                hb.disk_free_bytes = 20000000000ull;
                hb.has_net_rx_bytes = hb.has_net_tx_bytes = hb.has_temp_celsius = 1;
                hb.net_rx_bytes = 123456789;
                hb.net_tx_bytes = 987654321;
                hb.temp_celsius = 48.3f;
                hb.net_iface = "wlan0";
                hb.net_addr = "192.168.1.23";
                hb.has_wifi_signal_dbm = 1;
                hb.wifi_signal_dbm = -61;
                hb.has_agent_rss_bytes = hb.has_shim_rss_bytes = 1;
                hb.agent_rss_bytes = 3145728;
                hb.shim_rss_bytes = 1048576;
                th.has_under_voltage = th.has_freq_capped = th.has_throttled = th.has_soft_temp_limit = 1;
                th.has_under_voltage_occurred = th.has_freq_capped_occurred = 1;
                th.has_throttled_occurred = th.has_soft_temp_limit_occurred = 1;
                th.under_voltage = th.under_voltage_occurred = th.soft_temp_limit_occurred = 1;
                hb.throttle = &th;
        }
        len = bramble__heartbeat__get_packed_size(&hb);
        CHECK((buf = malloc(len)) != NULL);
        bramble__heartbeat__pack(&hb, buf);
        CHECK_INT(brm_registry_set_blob(&n->last_hb, &n->last_hb_len, buf, len), ==, 0);
        brm_registry_briefs(n, &hb);
        free(buf);
}

/* Every sample belongs to the family of the TYPE line above it, and no
 * family is described twice. */
static void check_grouping(void)
{
        char fam[128] = "", seen[4096] = " ";
        const char *p = text, *end = text + text_len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p), n;
                char name[128], key[140];

                CHECK(nl != NULL); /* the text ends with a newline */
                if (len > 7 && strncmp(p, "# TYPE ", 7) == 0) {
                        n = strcspn(p + 7, " ");
                        snprintf(fam, sizeof(fam), "%.*s", (int)n, p + 7);
                        snprintf(key, sizeof(key), " %s ", fam);
                        if (strstr(seen, key))
                                CHECK_FAIL_("family %s is described twice", fam);
                        CHECK(strlen(seen) + strlen(key) < sizeof(seen));
                        strcat(seen, key + 1);
                } else if (len && p[0] != '#') {
                        n = strcspn(p, "{ ");
                        snprintf(name, sizeof(name), "%.*s", (int)n, p);
                        size_t fl = strlen(fam);
                        bool ok = strcmp(name, fam) == 0 ||
                                  (strncmp(name, fam, fl) == 0 && fl &&
                                   (!strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") ||
                                    !strcmp(name + fl, "_count")));
                        if (!ok)
                                CHECK_FAIL_("sample %s outside its family (under %s)", name, fam);
                }
                p += len + 1;
        }
}

static void check_mtext(void)
{
        struct brm_mtext b = { 0 };

        for (uint64_t v = 0; v < 1001; v = v < 12 ? v + 1 : v * 10 - 1) {
                char want[24];
                b.len = 0;
                brm_mtext_u64(&b, v);
                snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
                CHECK(b.len == strlen(want) && memcmp(b.p, want, b.len) == 0);
        }
        b.len = 0;
        brm_mtext_u64(&b, UINT64_MAX);
        brm_mtext_putc(&b, ' ');
        brm_mtext_fixed(&b, 1500, 3);
        brm_mtext_putc(&b, ' ');
        brm_mtext_fixed(&b, 5, 3);
        brm_mtext_putc(&b, ' ');
        brm_mtext_fixed(&b, 1000, 3);
        brm_mtext_putc(&b, ' ');
        brm_mtext_float(&b, -0.25, 2);
        brm_mtext_putc(&b, ' ');
        brm_mtext_float(&b, NAN, 2);
        brm_mtext_putc(&b, ' ');
        brm_mtext_float(&b, -INFINITY, 2);
        brm_mtext_putc(&b, ' ');
        brm_mtext_float(&b, 0.0004, 3);
        brm_mtext_putc(&b, ' ');
        brm_mtext_float(&b, 1e300, 3);
        brm_mtext_putc(&b, ' ');
        brm_mtext_label(&b, true, "v", "a\\b\"c\nd");
        brm_mtext_label(&b, true, "w", "\xc3\xa9\xff\xe2\x82\xac\xed\xa0\x80\xf0\x9f\x8d\x93\xc3\tz");
        brm_mtext_putc(&b, '\0');
        CHECK(!b.oom);
        CHECK_STR(b.p, "18446744073709551615 1.5 0.005 1 -0.25 NaN -Inf 0 1.0000000000000001e+300 ,v=\"a\\\\b\\\"c\\nd\""
                  ",w=\"\xc3\xa9\xef\xbf\xbd\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xf0\x9f\x8d\x93\xef\xbf\xbd\tz\"");
        brm_mtext_free(&b);
}

/* promtool's lint must pass as it is: every line it prints is a failure,
 * and so is its exit status. */
static void check_promtool(const char *path)
{
        char cmd[600], line[1024];
        bool bad = false;
        FILE *p;

        snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", path);
        CHECK((p = popen(cmd, "r")) != NULL);
        while (fgets(line, sizeof(line), p)) {
                fprintf(stderr, "promtool: %s", line);
                bad = true;
        }
        CHECK_INT(pclose(p), ==, 0);
        CHECK(!bad);
}

int main(void)
{
        struct brm_master *m = calloc(1, sizeof(*m));
        Bramble__ServiceSpec spec = BRAMBLE__SERVICE_SPEC__INIT;
        struct brm_service svc = { 0 };
        struct brm_replica rep[2] = { 0 };
        struct brm_node *a, *b, *c, *d;
        char path[] = "/tmp/brm-metrics-XXXXXX";
        int fd;

        check_mtext();
        CHECK(m != NULL);
        CHECK_INT(brm_registry_init(&m->reg), ==, 0);
        add_node(m, "pi-a", "zone=attic\nrack-id=r1\nrack.id=dup\n", "cordoned", &a);
        add_node(m, "pi-b", "", "", &b);
        add_node(m, "pi-c", "", "", &c);
        add_node(m, "pi-d", "", "draining", &d);
        set_info(a, "Raspberry Pi 4 Model B Rev 1.4");
        set_info(b, "Raspberry Pi 3 Model B Plus Rev 1.3");
        set_info(d, "Pi \"4\" \\ rev\nB");
        set_heartbeat(a, true);
        set_heartbeat(b, false);
        a->ready = d->ready = true;
        a->last_seen_ms = 1700000000000;
        a->last_seen_mono = brm_mono_ms();
        b->last_seen_ms = 1699999000000;
        d->last_seen_mono = brm_mono_ms();

        snprintf(svc.name, sizeof(svc.name), "web");
        spec.has_replicas = 1;
        spec.replicas = 2;
        svc.spec = &spec;
        snprintf(rep[0].name, sizeof(rep[0].name), "web.1");
        snprintf(rep[0].node, sizeof(rep[0].node), "pi-a");
        snprintf(rep[1].name, sizeof(rep[1].name), "web.2");
        snprintf(rep[1].node, sizeof(rep[1].node), "pi-b");
        rep[0].next = &rep[1];
        svc.replicas = rep;
        svc.n_replicas = 2;
        m->svc.list = &svc;
        m->svc.count = 1;

        m->stats.heartbeats = 42;
        m->stats.joins[BRM_JOIN_R_OK] = 2;
        m->stats.joins[BRM_JOIN_R_TOKEN_EXPIRED] = 1;
        m->stats.dropped[BRM_DROP_BACKLOG] = 1;
        brm_stats_request(&m->stats, BRAMBLE__ENVELOPE__MSG_HEARTBEAT, 50000);
        brm_stats_request(&m->stats, BRAMBLE__ENVELOPE__MSG_HEARTBEAT, 2000000);
        brm_stats_request(&m->stats, BRAMBLE__ENVELOPE__MSG_PS, 3000000000ull);

        CHECK_INT(brm_metrics_render(m, &text, &text_len), ==, 0);
        CHECK((text = realloc(text, text_len + 1)) != NULL);
        text[text_len] = '\0';
        CHECK_U64(strlen(text), ==, text_len);
        if (getenv("BRM_METRICS_DUMP"))
                fputs(text, stdout);

        has("# HELP bramble_node_ready ");
        has("# TYPE bramble_node_ready gauge\n");
        has("\nbramble_node_ready{node=\"pi-a\"} 1\n");
        has("\nbramble_node_ready{node=\"pi-b\"} 0\n");
        has("\nbramble_node_ready{node=\"pi-c\"} 0\n");
        /* Nodes in name order. */
        CHECK(strstr(text, "bramble_node_ready{node=\"pi-a\"}") < strstr(text, "bramble_node_ready{node=\"pi-b\"}"));
        has("\nbramble_node_info{node=\"pi-a\",model=\"Raspberry Pi 4 Model B Rev 1.4\",kernel=\"6.12.57+deb13-arm64\","
            "arch=\"aarch64\",agent_version=\"0.9.0\",os=\"Debian GNU/Linux 13 (trixie)\",runtime=\"crun 1.21\","
            "os_version=\"0.9.0-12-gabc1234\",slot=\"b\"} 1\n");
        has("\nbramble_node_info{node=\"pi-c\",model=\"\",kernel=\"\",arch=\"\",agent_version=\"\",os=\"\",runtime=\"\",os_version=\"\",slot=\"\"} 1\n");
        has("bramble_node_info{node=\"pi-d\",model=\"Pi \\\"4\\\" \\\\ rev\\nB\",");
        has("\nbramble_node_cpus{node=\"pi-a\"} 4\n");
        has("\nbramble_node_scheduling{node=\"pi-a\",state=\"cordoned\"} 1\n");
        has("\nbramble_node_scheduling{node=\"pi-c\",state=\"schedulable\"} 1\n");
        has("\nbramble_node_scheduling{node=\"pi-d\",state=\"draining\"} 1\n");
        has("\nbramble_node_labels{node=\"pi-a\",label_zone=\"attic\",label_rack_id=\"r1\"} 1\n");
        has("\nbramble_node_last_seen_timestamp_seconds{node=\"pi-a\"} 1700000000\n");
        has("\nbramble_node_last_seen_timestamp_seconds{node=\"pi-b\"} 1699999000\n");
        has("\nbramble_node_heartbeat_age_seconds{node=\"pi-a\"} ");
        lacks("bramble_node_heartbeat_age_seconds{node=\"pi-b\"}");
        has("\nbramble_node_boot_time_seconds{node=\"pi-a\"} 1699996400\n");
        has("\nbramble_node_cpu_usage_ratio{node=\"pi-a\"} 0.255\n");
        has("\nbramble_node_load1{node=\"pi-a\"} 0.5\n");
        has("\nbramble_node_load5{node=\"pi-a\"} 0.25\n");
        has("\nbramble_node_load15{node=\"pi-a\"} 1\n");
        has("\nbramble_node_memory_total_bytes{node=\"pi-a\"} 4294967296\n");
        has("\nbramble_node_memory_available_bytes{node=\"pi-a\"} 3000000000\n");
        has("\nbramble_node_filesystem_size_bytes{node=\"pi-a\"} 31000000000\n");
        has("\nbramble_node_filesystem_avail_bytes{node=\"pi-a\"} 20000000000\n");
        has("# TYPE bramble_node_network_receive_bytes_total counter\n");
        has("\nbramble_node_network_receive_bytes_total{node=\"pi-a\"} 123456789\n");
        has("\nbramble_node_network_transmit_bytes_total{node=\"pi-a\"} 987654321\n");
        has("\nbramble_node_temperature_celsius{node=\"pi-a\"} 48.3\n");
        has("\nbramble_node_network_link_info{node=\"pi-a\",interface=\"wlan0\",address=\"192.168.1.23\"} 1\n");
        has("\nbramble_node_wifi_signal_dbm{node=\"pi-a\"} -61\n");
        has("\nbramble_node_throttled{node=\"pi-a\",reason=\"under_voltage\",when=\"now\"} 1\n");
        has("\nbramble_node_throttled{node=\"pi-a\",reason=\"freq_capped\",when=\"now\"} 0\n");
        has("\nbramble_node_throttled{node=\"pi-a\",reason=\"soft_temp_limit\",when=\"since_boot\"} 1\n");
        has("\nbramble_node_throttled{node=\"pi-a\",reason=\"throttled\",when=\"since_boot\"} 0\n");
        has("\nbramble_node_agent_resident_memory_bytes{node=\"pi-a\"} 3145728\n");
        has("\nbramble_node_shim_resident_memory_bytes{node=\"pi-a\"} 1048576\n");
        /* A NotReady node's last heartbeat is not shown as current. */
        lacks("load1{node=\"pi-b\"}");
        lacks("{node=\"pi-b\",container=");
        lacks("{node=\"pi-c\",container=");

        has("# TYPE bramble_container_state gauge\n");
        has("\nbramble_container_state{node=\"pi-a\",container=\"web.1\",service=\"web\",state=\"running\"} 1\n");
        has("\nbramble_container_state{node=\"pi-a\",container=\"db\",state=\"running\"} 1\n");
        has("\nbramble_container_state{node=\"pi-a\",container=\"job\",state=\"exited\"} 1\n");
        has("# TYPE bramble_container_restarts_total counter\n");
        has("\nbramble_container_restarts_total{node=\"pi-a\",container=\"db\"} 3\n");
        has("\nbramble_container_restarts_total{node=\"pi-a\",container=\"web.1\",service=\"web\"} 0\n");
        has("\nbramble_container_oom_kills_total{node=\"pi-a\",container=\"db\"} 1\n");
        has("\nbramble_container_memory_working_set_bytes{node=\"pi-a\",container=\"db\"} 52428800\n");
        has("\nbramble_container_cpu_usage_seconds_total{node=\"pi-a\",container=\"db\"} 2.5\n");
        lacks("bramble_container_cpu_usage_seconds_total{node=\"pi-a\",container=\"job\"}");

        has("\nbramble_service_replicas_desired{service=\"web\"} 2\n");
        has("\nbramble_service_replicas_running{service=\"web\"} 1\n");
        has("\nbramble_service_replicas_ready{service=\"web\"} 1\n");

        has("\nbramble_master_sessions{role=\"node\"} 0\n");
        has("\nbramble_master_log_streams 0\n");
        has("\nbramble_master_heartbeats_received_total 42\n");
        has("\nbramble_master_joins_total{result=\"ok\"} 2\n");
        has("\nbramble_master_joins_total{result=\"token_expired\"} 1\n");
        has("\nbramble_master_joins_total{result=\"name_taken\"} 0\n");
        has("\nbramble_master_connections_dropped_total{reason=\"backlog\"} 1\n");
        has("\nbramble_master_tls_handshake_failures_total 0\n");
        has("# TYPE bramble_master_request_duration_seconds histogram\n");
        has("\nbramble_master_request_duration_seconds_bucket{request=\"heartbeat\",le=\"0.0001\"} 1\n");
        has("\nbramble_master_request_duration_seconds_bucket{request=\"heartbeat\",le=\"0.001\"} 1\n");
        has("\nbramble_master_request_duration_seconds_bucket{request=\"heartbeat\",le=\"0.0025\"} 2\n");
        has("\nbramble_master_request_duration_seconds_bucket{request=\"heartbeat\",le=\"+Inf\"} 2\n");
        has("\nbramble_master_request_duration_seconds_sum{request=\"heartbeat\"} 0.00205\n");
        has("\nbramble_master_request_duration_seconds_count{request=\"heartbeat\"} 2\n");
        has("\nbramble_master_request_duration_seconds_bucket{request=\"ps\",le=\"1\"} 0\n");
        has("\nbramble_master_request_duration_seconds_bucket{request=\"ps\",le=\"+Inf\"} 1\n");
        lacks("request=\"hello\"");
        has("# TYPE process_resident_memory_bytes gauge\n");
        has("# TYPE process_cpu_seconds_total counter\n");
        has("\nprocess_start_time_seconds ");
        lacks("process_start_time_seconds 0\n");
        check_grouping();

        CHECK((fd = mkstemp(path)) >= 0);
        CHECK(write(fd, text, text_len) == (ssize_t)text_len);
        close(fd);
        free(text);
        brm_registry_free(&m->reg);
        free(m);
        if (system("command -v promtool >/dev/null 2>&1") != 0) {
                unlink(path);
                CHECK_SKIP("every check passed, but promtool is not installed (Debian package prometheus): "
                           "the text was not linted");
        }
        check_promtool(path);
        unlink(path);
        printf("ok\n");
        return 0;
}
