#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/net_sockets.h>

#include "err.h"
#include "mbedcompat.h"
#include "pki.h"

static const int ciphersuites[] = {
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        0,
};

void brm_tls_creds_init(struct brm_tls_creds *c)
{
        memset(c, 0, sizeof(*c));
        mbedtls_x509_crt_init(&c->ca);
        mbedtls_x509_crt_init(&c->cert);
        mbedtls_pk_init(&c->key);
}

void brm_tls_creds_free(struct brm_tls_creds *c)
{
        if (!c)
                return;
        mbedtls_x509_crt_free(&c->ca);
        mbedtls_x509_crt_free(&c->cert);
        mbedtls_pk_free(&c->key);
        c->has_ca = c->has_cert = false;
}

int brm_tls_creds_add_ca(struct brm_tls_creds *c, const uint8_t *data, size_t len)
{
        int r = mbedtls_x509_crt_parse(&c->ca, data, len);
        if (r != 0)
                return r > 0 ? -EINVAL : brm_err_mbedtls(r);
        c->has_ca = true;
        return 0;
}

int brm_tls_creds_add_cert(struct brm_tls_creds *c, const uint8_t *data, size_t len)
{
        int r = mbedtls_x509_crt_parse(&c->cert, data, len);
        if (r != 0)
                return r > 0 ? -EINVAL : brm_err_mbedtls(r);
        c->has_cert = true;
        return 0;
}

int brm_tls_creds_set_key(struct brm_tls_creds *c, const uint8_t *data, size_t len)
{
        mbedtls_pk_free(&c->key);
        mbedtls_pk_init(&c->key);
        return brm_pki_key_parse(&c->key, data, len);
}

int brm_tls_config(mbedtls_ssl_config *conf, bool server, enum brm_tls_verify verify, struct brm_tls_creds *creds)
{
        int r, mode;

        r = mbedtls_ssl_config_defaults(conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
        if (r != 0)
                return brm_err_mbedtls(r);
        mbedtls_ssl_conf_rng(conf, brm_pki_rng, NULL);
#if BRM_MBED3
        mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
        mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
        static const uint16_t groups[] = { MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE };
        mbedtls_ssl_conf_groups(conf, groups);
#else
        mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        static const mbedtls_ecp_group_id curves[] = { MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_NONE };
        mbedtls_ssl_conf_curves(conf, curves);
#endif
        mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
        mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
        switch (verify) {
        case BRM_TLS_VERIFY_REQUIRED:
                mode = MBEDTLS_SSL_VERIFY_REQUIRED;
                break;
        case BRM_TLS_VERIFY_OPTIONAL:
                mode = MBEDTLS_SSL_VERIFY_OPTIONAL;
                break;
        case BRM_TLS_VERIFY_NONE:
                mode = MBEDTLS_SSL_VERIFY_NONE;
                break;
        default:
                /* The joining client trusts nothing yet: the chain is checked
                 * against the token's CA hash after the handshake, before any
                 * secret is sent. */
                mode = MBEDTLS_SSL_VERIFY_OPTIONAL;
                break;
        }
        mbedtls_ssl_conf_authmode(conf, mode);
        mbedtls_ssl_conf_verify(conf, brm_pki_verify_cb, NULL);
        if (creds && creds->has_ca)
                mbedtls_ssl_conf_ca_chain(conf, &creds->ca, NULL);
        if (creds && creds->has_cert) {
                r = mbedtls_ssl_conf_own_cert(conf, &creds->cert, &creds->key);
                if (r != 0)
                        return brm_err_mbedtls(r);
        }
        return 0;
}

int brm_tls_client_no_hostname(mbedtls_ssl_context *ssl, const mbedtls_ssl_config *conf)
{
        /* Clients trust the master through the cluster CA and the server-auth
         * usage that only the master's certificate carries, not through the
         * address used to reach it (DHCP, NAT and QEMU's user network all
         * change it). mbedTLS 3.6 requires that choice to be explicit. */
        if (conf->BRM_PRIV(endpoint) != MBEDTLS_SSL_IS_CLIENT)
                return 0;
        return brm_err_mbedtls(mbedtls_ssl_set_hostname(ssl, NULL));
}

/* ---- the stream ---- */

static uint8_t rx_buf[64 * 1024];
static uint8_t plain_buf[16 * 1024];

struct write_req {
        uv_write_t req;
        uint8_t data[];
};

static void on_written(uv_write_t *req, int status)
{
        struct brm_tls_stream *s = req->handle->data;

        free(req);
        if (status == 0 && s->on_drain && !s->closing && !s->failed &&
            uv_stream_get_write_queue_size((const uv_stream_t *)&s->tcp) == 0)
                s->on_drain(s);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
        struct brm_tls_stream *s = ctx;
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
        struct write_req *w;
        int n;

        if (s->closing && !s->handshake_done)
                return MBEDTLS_ERR_NET_SEND_FAILED;
        /* Try the kernel first: most records go out without an allocation. */
        n = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
        if (n == (int)len)
                return (int)len;
        if (n < 0 && n != UV_EAGAIN)
                return MBEDTLS_ERR_NET_SEND_FAILED;
        if (n < 0)
                n = 0;
        w = malloc(sizeof(*w) + len - (size_t)n);
        if (!w)
                return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        memcpy(w->data, buf + n, len - (size_t)n);
        b = uv_buf_init((char *)w->data, (unsigned)(len - (size_t)n));
        if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_written) < 0) {
                free(w);
                return MBEDTLS_ERR_NET_SEND_FAILED;
        }
        return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
        struct brm_tls_stream *s = ctx;

        if (s->rx_len == 0)
                return MBEDTLS_ERR_SSL_WANT_READ;
        if (len > s->rx_len)
                len = s->rx_len;
        memcpy(buf, s->rx, len);
        s->rx += len;
        s->rx_len -= len;
        return (int)len;
}

