/* libmdnsd on a libuv loop; see mdns.h. */
#include "mdns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmdnsd/mdnsd.h>
#include <libmdnsd/sdtxt.h>

#define MDNS_GROUP "224.0.0.251"
#define MDNS_PORT 5353
#define TTL_HOST 120  /* SRV and A, as RFC 6762 recommends for records with host names */
#define TTL_OTHER 4500
#define MAX_QUERIES 64

struct brm_mdns {
        uv_loop_t *loop;
        uv_udp_t udp;
        uv_timer_t timer;
        int open_handles;
        bool closing;
        mdns_daemon_t *d;
        struct message *out;             /* one outgoing message, reused */
        unsigned char *in;               /* MAX_PACKET_LEN: libmdnsd parses up to there */
        struct in_addr ifs[BRM_MDNS_MAX_IFS];
        size_t n_ifs;
        /* browsing */
        bool browsing;
        struct brm_mdns_collect found;
        size_t n_queries;
        char queried[MAX_QUERIES][256];  /* names asked for (SRV/TXT or A) */
        void (*on_update)(void *arg);
        void *arg;
};

static void pump(struct brm_mdns *m);

static void send_to(struct brm_mdns *m, const void *data, size_t len, struct in_addr ip, unsigned short port_be)
{
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = port_be, .sin_addr = ip };
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        char ifa[INET_ADDRSTRLEN];

        if (ip.s_addr != inet_addr(MDNS_GROUP)) {
                (void)uv_udp_try_send(&m->udp, &b, 1, (const struct sockaddr *)&to);
                return;
        }
        /* The same message out of every interface: a synchronous send, so
         * the interface set just before is the one it leaves by. */
        for (size_t i = 0; i < m->n_ifs; i++) {
                inet_ntop(AF_INET, &m->ifs[i], ifa, sizeof(ifa));
                if (uv_udp_set_multicast_interface(&m->udp, ifa) == 0)
                        (void)uv_udp_try_send(&m->udp, &b, 1, (const struct sockaddr *)&to);
        }
}

static void on_timer(uv_timer_t *t)
{
        pump(t->data);
}

/* Sends whatever libmdnsd has to send now and sets the timer for the next. */
static void pump(struct brm_mdns *m)
{
        struct in_addr ip;
        unsigned short port;
        struct timeval *tv;
        uint64_t ms;

        if (m->closing)
                return;
        while (mdnsd_out(m->d, m->out, &ip, &port) > 0)
                send_to(m, message_packet(m->out), (size_t)message_packet_len(m->out), ip, port);
        tv = mdnsd_sleep(m->d);
        ms = (uint64_t)tv->tv_sec * 1000 + (uint64_t)tv->tv_usec / 1000;
        /* At least once a second while browsing, so new questions go out. */
        if (m->browsing && ms > 1000)
                ms = 1000;
        uv_timer_start(&m->timer, on_timer, ms, 0);
}

static int on_answer(mdns_answer_t *a, void *arg)
{
        (void)a;
        (void)arg;
        return 0; /* the receive callback collects; queries only make libmdnsd ask */
}

static void ask(struct brm_mdns *m, const char *name, int type)
{
        char key[256];

        snprintf(key, sizeof(key), "%d %s", type, name);
        for (size_t i = 0; i < m->n_queries; i++)
                if (strcmp(m->queried[i], key) == 0)
                        return;
        if (m->n_queries == MAX_QUERIES)
                return;
        snprintf(m->queried[m->n_queries++], sizeof(m->queried[0]), "%s", key);
        mdnsd_query(m->d, name, type, on_answer, m);
}

/* Asks for what the collection still lacks: the SRV and TXT of every
 * instance, the addresses of every SRV target. */
static void ask_more(struct brm_mdns *m)
{
        char name[300];

        for (size_t i = 0; i < m->found.n_inst; i++) {
                snprintf(name, sizeof(name), "%s.", m->found.inst[i].name);
                ask(m, name, QTYPE_SRV);
                ask(m, name, QTYPE_TXT);
                if (m->found.inst[i].target[0]) {
                        snprintf(name, sizeof(name), "%s.", m->found.inst[i].target);
                        ask(m, name, QTYPE_A);
                }
        }
}

