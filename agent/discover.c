/* Runs bramble-browse and reads its answer; see discover.h. */
#include "discover.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define OUT_MAX 8192 /* BRM_MDNS_MAX_ADDRS lines of at most ~120 bytes */

struct brm_discover {
        uv_process_t proc;
        uv_pipe_t out;
        int open_handles;
        bool exited, eof, cancelled, reported;
        int64_t exit_status;
        int term_signal;
        char buf[OUT_MAX + 1];
        size_t len;
        brm_discover_cb cb;
        void *arg;
};

size_t brm_discover_parse(const char *text, struct brm_discover_found *out, size_t max)
{
        size_t n = 0;

        while (*text && n < max) {
                const char *nl = strchr(text, '\n');
                size_t len = nl ? (size_t)(nl - text) : strlen(text);
                char line[256], inst[64], ip[INET_ADDRSTRLEN], ca[32];
                unsigned port;
                struct in_addr a;
                int used = 0;

                if (len < sizeof(line)) {
                        memcpy(line, text, len);
                        line[len] = '\0';
                        if (sscanf(line, "master %63s %15s %u %31s%n", inst, ip, &port, ca, &used) == 4 &&
                            line[used] == '\0' && inet_pton(AF_INET, ip, &a) == 1 && port > 0 && port < 65536 &&
                            (strcmp(ca, "-") == 0 || (strlen(ca) == 16 && strspn(ca, "0123456789abcdef") == 16))) {
                                snprintf(out[n].instance, sizeof(out[n].instance), "%s", inst);
                                snprintf(out[n].addr, sizeof(out[n].addr), "%s:%u", ip, port);
                                snprintf(out[n].ca, sizeof(out[n].ca), "%s", strcmp(ca, "-") ? ca : "");
                                n++;
                        }
                }
                text += len + (nl ? 1 : 0);
        }
        return n;
}

static void closed(uv_handle_t *h)
{
        struct brm_discover *d = h->data;

        if (--d->open_handles == 0)
                free(d);
}

/* Once the helper has exited and its output is read: one answer, then the
 * handles go. */
static void maybe_done(struct brm_discover *d)
{
        struct brm_discover_found found[BRM_DISCOVER_MAX];
        size_t n = 0;
        int status = 0;

        if (!d->exited || !d->eof || d->reported)
                return;
        d->reported = true;
        if (!d->cancelled) {
                d->buf[d->len] = '\0';
                if (d->term_signal || d->exit_status != 0)
                        status = -EIO;
                else
                        n = brm_discover_parse(d->buf, found, BRM_DISCOVER_MAX);
        }
        uv_close((uv_handle_t *)&d->proc, closed);
        uv_close((uv_handle_t *)&d->out, closed);
        if (!d->cancelled)
                d->cb(d->arg, status, found, n);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
        struct brm_discover *d = p->data;

        d->exited = true;
        d->exit_status = status;
        d->term_signal = sig;
        maybe_done(d);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct brm_discover *d = h->data;
        (void)suggested;
        buf->base = d->buf + d->len;
        buf->len = OUT_MAX - d->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct brm_discover *d = s->data;
        (void)buf;

        if (n > 0)
                d->len += (size_t)n;
        if (n < 0 || d->len == OUT_MAX) {
                uv_read_stop(s);
                d->eof = true;
                maybe_done(d);
        }
}

int brm_discover_start(uv_loop_t *loop, const char *helper, brm_discover_cb cb, void *arg, struct brm_discover **ret)
{
        struct brm_discover *d = calloc(1, sizeof(*d));
        uv_process_options_t o = { 0 };
        uv_stdio_container_t io[3];
        char *argv[] = { (char *)helper, NULL };
        int r;

        if (!d)
                return -ENOMEM;
        d->cb = cb;
        d->arg = arg;
        uv_pipe_init(loop, &d->out, 0);
        d->out.data = d->proc.data = d;
        io[0].flags = UV_IGNORE;
        io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        io[1].data.stream = (uv_stream_t *)&d->out;
        io[2].flags = UV_INHERIT_FD; /* its complaints go to the agent's log */
        io[2].data.fd = 2;
        o.file = helper;
        o.args = argv;
        o.stdio = io;
        o.stdio_count = 3;
        o.exit_cb = on_exit_cb;
        if ((r = uv_spawn(loop, &d->proc, &o)) < 0) {
                /* A failed spawn still needs its handle closed. */
                d->open_handles = 2;
                uv_close((uv_handle_t *)&d->proc, closed);
                uv_close((uv_handle_t *)&d->out, closed);
                return r;
        }
        d->open_handles = 2;
        if ((r = uv_read_start((uv_stream_t *)&d->out, on_alloc, on_read)) < 0) {
                d->eof = true;
                uv_process_kill(&d->proc, SIGKILL);
        }
        *ret = d;
        return 0;
}

void brm_discover_cancel(struct brm_discover *d)
{
        if (!d || d->reported)
                return;
        d->cancelled = true;
        if (!d->exited)
                uv_process_kill(&d->proc, SIGTERM);
}
