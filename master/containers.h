/* Desired containers: the operator calls for them, the node's check of a
 * new one, and pushing each node its complete desired set. See
 * containers.c for why a container is stored only once its node agrees. */
#ifndef BRM_CONTAINERS_H
#define BRM_CONTAINERS_H

#include <stdbool.h>

#include "bramble.pb-c.h"

struct brm_master;
struct brm_session;

/* Route handlers for operators (server.c). */
void brm_containers_run(struct brm_session *s, const Bramble__Envelope *env);
void brm_containers_stop(struct brm_session *s, const Bramble__Envelope *env);
void brm_containers_start(struct brm_session *s, const Bramble__Envelope *env);
void brm_containers_remove(struct brm_session *s, const Bramble__Envelope *env);
void brm_containers_ps(struct brm_session *s, const Bramble__Envelope *env);
void brm_containers_inspect(struct brm_session *s, const Bramble__Envelope *env);

/* A node's Ok or Error: true if it answered a relayed check. */
bool brm_containers_node_reply(struct brm_session *s, const Bramble__Envelope *env);
/* Sends the node its complete desired set (no-op when not connected). */
void brm_containers_push(struct brm_master *m, const char *node);
/* Fails relayed checks that took too long. */
void brm_containers_expire(struct brm_master *m);
void brm_containers_free(struct brm_master *m);

#endif
