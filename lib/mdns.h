/* DNS-SD over multicast DNS for finding the master (_bramble._tcp.local).
 *
 * Messages are parsed and built by libmdnsd (Debian's libmdnsd, troglobit
 * mdnsd 0.12); this module drives it from a libuv loop (one UDP socket on
 * port 5353 joined to 224.0.0.251 on the given interfaces, one timer for
 * libmdnsd's retries and announcements).
 *
 * The master publishes one instance: PTR _bramble._tcp.local -> NAME.
 * _bramble._tcp.local, SRV -> NAME.local:PORT, TXT "ca=<first 16 hex of the
 * CA hash>" (the hash the join token pins) and an A record NAME.local for
 * each address. Queries are answered on every interface; a one-shot query
 * from a port other than 5353 is answered by unicast to that port.
 *
 * The browser asks for the PTR, then the SRV and TXT of every instance and
 * the A records of their targets, and collects whatever answers arrive
 * (struct brm_mdns_collect: pure, bounded, the one reader of untrusted
 * answers above libmdnsd's parser).
 *
 * Library code: returns negative errno, does not log. */
#ifndef BRM_MDNS_H
#define BRM_MDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <uv.h>

#define BRM_MDNS_SERVICE "_bramble._tcp.local."
#define BRM_MDNS_CA_HEX 16 /* hex digits of the CA hash in the TXT record */
#define BRM_MDNS_MAX_IFS 16

/* One address of one announced master. */
struct brm_mdns_found {
        char instance[64];              /* the instance label, printable (others replaced by '?') */
        char ip[INET_ADDRSTRLEN];
        uint16_t port;
        char ca[BRM_MDNS_CA_HEX + 1];   /* "" when the TXT record has no well-formed ca= */
};

/* ---- the collector (pure) ---- */

#define BRM_MDNS_MAX_INSTANCES 16
#define BRM_MDNS_MAX_HOSTS 16
#define BRM_MDNS_MAX_ADDRS 32

struct brm_mdns_collect {
        size_t n_inst, n_addr;
        struct {
                char name[256];         /* full instance name, lower case, no trailing dot */
                char target[256];       /* SRV target; "" until the SRV arrived */
                uint16_t port;
                bool has_txt;
                char ca[BRM_MDNS_CA_HEX + 1];
        } inst[BRM_MDNS_MAX_INSTANCES];
        struct {
                char host[256];
                struct in_addr ip;
        } addr[BRM_MDNS_MAX_ADDRS];
};

void brm_mdns_collect_init(struct brm_mdns_collect *c);
/* Takes one resource record of an answer. type is the DNS type (12 PTR,
 * 33 SRV, 16 TXT, 1 A); rdname is the PTR's or SRV's target name, port the
 * SRV's; ip the A record's address; rdata/rdlen the raw data (TXT).
 * Records with TTL 0 (goodbyes), of other services or beyond the bounds
 * are ignored. Returns 1 when the record added something, else 0. */
int brm_mdns_collect_add(struct brm_mdns_collect *c, const char *name, int type, uint32_t ttl, const char *rdname,
                         uint16_t port, struct in_addr ip, const uint8_t *rdata, size_t rdlen);
/* The same for one record as libmdnsd parsed it (struct resource of
 * <libmdnsd/1035.h>). */
struct resource;
int brm_mdns_collect_resource(struct brm_mdns_collect *c, const struct resource *r);
/* Parses one received datagram with libmdnsd and adds its answers (the
 * fuzz harness's entry). Returns the number of records that added
 * something, or -EBADMSG. */
int brm_mdns_collect_packet(struct brm_mdns_collect *c, const uint8_t *pkt, size_t len);
/* The complete announcements (SRV, TXT and at least one address), one entry
 * per address, in the order the instances were first seen. Returns the
 * number written (at most max). */
size_t brm_mdns_collect_result(const struct brm_mdns_collect *c, struct brm_mdns_found *out, size_t max);
/* The value of ca= in a TXT record's data, if it is BRM_MDNS_CA_HEX hex
 * digits (lower-cased into out); else out is "". */
void brm_mdns_txt_ca(const uint8_t *rdata, size_t rdlen, char out[BRM_MDNS_CA_HEX + 1]);

/* ---- the responder / browser on a loop ---- */

struct brm_mdns;

/* Opens the socket on the interfaces with the given IPv4 addresses (1 to
 * BRM_MDNS_MAX_IFS). Returns 0, or a negative errno (-EADDRINUSE, ...). */
int brm_mdns_open(uv_loop_t *loop, const struct in_addr *ifs, size_t n_ifs, struct brm_mdns **ret);
/* Publishes the master's instance; addrs are its A records, ca the first
 * BRM_MDNS_CA_HEX hex digits of the CA hash. Announces at once. Returns 0,
 * or -EINVAL when instance is not one DNS label of 1-63 bytes or there is
 * no address. */
int brm_mdns_publish(struct brm_mdns *m, const char *instance, uint16_t port, const struct in_addr *addrs, size_t n_addrs,
                     const char *ca);
/* Starts browsing; on_update runs (from the loop) whenever an answer added
 * something to the collection (it may close m). Returns 0. */
int brm_mdns_browse(struct brm_mdns *m, void (*on_update)(void *arg), void *arg);
/* The collection so far (brm_mdns_collect_result). */
size_t brm_mdns_results(struct brm_mdns *m, struct brm_mdns_found *out, size_t max);
/* Says goodbye for what was published, closes the socket and timer; m is
 * freed once they are closed. Accepts NULL. */
void brm_mdns_close(struct brm_mdns *m);

/* The IPv4 addresses of the up, multicast-capable, non-loopback interfaces
 * (any = NULL), or of the one carrying the address *only. Returns the
 * number found (0 when none), or a negative errno. */
int brm_mdns_interfaces(const struct in_addr *only, struct in_addr *out, size_t max);

#endif
