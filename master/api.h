/* Joins, certificate renewal, and the operator calls for tokens and nodes.
 * Each is a route handler (server.c decides who may call it): it checks
 * the request completely before anything is stored, and answers on the
 * session with its reply or one Error naming what was wrong. */
#ifndef BRM_API_H
#define BRM_API_H

#include "bramble.pb-c.h"

struct brm_session;

/* Without a certificate. A refused join also closes the connection. */
void brm_api_join(struct brm_session *s, const Bramble__Envelope *env);
/* A node, for its own certificate and key. */
void brm_api_renew(struct brm_session *s, const Bramble__Envelope *env);
/* Operators. */
void brm_api_token_create(struct brm_session *s, const Bramble__Envelope *env);
void brm_api_token_list(struct brm_session *s, const Bramble__Envelope *env);
void brm_api_token_revoke(struct brm_session *s, const Bramble__Envelope *env);
void brm_api_node_list(struct brm_session *s, const Bramble__Envelope *env);
void brm_api_node_remove(struct brm_session *s, const Bramble__Envelope *env);

#endif
