/* The browser's collection of answers; see mdns.h. Everything here reads
 * records from the network: sizes are bounded, names are copied with their
 * length checked, and nothing is allocated per record. */
#include "mdns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmdnsd/1035.h>
#include <libmdnsd/sdtxt.h>

#define TYPE_A 1
#define TYPE_PTR 12
#define TYPE_TXT 16
#define TYPE_SRV 33
#define TXT_MAX 1300 /* one Ethernet frame; the master's is ~20 bytes */

void brm_mdns_collect_init(struct brm_mdns_collect *c)
{
        memset(c, 0, sizeof(*c));
}

/* Lower case, without the trailing dot; false when it does not fit. */
static bool norm(const char *in, char out[256])
{
        size_t n;

        if (!in)
                return false;
        n = strnlen(in, 256);
        if (n == 256)
                return false;
        if (n && in[n - 1] == '.')
                n--;
        for (size_t i = 0; i < n; i++)
                out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
        out[n] = '\0';
        return n > 0;
}

static const char service[] = "_bramble._tcp.local";

/* The instance with this full name, added when add is set and there is room. */
static int find_inst(struct brm_mdns_collect *c, const char *name, bool add)
{
        for (size_t i = 0; i < c->n_inst; i++)
                if (strcmp(c->inst[i].name, name) == 0)
                        return (int)i;
        if (!add || c->n_inst == BRM_MDNS_MAX_INSTANCES)
                return -1;
        snprintf(c->inst[c->n_inst].name, sizeof(c->inst[0].name), "%s", name);
        return (int)c->n_inst++;
}

/* An instance's name is "<label>.<service>" with a label of 1-63 bytes. */
static bool is_instance(const char *name)
{
        size_t n = strlen(name), s = sizeof(service) - 1;
        return n > s + 1 && n - s - 1 <= 63 && name[n - s - 1] == '.' && strcmp(name + n - s, service) == 0;
}

void brm_mdns_txt_ca(const uint8_t *rdata, size_t rdlen, char out[BRM_MDNS_CA_HEX + 1])
{
        unsigned char buf[TXT_MAX];
        xht_t *h;
        const char *v;

        out[0] = '\0';
        if (!rdata || rdlen == 0 || rdlen > sizeof(buf))
                return;
        memcpy(buf, rdata, rdlen);
        if (!(h = txt2sd(buf, (int)rdlen)))
                return;
        v = xht_get(h, "ca");
        if (v && strlen(v) == BRM_MDNS_CA_HEX && strspn(v, "0123456789abcdefABCDEF") == BRM_MDNS_CA_HEX) {
                for (size_t i = 0; i < BRM_MDNS_CA_HEX; i++)
                        out[i] = (v[i] >= 'A' && v[i] <= 'F') ? (char)(v[i] - 'A' + 'a') : v[i];
                out[BRM_MDNS_CA_HEX] = '\0';
        }
        xht_free(h);
}

int brm_mdns_collect_add(struct brm_mdns_collect *c, const char *name, int type, uint32_t ttl, const char *rdname,
                         uint16_t port, struct in_addr ip, const uint8_t *rdata, size_t rdlen)
{
        char n[256], t[256];
        int i;

        if (ttl == 0 || !norm(name, n))
                return 0;
        switch (type) {
        case TYPE_PTR:
                if (strcmp(n, service) != 0 || !norm(rdname, t) || !is_instance(t))
                        return 0;
                if (find_inst(c, t, false) >= 0)
                        return 0;
                return find_inst(c, t, true) >= 0;
        case TYPE_SRV:
                if (!is_instance(n) || (i = find_inst(c, n, true)) < 0 || !norm(rdname, t) || port == 0)
                        return 0;
                if (strcmp(c->inst[i].target, t) == 0 && c->inst[i].port == port)
                        return 0;
                snprintf(c->inst[i].target, sizeof(c->inst[i].target), "%s", t);
                c->inst[i].port = port;
                return 1;
        case TYPE_TXT:
                if (!is_instance(n) || (i = find_inst(c, n, true)) < 0)
                        return 0;
                brm_mdns_txt_ca(rdata, rdlen, c->inst[i].ca);
                c->inst[i].has_txt = true;
                return 1;
        case TYPE_A:
                if (ip.s_addr == 0 || ip.s_addr == htonl(INADDR_BROADCAST))
                        return 0;
                for (size_t k = 0; k < c->n_addr; k++)
                        if (c->addr[k].ip.s_addr == ip.s_addr && strcmp(c->addr[k].host, n) == 0)
                                return 0;
                if (c->n_addr == BRM_MDNS_MAX_ADDRS)
                        return 0;
                snprintf(c->addr[c->n_addr].host, sizeof(c->addr[0].host), "%s", n);
                c->addr[c->n_addr++].ip = ip;
                return 1;
        default:
                return 0;
        }
}

int brm_mdns_collect_resource(struct brm_mdns_collect *c, const struct resource *r)
{
        const char *rdname = NULL;
        uint16_t port = 0;
        struct in_addr ip = { 0 };

        if (r->type == TYPE_PTR)
                rdname = r->known.ptr.name;
        else if (r->type == TYPE_SRV) {
                rdname = r->known.srv.name;
                port = r->known.srv.port;
        } else if (r->type == TYPE_A)
                ip = r->known.a.ip;
        return brm_mdns_collect_add(c, r->name, r->type, (uint32_t)r->ttl, rdname, port, ip, r->rdata, r->rdlength);
}

int brm_mdns_collect_packet(struct brm_mdns_collect *c, const uint8_t *pkt, size_t len)
{
        /* libmdnsd parses from a buffer of MAX_PACKET_LEN bytes whatever
         * the datagram's length: the rest is zeros. */
        struct message *m = calloc(1, sizeof(*m));
        unsigned char *buf = calloc(1, MAX_PACKET_LEN);
        int added = 0;

        if (!m || !buf || len > MAX_PACKET_LEN || len < 12) {
                added = -EBADMSG;
                goto out;
        }
        memcpy(buf, pkt, len);
        if (message_parse(m, buf) != 0) {
                added = -EBADMSG;
                goto out;
        }
        for (int i = 0; i < m->ancount && m->an; i++)
                added += brm_mdns_collect_resource(c, &m->an[i]);
        for (int i = 0; i < m->arcount && m->ar; i++)
                added += brm_mdns_collect_resource(c, &m->ar[i]);
out:
        free(buf);
        free(m);
        return added;
}

/* The label of an instance, printable. */
static void label_of(const char *full, char out[64])
{
        size_t n = strlen(full) - (sizeof(service) - 1) - 1, k = 0;

        for (size_t i = 0; i < n && k < 63; i++, k++) {
                char ch = full[i];
                out[k] = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '-' || ch == '_' ? ch : '?';
        }
        out[k] = '\0';
}

size_t brm_mdns_collect_result(const struct brm_mdns_collect *c, struct brm_mdns_found *out, size_t max)
{
        size_t n = 0;

        for (size_t i = 0; i < c->n_inst; i++) {
                if (!c->inst[i].target[0] || !c->inst[i].has_txt)
                        continue;
                for (size_t k = 0; k < c->n_addr && n < max; k++) {
                        if (strcmp(c->addr[k].host, c->inst[i].target) != 0)
                                continue;
                        label_of(c->inst[i].name, out[n].instance);
                        inet_ntop(AF_INET, &c->addr[k].ip, out[n].ip, sizeof(out[n].ip));
                        out[n].port = c->inst[i].port;
                        memcpy(out[n].ca, c->inst[i].ca, sizeof(out[n].ca));
                        n++;
                }
        }
        return n;
}
