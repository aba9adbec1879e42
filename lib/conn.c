#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "util.h"

static void handle_closed(struct brm_conn *c)
{
        if (--c->open_handles == 0 && c->on_closed)
                c->on_closed(c);
}

static void timer_closed(uv_handle_t *h)
{
        handle_closed(h->data);
}

static void tls_closed(struct brm_tls_stream *s)
{
        handle_closed(s->data);
}

void brm_conn_close(struct brm_conn *c, int reason)
{
        if (c->closing)
                return;
        c->closing = true;
        c->close_reason = reason;
        brm_frame_decoder_reset(&c->dec);
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, timer_closed);
        brm_tls_stream_close(&c->tls, tls_closed);
}

static void on_timer(uv_timer_t *t)
{
        struct brm_conn *c = t->data;
        uint64_t now = brm_mono_ms();

        if (!c->ready) {
                brm_conn_close(c, -ETIMEDOUT);
                if (c->on_ready)
                        c->on_ready(c, -ETIMEDOUT);
                return;
        }
        /* If the loop itself stalled (a burst of handshakes), data from the
         * peer may be waiting unread: judge idleness on the next tick. */
        uint64_t tick = c->idle_timeout_ms / 4 ? c->idle_timeout_ms / 4 : 1;
        bool stalled = c->last_tick_ms && now - c->last_tick_ms > 2 * tick;
        c->last_tick_ms = now;
        if (stalled)
                return;
        if (c->idle_timeout_ms && now - c->last_rx_ms >= c->idle_timeout_ms)
                brm_conn_close(c, -ETIMEDOUT);
}

void brm_conn_set_idle(struct brm_conn *c, uint64_t idle_ms)
{
        uint64_t tick = idle_ms / 4 ? idle_ms / 4 : 1;

        c->idle_timeout_ms = idle_ms;
        if (c->ready && !c->closing) {
                if (idle_ms)
                        uv_timer_start(&c->timer, on_timer, tick, tick);
                else
                        uv_timer_stop(&c->timer);
        }
}

int brm_conn_init(uv_loop_t *loop, struct brm_conn *c, const mbedtls_ssl_config *conf, uint32_t max_frame)
{
        int r;

        memset(c, 0, sizeof(*c));
        c->handshake_timeout_ms = 10000;
        brm_frame_decoder_init(&c->dec, max_frame);
        r = brm_tls_stream_init(loop, &c->tls, conf);
        if (r < 0)
                return r;
        c->tls.data = c;
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        c->open_handles = 2;
        return 0;
}

static int on_frame(void *arg, const uint8_t *body, size_t len)
{
        struct brm_conn *c = arg;
        Bramble__Envelope *env;
        int r = brm_msg_unpack(body, len, &env);

        if (r < 0)
                return r;
        if (env->msg_case == BRAMBLE__ENVELOPE__MSG__NOT_SET) {
                brm_msg_free(env);
                return -EBADMSG;
        }
        c->frame = body;
        c->frame_len = len;
        c->on_msg(c, env);
        c->frame = NULL;
        c->frame_len = 0;
        brm_msg_free(env);
        return c->closing ? -ECANCELED : 0;
}

static void on_data(struct brm_tls_stream *s, const uint8_t *data, size_t len)
{
        struct brm_conn *c = s->data;
        int r;

        c->last_rx_ms = brm_mono_ms();
        r = brm_frame_feed(&c->dec, data, len, on_frame, c);
        if (r < 0 && !c->closing)
                brm_conn_close(c, r);
}

static void on_error(struct brm_tls_stream *s, int status)
{
        brm_conn_close(s->data, status);
}

static void on_handshake(struct brm_tls_stream *s, int status)
{
        struct brm_conn *c = s->data;

        if (status < 0) {
                brm_conn_close(c, status);
                if (c->on_ready)
                        c->on_ready(c, status);
                return;
        }
        c->ready = true;
        c->last_rx_ms = brm_mono_ms();
        uv_timer_stop(&c->timer);
        if (c->idle_timeout_ms) {
                uint64_t tick = c->idle_timeout_ms / 4 ? c->idle_timeout_ms / 4 : 1;
                uv_timer_start(&c->timer, on_timer, tick, tick);
        }
        if (c->on_ready)
                c->on_ready(c, 0);
}

