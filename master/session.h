/* One connection to the master and what the master knows of its peer, and
 * the one way a reply is sent: a peer that has stopped reading is dropped
 * here, and nowhere else. */
#ifndef BRM_SESSION_H
#define BRM_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "admit.h"
#include "bramble.pb-c.h"
#include "conn.h"

/* Who the peer proved to be, from its verified certificate. */
enum brm_role { BRM_ROLE_NONE, BRM_ROLE_NODE, BRM_ROLE_ADMIN };

struct brm_master;
struct brm_node;
struct brm_relay;
struct brm_blobsend;
struct brm_blobw;

struct brm_session {
        struct brm_conn conn;
        uint64_t sid;                 /* unique per session, for replies that arrive later */
        struct brm_master *m;
        enum brm_role role;
        char name[64];                /* node name, "admin", or "" before the handshake */
        struct brm_node *node;        /* a node session's registry entry; NULL once replaced or removed */
        struct brm_session *prev, *next;
        struct brm_relay *relay;      /* an operator's log stream */
        struct brm_blobsend *blobs;   /* a node's blob streams (blobsend.c) */
        struct brm_admit_entry admit; /* listed until the peer has a certificate */
        struct brm_blobw *upload;     /* an operator's blob being loaded (images.c) */
        int upload_error;             /* why the upload stopped, told at its commit */
        /* Set on a session of the master's own (the dashboard's reads): what
         * would be sent goes to this call instead, and no connection is
         * involved. */
        void (*capture)(struct brm_session *s, const Bramble__Envelope *env);
        void *capture_arg;
};

/* The open session with this id, or NULL when it has closed or is closing
 * (its operator left before a relayed answer came). */
struct brm_session *brm_session_find(struct brm_master *m, uint64_t sid);

/* Sends one Envelope. A peer that is not reading (-ENOBUFS: its queue is
 * over the limit) is dropped: replies must not pile up in the master.
 * Returns 0 or -errno; -ENOTCONN if the session is closing. */
int brm_session_send(struct brm_session *s, const Bramble__Envelope *env);
/* Sends env as the answer to request id (0: not an answer). */
int brm_session_reply(struct brm_session *s, uint64_t id, Bramble__Envelope *env);
int brm_session_reply_ok(struct brm_session *s, uint64_t id);
/* Answers request id with an Error; the session stays. */
void brm_session_error(struct brm_session *s, uint64_t id, int code, const char *msg);
/* Answers request id with an Error and closes the session with code. */
void brm_session_refuse(struct brm_session *s, uint64_t id, int code, const char *msg);
/* Detaches the session from its node (so the node's next session is not
 * taken for this one) and closes it; reason as for brm_conn_close(). */
void brm_session_close(struct brm_session *s, int reason);

#endif
