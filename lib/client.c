#include "client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>

#include "err.h"
#include "frame.h"
#include "util.h"

static int sock_send(void *ctx, const unsigned char *buf, size_t len)
{
        struct brm_client *c = ctx;
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

        if (n < 0)
                return (errno == EAGAIN || errno == EWOULDBLOCK) ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_SEND_FAILED;
        return (int)n;
}

static int sock_recv(void *ctx, unsigned char *buf, size_t len)
{
        struct brm_client *c = ctx;
        ssize_t n = recv(c->fd, buf, len, 0);

        if (n < 0)
                return (errno == EAGAIN || errno == EWOULDBLOCK) ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
        if (n == 0)
                return MBEDTLS_ERR_SSL_CONN_EOF;
        return (int)n;
}

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int err = 0, r;
        socklen_t el = sizeof(err);

        if (connect(fd, sa, len) == 0)
                return 0;
        if (errno != EINPROGRESS)
                return -errno;
        r = poll(&p, 1, timeout_ms);
        if (r == 0)
                return -ETIMEDOUT;
        if (r < 0)
                return -errno;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                return -errno;
        return -err;
}

static int connect_handshake(struct brm_client *c, const char *hostport, struct brm_tls_creds *creds,
                             enum brm_tls_verify verify, int timeout_ms)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
        char host[256], port[8];
        struct timeval tv;
        uint16_t p;
        int r;

        memset(c, 0, sizeof(*c));
        c->fd = -1;
        c->timeout_ms = timeout_ms;
        c->next_id = 1;
        if (brm_parse_hostport(hostport, host, sizeof(host), &p) < 0) {
                snprintf(c->error, sizeof(c->error), "master address '%s' is not HOST:PORT", hostport);
                return -EINVAL;
        }
        snprintf(port, sizeof(port), "%u", p);
        r = getaddrinfo(host, port, &hints, &res);
        if (r != 0) {
                snprintf(c->error, sizeof(c->error), "cannot resolve master host '%s': %s", host, gai_strerror(r));
                return -EHOSTUNREACH;
        }
        r = -ECONNREFUSED;
        for (ai = res; ai; ai = ai->ai_next) {
                c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (c->fd < 0) {
                        r = -errno;
                        continue;
                }
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
                r = connect_timeout(c->fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
                if (r == 0)
                        break;
                close(c->fd);
                c->fd = -1;
        }
        freeaddrinfo(res);
        if (c->fd < 0) {
                snprintf(c->error, sizeof(c->error), "cannot connect to master at %s: %s", hostport, strerror(-r));
                return r;
        }
        /* Back to blocking with timeouts, so a silent master cannot hang the CLI. */
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

        mbedtls_ssl_config_init(&c->conf);
        c->conf_init = true;
        r = brm_tls_config(&c->conf, false, verify, creds);
        if (r < 0) {
                snprintf(c->error, sizeof(c->error), "TLS setup failed: %s", brm_strerror(r));
                return r;
        }
        mbedtls_ssl_init(&c->ssl);
        c->ssl_init = true;
        r = mbedtls_ssl_setup(&c->ssl, &c->conf);
        if (r != 0) {
                snprintf(c->error, sizeof(c->error), "TLS setup failed");
                return brm_err_mbedtls(r);
        }
        if ((r = brm_tls_client_no_hostname(&c->ssl, &c->conf)) < 0) {
                snprintf(c->error, sizeof(c->error), "TLS setup failed");
                return r;
        }
        mbedtls_ssl_set_bio(&c->ssl, c, sock_send, sock_recv, NULL);
        do
                r = mbedtls_ssl_handshake(&c->ssl);
        while (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
        if (r != 0) {
                if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
                        snprintf(c->error, sizeof(c->error),
                                 "master at %s is not trusted: its certificate is not signed by the cluster CA in the credentials",
                                 hostport);
                else if (r == MBEDTLS_ERR_SSL_TIMEOUT)
                        snprintf(c->error, sizeof(c->error), "TLS handshake with %s timed out", hostport);
                else
                        snprintf(c->error, sizeof(c->error), "TLS handshake with %s failed (mbedTLS -0x%04x)", hostport,
                                 (unsigned)-r);
                return brm_err_mbedtls(r);
        }
        return 0;
}

int brm_client_connect(struct brm_client *c, const char *hostport, struct brm_tls_creds *creds,
                       enum brm_tls_verify verify, int timeout_ms)
{
        int r = connect_handshake(c, hostport, creds, verify, timeout_ms);

        /* On failure nothing is left for the caller to close. */
        if (r < 0)
                brm_client_close(c);
        return r;
}

int brm_client_send_raw(struct brm_client *c, const uint8_t *data, size_t len)
{
        while (len > 0) {
                int r = mbedtls_ssl_write(&c->ssl, data, len);
                if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ)
                        continue;
                if (r < 0)
                        return brm_err_mbedtls(r);
                data += r;
                len -= (size_t)r;
        }
        return 0;
}

