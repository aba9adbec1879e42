/* The master process's state, the listener and the message routes: one
 * libuv loop serving nodes and operators on one mTLS port. Every message a
 * session receives goes through one table in server.c that says which
 * roles may send it and which handler answers it. */
#ifndef BRM_SERVER_H
#define BRM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <uv.h>

#include "admit.h"
#include "ca.h"
#include "imagestore.h"
#include "registry.h"
#include "services.h"
#include "snapshot.h"
#include "stats.h"
#include "store.h"

struct brm_session;
struct brm_pending;
struct brm_relay;
struct brm_http;

struct brm_master_config {
        char data_dir[1024];
        char listen[300];
        const char *advertise[16];
        size_t n_advertise;
        uint64_t heartbeat_interval_ms; /* told to agents; default 5 s */
        unsigned grace_intervals;       /* missed intervals before NotReady; default 3 */
        uint64_t cert_validity_ms;      /* node certificates; default 30 days */
        uint32_t max_frame;             /* default 1 MiB */
        unsigned max_unauth;            /* connections without a certificate; default 64 */
        unsigned max_unauth_per_source; /* of those, from one address; default 8 */
        uint64_t snapshot_interval_ms;  /* 0: no snapshots; default 1 h */
        unsigned snapshot_keep;         /* default 24 */
        uint64_t reschedule_after_ms;   /* NotReady this long: its replicas move; default 0 */
        uint64_t memory_reserve;        /* of each node's memory, never reserved to replicas; default 64 MiB */
        char http_listen[300];          /* the HTTPS port (metrics, dashboard); "" = none */
        unsigned http_max_conns;        /* its connections at once; default 128 */
        bool no_announce;               /* --no-announce: no mDNS announcement */
        char mdns_name[64];             /* the announced instance name; "" = the host name */
};

struct brm_master {
        uv_loop_t *loop;
        struct brm_master_config cfg;
        struct brm_ca ca;
        struct brm_store *store;
        struct brm_registry reg;
        mbedtls_ssl_config tls;
        uv_tcp_t listener;
        uv_timer_t liveness;
        uv_signal_t sigint, sigterm;
        struct brm_session *sessions;
        size_t n_sessions;
        uint64_t next_sid;
        uint64_t next_node_req;
        struct brm_pending *pending;   /* container checks waiting for a node (containers.c) */
        struct brm_relay *relays;      /* log streams being relayed (relay.c) */
        uint64_t next_relay_id;
        uint64_t last_flush_mono;
        uint64_t last_liveness_mono;
        struct brm_admit admit;        /* sessions without a certificate yet */
        uv_timer_t admit_timer;        /* their deadlines */
        bool accept_paused;            /* a connection waits in the kernel queue */
        bool stopping;
        struct brm_snapshots snap;     /* periodic snapshots of the state (snapshot.c) */
        struct brm_imagestore images;  /* the cluster's images (imagestore.c) */
        struct brm_pull *pulls;        /* registry pulls running (pull.c) */
        struct brm_stats stats;        /* counters for /metrics (stats.h, metrics.c) */
        struct brm_services svc;       /* services and their replicas (services.c, sched.c) */
        struct brm_http *http;         /* the HTTPS port, when --http-listen is set (http.c) */
        struct brm_announce *announce; /* the mDNS announcement, when there is one (announce.c) */
        struct brm_upgrade *upgrade;   /* OS update rollouts (upgrade.c) */
};

/* Listens on cfg.listen and starts the timers and signal handlers.
 * Returns 0, -EINVAL for a bad address, or a libuv error. */
int brm_server_start(struct brm_master *m);
/* Writes the batched last-seen times, closes the listener and every
 * session; the loop then ends. Idempotent. */
void brm_server_stop(struct brm_master *m);

#endif
