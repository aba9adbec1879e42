/* The HTTPS listener, its connections and their limits; see http.h. The
 * routes are in web.c. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "httpreq.h"
#include "log.h"
#include "server.h"
#include "util.h"

#define MOD "http"
#define STREAM_BACKLOG (1u << 20)   /* an event stream's client this far behind is dropped */
#define ANSWER_BACKLOG (64u << 20)  /* all answers queued at once, before a new one is refused */
#define STREAM_INPUT_MAX 4096       /* what a stream's client may send after its request */

enum conn_state { C_HANDSHAKE, C_READING, C_IDLE, C_STREAM };

struct brm_http_conn {
        struct brm_tls_stream tls;
        struct brm_http *h;
        struct brm_http_conn *prev, *next;
        struct brm_httpreq rq;    /* the request being read */
        uint64_t deadline_ms;     /* 0: none (a stream) */
        enum conn_state state;
        int stream_kind;
        size_t stream_input;
        bool closing, handling, close_after, finishing;
        brm_http_conn_cb on_closed, on_drained;
        void *data;
        char token_id[8];         /* the API token the request was made with */
};

static void unlink_conn(struct brm_http *h, struct brm_http_conn *c)
{
        if (c->prev)
                c->prev->next = c->next;
        else
                h->head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                h->tail = c->prev;
        c->prev = c->next = NULL;
}

static void conn_freed(struct brm_tls_stream *s)
{
        struct brm_http_conn *c = s->data;
        struct brm_http *h = c->h;

        unlink_conn(h, c);
        h->n_conns--;
        if (c->state == C_STREAM)
                h->n_streams--;
        if (c->on_closed)
                c->on_closed(c);
        free(c);
}

static void conn_close(struct brm_http_conn *c)
{
        if (c->closing)
                return;
        c->closing = true;
        brm_tls_stream_close(&c->tls, conn_freed);
}

static void finish_drained(struct brm_tls_stream *s)
{
        conn_close(s->data);
}

/* Closes once what is queued has reached the kernel (closing at once
 * would drop it), or at a deadline for a client that does not read. */
static void conn_finish(struct brm_http_conn *c)
{
        if (c->closing)
                return;
        if (brm_tls_stream_queued(&c->tls) == 0) {
                conn_close(c);
                return;
        }
        c->tls.on_drain = finish_drained;
        c->state = C_IDLE;
        c->finishing = true;
        c->deadline_ms = brm_mono_ms() + BRM_HTTP_REQUEST_MS;
}

void brm_http_set_token(struct brm_http_conn *c, const char *id)
{
        snprintf(c->token_id, sizeof(c->token_id), "%s", id);
}

void brm_http_check_streams(struct brm_http *h)
{
        int64_t now = brm_now_ms();
        struct brm_http_conn *c, *next;

        for (c = h->head; c; c = next) {
                next = c->next;
                if (c->state == C_STREAM && !c->closing && !brm_webauth_valid(&h->auth, c->token_id, now)) {
                        brm_debug(MOD, "an event stream's token %s is no longer valid: closing it", c->token_id);
                        conn_close(c);
                }
        }
}

void brm_http_set_data(struct brm_http_conn *c, void *data)
{
        c->data = data;
}

void *brm_http_get_data(const struct brm_http_conn *c)
{
        return c->data;
}

size_t brm_http_queued(const struct brm_http_conn *c)
{
        return brm_tls_stream_queued(&c->tls);
}

static size_t all_queued(struct brm_http *h)
{
        size_t n = 0;
        for (struct brm_http_conn *c = h->head; c; c = c->next)
                n += brm_tls_stream_queued(&c->tls);
        return n;
}

static const char *reason_phrase(int status)
{
        switch (status) {
        case 200: return "OK";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 431: return "Request Header Fields Too Large";
        case 503: return "Service Unavailable";
        default: return status < 500 ? "Bad Request" : "Internal Server Error";
        }
}

static int write_all(struct brm_http_conn *c, const void *data, size_t len)
{
        int r = brm_tls_stream_write(&c->tls, data, len);

        if (r == -ENOBUFS) {
                c->h->stats.dropped++;
                brm_debug(MOD, "a client is not reading its answers; dropping it");
        }
        if (r < 0)
                conn_close(c);
        return r;
}

