/* Health checks of running containers: the state machine and the runner
 * (health.h). A runner holds its handles for the container's lifetime:
 * the interval timer and the deadline are always open; the check's own
 * handles (the exec's process and output pipe, or a TCP socket) are
 * opened for one check and closed before the next may start. HTTP
 * responses are read through http-parser (Debian's libhttp-parser, a
 * static archive of ~30 KiB that allocates nothing), so the status line
 * and headers are parsed by the code every Node.js release used for
 * years rather than by hand. */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <http_parser.h>

#include "util.h"

#define OUT_MAX 4096               /* output of a command kept */
#define HTTP_READ_MAX (64 * 1024)  /* bytes of a response read at most */

/* ---- the pure part ---- */

void brm_health_sm_init(struct brm_health_sm *sm)
{
        memset(sm, 0, sizeof(*sm));
        sm->state = BRM_HEALTH_STARTING;
}

bool brm_health_sm_record(struct brm_health_sm *sm, bool ok, const char *log, bool in_start_period, uint32_t retries)
{
        if (ok) {
                sm->state = BRM_HEALTH_HEALTHY;
                sm->failures = 0;
                return false;
        }
        snprintf(sm->log, sizeof(sm->log), "%s", log ? log : "failed");
        if (in_start_period || sm->state == BRM_HEALTH_UNHEALTHY)
                return false;
        sm->failures++;
        if (sm->failures < (retries ? retries : 1))
                return false;
        sm->state = BRM_HEALTH_UNHEALTHY;
        return true;
}

const char *brm_health_state_name(enum brm_health_state s)
{
        return s == BRM_HEALTH_HEALTHY ? "healthy" : s == BRM_HEALTH_UNHEALTHY ? "unhealthy" : "starting";
}

uint64_t brm_health_first_delay(uint32_t interval_ms)
{
        return interval_ms < 1000 ? interval_ms : 1000;
}

void brm_health_last_line(const char *buf, size_t len, char *out, size_t size)
{
        size_t end = len, start;

        while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r' || buf[end - 1] == ' ' || buf[end - 1] == '\t'))
                end--;
        start = end;
        while (start > 0 && buf[start - 1] != '\n')
                start--;
        if (!size)
                return;
        if (end - start >= size)
                end = start + size - 1;
        for (size_t i = start; i < end; i++)
                out[i - start] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
        out[end - start] = '\0';
}

/* ---- the runner ---- */

enum kind { K_CMD, K_HTTP, K_TCP };

struct brm_health {
        uv_loop_t *loop;
        const struct brm_runtime *rt;
        char name[64];
        char pidfile[1100];
        char pidtemp[1100];       /* where runc writes pidfile before the rename */
        struct brm_health_spec spec; /* spec.cmd is ours (malloc'd) */
        enum kind kind;
        int64_t started_ms;
        brm_health_cb cb;
        void *arg;
        struct brm_health_sm sm;
        bool running;             /* between start and stop */
        bool in_flight;           /* a check whose result is not recorded yet */
        bool closing;
        int check_handles;        /* the check's handles still open */
        int handles;              /* all open handles, the two timers included */
        uv_timer_t timer, deadline;
        /* The check in flight. */
        uv_process_t proc;
        uv_pipe_t out;
        bool proc_open, out_open, exited, eof;
        int64_t exit_status;
        int term_signal;
        uv_tcp_t tcp;
        bool tcp_open;
        uv_connect_t connect;
        uv_write_t write;
        http_parser parser;
        size_t read_total;
        int http_status;
        char req[1200];
        char buf[OUT_MAX];
        size_t len;
        char scratch[512];
};

static void handle_closed(uv_handle_t *handle)
{
        struct brm_health *h = handle->data;

        if (handle != (uv_handle_t *)&h->timer && handle != (uv_handle_t *)&h->deadline)
                h->check_handles--;
        if (--h->handles == 0 && h->closing) {
                free(h->spec.cmd);
                free(h);
        }
}

static void close_handle(struct brm_health *h, uv_handle_t *handle, bool *open)
{
        if (!*open)
                return;
        *open = false;
        uv_close(handle, handle_closed);
}

static void schedule(struct brm_health *h, uint64_t delay);

/* The check's result: recorded unless the runner stopped meanwhile; the
 * check's handles are closed (a process only once it has exited, so that
 * libuv reaps it). */
