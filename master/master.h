/* The master process: one libuv loop serving nodes and operators on one
 * mTLS port. */
#ifndef BRM_MASTER_H
#define BRM_MASTER_H

#include <stdbool.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <uv.h>

#include "admit.h"
#include "ca.h"
#include "conn.h"
#include "registry.h"
#include "store.h"

enum brm_role { BRM_ROLE_NONE, BRM_ROLE_NODE, BRM_ROLE_ADMIN };

struct brm_master;
struct brm_relay;

struct brm_session {
        struct brm_conn conn;
        uint64_t sid;           /* unique per session, for replies that arrive later */
        struct brm_master *m;
        enum brm_role role;
        char name[64];
        struct brm_node *node;
        struct brm_session *prev, *next;
        struct brm_relay *relay;    /* an operator's log stream */
        struct brm_admit_entry admit; /* listed until the peer has a certificate */
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
        unsigned max_unauth;            /* connections without a certificate; default 64 */
        unsigned max_unauth_per_source; /* of those, from one address; default 8 */
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
        struct brm_pending *pending;   /* container checks waiting for a node */
        struct brm_relay *relays;      /* log streams being relayed (relay.c) */
        uint64_t next_relay_id;
        uint64_t last_flush_mono;
        uint64_t last_liveness_mono;
        struct brm_admit admit;        /* sessions without a certificate yet */
        uv_timer_t admit_timer;        /* their deadlines */
        bool accept_paused;            /* a connection waits in the kernel queue */
        bool stopping;
};

int brm_server_start(struct brm_master *m);
/* Writes the batched last-seen times, closes the listener and every
 * session; the loop then ends. */
void brm_server_stop(struct brm_master *m);

/* A request relayed to a node, waiting for its answer. */
struct brm_pending {
        uint64_t node_req_id;
        uint64_t admin_sid;
        uint64_t admin_req_id;
        char node[64];
        uint8_t *spec;          /* packed ContainerSpec to store once the node agrees */
        size_t spec_len;
        uint64_t deadline_mono;
        struct brm_pending *next;
};

struct brm_session *brm_server_find_session(struct brm_master *m, uint64_t sid);

/* containers.c */
void brm_containers_admin(struct brm_session *s, Bramble__Envelope *env);
/* A node's Ok/Error that may answer a relayed check; true if it did. */
bool brm_containers_node_reply(struct brm_session *s, Bramble__Envelope *env);
/* Sends the node its complete desired set (no-op when not connected). */
void brm_containers_push(struct brm_master *m, const char *node);
/* Fails relayed checks that took too long. */
void brm_containers_expire(struct brm_master *m);
void brm_containers_free(struct brm_master *m);

/* relay.c: relaying log streams between nodes and operators. */
void brm_relay_open(struct brm_session *s, uint64_t id, const Bramble__LogsRequest *req);
void brm_relay_node(struct brm_session *s, Bramble__Envelope *env);
void brm_relay_session_closed(struct brm_session *s);
unsigned brm_relay_count(struct brm_master *m, const char *node);
void brm_relay_free(struct brm_master *m);

/* api.c: operator calls and joins, answered on the session. A reply that
 * cannot be queued (the peer stopped reading) drops the session. */
void brm_api_reply(struct brm_session *s, uint64_t id, Bramble__Envelope *env);
void brm_api_reply_ok(struct brm_session *s, uint64_t id);
void brm_api_join(struct brm_session *s, uint64_t id, const Bramble__JoinRequest *req);
void brm_api_renew(struct brm_session *s, uint64_t id, const Bramble__RenewRequest *req);
void brm_api_admin(struct brm_session *s, Bramble__Envelope *env);

#endif
