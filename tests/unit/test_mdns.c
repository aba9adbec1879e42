/* The pure parts of finding the master by mDNS: the browse's collection of
 * answers (lib/mdnsfound.c) over messages built by libmdnsd itself, the
 * TXT record's ca=, the helper's output as the agent reads it
 * (agent/discover.c) and the agent's list of masters to try
 * (agent/masters.c). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmdnsd/1035.h>

#include "check.h"
#include "discover.h"
#include "masters.h"
#include "mdns.h"

static struct in_addr ip(const char *s)
{
        struct in_addr a;
        inet_pton(AF_INET, s, &a);
        return a;
}

/* A response as a master sends it, built by libmdnsd. */
static size_t response(uint8_t *out, const char *inst, const char *host, const char *addr, unsigned short port,
                       const char *txt, unsigned long ttl)
{
        static struct message m;
        char ptr[300], srv[300], h[300];
        unsigned char t[64];
        size_t tl = strlen(txt);

        memset(&m, 0, sizeof(m));
        m.header.qr = 1;
        m.header.aa = 1;
        snprintf(ptr, sizeof(ptr), "_bramble._tcp.local.");
        snprintf(srv, sizeof(srv), "%s._bramble._tcp.local.", inst);
        snprintf(h, sizeof(h), "%s.local.", host);
        message_an(&m, ptr, 12, 1, ttl);
        message_rdata_name(&m, srv);
        message_an(&m, srv, 33, 1, ttl);
        message_rdata_srv(&m, 0, 0, port, h);
        t[0] = (unsigned char)tl;
        memcpy(t + 1, txt, tl);
        message_an(&m, srv, 16, 1, ttl);
        message_rdata_raw(&m, t, (unsigned short)(tl + 1));
        message_an(&m, h, 1, 1, ttl);
        struct in_addr a = ip(addr);
        message_rdata_raw(&m, (unsigned char *)&a, 4);
        memcpy(out, message_packet(&m), (size_t)message_packet_len(&m));
        return (size_t)message_packet_len(&m);
}

static void collect(void)
{
        static struct brm_mdns_collect c;
        struct brm_mdns_found f[8];
        uint8_t pkt[1500];
        size_t len;

        brm_mdns_collect_init(&c);
        len = response(pkt, "Real", "real", "10.77.0.2", 7443, "ca=0123456789ABCDEF", 120);
        CHECK_INT(brm_mdns_collect_packet(&c, pkt, len), ==, 4);
        CHECK_INT(brm_mdns_collect_result(&c, f, 8), ==, 1);
        CHECK_STR(f[0].instance, "real"); /* names compare and print in lower case */
        CHECK_STR(f[0].ip, "10.77.0.2");
        CHECK_INT(f[0].port, ==, 7443);
        CHECK_STR(f[0].ca, "0123456789abcdef");

        /* The same again adds no address; a second master comes after. */
        brm_mdns_collect_packet(&c, pkt, len);
        len = response(pkt, "rogue", "rogue", "10.77.0.3", 7000, "ca=ffffffffffffffff", 120);
        brm_mdns_collect_packet(&c, pkt, len);
        CHECK_INT(brm_mdns_collect_result(&c, f, 8), ==, 2);
        CHECK_STR(f[1].instance, "rogue");
        CHECK_STR(f[1].ip, "10.77.0.3");
        CHECK_INT(f[1].port, ==, 7000);
        CHECK_INT(brm_mdns_collect_result(&c, f, 1), ==, 1);

        /* Goodbyes (TTL 0) add nothing; a TXT without a usable ca= is
         * complete but names no CA. */
        brm_mdns_collect_init(&c);
        len = response(pkt, "gone", "gone", "10.77.0.4", 7443, "ca=0123456789abcdef", 0);
        CHECK_INT(brm_mdns_collect_packet(&c, pkt, len), ==, 0);
        len = response(pkt, "old", "old", "10.77.0.5", 7443, "ca=0123", 120);
        brm_mdns_collect_packet(&c, pkt, len);
        CHECK_INT(brm_mdns_collect_result(&c, f, 8), ==, 1);
        CHECK_STR(f[0].ca, "");

        /* An SRV without an address, or of another service, is no result. */
        brm_mdns_collect_init(&c);
        CHECK_INT(brm_mdns_collect_add(&c, "x._bramble._tcp.local.", 33, 120, "x.local.", 7443, ip("0.0.0.0"), NULL, 0), ==, 1);
        CHECK_INT(brm_mdns_collect_add(&c, "x._http._tcp.local.", 33, 120, "x.local.", 80, ip("0.0.0.0"), NULL, 0), ==, 0);
        CHECK_INT(brm_mdns_collect_add(&c, "_bramble._tcp.local.", 12, 120, "_bramble._tcp.local.", 0, ip("0.0.0.0"), NULL, 0),
                  ==, 0);
        CHECK_INT(brm_mdns_collect_result(&c, f, 8), ==, 0);
        CHECK_INT(brm_mdns_collect_packet(&c, (const uint8_t *)"short", 5), <, 0);

        /* Bounded: the 17th instance is not kept. */
        brm_mdns_collect_init(&c);
        for (int i = 0; i < BRM_MDNS_MAX_INSTANCES + 4; i++) {
                char n[64];
                snprintf(n, sizeof(n), "m%d._bramble._tcp.local.", i);
                brm_mdns_collect_add(&c, "_bramble._tcp.local.", 12, 120, n, 0, ip("0.0.0.0"), NULL, 0);
        }
        CHECK_INT(c.n_inst, ==, BRM_MDNS_MAX_INSTANCES);
}

