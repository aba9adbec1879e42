/* brm_probe: a misbehaving client for the integration tests.
 *
 *   brm_probe nocert HOST:PORT CA_PEM_FILE
 *       TLS (the master verified against CA_PEM_FILE) without a client
 *       certificate, then a NodeListRequest. Passes (exit 0) when the master
 *       answers with an Error, sends no NodeListResponse, and closes the
 *       connection.
 *   brm_probe raw HOST:PORT random
 *       Plain TCP, no TLS: 64 KiB of random bytes. Passes when the master
 *       closes the connection within 5 s.
 *   brm_probe raw HOST:PORT oversize
 *       TLS handshake without a client certificate, then a frame header
 *       announcing 0x7fffffff bytes and a few bytes of body. Passes when the
 *       master closes the connection within 5 s.
 *
 * Exit codes: 0 the master behaved, 1 it did not, 2 usage or local trouble. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "err.h"
#include "fileio.h"
#include "frame.h"
#include "pki.h"
#include "util.h"

#define CLOSE_WAIT_MS 5000

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(void)
{
        fprintf(stderr, "usage: brm_probe nocert HOST:PORT CA_PEM_FILE\n"
                        "       brm_probe raw HOST:PORT random|oversize\n");
        return 2;
}

static const char *msg_name(const Bramble__Envelope *env)
{
        const ProtobufCFieldDescriptor *f;

        if (env->msg_case == BRAMBLE__ENVELOPE__MSG__NOT_SET)
                return "(empty)";
        f = protobuf_c_message_descriptor_get_field(&bramble__envelope__descriptor, (unsigned)env->msg_case);
        return f ? f->name : "(unknown)";
}

/* After the master's answer: reads until it closes (0) or CLOSE_WAIT_MS passes
 * (1). Any message it still sends is reported; a NodeListResponse fails. */
static int expect_tls_close(struct brm_client *c, bool *saw_nodes)
{
        int64_t deadline = mono_ms() + CLOSE_WAIT_MS;

        for (;;) {
                Bramble__Envelope *env;
                int r = brm_client_recv(c, &env);
                if (r == 0) {
                        printf("probe: then received %s (id %llu)\n", msg_name(env), (unsigned long long)env->id);
                        if (env->msg_case == BRAMBLE__ENVELOPE__MSG_NODES)
                                *saw_nodes = true;
                        brm_msg_free(env);
                        if (mono_ms() > deadline)
                                return 1;
                        continue;
                }
                if (r == -ETIMEDOUT || r == -EAGAIN) {
                        printf("probe: the master kept the connection open for %d ms\n", CLOSE_WAIT_MS);
                        return 1;
                }
                printf("probe: connection closed by the master (%s)\n", brm_strerror(r));
                return 0;
        }
}

static int cmd_nocert(const char *hostport, const char *ca_file)
{
        struct brm_tls_creds creds;
        struct brm_client c;
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp = NULL;
        Bramble__NodeListRequest nl = BRAMBLE__NODE_LIST_REQUEST__INIT;
        bool saw_nodes = false;
        uint8_t *pem;
        size_t len;
        int r, rc = 1;

        brm_tls_creds_init(&creds);
        if ((r = brm_file_read(ca_file, 1 << 20, &pem, &len)) < 0) {
                fprintf(stderr, "probe: cannot read %s: %s\n", ca_file, brm_strerror(r));
                return 2;
        }
        r = brm_tls_creds_add_ca(&creds, pem, len + 1);
        free(pem);
        if (r < 0) {
                fprintf(stderr, "probe: %s is not a PEM certificate\n", ca_file);
                return 2;
        }
        if (brm_client_connect(&c, hostport, &creds, BRM_TLS_VERIFY_REQUIRED, CLOSE_WAIT_MS) < 0) {
                printf("probe: handshake without a client certificate failed: %s\n", c.error);
                printf("probe: (the master must accept it, for joining, and refuse the call afterwards)\n");
                goto out;
        }
        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LIST;
        req.node_list = &nl;
        r = brm_client_call(&c, &req, &resp);
        if (r < 0) {
                printf("probe: no reply to NodeListRequest: %s\n", c.error);
                goto out;
        }
        if (resp->msg_case == BRAMBLE__ENVELOPE__MSG_NODES) {
                printf("probe: FAIL: the master listed %zu nodes to a client without a certificate\n",
                       resp->nodes->n_nodes);
                goto out;
        }
        if (resp->msg_case != BRAMBLE__ENVELOPE__MSG_ERROR) {
                printf("probe: FAIL: expected an Error, got %s\n", msg_name(resp));
                goto out;
        }
        printf("probe: error %d: %s\n", resp->error->code, resp->error->message ? resp->error->message : "(no message)");
        if (expect_tls_close(&c, &saw_nodes) != 0 || saw_nodes)
                goto out;
        rc = 0;
out:
        if (resp)
                brm_msg_free(resp);
        brm_client_close(&c);
        brm_tls_creds_free(&creds);
        return rc;
}

