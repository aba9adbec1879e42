/* Relaying log streams between nodes and operators over the two mTLS
 * sessions the master already has. The master keeps no log data; see
 * relay.c for the credit window. */
#ifndef BRM_RELAY_H
#define BRM_RELAY_H

#include "bramble.pb-c.h"

struct brm_master;
struct brm_session;

/* Route handlers (server.c). An operator's LogsRequest: checks it, opens
 * the stream and forwards it to the node, or answers with an Error. */
void brm_relay_open(struct brm_session *s, const Bramble__Envelope *env);
/* A node's LogChunk or LogEnd: forwarded unchanged to the viewer. */
void brm_relay_node(struct brm_session *s, const Bramble__Envelope *env);

/* A dashboard's log stream (GET /api/logs): checks req and turns c into
 * an event stream fed by the node. Returns 0, or -errno with a one-line
 * msg (and c is still the caller's to answer). */
struct brm_http_conn;
int brm_relay_open_web(struct brm_master *m, struct brm_http_conn *c, const Bramble__LogsRequest *req, char *msg,
                       size_t size);

/* A session went away: its streams end on the other side. */
void brm_relay_session_closed(struct brm_session *s);
/* Streams open from this node; NULL: from every node. */
unsigned brm_relay_count(struct brm_master *m, const char *node);
void brm_relay_free(struct brm_master *m);

#endif
