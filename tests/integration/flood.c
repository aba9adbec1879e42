/* brm_flood: a connection flood against the master, for the integration
 * tests. Libc only, one thread, poll().
 *
 *   brm_flood HOST:PORT --from ADDR [--connections 1800] [--spread 10s]
 *             [--duration 14s] [--truncated-every 4] [--held-after 2s]
 *
 * Opens --connections TCP connections from source address ADDR, evenly over
 * --spread, and keeps each open until the master closes it or --duration
 * has passed since the start; then it closes everything and exits. Most
 * connections send nothing; every --truncated-every-th sends the first bytes
 * of a TLS ClientHello whose record announces more than is ever sent.
 *
 * Once a second it prints one "flood" line, and a "RESULT" line at the end:
 *   opened          connections started
 *   established     connect() completed
 *   connect_failed  connect() failed or did not complete within 3 s
 *   closed_by_master  the master closed (EOF or reset) an established one
 *   open            established and not closed by the master, now
 *   held            open for at least --held-after: connections the master
 *                   keeps, not ones merely waiting in its accept queue
 *   max_open, max_held  the largest values seen at any sample (every 50 ms)
 *
 * Exit codes: 0 the flood ran (whatever the master did), 2 usage or local
 * trouble. The flooder judges nothing; the test script does. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_LIMIT_MS 3000
#define SAMPLE_MS 50

enum sock_state { S_CONNECTING, S_OPEN, S_DONE };

struct sock {
        int fd;
        enum sock_state state;
        bool truncated;
        int64_t since_ms; /* connect started, then established */
};

struct flood {
        struct sockaddr_in master, source;
        unsigned connections, truncated_every;
        int64_t spread_ms, duration_ms, held_after_ms;
        struct sock *socks;
        unsigned n;
        unsigned established, connect_failed, closed_by_master, truncated_sent, local_errors;
        unsigned max_open, max_held;
};

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(const char *why)
{
        if (why)
                fprintf(stderr, "brm_flood: %s\n", why);
        fprintf(stderr, "usage: brm_flood HOST:PORT --from ADDR [--connections N] [--spread DUR] [--duration DUR]\n"
                        "                 [--truncated-every K] [--held-after DUR]   (DUR: 500ms, 10s)\n");
        return 2;
}

static int parse_ms(const char *s, int64_t *ret)
{
        char *end;
        long long v = strtoll(s, &end, 10);

        if (end == s || v < 0)
                return -1;
        if (strcmp(end, "ms") == 0)
                *ret = v;
        else if (strcmp(end, "s") == 0 || *end == '\0')
                *ret = v * 1000;
        else
                return -1;
        return 0;
}

static int parse_addr(const char *s, uint16_t port, struct sockaddr_in *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->sin_family = AF_INET;
        ret->sin_port = htons(port);
        return inet_pton(AF_INET, s, &ret->sin_addr) == 1 ? 0 : -1;
}

/* A record header announcing 512 bytes of handshake, and the start of a
 * ClientHello: the master's TLS layer waits for the rest, which never
 * comes. */
static void send_truncated_hello(struct flood *f, struct sock *s)
{
        uint8_t b[48] = { 0x16, 0x03, 0x01, 0x02, 0x00, /* handshake record, 512 bytes */
                          0x01, 0x00, 0x01, 0xfc,       /* ClientHello, 508 bytes */
                          0x03, 0x03 };                 /* TLS 1.2, then random */

        for (size_t i = 11; i < sizeof(b); i++)
                b[i] = (uint8_t)(rand() & 0xff);
        if (send(s->fd, b, sizeof(b), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(b))
                f->truncated_sent++;
}

static void finish(struct sock *s)
{
        close(s->fd);
        s->fd = -1;
        s->state = S_DONE;
}

static void open_one(struct flood *f)
{
        struct sock *s = &f->socks[f->n];
        int one = 1;

        s->truncated = f->truncated_every && f->n % f->truncated_every == 0;
        s->since_ms = mono_ms();
        s->state = S_DONE;
        f->n++;
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                f->local_errors++;
                return;
        }
        /* Many connections from one address: let the kernel pick any port,
         * also ones in TIME_WAIT towards other destinations. */
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(s->fd, (struct sockaddr *)&f->source, sizeof(f->source)) < 0) {
                f->local_errors++;
                finish(s);
                return;
        }
        if (connect(s->fd, (struct sockaddr *)&f->master, sizeof(f->master)) < 0 && errno != EINPROGRESS) {
                f->connect_failed++;
                finish(s);
                return;
        }
        s->state = S_CONNECTING;
}

static void on_event(struct flood *f, struct sock *s, short revents, int64_t now)
{
        if (s->state == S_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
                        return;
                if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
                        f->connect_failed++;
                        finish(s);
                        return;
                }
                s->state = S_OPEN;
                s->since_ms = now;
                f->established++;
                if (s->truncated)
                        send_truncated_hello(f, s);
                /* Fall through: the master may already have closed it. */
                revents = POLLIN;
        }
        if (s->state == S_OPEN && (revents & (POLLIN | POLLERR | POLLHUP))) {
                uint8_t buf[4096];
                ssize_t r = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                        f->closed_by_master++;
                        finish(s);
                }
        }
}

