/* The master's announcement; see announce.h. */
#include "announce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mdns.h"
#include "server.h"
#include "util.h"

#define MOD "announce"
#define RESCAN_MS 10000

struct brm_announce {
        struct brm_master *m;
        uv_timer_t rescan;
        struct brm_mdns *mdns;          /* NULL while there is nowhere to announce */
        struct in_addr only;            /* the listen address; 0 = any */
        struct in_addr ifs[BRM_MDNS_MAX_IFS];
        size_t n_ifs;
        uint16_t port;
        char name[64];
        char ca[BRM_MDNS_CA_HEX + 1];
        bool said_none;                 /* "nowhere to announce" was logged */
};

/* The instance name: --mdns-name, else the host name up to its first dot
 * (a DNS label: at most 63 bytes, no dots). */
static void instance_name(const struct brm_master *m, char out[64])
{
        char host[256];

        if (m->cfg.mdns_name[0]) {
                snprintf(out, 64, "%s", m->cfg.mdns_name);
                return;
        }
        if (gethostname(host, sizeof(host)) < 0 || !host[0])
                snprintf(host, sizeof(host), "bramble-master");
        host[sizeof(host) - 1] = '\0';
        host[strcspn(host, ".")] = '\0';
        snprintf(out, 64, "%.63s", host);
}

/* (Re)announces on the interfaces there are now, if they changed. */
static void scan(struct brm_announce *a)
{
        struct in_addr ifs[BRM_MDNS_MAX_IFS];
        char where[BRM_MDNS_MAX_IFS * 17] = "", host[INET_ADDRSTRLEN];
        int n, r;

        n = brm_mdns_interfaces(a->only.s_addr ? &a->only : NULL, ifs, BRM_MDNS_MAX_IFS);
        if (n < 0)
                n = 0;
        if (a->mdns && (size_t)n == a->n_ifs && memcmp(ifs, a->ifs, (size_t)n * sizeof(*ifs)) == 0)
                return;
        if (!a->mdns && n == 0 && a->said_none)
                return;
        if (a->mdns) {
                brm_mdns_close(a->mdns); /* goodbyes for the old addresses */
                a->mdns = NULL;
        }
        memcpy(a->ifs, ifs, (size_t)n * sizeof(*ifs));
        a->n_ifs = (size_t)n;
        if (n == 0) {
                inet_ntop(AF_INET, &a->only, host, sizeof(host));
                brm_info(MOD, "not announcing on mDNS yet: no multicast-capable interface is up%s%s%s; looking again "
                         "every %d s", a->only.s_addr ? " with " : "", a->only.s_addr ? host : "",
                         a->only.s_addr ? "" : " (loopback does not count)", RESCAN_MS / 1000);
                a->said_none = true;
                return;
        }
        a->said_none = false;
        if ((r = brm_mdns_open(a->m->loop, ifs, (size_t)n, &a->mdns)) < 0) {
                brm_warn(MOD, "not announcing on mDNS: cannot open UDP port 5353: %s", uv_strerror(r));
                a->n_ifs = 0;
                return;
        }
        if ((r = brm_mdns_publish(a->mdns, a->name, a->port, ifs, (size_t)n, a->ca)) < 0) {
                brm_warn(MOD, "not announcing on mDNS: instance name '%s' is not usable (%s); set --mdns-name", a->name,
                         strerror(-r));
                brm_mdns_close(a->mdns);
                a->mdns = NULL;
                return;
        }
        for (int i = 0; i < n; i++) {
                inet_ntop(AF_INET, &ifs[i], host, sizeof(host));
                snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s%s", i ? ", " : "", host);
        }
        brm_info(MOD, "announcing %s.%s (port %u, ca=%s) on mDNS on %s", a->name, BRM_MDNS_SERVICE, a->port, a->ca, where);
}

static void on_rescan(uv_timer_t *t)
{
        scan(t->data);
}

void brm_announce_start(struct brm_master *m)
{
        struct brm_announce *a;
        char host[256], ca[65];
        uint16_t port;

        if (m->cfg.no_announce) {
                brm_info(MOD, "not announcing on mDNS (--no-announce)");
                return;
        }
        if (brm_parse_hostport(m->cfg.listen, host, sizeof(host), &port) < 0)
                return;
        if (!(a = calloc(1, sizeof(*a)))) {
                brm_warn(MOD, "not announcing on mDNS: out of memory");
                return;
        }
        if (strcmp(host, "0.0.0.0") != 0 && inet_pton(AF_INET, host, &a->only) != 1) {
                brm_info(MOD, "not announcing on mDNS: the listen address %s is not an IPv4 address", host);
                free(a);
                return;
        }
        if ((ntohl(a->only.s_addr) >> 24) == 127) {
                brm_info(MOD, "not announcing on mDNS: the listen address %s is a loopback address", host);
                free(a);
                return;
        }
        a->m = m;
        a->port = port;
        instance_name(m, a->name);
        brm_hex(m->ca.hash, 32, ca);
        memcpy(a->ca, ca, BRM_MDNS_CA_HEX);
        a->ca[BRM_MDNS_CA_HEX] = '\0';
        uv_timer_init(m->loop, &a->rescan);
        a->rescan.data = a;
        uv_timer_start(&a->rescan, on_rescan, RESCAN_MS, RESCAN_MS);
        m->announce = a;
        scan(a);
}

static void rescan_closed(uv_handle_t *h)
{
        free(h->data);
}

void brm_announce_stop(struct brm_master *m)
{
        struct brm_announce *a = m->announce;

        if (!a)
                return;
        m->announce = NULL;
        brm_mdns_close(a->mdns);
        uv_close((uv_handle_t *)&a->rescan, rescan_closed);
}
