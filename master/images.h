/* The operator's calls on the cluster's images (route handlers, server.c):
 * loading an archive blob by blob into the image store, naming what was
 * loaded, listing, removing and pruning. */
#ifndef BRM_IMAGES_H
#define BRM_IMAGES_H

#include <stdint.h>

#include "bramble.pb-c.h"

struct brm_session;

void brm_images_blob_upload(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_blob_commit(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_tag(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_list(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_remove(struct brm_session *s, const Bramble__Envelope *env);
void brm_images_prune(struct brm_session *s, const Bramble__Envelope *env);

/* Answers request ID as 'image ls REF' would: the one image, as stored. */
void brm_images_reply_one(struct brm_session *s, uint64_t id, const char *ref);

/* The session is going: an upload it left open is thrown away. */
void brm_images_session_closed(struct brm_session *s);

#endif