static void on_record(const struct resource *r, void *arg)
{
        struct brm_mdns *m = arg;

        if (!m->browsing || !r->name)
                return;
        if (brm_mdns_collect_resource(&m->found, r) > 0) {
                ask_more(m);
                if (m->on_update)
                        m->on_update(m->arg);
        }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct brm_mdns *m = h->data;
        (void)suggested;
        /* One datagram at a time into the parse buffer, zeroed past its end. */
        buf->base = (char *)m->in;
        buf->len = MAX_PACKET_LEN;
}

static void on_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags)
{
        struct brm_mdns *m = u->data;
        struct message *msg;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)from;

        (void)buf;
        if (n <= 0 || !from || from->sa_family != AF_INET || (flags & UV_UDP_PARTIAL) || m->closing)
                return;
        if (n < 12)
                goto clear;
        if (!(msg = calloc(1, sizeof(*msg))))
                goto clear;
        /* A responder takes only questions: libmdnsd caches every answer it
         * is given (until its daily sweep, for names nobody asked about),
         * and the answers other devices on a busy LAN send would pile up in
         * the master; its records are shared, so it has no conflicts to
         * detect in them either. */
        if (message_parse(msg, m->in) == 0 && (m->browsing || !msg->header.qr))
                mdnsd_in(m->d, msg, sin->sin_addr, ntohs(sin->sin_port)); /* host order in, network order out */
        free(msg);
        pump(m);
clear:
        memset(m->in, 0, (size_t)n);
}

static void handle_closed(uv_handle_t *h)
{
        struct brm_mdns *m = h->data;

        if (--m->open_handles > 0)
                return;
        mdnsd_free(m->d);
        free(m->out);
        free(m->in);
        free(m);
}

int brm_mdns_open(uv_loop_t *loop, const struct in_addr *ifs, size_t n_ifs, struct brm_mdns **ret)
{
        struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(MDNS_PORT) };
        struct brm_mdns *m;
        char ifa[INET_ADDRSTRLEN];
        int r;

        if (n_ifs == 0 || n_ifs > BRM_MDNS_MAX_IFS)
                return -EINVAL;
        if (!(m = calloc(1, sizeof(*m))))
                return -ENOMEM;
        m->loop = loop;
        m->out = calloc(1, sizeof(*m->out));
        m->in = calloc(1, MAX_PACKET_LEN);
        m->d = mdnsd_new(QCLASS_IN, 1000);
        if (!m->out || !m->in || !m->d) {
                r = -ENOMEM;
                goto fail;
        }
        memcpy(m->ifs, ifs, n_ifs * sizeof(*ifs));
        m->n_ifs = n_ifs;
        mdnsd_register_receive_callback(m->d, on_record, m);
        if ((r = uv_udp_init(loop, &m->udp)) < 0)
                goto fail;
        m->udp.data = m;
        m->open_handles = 1;
        if ((r = uv_udp_bind(&m->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR)) < 0)
                goto fail_close;
        for (size_t i = 0; i < n_ifs; i++) {
                inet_ntop(AF_INET, &ifs[i], ifa, sizeof(ifa));
                if ((r = uv_udp_set_membership(&m->udp, MDNS_GROUP, ifa, UV_JOIN_GROUP)) < 0)
                        goto fail_close;
        }
        uv_udp_set_multicast_ttl(&m->udp, 255);
        uv_udp_set_multicast_loop(&m->udp, 1);
        if ((r = uv_udp_recv_start(&m->udp, on_alloc, on_recv)) < 0)
                goto fail_close;
        uv_timer_init(loop, &m->timer);
        m->timer.data = m;
        m->open_handles++;
        *ret = m;
        return 0;
fail_close:
        m->closing = true;
        uv_close((uv_handle_t *)&m->udp, handle_closed);
        return r;
