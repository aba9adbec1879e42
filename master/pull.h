/* Pulls into the image store on an operator's or a run's behalf: one
 * registry pull per (reference, platforms) at a time, however many wait
 * for it; credentials and the CA from regcreds; progress to the operators
 * who asked; the name set on the loop thread once the image is whole. */
#ifndef BRM_PULL_H
#define BRM_PULL_H

#include <stddef.h>

#include "bramble.pb-c.h"
#include "ocidoc.h"

struct brm_master;
struct brm_session;
struct brm_pull;

/* The end of a pull: STATUS 0 or -errno, WHY a one-line reason, NAME the
 * full reference stored (on success). */
typedef void (*brm_pull_done_fn)(void *arg, int status, const char *why, const char *name);

/* Pulls REF (as written; normalised here) for PLATFORMS into the store,
 * or joins a pull of the same already running. DONE is called exactly
 * once, never from within this call. While it runs, ImagePullProgress
 * frames go to request FOLLOW_ID of session FOLLOW_SID (0: nobody). 0, or
 * -errno with why (a malformed reference) and DONE is not called. */
int brm_pull_start(struct brm_master *m, const char *ref, const char *const *platforms, size_t n_platforms,
                   brm_pull_done_fn done, void *arg, uint64_t follow_sid, uint64_t follow_id, char *why,
                   size_t why_size);

/* The operator's ImagePullRequest (route handler). */
void brm_pull_request(struct brm_session *s, const Bramble__Envelope *env);

/* The full name of REF ("busybox" -> "docker.io/library/busybox:latest");
 * REF itself when it is no registry reference. */
void brm_pull_normalize(const char *ref, char *buf, size_t size);

/* Cancels every pull (the master is stopping); their ends still come. */
void brm_pull_cancel_all(struct brm_master *m);

#endif
