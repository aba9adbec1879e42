/* The master's DNS-SD announcement (_bramble._tcp.local), so that agents
 * configured with "master": "auto" find it without its address; see
 * lib/mdns.h. */
#ifndef BRM_ANNOUNCE_H
#define BRM_ANNOUNCE_H

struct brm_master;

/* Announces on the multicast-capable interfaces that carry the listen
 * address (all of them for 0.0.0.0; none for a loopback address) and logs
 * where. Never fatal: a problem is logged and the master runs on without
 * the announcement. */
void brm_announce_start(struct brm_master *m);
/* Says goodbye and closes the socket. Accepts a master that announces
 * nothing. */
void brm_announce_stop(struct brm_master *m);

#endif