static void respond(struct brm_http_conn *c, int status, const char *ctype, const char *headers, const void *body,
                    size_t len, const char *cache)
{
        char head[1024], clen[48];
        int n;

        if (c->closing || c->state == C_STREAM)
                return;
        if (len > 256 * 1024 && all_queued(c->h) + len > ANSWER_BACKLOG) {
                status = 503;
                ctype = "text/plain; charset=utf-8";
                headers = "Retry-After: 5\r\n";
                body = "503 Service Unavailable: too many large answers queued; try again\n";
                len = strlen(body);
        }
        c->h->stats.requests++;
        if (status == 401)
                c->h->stats.unauthorized++;
        /* A 304 carries no length: it would have to be the 200's. */
        snprintf(clen, sizeof(clen), status == 304 ? "" : "Content-Length: %zu\r\n", len);
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "%s"
                     "Cache-Control: %s\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Referrer-Policy: no-referrer\r\n"
                     "%s%s\r\n",
                     status, reason_phrase(status), ctype ? ctype : "text/plain; charset=utf-8", clen, cache,
                     headers ? headers : "", c->close_after ? "Connection: close\r\n" : "");
        if (n < 0 || (size_t)n >= sizeof(head)) {
                conn_close(c);
                return;
        }
        if (write_all(c, head, (size_t)n) < 0)
                return;
        if (len && strcmp(c->rq.req.method, "HEAD") != 0 && write_all(c, body, len) < 0)
                return;
        if (c->close_after)
                conn_finish(c);
}

void brm_http_respond(struct brm_http_conn *c, int status, const char *ctype, const char *headers, const void *body,
                      size_t len)
{
        respond(c, status, ctype, headers, body, len, "no-store");
}

void brm_http_respond_cached(struct brm_http_conn *c, int status, const char *ctype, const char *headers,
                             const void *body, size_t len)
{
        respond(c, status, ctype, headers, body, len, "no-cache");
}

void brm_http_error(struct brm_http_conn *c, int status, const char *msg)
{
        char body[400];
        int n = snprintf(body, sizeof(body), "%d %s: %s\n", status, reason_phrase(status), msg);

        if (n < 0)
                n = 0;
        if ((size_t)n >= sizeof(body))
                n = sizeof(body) - 1;
        brm_http_respond(c, status, "text/plain; charset=utf-8",
                         status == 401 ? "WWW-Authenticate: Bearer realm=\"bramble\"\r\n" : NULL, body, (size_t)n);
}

/* ---- streams ---- */

static void stream_drained(struct brm_tls_stream *s)
{
        struct brm_http_conn *c = s->data;

        if (c->on_drained && !c->closing)
                c->on_drained(c);
}

int brm_http_stream_start(struct brm_http_conn *c, int kind, brm_http_conn_cb closed, brm_http_conn_cb drained)
{
        static const char head[] = "HTTP/1.1 200 OK\r\n"
                                   "Content-Type: text/event-stream\r\n"
                                   "Cache-Control: no-store\r\n"
                                   "X-Content-Type-Options: nosniff\r\n"
                                   "Connection: close\r\n\r\n";
        int r;

        if (c->closing)
                return -ENOTCONN;
        c->h->stats.requests++;
        if ((r = write_all(c, head, sizeof(head) - 1)) < 0)
                return r;
        c->state = C_STREAM;
        c->h->n_streams++;
        c->stream_kind = kind;
        c->deadline_ms = 0;
        c->on_closed = closed;
        c->on_drained = drained;
        c->tls.on_drain = stream_drained;
        c->tls.write_limit = STREAM_BACKLOG;
        /* A stream can be quiet for long; keepalive finds a client that
         * vanished. */
        uv_tcp_keepalive(&c->tls.tcp, 1, 60);
        return 0;
}

int brm_http_stream_send(struct brm_http_conn *c, const char *event, const char *data, size_t len)
{
        char head[64];
        int n, r;

        if (c->closing || c->state != C_STREAM)
                return -ENOTCONN;
        if (brm_tls_stream_queued(&c->tls) + len + 80 > STREAM_BACKLOG) {
                c->h->stats.dropped++;
                brm_debug(MOD, "an event stream's client is not reading; dropping it");
                conn_close(c);
                return -ENOBUFS;
        }
        n = snprintf(head, sizeof(head), "event: %s\ndata: ", event);
        if ((r = write_all(c, head, (size_t)n)) < 0 || (r = write_all(c, data, len)) < 0 ||
            (r = write_all(c, "\n\n", 2)) < 0)
                return r;
        return 0;
}

