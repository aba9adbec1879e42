/* The master's DNS-SD announcement (_bramble._tcp.local), so that agents
 * configured with "master": "auto" find it without its address; see
 * lib/mdns.h. */
#ifndef BRM_ANNOUNCE_H
#define BRM_ANNOUNCE_H

struct brm_master;
struct brm_announce;

/* Announces on the multicast-capable interfaces that carry the listen
 * address (all of them for 0.0.0.0; none for a loopback address) and logs
 * where. The interfaces are looked at again every 10 s: a master started
 * before its network was up, or whose address changed, announces what it
 * has then. Never fatal: a problem is logged and the master runs on. */
void brm_announce_start(struct brm_master *m);
/* Says goodbye and closes the socket and timer. Accepts a master that
 * announces nothing. */
void brm_announce_stop(struct brm_master *m);

#endif
