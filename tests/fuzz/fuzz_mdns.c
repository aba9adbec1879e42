/* Answers from the LAN as the agent's browse reads them: a datagram parsed
 * by libmdnsd and collected (lib/mdnsfound.c), then the helper's lines as
 * the agent reads them (agent/discover.c). Every result must be complete
 * and printable: an address that parses, a port, a CA of 16 hex digits or
 * none, an instance of [a-z0-9_?-]. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "mdns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_found(const struct brm_mdns_found *f)
{
        struct in_addr a;

        if (inet_pton(AF_INET, f->ip, &a) != 1 || f->port == 0 || !f->instance[0] ||
            strspn(f->instance, "abcdefghijklmnopqrstuvwxyz0123456789-_?") != strlen(f->instance) ||
            (f->ca[0] && (strlen(f->ca) != 16 || strspn(f->ca, "0123456789abcdef") != 16)))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct brm_mdns_collect c;
        struct brm_mdns_found f[BRM_MDNS_MAX_ADDRS];
        struct brm_discover_found d[BRM_DISCOVER_MAX];
        char *text;
        size_t n;

        /* The same datagram twice, as a LAN repeats its answers. */
        brm_mdns_collect_init(&c);
        if (brm_mdns_collect_packet(&c, data, size) >= 0)
                brm_mdns_collect_packet(&c, data, size);
        if (c.n_inst > BRM_MDNS_MAX_INSTANCES || c.n_addr > BRM_MDNS_MAX_ADDRS)
                abort();
        n = brm_mdns_collect_result(&c, f, BRM_MDNS_MAX_ADDRS);
        for (size_t i = 0; i < n; i++)
                check_found(&f[i]);

        if (!(text = malloc(size + 1)))
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        n = brm_discover_parse(text, d, BRM_DISCOVER_MAX);
        if (n > BRM_DISCOVER_MAX)
                abort();
        for (size_t i = 0; i < n; i++) {
                char host[32];
                const char *colon = strrchr(d[i].addr, ':');
                struct in_addr a;
                if (!colon || (size_t)(colon - d[i].addr) >= sizeof(host))
                        abort();
                memcpy(host, d[i].addr, (size_t)(colon - d[i].addr));
                host[colon - d[i].addr] = '\0';
                if (inet_pton(AF_INET, host, &a) != 1 || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535 ||
                    (d[i].ca[0] && strlen(d[i].ca) != 16))
                        abort();
        }
        free(text);
        return 0;
}