void brm_http_stream_end(struct brm_http_conn *c)
{
        if (c->state == C_STREAM) {
                c->h->n_streams--;
                c->stream_kind = 0;
                c->state = C_IDLE;
        }
        conn_finish(c);
}

void brm_http_foreach_stream(struct brm_http *h, int kind, void (*fn)(void *arg, struct brm_http_conn *c), void *arg)
{
        struct brm_http_conn *c, *next;

        for (c = h->head; c; c = next) {
                next = c->next;
                if (c->state == C_STREAM && c->stream_kind == kind && !c->closing)
                        fn(arg, c);
        }
}

/* The request's head is complete: answer it. */
static void handle(struct brm_http_conn *c)
{
        struct brm_http *h = c->h;
        const struct brm_http_req *r = &c->rq.req;

        c->close_after = !brm_httpreq_keep_alive(&c->rq);
        c->handling = true;
        if (brm_httpreq_upgrade(&c->rq)) {
                c->close_after = true;
                brm_http_error(c, 400, "protocol upgrades are not served here");
        } else if (r->head_too_long) {
                c->close_after = true;
                brm_http_error(c, 431, "a header or the request target is too long");
        } else if (r->has_body) {
                c->close_after = true;
                brm_http_error(c, 413, "requests here have no body");
        } else if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
                c->close_after = true;
                brm_http_error(c, 405, "only GET and HEAD are served");
        } else {
                brm_web_handle(h, c, r);
        }
        c->handling = false;
        brm_httpreq_next(&c->rq);
        if (!c->closing && c->state == C_READING) {
                c->state = C_IDLE;
                c->deadline_ms = brm_mono_ms() + BRM_HTTP_IDLE_MS;
        }
}

static void on_data(struct brm_tls_stream *s, const uint8_t *data, size_t len)
{
        struct brm_http_conn *c = s->data;
        size_t off = 0;

        while (off < len && !c->closing && !c->finishing) {
                size_t used;
                int rc;
                if (c->state == C_STREAM) {
                        /* A stream's client has nothing more to say. */
                        c->stream_input += len - off;
                        if (c->stream_input > STREAM_INPUT_MAX)
                                conn_close(c);
                        return;
                }
                rc = brm_httpreq_feed(&c->rq, (const char *)data + off, len - off, &used);
                off += used;
                if (c->rq.begun && c->state != C_READING) {
                        /* A request has begun: all of it within 10 s. */
                        uint64_t deadline = brm_mono_ms() + BRM_HTTP_REQUEST_MS;
                        c->state = C_READING;
                        if (!c->deadline_ms || deadline < c->deadline_ms)
                                c->deadline_ms = deadline;
                }
                if (rc == BRM_HTTPREQ_DONE) {
                        c->token_id[0] = '\0';
                        handle(c);
                } else if (rc != BRM_HTTPREQ_MORE) {
                        c->close_after = true;
                        c->rq.req.method[0] = '\0';
                        brm_http_error(c, rc, c->rq.error);
                        return;
                }
        }
}

static void on_error(struct brm_tls_stream *s, int status)
{
        conn_close(s->data);
}

static void on_handshake(struct brm_tls_stream *s, int status)
{
        struct brm_http_conn *c = s->data;

        if (status < 0) {
                brm_debug(MOD, "TLS handshake failed: %s", brm_strerror(status));
                conn_close(c);
                return;
        }
        c->state = C_IDLE;
}

/* ---- the listener ---- */

/* Room for one more. What goes, the oldest first: a connection still in
 * its TLS handshake (a flood of idle sockets is all of this kind), then
 * one idle between requests, then one sending a request. A stream stays. */
static bool make_room(struct brm_http *h)
{
        static const enum conn_state order[] = { C_HANDSHAKE, C_IDLE, C_READING };

        for (size_t i = 0; i < BRM_ARRAY_SIZE(order); i++)
                for (struct brm_http_conn *c = h->head; c; c = c->next)
                        if (c->state == order[i] && !c->closing && !c->handling && !c->finishing) {
                                h->stats.evicted++;
                                conn_close(c);
                                return true;
                        }
        return false;
}

