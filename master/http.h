/* The master's HTTPS port (--http-listen): Prometheus metrics and the
 * read-only dashboard, with the master's own certificate. Requests are
 * parsed by Debian's http-parser on the master's libuv loop.
 *
 * A client cannot grow the master's memory: at most max_conns connections
 * (a new one evicts the oldest that is not streaming), a handshake and a
 * whole request must arrive within 10 s, an idle keep-alive connection is
 * closed after 30 s, a request's head is at most 16 KiB and may have no
 * body, a client that stops reading its answers is dropped, and event
 * streams (never closed for room) take at most half the connections. */
#ifndef BRM_HTTP_H
#define BRM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <uv.h>

#include "httpreq.h"
#include "webauth.h"

#define BRM_HTTP_MAX_CONNS 128
#define BRM_HTTP_REQUEST_MS 10000
#define BRM_HTTP_IDLE_MS 30000

struct brm_master;
struct brm_http_conn;


struct brm_http_stats {
        uint64_t requests;       /* answered */
        uint64_t unauthorized;   /* answered 401 */
        uint64_t evicted;        /* connections closed to make room */
        uint64_t timed_out;      /* handshake, request or idle deadline */
        uint64_t dropped;        /* clients that stopped reading */
};

struct brm_http {
        struct brm_master *m;
        uv_tcp_t listener;
        mbedtls_ssl_config tls;
        bool tls_ready, listening, stopping;
        uv_timer_t tick;              /* deadlines and the state stream, once a second */
        bool tick_ready;
        struct brm_http_conn *head, *tail; /* oldest first */
        unsigned n_conns, max_conns;
        unsigned n_streams;
        char host[256];
        uint16_t port;
        struct brm_webauth auth;
        struct brm_http_stats stats;
        uint64_t state_hash;          /* of the last state pushed to the streams */
        uint64_t state_pushed_ms;
        uint64_t state_built_ms;      /* when the state was last built for them */
        uint64_t ready_sig;           /* which nodes were Ready then */
};

/* Starts listening on cfg.http_listen (nothing when it is empty). Returns
 * 0, -EINVAL for a bad address, or a libuv/mbedTLS error. */
int brm_http_start(struct brm_master *m);
/* Closes the listener and every connection. Idempotent. */
void brm_http_stop(struct brm_master *m);
void brm_http_free(struct brm_master *m);

/* ---- for the routes (web.c) ---- */

/* The routes: answers one complete request (web.c). */
void brm_web_handle(struct brm_http *h, struct brm_http_conn *c, const struct brm_http_req *r);
/* Once a second while streams are open (web.c). */
void brm_web_tick(struct brm_http *h);

/* Answers the request being handled. body may be NULL for len 0; headers
 * is extra header lines, each ending in "\r\n", or NULL. */
void brm_http_respond(struct brm_http_conn *c, int status, const char *ctype, const char *headers, const void *body,
                      size_t len);
/* The same for what a browser may keep and revalidate (Cache-Control:
 * no-cache instead of no-store); a 304 has no body. */
void brm_http_respond_cached(struct brm_http_conn *c, int status, const char *ctype, const char *headers,
                             const void *body, size_t len);
/* Answers "STATUS REASON: msg" as text/plain. */
void brm_http_error(struct brm_http_conn *c, int status, const char *msg);
/* Turns the connection into a Server-Sent Events stream (the answer's
 * head is sent; the connection closes when the stream ends). kind is the
 * route's, for brm_http_foreach_stream; closed (optional) is called once
 * when the connection goes, drained (optional) when everything queued has
 * been handed to the kernel. */
typedef void (*brm_http_conn_cb)(struct brm_http_conn *c);
int brm_http_stream_start(struct brm_http_conn *c, int kind, brm_http_conn_cb closed, brm_http_conn_cb drained);
/* Sends one event ("event: NAME\ndata: DATA\n\n"); data must hold no
 * newline. A client over its backlog is dropped: -ENOBUFS. */
int brm_http_stream_send(struct brm_http_conn *c, const char *event, const char *data, size_t len);
void brm_http_stream_end(struct brm_http_conn *c);
/* The API token the request being answered was made with: its streams
 * end when it is revoked or expires. */
void brm_http_set_token(struct brm_http_conn *c, const char *id);
/* Ends every event stream whose token is no longer valid (run each second,
 * and at once when a token is revoked). */
void brm_http_check_streams(struct brm_http *h);
/* Bytes queued for the client. */
size_t brm_http_queued(const struct brm_http_conn *c);
void brm_http_foreach_stream(struct brm_http *h, int kind, void (*fn)(void *arg, struct brm_http_conn *c), void *arg);
/* A stream's own data (for the log relay). */
void brm_http_set_data(struct brm_http_conn *c, void *data);
void *brm_http_get_data(const struct brm_http_conn *c);

#endif
