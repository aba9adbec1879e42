/* OS updates of the node (A/B root slots of the Bramble image).
 *
 * The master sends NodeUpgrade: a bundle in its store (osbundle.h), signed
 * by the cluster CA. The node checks the signature with its ca.crt, fetches
 * the bundle like any cluster image (fetch.h), checks the manifest against
 * the signed digest, then the parts, and hands them to the image's hook
 * (the agent's os_update_hook, image/rootfs/etc/bramble/update.sh): it
 * writes the slot that is not booted, reads every part back against its
 * SHA-256, and marks that slot for one try at the next boot. Then the hook
 * reboots the node. Booted into the try, the node commits the slot once its
 * session with the master has been up for the healthy window; the image's
 * try-boot guard reboots it back into the committed slot when that has not
 * happened by the deadline. The state is kept in STATE/update.json across
 * the reboots and reported in the Hello and every heartbeat:
 *
 *   downloading -> writing -> rebooting -> confirming -> committed
 *        \______________\____________\___________\____> failed / rolled-back
 *
 * A power cut at any point leaves the committed slot as it was: only the
 * other slot is written, and it is marked to try only once written and
 * read back whole. */
#ifndef BRM_OSUPDATE_H
#define BRM_OSUPDATE_H

#include <stdbool.h>

#include <uv.h>

#include "bramble.pb-c.h"
#include "conn.h"
#include "fetch.h"
#include "identity.h"

struct brm_osupdate;

struct brm_osupdate_opts {
        uv_loop_t *loop;
        const char *state_dir;
        const char *hook;            /* "" : this node refuses updates */
        struct brm_fetch *fetch;     /* NULL: refuses updates */
        struct brm_identity *id;     /* its ca.crt checks the signatures */
        const char *machine;         /* uname machine ("aarch64") */
        const char *slot;            /* the slot booted, "" off the image */
        bool tryboot;                /* this boot is a try of that slot */
        const char *os_version;      /* the version booted */
};

/* Reads STATE/update.json and settles what a reboot decided (committed,
 * rolled back, interrupted). 0 or -ENOMEM. */
int brm_osupdate_open(const struct brm_osupdate_opts *opts, struct brm_osupdate **ret);

/* Link handler for NodeUpgrade; U is the struct brm_osupdate. Answers Ok
 * when the update is under way, else Error with the one-line reason. */
void brm_osupdate_handle(void *u, struct brm_conn *conn, const Bramble__Envelope *env);

/* The link's session is up (CONN) or gone (NULL): the healthy window of
 * a slot on trial runs while it is up. */
void brm_osupdate_session(struct brm_osupdate *u, struct brm_conn *conn);

/* Fills ST with the update under way or the last one (strings valid until
 * the next call into the module); false when the node never updated. */
bool brm_osupdate_status(struct brm_osupdate *u, Bramble__UpdateStatus *st);

/* Calls EACH with the hex digest of every blob an update under way needs
 * (the image collection keeps them). Accepts NULL. */
void brm_osupdate_blobs(const struct brm_osupdate *u, void (*each)(const char *hex, void *arg), void *arg);

/* Stops (a running hook is left to finish) and frees. Accepts NULL. */
void brm_osupdate_close(struct brm_osupdate *u);

#endif