static int read_exact(struct brm_client *c, uint8_t *buf, size_t len)
{
        while (len > 0) {
                int r = mbedtls_ssl_read(&c->ssl, buf, len);
                if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                        continue;
                if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF)
                        return -ECONNRESET;
                if (r == MBEDTLS_ERR_SSL_TIMEOUT)
                        return -ETIMEDOUT;
                if (r < 0)
                        return brm_err_mbedtls(r);
                buf += r;
                len -= (size_t)r;
        }
        return 0;
}

int brm_client_recv(struct brm_client *c, Bramble__Envelope **ret_env)
{
        uint8_t hdr[4], *body;
        uint32_t len;
        int r;

        if ((r = read_exact(c, hdr, 4)) < 0)
                return r;
        len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
        if (len > 16u << 20)
                return -EMSGSIZE;
        body = malloc(len ? len : 1);
        if (!body)
                return -ENOMEM;
        r = read_exact(c, body, len);
        if (r == 0)
                r = brm_msg_unpack(body, len, ret_env);
        free(body);
        return r;
}

int brm_client_send(struct brm_client *c, Bramble__Envelope *req)
{
        uint8_t *buf;
        size_t len;
        int r;

        req->has_id = 1;
        req->id = c->next_id++;
        if ((r = brm_frame_pack(req, &buf, &len)) < 0) {
                snprintf(c->error, sizeof(c->error), "cannot encode the request: %s", brm_strerror(r));
                return r;
        }
        r = brm_client_send_raw(c, buf, len);
        free(buf);
        if (r < 0) {
                snprintf(c->error, sizeof(c->error), "sending to master failed: %s", brm_strerror(r));
                return r;
        }
        return 0;
}

int brm_client_set_timeout(struct brm_client *c, int timeout_ms)
{
        struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

        if (timeout_ms < 0)
                return -EINVAL;
        if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        c->timeout_ms = timeout_ms;
        return 0;
}

int brm_client_call(struct brm_client *c, Bramble__Envelope *req, Bramble__Envelope **ret_resp)
{
        int r;

        if ((r = brm_client_send(c, req)) < 0)
                return r;
        for (;;) {
                Bramble__Envelope *env;
                r = brm_client_recv(c, &env);
                if (r < 0) {
                        snprintf(c->error, sizeof(c->error), "%s",
                                 r == -ECONNRESET  ? "master closed the connection without a reply"
                                 : r == -ETIMEDOUT ? "master did not reply in time"
                                                   : "reading the master's reply failed");
                        return r;
                }
                if (env->id == req->id && env->msg_case == BRAMBLE__ENVELOPE__MSG_IMAGE_PROGRESS) {
                        if (c->on_progress)
                                c->on_progress(c->progress_arg, env->image_progress);
                        brm_msg_free(env);
                        continue;
                }
                if (env->id == req->id || env->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                        *ret_resp = env;
                        return 0;
                }
                brm_msg_free(env);
        }
}

void brm_client_close(struct brm_client *c)
{
        if (c->ssl_init) {
                mbedtls_ssl_close_notify(&c->ssl);
                mbedtls_ssl_free(&c->ssl);
                c->ssl_init = false;
        }
        if (c->conf_init) {
                mbedtls_ssl_config_free(&c->conf);
                c->conf_init = false;
        }
        if (c->fd >= 0) {
                close(c->fd);
                c->fd = -1;
        }
}