int brm_tls_stream_init(uv_loop_t *loop, struct brm_tls_stream *s, const mbedtls_ssl_config *conf)
{
        int r;

        memset(s, 0, sizeof(*s));
        s->write_limit = 4u << 20;
        mbedtls_ssl_init(&s->ssl);
        r = mbedtls_ssl_setup(&s->ssl, conf);
        if (r != 0) {
                mbedtls_ssl_free(&s->ssl);
                return brm_err_mbedtls(r);
        }
        if ((r = brm_tls_client_no_hostname(&s->ssl, conf)) < 0) {
                mbedtls_ssl_free(&s->ssl);
                return r;
        }
        r = uv_tcp_init(loop, &s->tcp);
        if (r < 0) {
                mbedtls_ssl_free(&s->ssl);
                return r;
        }
        s->tcp.data = s;
        mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
        s->ssl_ready = true;
        return 0;
}

static void fail(struct brm_tls_stream *s, int status)
{
        if (s->failed || s->closing)
                return;
        s->failed = true;
        s->on_error(s, status);
}

/* Runs the handshake or decrypts everything that is buffered. */
static void pump(struct brm_tls_stream *s)
{
        int r;

        if (!s->handshake_done) {
                int state = s->ssl.BRM_PRIV(state);
                r = mbedtls_ssl_handshake(&s->ssl);
                /* Only the peer's data drives pump(), so a new state is
                 * progress the peer made (a half-sent flight is not). */
                if (s->ssl.BRM_PRIV(state) != state)
                        s->hs_steps++;
                if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                        return;
                if (r != 0) {
                        s->failed = true;
                        s->on_handshake(s, brm_err_mbedtls(r));
                        return;
                }
                s->handshake_done = true;
                s->on_handshake(s, 0);
                if (s->closing || s->failed)
                        return;
        }
        for (;;) {
                r = mbedtls_ssl_read(&s->ssl, plain_buf, sizeof(plain_buf));
                if (r > 0) {
                        s->on_data(s, plain_buf, (size_t)r);
                        if (s->closing || s->failed)
                                return;
                        continue;
                }
                if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                        return;
                fail(s, r == 0 ? UV_EOF : brm_err_mbedtls(r));
                return;
        }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        /* One buffer for every connection: mbedTLS consumes all of it before
         * the callback returns, so no connection keeps an input buffer. */
        buf->base = (char *)rx_buf;
        buf->len = sizeof(rx_buf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
        struct brm_tls_stream *s = st->data;

        if (s->closing)
                return;
        if (nread < 0) {
                if (!s->handshake_done) {
                        s->failed = true;
                        s->on_handshake(s, (int)nread);
                } else {
                        fail(s, (int)nread);
                }
                return;
        }
        s->rx_bytes += (uint64_t)nread;
        s->rx = (const uint8_t *)buf->base;
        s->rx_len = (size_t)nread;
        pump(s);
        s->rx = NULL;
        s->rx_len = 0;
}

int brm_tls_stream_start(struct brm_tls_stream *s, brm_tls_handshake_cb on_handshake, brm_tls_data_cb on_data,
                         brm_tls_error_cb on_error)
{
        int r;

        s->on_handshake = on_handshake;
        s->on_data = on_data;
        s->on_error = on_error;
        /* Frames are written whole: Nagle would only hold a frame's last
         * segment back for the peer's delayed ACK (tens of ms). */
        uv_tcp_nodelay(&s->tcp, 1);
        r = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
        if (r < 0)
                return r;
        s->reading = true;
        /* A client speaks first; a server's first call just waits. */
        r = mbedtls_ssl_handshake(&s->ssl);
        if (r != 0 && r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
                uv_read_stop((uv_stream_t *)&s->tcp);
                s->reading = false;
                return brm_err_mbedtls(r);
        }
        return 0;
}

size_t brm_tls_stream_queued(const struct brm_tls_stream *s)
{
        return uv_stream_get_write_queue_size((const uv_stream_t *)&s->tcp);
}

int brm_tls_stream_write(struct brm_tls_stream *s, const uint8_t *data, size_t len)
{
        if (s->closing || s->failed || !s->handshake_done)
                return -ENOTCONN;
        if (brm_tls_stream_queued(s) + len > s->write_limit)
                return -ENOBUFS;
        while (len > 0) {
                int r = mbedtls_ssl_write(&s->ssl, data, len);
                if (r < 0)
                        return brm_err_mbedtls(r);
                data += r;
                len -= (size_t)r;
        }
        return 0;
}

static void on_closed(uv_handle_t *h)
{
        struct brm_tls_stream *s = h->data;
        brm_tls_close_cb cb = s->on_close;

        mbedtls_ssl_free(&s->ssl);
        s->ssl_ready = false;
        if (cb)
                cb(s);
}

void brm_tls_stream_close(struct brm_tls_stream *s, brm_tls_close_cb cb)
{
        if (s->closing)
                return;
        s->closing = true;
        s->on_close = cb;
        if (s->handshake_done && !s->failed)
                mbedtls_ssl_close_notify(&s->ssl);
        if (s->reading)
                uv_read_stop((uv_stream_t *)&s->tcp);
        uv_close((uv_handle_t *)&s->tcp, on_closed);
}