static void sample(struct flood *f, int64_t now, unsigned *ret_open, unsigned *ret_held)
{
        unsigned open = 0, held = 0;

        for (unsigned i = 0; i < f->n; i++) {
                struct sock *s = &f->socks[i];
                if (s->state == S_CONNECTING && now - s->since_ms >= CONNECT_LIMIT_MS) {
                        f->connect_failed++;
                        finish(s);
                }
                if (s->state != S_OPEN)
                        continue;
                open++;
                if (now - s->since_ms >= f->held_after_ms)
                        held++;
        }
        if (open > f->max_open)
                f->max_open = open;
        if (held > f->max_held)
                f->max_held = held;
        *ret_open = open;
        *ret_held = held;
}

static void report(const struct flood *f, const char *tag, int64_t t, unsigned open, unsigned held)
{
        printf("%s t=%.1fs opened=%u established=%u connect_failed=%u closed_by_master=%u open=%u held=%u "
               "max_open=%u max_held=%u truncated_sent=%u local_errors=%u\n",
               tag, (double)t / 1000, f->n, f->established, f->connect_failed, f->closed_by_master, open, held,
               f->max_open, f->max_held, f->truncated_sent, f->local_errors);
}

static void raise_nofile(unsigned want)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
                rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int run(struct flood *f)
{
        struct pollfd *pfd = calloc(f->connections, sizeof(*pfd));
        unsigned *idx = calloc(f->connections, sizeof(*idx));
        int64_t t0 = mono_ms(), next_report = t0 + 1000, next_sample = t0;
        unsigned open = 0, held = 0;

        f->socks = calloc(f->connections, sizeof(*f->socks));
        if (!pfd || !idx || !f->socks) {
                fprintf(stderr, "brm_flood: out of memory\n");
                return 2;
        }
        for (;;) {
                int64_t now = mono_ms(), t = now - t0;
                unsigned due = f->spread_ms ? (unsigned)((uint64_t)f->connections * (uint64_t)t / (uint64_t)f->spread_ms)
                                            : f->connections;
                if (t >= f->duration_ms)
                        break;
                if (due > f->connections)
                        due = f->connections;
                while (f->n < due)
                        open_one(f);
                nfds_t n = 0;
                for (unsigned i = 0; i < f->n; i++) {
                        struct sock *s = &f->socks[i];
                        if (s->state == S_DONE)
                                continue;
                        pfd[n].fd = s->fd;
                        pfd[n].events = s->state == S_CONNECTING ? POLLOUT : POLLIN;
                        pfd[n].revents = 0;
                        idx[n++] = i;
                }
                int r = poll(pfd, n, 10);
                if (r < 0 && errno != EINTR) {
                        perror("brm_flood: poll");
                        return 2;
                }
                now = mono_ms();
                for (nfds_t i = 0; r > 0 && i < n; i++)
                        if (pfd[i].revents)
                                on_event(f, &f->socks[idx[i]], pfd[i].revents, now);
                if (now >= next_sample) {
                        sample(f, now, &open, &held);
                        next_sample = now + SAMPLE_MS;
                }
                if (now >= next_report) {
                        report(f, "flood", now - t0, open, held);
                        next_report += 1000;
                }
        }
        sample(f, mono_ms(), &open, &held);
        report(f, "RESULT", mono_ms() - t0, open, held);
        for (unsigned i = 0; i < f->n; i++)
                if (f->socks[i].state != S_DONE)
                        finish(&f->socks[i]);
        free(pfd);
        free(idx);
        free(f->socks);
        return 0;
}

int main(int argc, char **argv)
{
        struct flood f = { .connections = 1800, .truncated_every = 4, .spread_ms = 10000, .duration_ms = 14000,
                           .held_after_ms = 2000 };
        const char *from = NULL;
        char host[64];
        const char *colon;
        long port;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2 || !(colon = strrchr(argv[1], ':')) || (size_t)(colon - argv[1]) >= sizeof(host))
                return usage("expected HOST:PORT first");
        memcpy(host, argv[1], (size_t)(colon - argv[1]));
        host[colon - argv[1]] = '\0';
        port = strtol(colon + 1, NULL, 10);
        if (port <= 0 || port > 65535 || parse_addr(host, (uint16_t)port, &f.master) < 0)
                return usage("HOST:PORT must be a numeric IPv4 address and a port");
        for (int i = 2; i < argc; i += 2) {
                const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                char *end;
                if (!v)
                        return usage("an option without a value");
                if (strcmp(k, "--from") == 0) {
                        from = v;
                } else if (strcmp(k, "--connections") == 0) {
                        f.connections = (unsigned)strtoul(v, &end, 10);
                        if (*end || f.connections == 0 || f.connections > 100000)
                                return usage("--connections must be 1 to 100000");
                } else if (strcmp(k, "--truncated-every") == 0) {
                        f.truncated_every = (unsigned)strtoul(v, &end, 10);
                        if (*end)
                                return usage("--truncated-every must be a whole number (0 = never)");
                } else if (strcmp(k, "--spread") == 0) {
                        if (parse_ms(v, &f.spread_ms) < 0)
                                return usage("--spread must be a duration");
                } else if (strcmp(k, "--duration") == 0) {
                        if (parse_ms(v, &f.duration_ms) < 0 || f.duration_ms == 0)
                                return usage("--duration must be a positive duration");
                } else if (strcmp(k, "--held-after") == 0) {
                        if (parse_ms(v, &f.held_after_ms) < 0)
                                return usage("--held-after must be a duration");
                } else {
                        return usage("unknown option");
                }
        }
        if (!from || parse_addr(from, 0, &f.source) < 0)
                return usage("--from must be a numeric IPv4 address (e.g. 127.0.0.2)");
        raise_nofile(f.connections + 64);
        srand((unsigned)mono_ms());
        return run(&f);
}
