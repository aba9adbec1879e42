/* brm_loadgen: many simulated nodes against one real master, in one process
 * on one libuv loop.
 *
 * Every simulated node does what bramble-agent does, with the same library
 * code: it has its own P-256 key, joins with the token (TLS without a client
 * certificate, the CA pinned by the token's hash and the master verified
 * against it before the secret is sent, a real CSR), stores the certificate
 * it gets, reconnects with mutual TLS under its own certificate, says Hello
 * with a NodeInfo and then sends a Heartbeat every interval. Start times are
 * jittered over one interval so the heartbeats are spread.
 *
 * Phases: keys (all keys and CSRs, before anything is timed), join (first
 * join started to last certificate received), connect (first mTLS connect
 * to last HelloAck), then the steady state, which lasts --duration. With
 * --pipeline each node reconnects right after its own join, as a real agent
 * does, and the two phases overlap.
 *
 * Against a master on loopback, node i connects from its own address
 * 127.1.x.y, as distinct Pis would: the master bounds the connections
 * without a certificate per source address, and a thousand joins from one
 * address would meet that bound instead of the master's capacity.
 *
 * The program prints its figures, one "STEADY" line when the steady state
 * begins (for scripts that sample the master then) and one "RESULT k=v ..."
 * line at the end. It never asserts timings; it exits 1 only when not every
 * node reached the steady state. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <uv.h>

#include "backoff.h"
#include "conn.h"
#include "err.h"
#include "join.h"
#include "pki.h"
#include "tls.h"
#include "token.h"
#include "util.h"

enum node_state {
        ST_NEW,        /* key made, not joined yet */
        ST_JOINING,    /* join connection open */
        ST_JOINED,     /* certificate held, no session */
        ST_CONNECTING, /* mTLS connection open, no HelloAck yet */
        ST_UP,         /* HelloAck received, heartbeating */
        ST_FAILED,     /* gave up after --retries attempts */
};

struct lg;

struct node {
        struct lg *lg;
        unsigned idx;
        enum node_state state;
        char name[64];
        char serial[17];
        char boot_id[37];
        struct brm_tls_creds creds; /* key and, after the join, certificate; the CA is shared */
        uint8_t csr[1024];
        size_t csr_len;
        mbedtls_ssl_config conf; /* one per node: a config holds one own certificate */
        bool conf_ready;
        struct brm_conn *conn;
        bool op_ok;       /* the current attempt reached its goal */
        bool holds_slot;  /* counts against --concurrency */
        bool queued;
        bool ever_up;     /* a later HelloAck is a reconnect, not a connect-phase latency */
        unsigned attempts; /* of the current goal (join, or a session) */
        struct brm_backoff backoff;
        uv_timer_t timer; /* retry delay, then heartbeats */
        uint64_t op_start_ms;
        uint64_t seq;
        uint64_t net_rx, net_tx;
        struct node *qnext;
};

#define MAX_REASONS 16

struct reasons {
        int code[MAX_REASONS];
        unsigned count[MAX_REASONS];
        unsigned other;
};

struct lg {
        uv_loop_t *loop;
        /* options */
        struct sockaddr_storage addr;
        bool spread_sources;     /* loopback master: one source address per node */
        char master[300];
        struct brm_token token;
        unsigned n;
        unsigned concurrency;      /* handshakes in flight */
        unsigned join_concurrency; /* joins in flight (default: concurrency) */
        uint64_t interval_ms;
        uint64_t duration_ms;
        uint64_t setup_timeout_ms;
        unsigned retries;
        bool pipeline;
        uint64_t handshake_timeout_ms;
        int master_pid;          /* optional: sample the master's CPU at phase boundaries */
        double mcpu_join, mcpu_conn, mcpu_steady, mcpu_end; /* master utime+stime, s */
        const char *prefix;
        /* shared TLS state */
        mbedtls_ssl_config pin_conf; /* joining: no client certificate, trust by pin */
        mbedtls_x509_crt ca;         /* the cluster CA, parsed once from the first join */
        uint8_t ca_der[BRM_CERT_MAX_DER];
        size_t ca_der_len;
        bool have_ca;
        /* nodes and the start queue */
        struct node *nodes;
        struct node *qhead, *qtail;
        unsigned in_flight;
        /* phases */
        int phase; /* 0 join, 1 connect, 2 steady, 3 stopping */
        uint64_t t0_ms;
        uint64_t join_first_ms, join_last_ms;
        uint64_t conn_first_ms, conn_last_ms;
        uint64_t steady_start_ms, steady_end_ms;
        struct rusage ru_join, ru_conn, ru_steady, ru_end;
        unsigned joined, join_failed, up, conn_failed, up_at_end;
        uint32_t *join_lat, *conn_lat; /* per-node latency of the successful attempt, ms */
        unsigned n_join_lat, n_conn_lat;
        unsigned join_errors, conn_errors;
        struct reasons join_why, conn_why, drop_why;
        unsigned drops, drops_steady, reconnects, send_errors, master_errors;
        /* Longest delay of a 100 ms timer per phase: how long this loop was
         * busy without running timers (heartbeats are timers). */
        uv_timer_t lag_timer;
        uint64_t lag_expect_ms;
        uint64_t max_lag_ms[3];
        uint64_t hb_sent, hb_sent_steady_base;
        uint32_t hello_interval_ms;
        char first_master_error[200];
        uv_timer_t setup_timer, stop_timer; /* lag_timer is above */
        uv_signal_t sigint, sigterm;
};

static void say(struct lg *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct lg *lg, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fflush(stdout);
}

static double secs(uint64_t ms)
{
        return (double)ms / 1000.0;
}