static void finish(struct brm_health *h, bool ok, const char *log)
{
        bool unhealthy;
        bool in_start;

        if (!h->in_flight)
                return;
        h->in_flight = false;
        uv_timer_stop(&h->deadline);
        close_handle(h, (uv_handle_t *)&h->out, &h->out_open);
        close_handle(h, (uv_handle_t *)&h->tcp, &h->tcp_open);
        if (h->exited)
                close_handle(h, (uv_handle_t *)&h->proc, &h->proc_open);
        if (!h->running || h->closing)
                return;
        in_start = brm_now_ms() - h->started_ms < (int64_t)h->spec.start_period_ms;
        unhealthy = brm_health_sm_record(&h->sm, ok, log, in_start, h->spec.retries);
        schedule(h, h->spec.interval_ms ? h->spec.interval_ms : 10000);
        if (unhealthy && h->cb)
                h->cb(h->arg, h->sm.log);
}

/* Kills what the exec started inside the container (the runtime wrote its
 * pid, in the node's pid namespace, to the pid file) and its process
 * group, then the runtime's exec process itself. */
static void kill_exec(struct brm_health *h)
{
        char text[32];
        int fd = open(h->pidfile, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        long pid;

        if (fd >= 0) {
                n = read(fd, text, sizeof(text) - 1);
                close(fd);
                if (n > 0) {
                        text[n] = '\0';
                        pid = strtol(text, NULL, 10);
                        if (pid > 1) {
                                if (getpgid((pid_t)pid) == (pid_t)pid)
                                        kill(-(pid_t)pid, SIGKILL);
                                kill((pid_t)pid, SIGKILL);
                        }
                }
        }
        if (h->proc_open && !h->exited)
                uv_process_kill(&h->proc, SIGKILL);
}

static void deadline_fire(uv_timer_t *t)
{
        struct brm_health *h = t->data;
        char log[64];

        if (h->kind == K_CMD)
                kill_exec(h);
        snprintf(log, sizeof(log), "timed out after %gs", (double)h->spec.timeout_ms / 1000.0);
        finish(h, false, log);
}

/* -- cmd -- */

static void cmd_done(struct brm_health *h)
{
        char line[200], log[240];

        if (!h->exited || !h->eof)
                return;
        if (h->exit_status == 0 && !h->term_signal) {
                finish(h, true, NULL);
                return;
        }
        brm_health_last_line(h->buf, h->len, line, sizeof(line));
        if (h->term_signal)
                snprintf(log, sizeof(log), "killed by signal %d%s%s", h->term_signal, line[0] ? ": " : "", line);
        else
                snprintf(log, sizeof(log), "exit %lld%s%s", (long long)h->exit_status, line[0] ? ": " : "", line);
        finish(h, false, log);
}

static void cmd_exit(uv_process_t *p, int64_t status, int sig)
{
        struct brm_health *h = p->data;

        h->exited = true;
        h->exit_status = status;
        h->term_signal = sig;
        if (!h->in_flight) {
                close_handle(h, (uv_handle_t *)&h->proc, &h->proc_open);
                return;
        }
        cmd_done(h);
}

static void out_alloc(uv_handle_t *handle, size_t size, uv_buf_t *buf)
{
        struct brm_health *h = handle->data;

        (void)size;
        if (h->len < sizeof(h->buf))
                *buf = uv_buf_init(h->buf + h->len, (unsigned)(sizeof(h->buf) - h->len));
        else
                *buf = uv_buf_init(h->scratch, sizeof(h->scratch)); /* beyond what is kept */
}

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct brm_health *h = s->data;

        if (n > 0 && buf->base != h->scratch)
                h->len += (size_t)n;
        if (n >= 0)
                return;
        h->eof = true;
        close_handle(h, (uv_handle_t *)&h->out, &h->out_open);
        cmd_done(h);
}

