/* The operator's calls on the cluster's images (route handlers, server.c):
 * loading an archive blob by blob into the image store, naming what was
 * loaded, listing, removing and pruning. */
#ifndef BRM_IMAGES_H
#define BRM_IMAGES_H

#include "bramble.pb-c.h"

struct brm_session;

void brm_images_blob_upload(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_blob_commit(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_tag(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_list(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_remove(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_prune(struct brm_session *s, const Bramble__Envelope *env);

/* The session is going: an upload it left open is thrown away. */
void brm_images_session_closed(struct brm_session *s);

#endif
