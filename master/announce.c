/* The master's announcement; see announce.h. */
#include "announce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mdns.h"
#include "server.h"
#include "util.h"

#define MOD "announce"

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

void brm_announce_start(struct brm_master *m)
{
        struct in_addr ifs[BRM_MDNS_MAX_IFS], only;
        char host[256], name[64], ca[65], where[BRM_MDNS_MAX_IFS * 17] = "";
        uint16_t port;
        int n, r;

        if (m->cfg.no_announce) {
                brm_info(MOD, "not announcing on mDNS (--no-announce)");
                return;
        }
        if (brm_parse_hostport(m->cfg.listen, host, sizeof(host), &port) < 0)
                return;
        if (strcmp(host, "0.0.0.0") == 0) {
                n = brm_mdns_interfaces(NULL, ifs, BRM_MDNS_MAX_IFS);
        } else if (inet_pton(AF_INET, host, &only) == 1) {
                if ((ntohl(only.s_addr) >> 24) == 127) {
                        brm_info(MOD, "not announcing on mDNS: the listen address %s is a loopback address", host);
                        return;
                }
                n = brm_mdns_interfaces(&only, ifs, BRM_MDNS_MAX_IFS);
        } else {
                brm_info(MOD, "not announcing on mDNS: the listen address %s is not an IPv4 address", host);
                return;
        }
        if (n <= 0) {
                brm_info(MOD, "not announcing on mDNS: no multicast-capable interface carries %s%s", host,
                         n < 0 ? " (cannot list the interfaces)" : "");
                return;
        }
        instance_name(m, name);
        brm_hex(m->ca.hash, 32, ca);
        ca[BRM_MDNS_CA_HEX] = '\0';
        if ((r = brm_mdns_open(m->loop, ifs, (size_t)n, &m->announce)) < 0) {
                brm_warn(MOD, "not announcing on mDNS: cannot open UDP port 5353: %s", uv_strerror(r));
                return;
        }
        if ((r = brm_mdns_publish(m->announce, name, port, ifs, (size_t)n, ca)) < 0) {
                brm_warn(MOD, "not announcing on mDNS: instance name '%s' is not usable (%s); set --mdns-name", name,
                         strerror(-r));
                brm_mdns_close(m->announce);
                m->announce = NULL;
                return;
        }
        for (int i = 0; i < n; i++) {
                char a[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &ifs[i], a, sizeof(a));
                snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s%s", i ? ", " : "", a);
        }
        brm_info(MOD, "announcing %s.%s (port %u, ca=%s) on mDNS on %s", name, BRM_MDNS_SERVICE, port, ca, where);
}

void brm_announce_stop(struct brm_master *m)
{
        brm_mdns_close(m->announce);
        m->announce = NULL;
}
