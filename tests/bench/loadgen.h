/* brm_loadgen's state, shared by its files: loadgen.c (the start queue,
 * phases and connections: the event loop), loadgen_msg.c (the messages a
 * simulated node sends), loadgen_ctr.c (the containers a node is told to
 * run and reports, the power cut, the stats file), loadgen_report.c
 * (measuring and printing) and loadgen_setup.c (options, keys). */
#ifndef BRM_LOADGEN_H
#define BRM_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <uv.h>

#include "backoff.h"
#include "conn.h"
#include "pki.h"
#include "tls.h"
#include "token.h"

enum node_state {
        ST_NEW,        /* key made, not joined yet */
        ST_JOINING,    /* join connection open */
        ST_JOINED,     /* certificate held, no session */
        ST_CONNECTING, /* mTLS connection open, no HelloAck yet */
        ST_UP,         /* HelloAck received, heartbeating */
        ST_FAILED,     /* gave up after --retries attempts */
};

struct lg;
struct lg_ctr; /* loadgen_ctr.c */

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
        struct lg_ctr *ctrs; /* the last DesiredState's containers, by name */
        uint32_t n_ctrs, n_running; /* n_running: reported running */
        bool cut;            /* silenced by a power cut: no heartbeats, nothing read */
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
        /* containers (loadgen_ctr.c); times are wall clock, ms */
        uint64_t start_delay_ms;   /* desired -> reported running */
        const char *control_path;  /* read on SIGUSR1 */
        const char *stats_path;    /* rewritten when the counters change */
        uint64_t live_desired, live_running; /* over the nodes not cut */
        uint64_t ds_frames, ds_dropped, ctrs_added, next_pid;
        int64_t last_desired_wall_ms, last_running_wall_ms, cut_wall_ms;
        unsigned n_cut, cut_ctrs, stats_up;
        bool stats_dirty, stats_warned;
        Bramble__ContainerStatus *st; /* one heartbeat's statuses */
        Bramble__ContainerStatus **st_ptrs;
        uint32_t st_cap;
        uv_signal_t sigusr1;
        uv_timer_t stats_timer;
};

/* loadgen_report.c */
void brm_lg_say(struct lg *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double brm_lg_secs(uint64_t ms);
/* CPU seconds (user + system) from a to b. */
double brm_lg_cpu_s(const struct rusage *a, const struct rusage *b);
/* A "VmRSS"-style field of /proc/self/status in KiB, -1 if unknown. */
long brm_lg_self_kib(const char *field);
/* utime+stime of a process in seconds, from /proc/PID/stat; -1 if unknown. */
double brm_lg_proc_cpu_s(int pid);
void brm_lg_reason_add(struct reasons *r, int code);
void brm_lg_reason_print(const char *what, const struct reasons *r);
/* Sorts v. */
void brm_lg_lat_print(const char *what, uint32_t *v, unsigned n);
uint32_t brm_lg_rnd32(void);
/* The closing figures and the RESULT line. */
void brm_lg_report(struct lg *lg);

/* loadgen_msg.c: each sends on n->conn and closes it when sending fails. */
void brm_lg_send_join(struct node *n);
void brm_lg_send_hello(struct node *n);
void brm_lg_send_heartbeat(struct node *n);
/* Stores the certificate and checks the CA against the token's pin; 0 or
 * -errno. */
int brm_lg_take_join_response(struct node *n, const Bramble__JoinResponse *jr);

/* loadgen_ctr.c */
/* Keeps the set a DesiredState names (a cut node ignores it). */
void brm_lg_take_desired(struct node *n, const Bramble__DesiredState *ds);
/* Points hb->containers at statuses of n's containers (valid until the
 * next call); 0 or -ENOMEM (then none). */
int brm_lg_fill_statuses(struct node *n, Bramble__Heartbeat *hb);
/* The heartbeat filled last went out: its running containers count as
 * reported. */
void brm_lg_statuses_sent(struct node *n);
void brm_lg_free_ctrs(struct node *n);
/* SIGUSR1 (the --control file) and the --stats file. */
void brm_lg_ctr_start(struct lg *lg);
void brm_lg_ctr_stop(struct lg *lg);
void brm_lg_ctr_report(struct lg *lg);

/* loadgen_setup.c */
/* Parses the command line into lg. Returns -1 to run, or the status to
 * exit with (0 after --help, 2 for a usage error, said on stderr). */
int brm_lg_options(struct lg *lg, int argc, char **argv);
/* Every node's key and CSR, before anything is timed. */
int brm_lg_make_nodes(struct lg *lg);
void brm_lg_free_nodes(struct lg *lg);
void brm_lg_raise_nofile(struct lg *lg);

#endif