static int tcp_connect(const char *hostport)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
        char host[256], port[8];
        uint16_t p;
        int fd;

        if (brm_parse_hostport(hostport, host, sizeof(host), &p) < 0)
                return -EINVAL;
        snprintf(port, sizeof(port), "%u", p);
        if (getaddrinfo(host, port, &hints, &res) != 0)
                return -EHOSTUNREACH;
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fd = -errno;
        } else if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
                int e = errno;
                close(fd);
                fd = -e;
        }
        freeaddrinfo(res);
        return fd;
}

/* Plain TCP: 0 when the peer closes (EOF or reset) within CLOSE_WAIT_MS. */
static int wait_tcp_close(int fd)
{
        int64_t deadline = mono_ms() + CLOSE_WAIT_MS;
        uint8_t buf[4096];
        size_t got = 0;

        for (;;) {
                int64_t left = deadline - mono_ms();
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (left <= 0)
                        break;
                int r = poll(&p, 1, (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n == 0) {
                        printf("probe: connection closed by the master (EOF) after %zu bytes from it\n", got);
                        return 0;
                }
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        printf("probe: connection closed by the master (%s) after %zu bytes from it\n", strerror(errno),
                               got);
                        return 0;
                }
                got += (size_t)n;
        }
        printf("probe: FAIL: the master kept the connection open for %d ms (%zu bytes from it)\n", CLOSE_WAIT_MS, got);
        return 1;
}

static int cmd_random(const char *hostport)
{
        static uint8_t junk[64 * 1024];
        size_t off = 0;
        int fd;

        for (size_t i = 0; i < sizeof(junk);) {
                ssize_t n = getrandom(junk + i, sizeof(junk) - i, 0);
                if (n <= 0) {
                        fprintf(stderr, "probe: getrandom failed\n");
                        return 2;
                }
                i += (size_t)n;
        }
        fd = tcp_connect(hostport);
        if (fd < 0) {
                fprintf(stderr, "probe: cannot connect to %s: %s\n", hostport, strerror(-fd));
                return 2;
        }
        while (off < sizeof(junk)) {
                ssize_t n = send(fd, junk + off, sizeof(junk) - off, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* The master hung up while we were still sending: that is the point. */
                        printf("probe: master stopped taking data after %zu bytes (%s)\n", off, strerror(errno));
                        close(fd);
                        return 0;
                }
                off += (size_t)n;
        }
        int rc = wait_tcp_close(fd);
        close(fd);
        return rc;
}

static int cmd_oversize(const char *hostport)
{
        static const uint8_t hdr[4] = { 0x7f, 0xff, 0xff, 0xff };
        uint8_t body[1024];
        struct brm_tls_creds creds;
        struct brm_client c;
        bool saw_nodes = false;
        int r, rc = 1;

        memset(body, 0x5a, sizeof(body));
        brm_tls_creds_init(&creds);
        /* No CA and no certificate: like a joining agent before it checks the pin. */
        if (brm_client_connect(&c, hostport, &creds, BRM_TLS_VERIFY_PIN, CLOSE_WAIT_MS) < 0) {
                printf("probe: handshake failed: %s\n", c.error);
                rc = 2;
                goto out;
        }
        if ((r = brm_client_send_raw(&c, hdr, sizeof(hdr))) < 0 || (r = brm_client_send_raw(&c, body, sizeof(body))) < 0) {
                printf("probe: master stopped taking data (%s)\n", brm_strerror(r));
                rc = 0;
                goto out;
        }
        rc = expect_tls_close(&c, &saw_nodes);
out:
        brm_client_close(&c);
        brm_tls_creds_free(&creds);
        return rc;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2)
                return usage();
        if (brm_pki_init() < 0) {
                fprintf(stderr, "probe: crypto initialisation failed\n");
                return 2;
        }
        if (strcmp(argv[1], "nocert") == 0 && argc == 4)
                return cmd_nocert(argv[2], argv[3]);
        if (strcmp(argv[1], "raw") == 0 && argc == 4) {
                if (strcmp(argv[3], "random") == 0)
                        return cmd_random(argv[2]);
                if (strcmp(argv[3], "oversize") == 0)
                        return cmd_oversize(argv[2]);
        }
        return usage();
}