static void txt(void)
{
        char ca[17];
        const uint8_t two[] = "\x05" "a=b=c" "\x13" "ca=00112233445566aa";

        brm_mdns_txt_ca(two, sizeof(two) - 1, ca);
        CHECK_STR(ca, "00112233445566aa");
        brm_mdns_txt_ca((const uint8_t *)"\x13" "ca=0011223344556zaa", 20, ca);
        CHECK_STR(ca, "");
        brm_mdns_txt_ca((const uint8_t *)"\x40" "ca=", 4, ca); /* a length past the end */
        CHECK_STR(ca, "");
        brm_mdns_txt_ca(NULL, 0, ca);
        CHECK_STR(ca, "");
}

static void helper_lines(void)
{
        struct brm_discover_found f[4];
        const char *out = "master real 10.77.0.2 7443 0123456789abcdef\n"
                          "master odd 10.77.0.9 7443 -\n"
                          "master bad 10.77.0.300 7443 -\n"
                          "master bad 10.77.0.3 0 -\n"
                          "master bad 10.77.0.3 7443 0123\n"
                          "master bad 10.77.0.3 7443 - extra\n"
                          "noise\n"
                          "master last 10.0.0.1 1 ffffffffffffffff";

        CHECK_INT(brm_discover_parse(out, f, 4), ==, 3);
        CHECK_STR(f[0].instance, "real");
        CHECK_STR(f[0].addr, "10.77.0.2:7443");
        CHECK_STR(f[0].ca, "0123456789abcdef");
        CHECK_STR(f[1].ca, "");
        CHECK_STR(f[2].addr, "10.0.0.1:1");
        CHECK_INT(brm_discover_parse(out, f, 1), ==, 1);
}

static void masters(void)
{
        char dir[] = "/tmp/brm-test-mdns.XXXXXX", path[64];
        struct brm_masters *ms = malloc(sizeof(*ms));
        struct brm_discover_found f[3] = {
                { "liar", "10.0.0.3:7443", "0123456789abcdef" },
                { "other", "10.0.0.4:7443", "ffffffffffffffff" },
                { "real", "10.0.0.2:7443", "0123456789abcdef" },
        };
        uint8_t pin[32] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
        bool found;

        CHECK(ms && mkdtemp(dir));
        brm_masters_init(ms, dir);
        CHECK(brm_masters_next(ms, &found) == NULL); /* nothing remembered: browse */
        CHECK_INT(brm_masters_found(ms, f, 3, pin, "the token"), ==, 2);
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.3:7443");
        CHECK(found);
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.2:7443");
        brm_masters_again(ms); /* joined: the same master again */
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.2:7443");
        brm_masters_good(ms, "10.0.0.2:7443");

        /* A restart tries the remembered address first, then browses; what
         * the browse finds comes before the remembered addresses. */
        brm_masters_init(ms, dir);
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.2:7443");
        CHECK(!found);
        CHECK(brm_masters_next(ms, &found) == NULL);
        f[0].ca[0] = 'f';
        strcpy(f[2].addr, "10.0.0.22:7443");
        CHECK_INT(brm_masters_found(ms, f, 3, pin, "ca.crt"), ==, 2);
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.22:7443");
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.2:7443");
        CHECK(!found);
        brm_masters_good(ms, "10.0.0.22:7443");
        brm_masters_init(ms, dir);
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.22:7443");
        CHECK_STR(brm_masters_next(ms, &found), "10.0.0.2:7443");

        snprintf(path, sizeof(path), "%s/master-addrs", dir);
        unlink(path);
        rmdir(dir);
        free(ms);
}

int main(void)
{
        collect();
        txt();
        helper_lines();
        masters();
        return 0;
}
