/* The master process: one libuv loop serving nodes and operators on one
 * mTLS port. */
#ifndef BRM_MASTER_H
#define BRM_MASTER_H

#include <stdbool.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <uv.h>

#include "ca.h"
#include "conn.h"
#include "registry.h"
#include "store.h"

enum brm_role { BRM_ROLE_NONE, BRM_ROLE_NODE, BRM_ROLE_ADMIN };

struct brm_master;

struct brm_session {
        struct brm_conn conn;
        struct brm_master *m;
        enum brm_role role;
        char name[64];
        struct brm_node *node;
        struct brm_session *prev, *next;
};

struct brm_master_config {
        char data_dir[1024];
        char listen[300];
        const char *advertise[16];
        size_t n_advertise;
        uint64_t heartbeat_interval_ms; /* told to agents; default 5 s */
        unsigned grace_intervals;       /* missed intervals before NotReady; default 3 */
        uint64_t cert_validity_ms;      /* node certificates; default 30 days */
        uint32_t max_frame;             /* default 1 MiB */
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
        uint64_t last_flush_mono;
        bool stopping;
};

int brm_server_start(struct brm_master *m);
/* Closes the listener and every session; the loop then ends. */
void brm_server_stop(struct brm_master *m);
/* Writes batched last-seen times. */
void brm_server_flush(struct brm_master *m);

/* api.c: operator calls and joins, answered on the session. */
void brm_api_join(struct brm_session *s, uint64_t id, const Bramble__JoinRequest *req);
void brm_api_renew(struct brm_session *s, uint64_t id, const Bramble__RenewRequest *req);
void brm_api_admin(struct brm_session *s, Bramble__Envelope *env);

#endif
