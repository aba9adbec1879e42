/* One framed, TLS-protected connection on a libuv loop: handshake and idle
 * timeouts, frame decoding with the size limit, Envelope dispatch. Used by
 * the master for each session and by the agent for its link. */
#ifndef BRM_CONN_H
#define BRM_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "bramble.pb-c.h"
#include "frame.h"
#include "tls.h"

struct brm_conn;
/* Handshake finished: status 0, or < 0 and the connection is closing. */
typedef void (*brm_conn_ready_cb)(struct brm_conn *c, int status);
/* One message; the connection frees env after the call returns. */
typedef void (*brm_conn_msg_cb)(struct brm_conn *c, Bramble__Envelope *env);
/* Called exactly once when every handle is closed; the owner may free c. */
typedef void (*brm_conn_closed_cb)(struct brm_conn *c);
/* Everything queued has been handed to the kernel. */
typedef void (*brm_conn_drain_cb)(struct brm_conn *c);

struct brm_conn {
        struct brm_tls_stream tls;
        uv_timer_t timer;
        uv_connect_t connect_req;
        struct brm_frame_decoder dec;
        uint64_t handshake_timeout_ms; /* default 10 s */
        uint64_t idle_timeout_ms;      /* 0 = none */
        uint64_t last_rx_ms;
        uint64_t last_tick_ms;         /* when the idle check last ran */
        int close_reason;              /* why the connection closed (negative errno), 0 if asked */
        int open_handles;
        bool ready, closing;
        brm_conn_ready_cb on_ready;
        brm_conn_msg_cb on_msg;
        brm_conn_closed_cb on_closed;
        brm_conn_drain_cb on_drain;    /* optional; set with brm_conn_set_drain() */
        const uint8_t *frame;          /* during on_msg: the frame's packed body */
        size_t frame_len;
        void *data;
};

/* Initializes handles; on failure nothing needs closing. */
int brm_conn_init(uv_loop_t *loop, struct brm_conn *c, const mbedtls_ssl_config *conf, uint32_t max_frame);
/* For an accepted connection: starts the handshake. On failure the caller
 * still calls brm_conn_close(). */
int brm_conn_start(struct brm_conn *c, brm_conn_ready_cb on_ready, brm_conn_msg_cb on_msg, brm_conn_closed_cb on_closed);
/* For a client: connects, then starts the handshake. A connect failure is
 * reported through on_ready. */
int brm_conn_connect(struct brm_conn *c, const struct sockaddr *addr, brm_conn_ready_cb on_ready,
                     brm_conn_msg_cb on_msg, brm_conn_closed_cb on_closed);
/* Changes the idle timeout (0 = none) of a ready connection. */
void brm_conn_set_idle(struct brm_conn *c, uint64_t idle_ms);
/* Packs and sends one Envelope. -ENOBUFS if the peer is not reading. */
int brm_conn_send(struct brm_conn *c, const Bramble__Envelope *env);
/* Sends an already packed Envelope body (a frame being relayed). */
int brm_conn_send_packed(struct brm_conn *c, const uint8_t *body, size_t len);
/* Bytes queued for the peer: in this process and in the kernel's send
 * buffer (not yet acknowledged). */
size_t brm_conn_backlog(const struct brm_conn *c);
void brm_conn_set_drain(struct brm_conn *c, brm_conn_drain_cb cb);
/* Bytes the peer has sent that wait unread in the kernel's receive buffer:
 * when this is not 0, the peer is not the one keeping the connection
 * waiting. */
size_t brm_conn_pending_input(const struct brm_conn *c);
/* Sends an Ok envelope (best effort) in reply to request id. */
void brm_conn_send_ok(struct brm_conn *c, uint64_t id);
/* Sends an Error envelope (best effort) in reply to request id. */
void brm_conn_send_error(struct brm_conn *c, uint64_t id, int code, const char *msg);
/* Closes; reason is kept in close_reason. Idempotent. */
void brm_conn_close(struct brm_conn *c, int reason);

#endif
