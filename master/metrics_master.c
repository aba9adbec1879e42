/* The master's own metrics for /metrics: its sessions, log streams and
 * counters (stats.h), the request duration histogram, and the standard
 * process_* metrics from /proc/self and getrusage. */
#include "metrics_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "http.h"
#include "procstat.h"
#include "relay.h"
#include "server.h"
#include "session.h"

void brm_metrics_header(struct brm_mtext *o, const char *name, const char *type, const char *help)
{
        brm_mtext_puts(o, "# HELP ");
        brm_mtext_puts(o, name);
        brm_mtext_putc(o, ' ');
        brm_mtext_puts(o, help);
        brm_mtext_puts(o, "\n# TYPE ");
        brm_mtext_puts(o, name);
        brm_mtext_putc(o, ' ');
        brm_mtext_puts(o, type);
        brm_mtext_putc(o, '\n');
}

/* One series: NAME{LABEL="VALUE"} V, or NAME V without a label. */
static void line_u64(struct brm_mtext *o, const char *name, const char *label, const char *value, uint64_t v)
{
        brm_mtext_puts(o, name);
        if (label) {
                brm_mtext_putc(o, '{');
                brm_mtext_label(o, false, label, value);
                brm_mtext_putc(o, '}');
        }
        brm_mtext_putc(o, ' ');
        brm_mtext_u64(o, v);
        brm_mtext_putc(o, '\n');
}

static void counter_by(struct brm_mtext *o, const char *name, const char *help, const char *label,
                       const char *const *values, const uint64_t *v, size_t n)
{
        brm_metrics_header(o, name, "counter", help);
        for (size_t i = 0; i < n; i++)
                line_u64(o, name, label, values[i], v[i]);
}

static void render_requests(struct brm_mtext *o, const struct brm_stats *st)
{
        static const char *const le[BRM_STATS_BUCKETS] = BRM_STATS_BUCKET_LABELS;
        static const char name[] = "bramble_master_request_duration_seconds";

        brm_metrics_header(o, name, "histogram",
                           "Time the master spent handling each request it received, by message.");
        for (unsigned k = 0; k < BRM_STATS_MSG_MAX; k++) {
                const struct brm_req_hist *h = &st->req[k];
                const ProtobufCFieldDescriptor *fd;
                uint64_t cum = 0;

                if (!h->count || !(fd = protobuf_c_message_descriptor_get_field(&bramble__envelope__descriptor, k)))
                        continue;
                for (int i = 0; i <= BRM_STATS_BUCKETS; i++) {
                        cum += i < BRM_STATS_BUCKETS ? h->bucket[i] : 0;
                        brm_mtext_puts(o, name);
                        brm_mtext_puts(o, "_bucket{");
                        brm_mtext_label(o, false, "request", fd->name);
                        brm_mtext_label(o, true, "le", i < BRM_STATS_BUCKETS ? le[i] : "+Inf");
                        brm_mtext_puts(o, "} ");
                        brm_mtext_u64(o, i < BRM_STATS_BUCKETS ? cum : h->count);
                        brm_mtext_putc(o, '\n');
                }
                brm_mtext_puts(o, name);
                brm_mtext_puts(o, "_sum{");
                brm_mtext_label(o, false, "request", fd->name);
                brm_mtext_puts(o, "} ");
                brm_mtext_fixed(o, h->sum_ns, 9);
                brm_mtext_putc(o, '\n');
                brm_mtext_puts(o, name);
                brm_mtext_puts(o, "_count{");
                brm_mtext_label(o, false, "request", fd->name);
                brm_mtext_puts(o, "} ");
                brm_mtext_u64(o, h->count);
                brm_mtext_putc(o, '\n');
        }
}

/* process_start_time_seconds, in microseconds: the boot time from
 * /proc/stat plus the process's start in clock ticks since boot. Read once:
 * it does not change. 0 when /proc cannot tell. */
static uint64_t process_start_us(void)
{
        static uint64_t start;
        unsigned long long ticks, btime = 0;
        long hz = sysconf(_SC_CLK_TCK);
        char line[256];
        FILE *f;

        if (start)
                return start;
        if (hz <= 0 || brm_procstat_start_time((int)getpid(), &ticks) < 0 || !(f = fopen("/proc/stat", "re")))
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "btime %llu", &btime) == 1)
                        break;
        fclose(f);
        if (btime)
                start = (uint64_t)btime * 1000000u + (uint64_t)ticks * 1000000u / (uint64_t)hz;
        return start;
}

/* A family of one series without labels: an integer, or a number of
 * micro- or nanoseconds written as seconds (digits 6 or 9). */
static void single(struct brm_mtext *o, const char *name, const char *type, const char *help, uint64_t v,
                   unsigned digits)
{
        brm_metrics_header(o, name, type, help);
        brm_mtext_puts(o, name);
        brm_mtext_putc(o, ' ');
        brm_mtext_fixed(o, v, digits);
        brm_mtext_putc(o, '\n');
}

/* The HTTPS port's own (http.h): connections, answers, and clients it
 * closed to stay bounded. */
