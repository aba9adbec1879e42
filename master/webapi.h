/* The operator's calls for the HTTPS port (admin certificates only): API
 * tokens and the dashboard's sign-in codes. */
#ifndef BRM_WEBAPI_H
#define BRM_WEBAPI_H

#include "bramble.pb-c.h"

struct brm_session;

void brm_webapi_token_create(struct brm_session *s, const Bramble__Envelope *in);
void brm_webapi_token_list(struct brm_session *s, const Bramble__Envelope *in);
void brm_webapi_token_revoke(struct brm_session *s, const Bramble__Envelope *in);
void brm_webapi_dashboard(struct brm_session *s, const Bramble__Envelope *in);

#endif