fail:
        if (m->d)
                mdnsd_free(m->d);
        free(m->out);
        free(m->in);
        free(m);
        return r;
}

static void txt_ca(struct brm_mdns *m, mdns_record_t *r, const char *ca)
{
        xht_t *h = xht_new(11);
        unsigned char *txt;
        int len = 0;

        if (!h)
                return;
        xht_set(h, "ca", (void *)ca);
        if ((txt = sd2txt(h, &len)))
                mdnsd_set_raw(m->d, r, (const char *)txt, (unsigned short)len);
        free(txt);
        xht_free(h);
}

int brm_mdns_publish(struct brm_mdns *m, const char *instance, uint16_t port, const struct in_addr *addrs, size_t n_addrs,
                     const char *ca)
{
        char inst[300], host[300];
        mdns_record_t *r;

        if (!*instance || strlen(instance) > 63 || strchr(instance, '.') || n_addrs == 0)
                return -EINVAL;
        snprintf(inst, sizeof(inst), "%s.%s", instance, BRM_MDNS_SERVICE);
        snprintf(host, sizeof(host), "%s.local.", instance);
        /* Shared records: announced at once, without the probing a unique
         * name would need (a second master of the same name is told apart
         * by its TXT and addresses, and the TLS pin decides). */
        r = mdnsd_shared(m->d, "_services._dns-sd._udp.local.", QTYPE_PTR, TTL_OTHER);
        mdnsd_set_host(m->d, r, BRM_MDNS_SERVICE);
        r = mdnsd_shared(m->d, BRM_MDNS_SERVICE, QTYPE_PTR, TTL_OTHER);
        mdnsd_set_host(m->d, r, inst);
        r = mdnsd_shared(m->d, inst, QTYPE_SRV, TTL_HOST);
        mdnsd_set_srv(m->d, r, 0, 0, port, host);
        r = mdnsd_shared(m->d, inst, QTYPE_TXT, TTL_OTHER);
        txt_ca(m, r, ca);
        for (size_t i = 0; i < n_addrs; i++) {
                r = mdnsd_shared(m->d, host, QTYPE_A, TTL_HOST);
                mdnsd_set_ip(m->d, r, addrs[i]);
        }
        pump(m);
        return 0;
}

int brm_mdns_browse(struct brm_mdns *m, void (*on_update)(void *arg), void *arg)
{
        m->browsing = true;
        m->on_update = on_update;
        m->arg = arg;
        mdnsd_query(m->d, BRM_MDNS_SERVICE, QTYPE_PTR, on_answer, m);
        pump(m);
        return 0;
}

size_t brm_mdns_results(struct brm_mdns *m, struct brm_mdns_found *out, size_t max)
{
        return brm_mdns_collect_result(&m->found, out, max);
}

void brm_mdns_close(struct brm_mdns *m)
{
        struct in_addr ip;
        unsigned short port;

        if (!m || m->closing)
                return;
        /* Goodbyes (TTL 0) for everything published. */
        mdnsd_shutdown(m->d);
        while (mdnsd_out(m->d, m->out, &ip, &port) > 0)
                send_to(m, message_packet(m->out), (size_t)message_packet_len(m->out), ip, port);
        m->closing = true;
        m->browsing = false;
        uv_close((uv_handle_t *)&m->udp, handle_closed);
        uv_close((uv_handle_t *)&m->timer, handle_closed);
}

int brm_mdns_interfaces(const struct in_addr *only, struct in_addr *out, size_t max)
{
        struct ifaddrs *all, *i;
        size_t n = 0;

        if (getifaddrs(&all) < 0)
                return -errno;
        for (i = all; i && n < max; i = i->ifa_next) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
                if (!a || a->sin_family != AF_INET)
                        continue;
                if (!(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_MULTICAST) || (i->ifa_flags & IFF_LOOPBACK))
                        continue;
                if (only && only->s_addr != a->sin_addr.s_addr)
                        continue;
                out[n++] = a->sin_addr;
        }
        freeifaddrs(all);
        return (int)n;
}