int brm_conn_start(struct brm_conn *c, brm_conn_ready_cb on_ready, brm_conn_msg_cb on_msg, brm_conn_closed_cb on_closed)
{
        c->on_ready = on_ready;
        c->on_msg = on_msg;
        c->on_closed = on_closed;
        uv_timer_start(&c->timer, on_timer, c->handshake_timeout_ms, 0);
        return brm_tls_stream_start(&c->tls, on_handshake, on_data, on_error);
}

static void on_connect(uv_connect_t *req, int status)
{
        struct brm_conn *c = req->data;
        int r;

        if (c->closing)
                return;
        if (status < 0) {
                brm_conn_close(c, status);
                c->on_ready(c, status);
                return;
        }
        r = brm_tls_stream_start(&c->tls, on_handshake, on_data, on_error);
        if (r < 0) {
                brm_conn_close(c, r);
                c->on_ready(c, r);
        }
}

int brm_conn_connect(struct brm_conn *c, const struct sockaddr *addr, brm_conn_ready_cb on_ready,
                     brm_conn_msg_cb on_msg, brm_conn_closed_cb on_closed)
{
        c->on_ready = on_ready;
        c->on_msg = on_msg;
        c->on_closed = on_closed;
        c->connect_req.data = c;
        uv_timer_start(&c->timer, on_timer, c->handshake_timeout_ms, 0);
        return uv_tcp_connect(&c->connect_req, &c->tls.tcp, addr, on_connect);
}

int brm_conn_send(struct brm_conn *c, const Bramble__Envelope *env)
{
        uint8_t *buf;
        size_t len;
        int r;

        if (c->closing || !c->ready)
                return -ENOTCONN;
        r = brm_frame_pack(env, &buf, &len);
        if (r < 0)
                return r;
        r = brm_tls_stream_write(&c->tls, buf, len);
        free(buf);
        return r;
}

int brm_conn_send_packed(struct brm_conn *c, const uint8_t *body, size_t len)
{
        uint8_t hdr[4];
        int r;

        if (c->closing || !c->ready)
                return -ENOTCONN;
        if (len > UINT32_MAX)
                return -EMSGSIZE;
        hdr[0] = (uint8_t)(len >> 24);
        hdr[1] = (uint8_t)(len >> 16);
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        /* Header and body in one TLS record when the body is small. */
        if (len <= 16 * 1024 - 4) {
                uint8_t buf[16 * 1024];
                memcpy(buf, hdr, 4);
                memcpy(buf + 4, body, len);
                return brm_tls_stream_write(&c->tls, buf, len + 4);
        }
        if ((r = brm_tls_stream_write(&c->tls, hdr, 4)) < 0)
                return r;
        return brm_tls_stream_write(&c->tls, body, len);
}

size_t brm_conn_backlog(const struct brm_conn *c)
{
        size_t n = brm_tls_stream_queued(&c->tls);
        int fd, outq = 0;

        if (uv_fileno((const uv_handle_t *)&c->tls.tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0)
                n += (size_t)outq;
        return n;
}

size_t brm_conn_pending_input(const struct brm_conn *c)
{
        int fd, inq = 0;

        if (uv_fileno((const uv_handle_t *)&c->tls.tcp, &fd) == 0 && ioctl(fd, SIOCINQ, &inq) == 0 && inq > 0)
                return (size_t)inq;
        return 0;
}

static void tls_drained(struct brm_tls_stream *s)
{
        struct brm_conn *c = s->data;
        if (c->on_drain && !c->closing)
                c->on_drain(c);
}

void brm_conn_set_drain(struct brm_conn *c, brm_conn_drain_cb cb)
{
        c->on_drain = cb;
        c->tls.on_drain = cb ? tls_drained : NULL;
}

void brm_conn_send_ok(struct brm_conn *c, uint64_t id)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Ok ok = BRAMBLE__OK__INIT;

        env.has_id = 1;
        env.id = id;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_OK;
        env.ok = &ok;
        brm_conn_send(c, &env);
}

void brm_conn_send_error(struct brm_conn *c, uint64_t id, int code, const char *msg)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Error err = BRAMBLE__ERROR__INIT;

        err.has_code = 1;
        err.code = code;
        err.message = (char *)msg;
        env.has_id = id != 0;
        env.id = id;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_ERROR;
        env.error = &err;
        brm_conn_send(c, &env);
}