static void on_connection(uv_stream_t *server, int status)
{
        struct brm_http *h = server->data;
        struct brm_http_conn *c;

        if (status < 0 || h->stopping)
                return;
        if (!(c = calloc(1, sizeof(*c)))) {
                uv_tcp_t tmp;
                if (uv_tcp_init(h->m->loop, &tmp) == 0 && uv_accept(server, (uv_stream_t *)&tmp) == 0)
                        uv_close((uv_handle_t *)&tmp, NULL);
                return;
        }
        if (brm_tls_stream_init(h->m->loop, &c->tls, &h->tls) < 0) {
                free(c);
                return;
        }
        c->h = h;
        c->tls.data = c;
        c->tls.write_limit = ANSWER_BACKLOG;
        brm_httpreq_init(&c->rq);
        c->deadline_ms = brm_mono_ms() + BRM_HTTP_REQUEST_MS;
        c->prev = h->tail;
        if (h->tail)
                h->tail->next = c;
        else
                h->head = c;
        h->tail = c;
        h->n_conns++;
        if (uv_accept(server, (uv_stream_t *)&c->tls.tcp) < 0 ||
            brm_tls_stream_start(&c->tls, on_handshake, on_data, on_error) < 0) {
                conn_close(c);
                return;
        }
        /* Counted before it is let in: a flood never holds more. */
        if (h->n_conns > h->max_conns && !make_room(h))
                conn_close(c);
}

static void on_tick(uv_timer_t *t)
{
        struct brm_http *h = t->data;
        uint64_t now = brm_mono_ms();
        struct brm_http_conn *c, *next;

        for (c = h->head; c; c = next) {
                next = c->next;
                if (!c->closing && c->deadline_ms && now >= c->deadline_ms) {
                        h->stats.timed_out++;
                        if (c->state == C_READING) {
                                c->close_after = true;
                                brm_http_error(c, 408, "the request did not arrive within 10 s");
                        }
                        conn_close(c);
                }
        }
        if (h->n_streams) {
                brm_http_check_streams(h);
                brm_web_tick(h);
        }
}

int brm_http_start(struct brm_master *m)
{
        struct brm_http *h = m->http;
        struct sockaddr_storage ss;
        uint16_t port;
        int r;

        if (!h)
                return 0;
        h->m = m;
        if (!h->max_conns)
                h->max_conns = BRM_HTTP_MAX_CONNS;
        if (brm_parse_hostport(m->cfg.http_listen, h->host, sizeof(h->host), &port) < 0)
                return -EINVAL;
        if (uv_ip4_addr(h->host, port, (struct sockaddr_in *)&ss) != 0 &&
            uv_ip6_addr(h->host, port, (struct sockaddr_in6 *)&ss) != 0)
                return -EINVAL;
        mbedtls_ssl_config_init(&h->tls);
        h->tls_ready = true;
        if ((r = brm_tls_config(&h->tls, true, BRM_TLS_VERIFY_NONE, &m->ca.server)) < 0)
                return r;
        if ((r = uv_tcp_init(m->loop, &h->listener)) < 0)
                return r;
        h->listener.data = h;
        h->listening = true;
        if ((r = uv_tcp_bind(&h->listener, (const struct sockaddr *)&ss, 0)) < 0 ||
            (r = uv_listen((uv_stream_t *)&h->listener, 128, on_connection)) < 0)
                return r;
        {
                struct sockaddr_storage got;
                int len = sizeof(got);
                if (uv_tcp_getsockname(&h->listener, (struct sockaddr *)&got, &len) == 0)
                        h->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                                  : ((struct sockaddr_in *)&got)->sin_port);
        }
        if ((r = uv_timer_init(m->loop, &h->tick)) < 0)
                return r;
        h->tick.data = h;
        h->tick_ready = true;
        uv_timer_start(&h->tick, on_tick, 1000, 1000);
        uv_unref((uv_handle_t *)&h->tick);
        brm_info(MOD, "serving HTTPS on %s:%u (metrics and dashboard; at most %u connections)", h->host, h->port,
                 h->max_conns);
        return 0;
}

void brm_http_stop(struct brm_master *m)
{
        struct brm_http *h = m->http;
        struct brm_http_conn *c, *next;

        if (!h || h->stopping)
                return;
        h->stopping = true;
        if (h->listening)
                uv_close((uv_handle_t *)&h->listener, NULL);
        if (h->tick_ready)
                uv_close((uv_handle_t *)&h->tick, NULL);
        for (c = h->head; c; c = next) {
                next = c->next;
                conn_close(c);
        }
}

void brm_http_free(struct brm_master *m)
{
        struct brm_http *h = m->http;

        if (!h)
                return;
        if (h->tls_ready)
                mbedtls_ssl_config_free(&h->tls);
        brm_webauth_free(&h->auth);
}