static double cpu_s(const struct rusage *a, const struct rusage *b)
{
        double ua = (double)a->ru_utime.tv_sec + (double)a->ru_utime.tv_usec / 1e6;
        double sa = (double)a->ru_stime.tv_sec + (double)a->ru_stime.tv_usec / 1e6;
        double ub = (double)b->ru_utime.tv_sec + (double)b->ru_utime.tv_usec / 1e6;
        double sb = (double)b->ru_stime.tv_sec + (double)b->ru_stime.tv_usec / 1e6;
        return (ub + sb) - (ua + sa);
}

static long self_rss_kib(const char *field)
{
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long v = -1;
        size_t fl = strlen(field);

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
                        v = strtol(line + fl + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

/* utime+stime of a process in seconds, from /proc/PID/stat; -1 if unknown. */
static double proc_cpu_s(int pid)
{
        char path[64], buf[1024], *p;
        unsigned long long ut = 0, st = 0;
        size_t len;
        FILE *f;

        if (pid <= 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if (!(f = fopen(path, "r")))
                return -1;
        len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = 0;
        /* The command name may hold spaces; the fields start after its ')'. */
        if (!(p = strrchr(buf, ')')))
                return -1;
        /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -1;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void reason_add(struct reasons *r, int code)
{
        for (int i = 0; i < MAX_REASONS; i++) {
                if (r->count[i] && r->code[i] == code) {
                        r->count[i]++;
                        return;
                }
                if (!r->count[i]) {
                        r->code[i] = code;
                        r->count[i] = 1;
                        return;
                }
        }
        r->other++;
}

static void reason_print(const char *what, const struct reasons *r)
{
        bool any = false;

        for (int i = 0; i < MAX_REASONS && r->count[i]; i++) {
                printf("%s%s %u x %s (%d)", any ? "," : "  ", any ? "" : what, r->count[i], brm_strerror(r->code[i]),
                       r->code[i]);
                any = true;
        }
        if (r->other)
                printf(", %u other", r->other);
        if (any)
                printf("\n");
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

static void lat_print(const char *what, uint32_t *v, unsigned n)
{
        if (!n)
                return;
        qsort(v, n, sizeof(*v), cmp_u32);
        printf("  %s latency per node: p50 %u ms, p90 %u ms, p99 %u ms, max %u ms\n", what, v[n / 2],
               v[(size_t)n * 90 / 100], v[(size_t)n * 99 / 100], v[n - 1]);
}

static uint32_t rnd32(void)
{
        uint32_t r = 0;
        brm_random(&r, sizeof(r));
        return r;
}

/* ---- the start queue: at most --concurrency joins or handshakes in flight ---- */

static void start_attempt(struct node *n);

static void enqueue(struct node *n)
{
        struct lg *lg = n->lg;

        if (n->queued || lg->phase >= 3)
                return;
        n->queued = true;
        n->qnext = NULL;
        if (lg->qtail)
                lg->qtail->qnext = n;
        else
                lg->qhead = n;
        lg->qtail = n;
}

static void pump(struct lg *lg)
{
        while (lg->phase < 3 && lg->qhead &&
               lg->in_flight < (lg->qhead->state == ST_NEW ? lg->join_concurrency : lg->concurrency)) {
                struct node *n = lg->qhead;
                lg->qhead = n->qnext;
                if (!lg->qhead)
                        lg->qtail = NULL;
                n->queued = false;
                start_attempt(n);
        }
}

static void release_slot(struct node *n)
{
        if (n->holds_slot) {
                n->holds_slot = false;
                n->lg->in_flight--;
        }
}

/* ---- phases ---- */

static void enter_steady(struct lg *lg);

static void begin_connect_phase(struct lg *lg)
{
        getrusage(RUSAGE_SELF, &lg->ru_conn);
        lg->mcpu_conn = proc_cpu_s(lg->master_pid);
        lg->phase = 1;
        if (lg->join_last_ms)
                say(lg, "join: %u/%u nodes joined in %.3f s (first join started -> last certificate received), %.0f joins/s, "
                        "%u failed attempts, %u nodes gave up\n",
                    lg->joined, lg->n, secs(lg->join_last_ms - lg->join_first_ms),
                    lg->joined / (secs(lg->join_last_ms - lg->join_first_ms) + 1e-9), lg->join_errors, lg->join_failed);
        else
                say(lg, "join: no node joined (%u failed attempts)\n", lg->join_errors);
        lat_print("join", lg->join_lat, lg->n_join_lat);
        if (lg->master_pid > 0 && lg->joined)
                say(lg, "  master cpu in the join phase: %.2f s, %.2f ms per joined node; loadgen cpu %.2f ms per joined node\n",
                    lg->mcpu_conn - lg->mcpu_join, 1000.0 * (lg->mcpu_conn - lg->mcpu_join) / lg->joined,
                    1000.0 * cpu_s(&lg->ru_join, &lg->ru_conn) / lg->joined);
        reason_print("join errors:", &lg->join_why);
        if (lg->first_master_error[0])
                say(lg, "  first refusal from the master: %s\n", lg->first_master_error);
        if (!lg->pipeline)
                for (unsigned i = 0; i < lg->n; i++)
                        if (lg->nodes[i].state == ST_JOINED)
                                enqueue(&lg->nodes[i]);
        pump(lg);
}

static void check_phase(struct lg *lg)
{
        if (lg->phase == 0 && lg->joined + lg->join_failed == lg->n)
                begin_connect_phase(lg);
        if (lg->phase == 1 && lg->up + lg->conn_failed + lg->join_failed == lg->n)
                enter_steady(lg);
}

/* ---- messages ---- */

static void fill_node_info(struct node *n, Bramble__NodeInfo *info)
{
        static char *controllers[] = { "cpuset", "cpu", "io", "memory", "pids" };

        bramble__node_info__init(info);
        info->arch = "aarch64";
        info->model = "Raspberry Pi 4 Model B Rev 1.4";
        info->serial = n->serial;
        info->kernel = "6.12.20+rpt-rpi-v8";
        info->has_mem_total_bytes = 1;
        info->mem_total_bytes = 4ULL << 30;
        info->has_cgroup_version = 1;
        info->cgroup_version = 2;
        info->n_cgroup_controllers = BRM_ARRAY_SIZE(controllers);
        info->cgroup_controllers = controllers;
        info->agent_version = BRM_VERSION "-loadgen";
        info->has_cpu_count = 1;
        info->cpu_count = 4;
        info->os = "Debian GNU/Linux 13 (trixie)";
}

static void send_hello(struct node *n)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Hello hello = BRAMBLE__HELLO__INIT;
        Bramble__NodeInfo info;
        int r;

        fill_node_info(n, &info);
        hello.info = &info;
        hello.boot_id = n->boot_id;
        env.has_id = 1;
        env.id = 1;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HELLO;
        env.hello = &hello;
        if ((r = brm_conn_send(n->conn, &env)) < 0)
                brm_conn_close(n->conn, r);
}

/* A heartbeat shaped like a Raspberry Pi 4's: every metric present. */
static void send_heartbeat(struct node *n)
{
        struct lg *lg = n->lg;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Heartbeat hb = BRAMBLE__HEARTBEAT__INIT;
        Bramble__Throttle th = BRAMBLE__THROTTLE__INIT;
        uint32_t r = rnd32();
        int rc;

        n->net_rx += 1000 + (r & 0xfff);
        n->net_tx += 800 + ((r >> 12) & 0x7ff);
        hb.has_seq = 1;
        hb.seq = ++n->seq;
        hb.has_uptime_ms = 1;
        hb.uptime_ms = 86400000ULL + brm_mono_ms() - lg->t0_ms;
        hb.boot_id = n->boot_id;
        hb.has_cpu_percent = 1;
        hb.cpu_percent = (float)(r % 1000) / 10.0f;
        hb.has_load1 = hb.has_load5 = hb.has_load15 = 1;
        hb.load1 = 0.42f;
        hb.load5 = 0.37f;
        hb.load15 = 0.30f;
        hb.has_mem_total_bytes = hb.has_mem_available_bytes = 1;
        hb.mem_total_bytes = 4ULL << 30;
        hb.mem_available_bytes = (3ULL << 30) + (r & 0xfffff);
        hb.has_disk_total_bytes = hb.has_disk_free_bytes = 1;
        hb.disk_total_bytes = 31ULL << 30;
        hb.disk_free_bytes = 24ULL << 30;
        hb.has_net_rx_bytes = hb.has_net_tx_bytes = 1;
        hb.net_rx_bytes = n->net_rx;
        hb.net_tx_bytes = n->net_tx;
        hb.has_temp_celsius = 1;
        hb.temp_celsius = 45.0f + (float)(r % 100) / 10.0f;
        th.has_raw = 1;
        th.has_under_voltage = th.has_freq_capped = th.has_throttled = th.has_soft_temp_limit = 1;
        th.has_under_voltage_occurred = th.has_freq_capped_occurred = th.has_throttled_occurred =
                th.has_soft_temp_limit_occurred = 1;
        hb.throttle = &th;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HEARTBEAT;
        env.heartbeat = &hb;
        rc = brm_conn_send(n->conn, &env);
        if (rc < 0) {
                lg->send_errors++;
                brm_conn_close(n->conn, rc);
                return;
        }
        lg->hb_sent++;
}

static void on_beat(uv_timer_t *t)
{
        struct node *n = t->data;

        if (n->state == ST_UP && n->conn && n->lg->phase < 3)
                send_heartbeat(n);
}

/* The agent's own join code (lib/join.c): pin and verify first, then the
 * secret. */
static void send_join(struct node *n)
{
        int r = brm_join_send(n->conn, &n->lg->token, n->name, n->csr, n->csr_len, 1);

        if (r < 0)
                brm_conn_close(n->conn, r);
}

static int take_join_response(struct node *n, const Bramble__JoinResponse *jr)
{
        struct lg *lg = n->lg;
        int r;

        if (!jr->has_cert_der || !jr->has_ca_der || jr->ca_der.len > sizeof(lg->ca_der))
                return -EPROTO;
        if (!lg->have_ca) {
                uint8_t h[32];
                if (brm_pki_sha256(jr->ca_der.data, jr->ca_der.len, h) < 0 || memcmp(h, lg->token.ca_hash, 32) != 0)
                        return -EACCES;
                r = mbedtls_x509_crt_parse_der(&lg->ca, jr->ca_der.data, jr->ca_der.len);
                if (r != 0)
                        return brm_err_mbedtls(r);
                memcpy(lg->ca_der, jr->ca_der.data, jr->ca_der.len);
                lg->ca_der_len = jr->ca_der.len;
                lg->have_ca = true;
        } else if (jr->ca_der.len != lg->ca_der_len || memcmp(jr->ca_der.data, lg->ca_der, lg->ca_der_len) != 0) {
                return -EACCES;
        }
        if (n->creds.has_cert) { /* an earlier attempt got this far and failed after */
                mbedtls_x509_crt_free(&n->creds.cert);
                mbedtls_x509_crt_init(&n->creds.cert);
                n->creds.has_cert = false;
        }
        if (n->conf_ready)
                mbedtls_ssl_config_free(&n->conf);
        if ((r = brm_tls_creds_add_cert(&n->creds, jr->cert_der.data, jr->cert_der.len)) < 0)
                return r;
        mbedtls_ssl_config_init(&n->conf);
        n->conf_ready = true;
        if ((r = brm_tls_config(&n->conf, false, BRM_TLS_VERIFY_REQUIRED, &n->creds)) < 0)
                return r;
        /* One parsed CA for every node instead of one copy each. */
        mbedtls_ssl_conf_ca_chain(&n->conf, &lg->ca, NULL);
        return 0;
}

/* ---- connections ---- */

static void on_ready(struct brm_conn *c, int status)
{
        struct node *n = c->data;

        if (status < 0)
                return; /* the connection is closing; on_closed counts it */
        if (n->state == ST_JOINING)
                send_join(n);
        else
                send_hello(n);
}

static void on_msg(struct brm_conn *c, Bramble__Envelope *env)
{
        struct node *n = c->data;
        struct lg *lg = n->lg;
        uint64_t now = brm_mono_ms();
        int r;

        switch (env->msg_case) {
        case BRAMBLE__ENVELOPE__MSG_ERROR:
                lg->master_errors++;
                if (!lg->first_master_error[0])
                        snprintf(lg->first_master_error, sizeof(lg->first_master_error), "%s: %s", n->name,
                                 env->error->message ? env->error->message : "(no message)");
                brm_conn_close(c, env->error->has_code && env->error->code < 0 ? env->error->code : -EPROTO);
                return;
        case BRAMBLE__ENVELOPE__MSG_JOIN_RESPONSE:
                if (n->state != ST_JOINING) {
                        brm_conn_close(c, -EPROTO);
                        return;
                }
                if ((r = take_join_response(n, env->join_response)) < 0) {
                        brm_conn_close(c, r);
                        return;
                }
                n->op_ok = true;
                lg->join_last_ms = now;
                lg->join_lat[lg->n_join_lat++] = (uint32_t)(now - n->op_start_ms);
                brm_conn_close(c, 0);
                return;
        case BRAMBLE__ENVELOPE__MSG_HELLO_ACK:
                if (n->state != ST_CONNECTING)
                        return;
                if (env->hello_ack->has_heartbeat_interval_ms)
                        lg->hello_interval_ms = env->hello_ack->heartbeat_interval_ms;
                n->op_ok = true;
                n->state = ST_UP;
                release_slot(n);
                brm_backoff_reset(&n->backoff);
                lg->up++;
                n->attempts = 0;
                if (!n->ever_up) {
                        n->ever_up = true;
                        lg->conn_last_ms = now;
                        lg->conn_lat[lg->n_conn_lat++] = (uint32_t)(now - n->op_start_ms);
                }
                /* Like the agent: one heartbeat at once (the node turns Ready),
                 * then every interval from a random point within the first. */
                send_heartbeat(n);
                if (n->conn && !n->conn->closing)
                        uv_timer_start(&n->timer, on_beat, 1 + rnd32() % lg->interval_ms, lg->interval_ms);
                check_phase(lg);
                pump(lg);
                return;
        default:
                return;
        }
}

static void on_lag(uv_timer_t *t)
{
        struct lg *lg = t->data;
        uint64_t now = uv_now(lg->loop);

        if (lg->phase < 3 && now > lg->lag_expect_ms && now - lg->lag_expect_ms > lg->max_lag_ms[lg->phase])
                lg->max_lag_ms[lg->phase] = now - lg->lag_expect_ms;
        lg->lag_expect_ms = now + 100;
}

static void on_retry(uv_timer_t *t)
{
        struct node *n = t->data;

        enqueue(n);
        pump(n->lg);
}

static void attempt_failed(struct node *n, int reason)
{
        struct lg *lg = n->lg;
        bool joining = n->state == ST_JOINING;

        if (joining) {
                lg->join_errors++;
                reason_add(&lg->join_why, reason);
        } else {
                lg->conn_errors++;
                reason_add(&lg->conn_why, reason);
        }
        if (n->attempts >= lg->retries + 1 || lg->phase >= 3) {
                n->state = ST_FAILED;
                if (joining)
                        lg->join_failed++;
                else
                        lg->conn_failed++;
                check_phase(lg);
                return;
        }
        n->state = joining ? ST_NEW : ST_JOINED;
        uv_timer_start(&n->timer, on_retry, brm_backoff_next(&n->backoff), 0);
}

static void on_closed(struct brm_conn *c)
{
        struct node *n = c->data;
        struct lg *lg = n->lg;
        int reason = c->close_reason ? c->close_reason : -ECONNRESET;

        free(c);
        n->conn = NULL;
        release_slot(n);
        switch (n->state) {
        case ST_JOINING:
                if (n->op_ok) {
                        n->state = ST_JOINED;
                        n->attempts = 0;
                        brm_backoff_reset(&n->backoff);
                        lg->joined++;
                        if (lg->pipeline)
                                enqueue(n);
                        check_phase(lg);
                } else {
                        attempt_failed(n, reason);
                }
                break;
        case ST_CONNECTING:
                attempt_failed(n, reason);
                break;
        case ST_UP:
                uv_timer_stop(&n->timer);
                lg->up--;
                n->state = ST_JOINED;
                if (lg->phase >= 3)
                        break;
                /* The master dropped a working session: count it and
                 * reconnect with backoff, as the agent does. */
                lg->drops++;
                if (lg->phase == 2)
                        lg->drops_steady++;
                lg->reconnects++;
                reason_add(&lg->drop_why, reason);
                uv_timer_start(&n->timer, on_retry, brm_backoff_next(&n->backoff), 0);
                break;
        default:
                break;
        }
        pump(lg);
}

/* Node i speaks from 127.1.x.y (y from 1 to 250), its own address. */
static int bind_source(struct brm_conn *c, unsigned idx)
{
        struct sockaddr_in src = { .sin_family = AF_INET };

        src.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((idx / 250) % 256) << 8 | (idx % 250 + 1));
        return uv_tcp_bind(&c->tls.tcp, (const struct sockaddr *)&src, 0);
}

static void start_attempt(struct node *n)
{
        struct lg *lg = n->lg;
        bool join = n->state == ST_NEW;
        struct brm_conn *c;
        uint64_t now = brm_mono_ms();
        int r;

        if (n->state != ST_NEW && n->state != ST_JOINED)
                return;
        c = calloc(1, sizeof(*c));
        if (!c) {
                attempt_failed(n, -ENOMEM);
                return;
        }
        r = brm_conn_init(lg->loop, c, join ? &lg->pin_conf : &n->conf, 0);
        if (r < 0) {
                free(c);
                n->state = join ? ST_JOINING : ST_CONNECTING;
                n->attempts++;
                attempt_failed(n, r);
                return;
        }
        c->handshake_timeout_ms = lg->handshake_timeout_ms;
        c->data = n;
        n->conn = c;
        n->op_ok = false;
        n->holds_slot = true;
        lg->in_flight++;
        n->attempts++;
        n->op_start_ms = now;
        if (join) {
                n->state = ST_JOINING;
                if (!lg->join_first_ms)
                        lg->join_first_ms = now;
        } else {
                n->state = ST_CONNECTING;
                if (!lg->conn_first_ms)
                        lg->conn_first_ms = now;
        }
        if (lg->spread_sources && (r = bind_source(c, n->idx)) < 0) {
                brm_conn_close(c, r);
                return;
        }
        r = brm_conn_connect(c, (const struct sockaddr *)&lg->addr, on_ready, on_msg, on_closed);
        if (r < 0)
                brm_conn_close(c, r); /* on_closed counts the failure */
}

/* ---- start and stop ---- */

static void timer_closed(uv_handle_t *h)
{
}

static void stop_all(struct lg *lg)
{
        if (lg->phase >= 3)
                return;
        lg->phase = 3;
        for (unsigned i = 0; i < lg->n; i++) {
                struct node *n = &lg->nodes[i];
                uv_timer_stop(&n->timer);
                uv_close((uv_handle_t *)&n->timer, timer_closed);
                if (n->conn)
                        brm_conn_close(n->conn, 0);
        }
        uv_close((uv_handle_t *)&lg->setup_timer, timer_closed);
        uv_close((uv_handle_t *)&lg->stop_timer, timer_closed);
        uv_close((uv_handle_t *)&lg->lag_timer, timer_closed);
        uv_close((uv_handle_t *)&lg->sigint, NULL);
        uv_close((uv_handle_t *)&lg->sigterm, NULL);
}

static void report(struct lg *lg)
{
        unsigned up = lg->up;
        double steady = lg->steady_start_ms ? secs(lg->steady_end_ms - lg->steady_start_ms) : 0;
        uint64_t hb_steady = lg->hb_sent - lg->hb_sent_steady_base;
        double cpu_steady = lg->steady_start_ms ? cpu_s(&lg->ru_steady, &lg->ru_end) : 0;
        unsigned errors = lg->join_errors + lg->conn_errors + lg->send_errors + lg->drops;

        if (lg->steady_start_ms) {
                say(lg, "steady: %.1f s with %u sessions up at the end, %llu heartbeats sent (%.0f/s), %u sessions dropped by "
                        "the master in the steady state (%u while others were still connecting), %u send errors\n",
                    steady, up, (unsigned long long)hb_steady, hb_steady / (steady + 1e-9), lg->drops_steady,
                    lg->drops - lg->drops_steady, lg->send_errors);
                reason_print("drops:", &lg->drop_why);
                if (lg->master_pid > 0 && lg->mcpu_end >= 0)
                        say(lg, "  master cpu in the steady state: %.1f %% of one core (%.1f us per heartbeat)\n",
                            100.0 * (lg->mcpu_end - lg->mcpu_steady) / (steady + 1e-9),
                            hb_steady ? 1e6 * (lg->mcpu_end - lg->mcpu_steady) / (double)hb_steady : 0.0);
        }
        say(lg, "loadgen cpu: join %.2f s, connect %.2f s, steady %.2f s (%.1f %% of one core); VmRSS %ld KiB, VmHWM %ld KiB\n",
            cpu_s(&lg->ru_join, &lg->ru_conn), cpu_s(&lg->ru_conn, &lg->ru_steady), cpu_steady,
            steady ? 100.0 * cpu_steady / steady : 0.0, self_rss_kib("VmRSS"), self_rss_kib("VmHWM"));
        say(lg, "loadgen loop: longest stall (timers held up) %llu ms joining, %llu ms connecting, %llu ms steady\n",
            (unsigned long long)lg->max_lag_ms[0], (unsigned long long)lg->max_lag_ms[1],
            (unsigned long long)lg->max_lag_ms[2]);
        say(lg, "RESULT nodes=%u joined=%u join_s=%.3f join_errors=%u up=%u connect_s=%.3f connect_errors=%u "
                "hb_sent=%llu hb_steady=%llu steady_s=%.1f drops=%u send_errors=%u errors=%u loadgen_cpu_steady_pct=%.1f "
                "loadgen_cpu_join_s=%.2f loadgen_cpu_connect_s=%.2f loadgen_rss_kib=%ld master_cpu_join_s=%.2f "
                "master_cpu_connect_s=%.2f drops_steady=%u loadgen_stall_ms=%llu/%llu/%llu\n",
            lg->n, lg->joined, lg->join_last_ms ? secs(lg->join_last_ms - lg->join_first_ms) : -1.0, lg->join_errors, up,
            lg->conn_last_ms ? secs(lg->conn_last_ms - lg->conn_first_ms) : -1.0, lg->conn_errors,
            (unsigned long long)lg->hb_sent, (unsigned long long)hb_steady, steady, lg->drops, lg->send_errors, errors,
            steady ? 100.0 * cpu_steady / steady : 0.0, cpu_s(&lg->ru_join, &lg->ru_conn), cpu_s(&lg->ru_conn, &lg->ru_steady),
            self_rss_kib("VmRSS"), lg->master_pid > 0 ? lg->mcpu_conn - lg->mcpu_join : -1.0,
            lg->master_pid > 0 ? lg->mcpu_steady - lg->mcpu_conn : -1.0, lg->drops_steady,
            (unsigned long long)lg->max_lag_ms[0], (unsigned long long)lg->max_lag_ms[1],
            (unsigned long long)lg->max_lag_ms[2]);
}

static void finish(struct lg *lg)
{
        if (lg->phase >= 3)
                return;
        lg->steady_end_ms = brm_mono_ms();
        getrusage(RUSAGE_SELF, &lg->ru_end);
        lg->mcpu_end = proc_cpu_s(lg->master_pid);
        if (lg->phase < 2) {
                /* Stopped before the steady state: report what got done. */
                getrusage(RUSAGE_SELF, &lg->ru_steady);
                if (lg->phase == 0)
                        lg->ru_conn = lg->ru_steady;
        }
        lg->up_at_end = lg->up;
        report(lg);
        stop_all(lg);
}

static void on_stop(uv_timer_t *t)
{
        finish(t->data);
}

static void enter_steady(struct lg *lg)
{
        if (lg->phase != 1)
                return;
        lg->phase = 2;
        getrusage(RUSAGE_SELF, &lg->ru_steady);
        lg->mcpu_steady = proc_cpu_s(lg->master_pid);
        uv_timer_stop(&lg->setup_timer);
        if (lg->conn_last_ms)
                say(lg, "connect: %u/%u mTLS sessions up in %.3f s (first connect started -> last HelloAck), %.0f/s, "
                        "%u failed attempts, %u nodes gave up\n",
                    lg->up, lg->joined, secs(lg->conn_last_ms - lg->conn_first_ms),
                    lg->up / (secs(lg->conn_last_ms - lg->conn_first_ms) + 1e-9), lg->conn_errors, lg->conn_failed);
        else
                say(lg, "connect: no session came up (%u failed attempts)\n", lg->conn_errors);
        lat_print("connect", lg->conn_lat, lg->n_conn_lat);
        if (lg->master_pid > 0 && lg->up)
                say(lg, "  master cpu in the connect phase: %.2f s, %.2f ms per session; loadgen cpu %.2f ms per session\n",
                    lg->mcpu_steady - lg->mcpu_conn, 1000.0 * (lg->mcpu_steady - lg->mcpu_conn) / lg->up,
                    1000.0 * cpu_s(&lg->ru_conn, &lg->ru_steady) / lg->up);
        reason_print("connect errors:", &lg->conn_why);
        if (lg->hello_interval_ms && lg->hello_interval_ms != lg->interval_ms)
                say(lg, "note: the master asks for a heartbeat every %u ms; this run sends every %llu ms (--interval)\n",
                    lg->hello_interval_ms, (unsigned long long)lg->interval_ms);
        lg->steady_start_ms = brm_mono_ms();
        lg->hb_sent_steady_base = lg->hb_sent;
        say(lg, "STEADY nodes=%u interval_ms=%llu duration_s=%.1f\n", lg->up, (unsigned long long)lg->interval_ms,
            secs(lg->duration_ms));
        uv_timer_start(&lg->stop_timer, on_stop, lg->duration_ms, 0);
}

static void on_setup_timeout(uv_timer_t *t)
{
        struct lg *lg = t->data;

        say(lg, "setup timeout: %u joined, %u up after %.0f s; going on with what is up\n", lg->joined, lg->up,
            secs(lg->setup_timeout_ms));
        if (lg->phase == 0)
                begin_connect_phase(lg);
        /* Nodes still queued or in flight keep going; the steady state starts now. */
        enter_steady(lg);
}

static void on_signal(uv_signal_t *s, int signum)
{
        struct lg *lg = s->data;

        say(lg, "signal %d: stopping\n", signum);
        finish(lg);
}

static int make_nodes(struct lg *lg)
{
        uint64_t t = brm_mono_ms();

        lg->nodes = calloc(lg->n, sizeof(*lg->nodes));
        lg->join_lat = calloc(lg->n, sizeof(*lg->join_lat));
        lg->conn_lat = calloc(lg->n, sizeof(*lg->conn_lat));
        if (!lg->nodes || !lg->join_lat || !lg->conn_lat)
                return -ENOMEM;
        for (unsigned i = 0; i < lg->n; i++) {
                struct node *n = &lg->nodes[i];
                uint8_t b[16];
                int r;

                n->lg = lg;
                n->idx = i;
                snprintf(n->name, sizeof(n->name), "%s-%u", lg->prefix, i);
                brm_random(b, sizeof(b));
                brm_hex(b, 8, n->serial);
                snprintf(n->boot_id, sizeof(n->boot_id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
                brm_tls_creds_init(&n->creds);
                if ((r = brm_pki_key_generate(&n->creds.key)) < 0)
                        return r;
                if ((r = brm_pki_csr_create(&n->creds.key, n->name, n->csr, sizeof(n->csr))) < 0)
                        return r;
                n->csr_len = (size_t)r;
                brm_backoff_init(&n->backoff, 1000, 30000);
                uv_timer_init(lg->loop, &n->timer);
                n->timer.data = n;
        }
        t = brm_mono_ms() - t;
        say(lg, "keys: %u P-256 keys and CSRs in %.2f s (%.2f ms each; not part of any phase below)\n", lg->n, secs(t),
            lg->n ? (double)t / lg->n : 0.0);
        return 0;
}

static void free_nodes(struct lg *lg)
{
        for (unsigned i = 0; lg->nodes && i < lg->n; i++) {
                struct node *n = &lg->nodes[i];
                if (n->conf_ready)
                        mbedtls_ssl_config_free(&n->conf);
                brm_tls_creds_free(&n->creds);
        }
        free(lg->nodes);
        free(lg->join_lat);
        free(lg->conn_lat);
}

static void raise_nofile(struct lg *lg)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
                getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)lg->n + 64)
                fprintf(stderr,
                        "brm_loadgen: warning: the open-file limit is %llu but %u sessions need about %u descriptors; "
                        "raise the hard limit (ulimit -Hn)\n",
                        (unsigned long long)rl.rlim_cur, lg->n, lg->n + 64);
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: brm_loadgen --master HOST:PORT --token TOKEN [--nodes N] [--interval 1s] [--duration 30s]\n"
                "                   [--concurrency C] [--prefix load] [--retries 5] [--setup-timeout 300s] [--pipeline]\n"
                "\n"
                "  --nodes N            simulated nodes, each with its own key, certificate and session (default 100)\n"
                "  --interval DUR       heartbeat interval (default 1s)\n"
                "  --duration DUR       length of the steady state, after every session is up (default 30s)\n"
                "  --concurrency C      joins or handshakes in flight at once (default 64; N = all at once)\n"
                "  --join-concurrency C joins in flight at once, if different (e.g. N: every node joins at once)\n"
                "  --prefix P           node names are P-0 .. P-(N-1) (default load)\n"
                "  --retries R          failed attempts a node retries, with backoff, before it gives up (default 5)\n"
                "  --setup-timeout DUR  longest the join and connect phases may take together (default 300s)\n"
                "  --pipeline           reconnect each node right after its join, as an agent does, instead of\n"
                "                       joining every node first\n"
                "  --handshake-timeout DUR  connect + TLS handshake limit per attempt (default 10s, as the agent)\n"
                "  --master-pid PID     also report the master's CPU time per phase (from /proc/PID/stat)\n"
                "\n"
                "Against a master on 127.0.0.0/8 each node connects from its own address 127.1.x.y. Against\n"
                "one elsewhere all nodes share this host's address: start that master with a high enough\n"
                "--max-unauthenticated-per-source (and --max-unauthenticated) for the joins in flight.\n");
}

static int die_arg(const char *opt, const char *val, const char *expected)
{
        fprintf(stderr, "brm_loadgen: invalid %s '%s': expected %s\n", opt, val, expected);
        return 2;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "master", required_argument, NULL, 'm' },     { "token", required_argument, NULL, 't' },
                { "nodes", required_argument, NULL, 'n' },      { "interval", required_argument, NULL, 'i' },
                { "duration", required_argument, NULL, 'd' },   { "concurrency", required_argument, NULL, 'c' },
                { "prefix", required_argument, NULL, 'p' },     { "retries", required_argument, NULL, 'r' },
                { "setup-timeout", required_argument, NULL, 's' }, { "pipeline", no_argument, NULL, 'P' },
                { "handshake-timeout", required_argument, NULL, 'H' }, { "join-concurrency", required_argument, NULL, 'J' }, { "master-pid", required_argument, NULL, 'M' },
                { "help", no_argument, NULL, 'h' },             { 0 },
        };
        struct lg lg;
        const char *token = NULL;
        char host[256];
        uint16_t port = 0;
        uint64_t v;
        int c, r, rc = 1;

        memset(&lg, 0, sizeof(lg));
        lg.n = 100;
        lg.concurrency = 64;
        lg.interval_ms = 1000;
        lg.duration_ms = 30000;
        lg.setup_timeout_ms = 300000;
        lg.retries = 5;
        lg.handshake_timeout_ms = 10000;
        lg.prefix = "load";
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        if (brm_parse_hostport(optarg, host, sizeof(host), &port) < 0 || strlen(optarg) >= sizeof(lg.master))
                                return die_arg("--master", optarg, "HOST:PORT with a numeric address, e.g. 127.0.0.1:7443");
                        snprintf(lg.master, sizeof(lg.master), "%s", optarg);
                        break;
                case 't':
                        token = optarg;
                        break;
                case 'n':
                        if (brm_parse_u64(optarg, 1, 1000000, &v) < 0)
                                return die_arg("--nodes", optarg, "a number from 1 to 1000000");
                        lg.n = (unsigned)v;
                        break;
                case 'i':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 10 || v > 3600000)
                                return die_arg("--interval", optarg, "a duration from 10ms to 1h, e.g. 1s");
                        lg.interval_ms = v;
                        break;
                case 'd':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v > 86400000)
                                return die_arg("--duration", optarg, "a duration up to 24h, e.g. 30s");
                        lg.duration_ms = v;
                        break;
                case 'c':
                        if (brm_parse_u64(optarg, 1, 1000000, &v) < 0)
                                return die_arg("--concurrency", optarg, "a number from 1 to 1000000");
                        lg.concurrency = (unsigned)v;
                        break;
                case 'J':
                        if (brm_parse_u64(optarg, 1, 1000000, &v) < 0)
                                return die_arg("--join-concurrency", optarg, "a number from 1 to 1000000");
                        lg.join_concurrency = (unsigned)v;
                        break;
                case 'p':
                        lg.prefix = optarg;
                        break;
                case 'r':
                        if (brm_parse_u64(optarg, 0, 100, &v) < 0)
                                return die_arg("--retries", optarg, "a number from 0 to 100");
                        lg.retries = (unsigned)v;
                        break;
                case 's':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 1000)
                                return die_arg("--setup-timeout", optarg, "a duration of at least 1s");
                        lg.setup_timeout_ms = v;
                        break;
                case 'P':
                        lg.pipeline = true;
                        break;
                case 'H':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 100 || v > 3600000)
                                return die_arg("--handshake-timeout", optarg, "a duration from 100ms to 1h, e.g. 10s");
                        lg.handshake_timeout_ms = v;
                        break;
                case 'M':
                        if (brm_parse_u64(optarg, 1, 4194304, &v) < 0)
                                return die_arg("--master-pid", optarg, "a process id");
                        lg.master_pid = (int)v;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!lg.join_concurrency)
                lg.join_concurrency = lg.concurrency;
        if (!lg.master[0] || !token) {
                usage(stderr);
                return 2;
        }
        if (brm_token_parse(token, &lg.token) < 0)
                return die_arg("--token", token, brm_token_problem(token));
        {
                char probe[80];
                snprintf(probe, sizeof(probe), "%s-%u", lg.prefix, lg.n - 1);
                if (!brm_valid_node_name(probe))
                        return die_arg("--prefix", lg.prefix, "a node-name prefix of a-z, 0-9 and '-' (names are PREFIX-N)");
        }
        if (uv_ip4_addr(host, port, (struct sockaddr_in *)&lg.addr) != 0 &&
            uv_ip6_addr(host, port, (struct sockaddr_in6 *)&lg.addr) != 0)
                return die_arg("--master", lg.master, "a numeric IPv4 or IPv6 address and a port");
        lg.spread_sources = lg.addr.ss_family == AF_INET &&
                            (ntohl(((struct sockaddr_in *)&lg.addr)->sin_addr.s_addr) >> 24) == 127;
        if (lg.spread_sources && lg.n > 250 * 256) {
                fprintf(stderr, "brm_loadgen: at most 64000 --nodes against a loopback master (one address each)\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        raise_nofile(&lg);
        if (brm_pki_init() < 0) {
                fprintf(stderr, "brm_loadgen: crypto init failed\n");
                return 1;
        }
        lg.loop = uv_default_loop();
        mbedtls_x509_crt_init(&lg.ca);
        mbedtls_ssl_config_init(&lg.pin_conf);
        if ((r = brm_tls_config(&lg.pin_conf, false, BRM_TLS_VERIFY_PIN, NULL)) < 0) {
                fprintf(stderr, "brm_loadgen: TLS setup failed: %s\n", brm_strerror(r));
                goto out;
        }
        say(&lg, "loadgen: %u nodes -> %s, joins in flight %u, handshakes in flight %u, heartbeat every %llu ms, steady state %.0f s%s\n", lg.n, lg.master,
            lg.join_concurrency, lg.concurrency, (unsigned long long)lg.interval_ms, secs(lg.duration_ms),
            lg.pipeline ? ", pipelined (join then connect per node)" : "");
        if ((r = make_nodes(&lg)) < 0) {
                fprintf(stderr, "brm_loadgen: making keys failed: %s\n", brm_strerror(r));
                goto out;
        }
        uv_timer_init(lg.loop, &lg.setup_timer);
        uv_timer_init(lg.loop, &lg.stop_timer);
        lg.setup_timer.data = lg.stop_timer.data = &lg;
        uv_signal_init(lg.loop, &lg.sigint);
        uv_signal_init(lg.loop, &lg.sigterm);
        lg.sigint.data = lg.sigterm.data = &lg;
        uv_signal_start(&lg.sigint, on_signal, SIGINT);
        uv_signal_start(&lg.sigterm, on_signal, SIGTERM);
        /* Making keys took a while: refresh the loop's clock first. */
        uv_update_time(lg.loop);
        uv_timer_start(&lg.setup_timer, on_setup_timeout, lg.setup_timeout_ms, 0);
        uv_timer_init(lg.loop, &lg.lag_timer);
        lg.lag_timer.data = &lg;
        lg.lag_expect_ms = uv_now(lg.loop) + 100;
        uv_timer_start(&lg.lag_timer, on_lag, 100, 100);
        lg.t0_ms = brm_mono_ms();
        getrusage(RUSAGE_SELF, &lg.ru_join);
        lg.mcpu_join = proc_cpu_s(lg.master_pid);
        for (unsigned i = 0; i < lg.n; i++)
                enqueue(&lg.nodes[i]);
        pump(&lg);
        uv_run(lg.loop, UV_RUN_DEFAULT);
        /* Not a timing assertion: 1 only when some node never got a session. */
        rc = lg.steady_start_ms && lg.up_at_end == lg.n ? 0 : 1;
out:
        free_nodes(&lg);
        mbedtls_ssl_config_free(&lg.pin_conf);
        mbedtls_x509_crt_free(&lg.ca);
        uv_loop_close(lg.loop);
        return rc;
}