static int start_cmd(struct brm_health *h)
{
        char *argv[] = { (char *)h->rt->path, "--root", (char *)h->rt->root, "exec", "--pid-file", h->pidfile,
                         h->name, "/bin/sh", "-c", h->spec.cmd, NULL };
        uv_process_options_t o;
        uv_stdio_container_t stdio[3];
        uv_file fds[2];
        int r;

        /* runc creates its pid file as .health.pid (O_EXCL), then renames
         * it: an exec killed in between (a check past its deadline, a
         * container stopped) leaves it, and every later exec would fail
         * on it. */
        unlink(h->pidfile);
        unlink(h->pidtemp);
        h->exited = h->eof = false;
        h->len = 0;
        /* One pipe for both stdout and stderr, so the last line is the
         * last the check wrote on either. */
        if ((r = uv_pipe(fds, UV_NONBLOCK_PIPE, 0)) < 0)
                return r;
        uv_pipe_init(h->loop, &h->out, 0);
        h->out.data = h;
        h->out_open = true;
        h->handles++;
        h->check_handles++;
        if ((r = uv_pipe_open(&h->out, fds[0])) < 0) {
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        memset(&o, 0, sizeof(o));
        stdio[0].flags = UV_IGNORE;
        stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
        stdio[1].data.fd = stdio[2].data.fd = fds[1];
        o.file = h->rt->path;
        o.args = argv;
        o.exit_cb = cmd_exit;
        o.stdio = stdio;
        o.stdio_count = 3;
        h->proc.data = h;
        r = uv_spawn(h->loop, &h->proc, &o);
        close(fds[1]);
        /* Even a failed spawn initialized the handle. */
        h->proc_open = true;
        h->handles++;
        h->check_handles++;
        if (r < 0) {
                h->exited = true;
                return r;
        }
        uv_read_start((uv_stream_t *)&h->out, out_alloc, out_read);
        return 0;
}

/* -- http and tcp -- */

static const char *path_of(const struct brm_health *h)
{
        return h->spec.http_path[0] ? h->spec.http_path : "/";
}

static void net_fail(struct brm_health *h, const char *what, int err)
{
        char log[200];

        if (h->kind == K_HTTP)
                snprintf(log, sizeof(log), "GET %.120s: %s%s", path_of(h), what, err ? uv_strerror(err) : "");
        else
                snprintf(log, sizeof(log), "tcp 127.0.0.1:%u: %s%s", h->spec.tcp_port, what, err ? uv_strerror(err) : "");
        finish(h, false, log);
}

static int on_headers_complete(http_parser *p)
{
        struct brm_health *h = p->data;

        h->http_status = (int)p->status_code;
        return 1; /* stop: the status is all a check needs */
}

static void http_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        static const http_parser_settings settings = { .on_headers_complete = on_headers_complete };
        struct brm_health *h = s->data;
        char log[200];
        size_t done;

        if (!h->in_flight)
                return;
        if (n < 0) {
                if (n == UV_EOF)
                        http_parser_execute(&h->parser, &settings, NULL, 0);
                if (!h->http_status) {
                        net_fail(h, n == UV_EOF ? "connection closed before a response" : "read: ",
                                 n == UV_EOF ? 0 : (int)n);
                        return;
                }
        } else {
                h->read_total += (size_t)n;
                done = http_parser_execute(&h->parser, &settings, buf->base, (size_t)n);
                if (!h->http_status && (done != (size_t)n || HTTP_PARSER_ERRNO(&h->parser) != HPE_OK)) {
                        snprintf(log, sizeof(log), "GET %.120s: bad response: %s", path_of(h),
                                 http_errno_description(HTTP_PARSER_ERRNO(&h->parser)));
                        finish(h, false, log);
                        return;
                }
                if (!h->http_status) {
                        if (h->read_total >= HTTP_READ_MAX)
                                net_fail(h, "no response within 64 KiB", 0);
                        return;
                }
        }
        if (h->http_status >= 200 && h->http_status < 400) {
                finish(h, true, NULL);
                return;
        }
        snprintf(log, sizeof(log), "GET %.120s: %d", path_of(h), h->http_status);
        finish(h, false, log);
}

static void http_alloc(uv_handle_t *handle, size_t size, uv_buf_t *buf)
{
        struct brm_health *h = handle->data;
        (void)size;
        *buf = uv_buf_init(h->buf, sizeof(h->buf));
}

static void written(uv_write_t *w, int status)
{
        struct brm_health *h = w->data;

        if (status < 0 && h->in_flight && status != UV_ECANCELED)
                net_fail(h, "write: ", status);
}