static void render_http(struct brm_mtext *o, const struct brm_http *h)
{
        static const char *const why[3] = { "evicted", "timed_out", "not_reading" };
        const uint64_t closed[3] = { h->stats.evicted, h->stats.timed_out, h->stats.dropped };

        single(o, "bramble_http_connections", "gauge", "Open connections to the HTTPS port.", h->n_conns, 0);
        single(o, "bramble_http_streams", "gauge", "Event streams open on the HTTPS port (dashboards, log tails).",
               h->n_streams, 0);
        single(o, "bramble_http_requests_total", "counter", "Requests the HTTPS port answered.", h->stats.requests, 0);
        single(o, "bramble_http_unauthorized_total", "counter", "Requests answered 401: no valid token or session.",
               h->stats.unauthorized, 0);
        counter_by(o, "bramble_http_connections_closed_total",
                   "HTTPS connections the master closed to stay bounded: to make room for a new one (evicted), at "
                   "a handshake, request or idle deadline (timed_out), or for not reading (not_reading).",
                   "reason", why, closed, 3);
}

static void render_process(struct brm_mtext *o)
{
        struct rusage ru;
        unsigned long long pages = 0, rss = 0;
        FILE *f = fopen("/proc/self/statm", "re");

        if (f && fscanf(f, "%llu %llu", &pages, &rss) == 2)
                single(o, "process_resident_memory_bytes", "gauge", "The master's resident memory.",
                       rss * (unsigned long long)sysconf(_SC_PAGESIZE), 0);
        if (f)
                fclose(f);
        if (getrusage(RUSAGE_SELF, &ru) == 0)
                single(o, "process_cpu_seconds_total", "counter", "CPU time the master has used, user and system.",
                       (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                               (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
                       6);
        single(o, "process_start_time_seconds", "gauge", "When the master started (Unix time).",
               process_start_us(), 6);
}

void brm_metrics_master(struct brm_mtext *o, struct brm_master *m)
{
        static const char *const roles[3] = { "unauthenticated", "node", "admin" };
        static const char *const joins[BRM_JOIN_R_COUNT] = {
                [BRM_JOIN_R_OK] = "ok", [BRM_JOIN_R_MALFORMED] = "malformed", [BRM_JOIN_R_BAD_CSR] = "bad_csr",
                [BRM_JOIN_R_BAD_TOKEN] = "bad_token", [BRM_JOIN_R_TOKEN_EXPIRED] = "token_expired",
                [BRM_JOIN_R_TOKEN_USED_UP] = "token_used_up", [BRM_JOIN_R_TOKEN_REVOKED] = "token_revoked",
                [BRM_JOIN_R_NAME_TAKEN] = "name_taken", [BRM_JOIN_R_ERROR] = "error",
        };
        static const char *const refused[BRM_REFUSE_COUNT] = {
                [BRM_REFUSE_UNTRUSTED_CERT] = "untrusted_certificate", [BRM_REFUSE_NO_ROLE] = "no_role",
                [BRM_REFUSE_UNKNOWN_NODE] = "unknown_node",
        };
        static const char *const dropped[BRM_DROP_COUNT] = {
                [BRM_DROP_BACKLOG] = "backlog", [BRM_DROP_OVERSIZE] = "oversize",
                [BRM_DROP_MALFORMED] = "malformed", [BRM_DROP_IDLE] = "idle",
        };
        const struct brm_stats *st = &m->stats;
        uint64_t by_role[3] = { 0 };

        for (const struct brm_session *s = m->sessions; s; s = s->next)
                if (!s->conn.closing && (unsigned)s->role < 3)
                        by_role[s->role]++;
        brm_metrics_header(o, "bramble_master_sessions", "gauge",
                           "Open connections to the master, by the role their certificate proved.");
        for (int i = 0; i < 3; i++)
                line_u64(o, "bramble_master_sessions", "role", roles[i], by_role[i]);
        single(o, "bramble_master_log_streams", "gauge", "Log streams being relayed from nodes to operators.",
               brm_relay_count(m, NULL), 0);
        single(o, "bramble_master_heartbeats_received_total", "counter", "Heartbeats received from nodes.",
               st->heartbeats, 0);
        counter_by(o, "bramble_master_joins_total", "Join requests answered, by result (ok, or why one was refused).",
                   "result", joins, st->joins, BRM_JOIN_R_COUNT);
        single(o, "bramble_master_tls_handshake_failures_total", "counter", "TLS handshakes that failed or timed out.",
               st->tls_handshake_failures, 0);
        counter_by(o, "bramble_master_certificates_refused_total",
                   "Connections refused after the handshake for the client certificate they showed, by why.", "reason",
                   refused, st->refused, BRM_REFUSE_COUNT);
        counter_by(o, "bramble_master_connections_dropped_total",
                   "Connections the master closed on a peer, by why: its queue over the limit (backlog), a frame "
                   "over the maximum (oversize), a frame that is not a message (malformed), or silence (idle).",
                   "reason", dropped, st->dropped, BRM_DROP_COUNT);
        render_requests(o, st);
        if (m->http)
                render_http(o, m->http);
        render_process(o);
}