static void connected(uv_connect_t *c, int status)
{
        struct brm_health *h = c->data;
        uv_buf_t b;

        if (!h->in_flight)
                return;
        if (status < 0) {
                net_fail(h, "connect: ", status);
                return;
        }
        if (h->kind == K_TCP) {
                finish(h, true, NULL);
                return;
        }
        snprintf(h->req, sizeof(h->req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: bramble-agent\r\n"
                                         "Connection: close\r\n\r\n", path_of(h), h->spec.http_port);
        http_parser_init(&h->parser, HTTP_RESPONSE);
        h->parser.data = h;
        h->http_status = 0;
        h->read_total = 0;
        b = uv_buf_init(h->req, (unsigned)strlen(h->req));
        h->write.data = h;
        if ((status = uv_write(&h->write, (uv_stream_t *)&h->tcp, &b, 1, written)) < 0 ||
            (status = uv_read_start((uv_stream_t *)&h->tcp, http_alloc, http_read)) < 0)
                net_fail(h, "write: ", status);
}

static int start_net(struct brm_health *h)
{
        struct sockaddr_in addr;
        int r;

        uv_tcp_init(h->loop, &h->tcp);
        h->tcp.data = h;
        h->tcp_open = true;
        h->handles++;
        h->check_handles++;
        uv_ip4_addr("127.0.0.1", h->kind == K_HTTP ? h->spec.http_port : h->spec.tcp_port, &addr);
        h->connect.data = h;
        r = uv_tcp_connect(&h->connect, &h->tcp, (const struct sockaddr *)&addr, connected);
        return r;
}

/* -- scheduling -- */

static void timer_fire(uv_timer_t *t)
{
        struct brm_health *h = t->data;
        int r;

        if (!h->running || h->closing)
                return;
        if (h->in_flight || h->check_handles > 0) {
                /* The last check's handles are still closing. */
                schedule(h, 10);
                return;
        }
        h->in_flight = true;
        uv_timer_start(&h->deadline, deadline_fire, h->spec.timeout_ms ? h->spec.timeout_ms : 2000, 0);
        r = h->kind == K_CMD ? start_cmd(h) : start_net(h);
        if (r < 0) {
                char log[120];
                snprintf(log, sizeof(log), "cannot start the check: %s", uv_strerror(r));
                finish(h, false, log);
        }
}

static void schedule(struct brm_health *h, uint64_t delay)
{
        uv_timer_start(&h->timer, timer_fire, delay, 0);
}

int brm_health_open(uv_loop_t *loop, const struct brm_runtime *rt, const char *name, const char *dir,
                    struct brm_health **ret)
{
        struct brm_health *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->loop = loop;
        h->rt = rt;
        snprintf(h->name, sizeof(h->name), "%s", name);
        snprintf(h->pidfile, sizeof(h->pidfile), "%s/health.pid", dir);
        snprintf(h->pidtemp, sizeof(h->pidtemp), "%s/.health.pid", dir);
        brm_health_sm_init(&h->sm);
        uv_timer_init(loop, &h->timer);
        uv_timer_init(loop, &h->deadline);
        h->timer.data = h->deadline.data = h;
        h->handles = 2;
        *ret = h;
        return 0;
}

int brm_health_start(struct brm_health *h, const struct brm_health_spec *spec, int64_t started_ms, brm_health_cb cb,
                     void *arg)
{
        char *cmd = NULL;

        if (spec->cmd && !(cmd = strdup(spec->cmd)))
                return -ENOMEM;
        brm_health_stop(h);
        free(h->spec.cmd);
        h->spec = *spec;
        h->spec.cmd = cmd;
        h->kind = cmd ? K_CMD : spec->http_port ? K_HTTP : K_TCP;
        h->started_ms = started_ms;
        h->cb = cb;
        h->arg = arg;
        /* A new run starts over, but the last failure stays told: after
         * an unhealthy restart it says why. */
        {
                char log[sizeof(h->sm.log)];
                memcpy(log, h->sm.log, sizeof(log));
                brm_health_sm_init(&h->sm);
                memcpy(h->sm.log, log, sizeof(log));
        }
        h->running = true;
        schedule(h, brm_health_first_delay(spec->interval_ms ? spec->interval_ms : 10000));
        return 0;
}

void brm_health_stop(struct brm_health *h)
{
        if (!h)
                return;
        h->running = false;
        uv_timer_stop(&h->timer);
        if (h->in_flight) {
                if (h->kind == K_CMD)
                        kill_exec(h);
                finish(h, false, NULL);
        }
}

bool brm_health_running(const struct brm_health *h)
{
        return h && h->running;
}

const struct brm_health_sm *brm_health_result(const struct brm_health *h)
{
        return &h->sm;
}

void brm_health_close(struct brm_health *h)
{
        if (!h)
                return;
        brm_health_stop(h);
        h->closing = true;
        h->cb = NULL;
        uv_close((uv_handle_t *)&h->timer, handle_closed);
        uv_close((uv_handle_t *)&h->deadline, handle_closed);
        /* A process still running is closed once it exits (cmd_exit). */
}
