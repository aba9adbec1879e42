/* The agent's one connection to the master, as a transport.
 *
 * Without a certificate the link joins (lib/join.h): it connects trusting
 * nothing, checks the master against the CA the token pins, and only then
 * sends the token secret and a CSR; the certificate that comes back is
 * stored and the link reconnects at once. With a certificate it connects
 * with mutual TLS, says hello, sends heartbeats at the interval the master
 * asks for, and asks for a new certificate once two thirds of the current
 * one's lifetime have passed. Heartbeats run only while a session is up
 * (from the HelloAck to the end of its connection), never into the next
 * attempt's handshake. The master acks each heartbeat (an Ok of its id);
 * once it has acked one, a session that hears nothing from it for 4
 * heartbeat intervals is closed as lost. It reconnects forever, trying the
 * configured masters
 * in turn: once joined, at most 10 s apart with full jitter; while joining,
 * 1 s x 1.6 +-20 % up to 120 s.
 *
 * With "master": "auto" the addresses come from agent/masters.h: those that
 * last worked, then what bramble-browse finds by mDNS (agent/discover.h).
 * The addresses of one round are tried one after the other at once; the
 * backoff above separates rounds, each of which browses again. A master
 * whose CA is not the pinned one is refused with one line naming it.
 *
 * Everything else the master sends on a session goes to the handler
 * registered for its message type (main.c holds the table); a type without
 * a handler is ignored. */
#ifndef BRM_LINK_H
#define BRM_LINK_H

#include <stddef.h>

#include <uv.h>

#include "bramble.pb-c.h"
#include "config.h"
#include "conn.h"
#include "heartbeat.h"
#include "identity.h"
#include "token.h"

/* Request ids from this value up belong to the modules that send requests
 * on the session themselves (the link numbers its own below it): an Error
 * answering one goes to the handler registered for
 * BRAMBLE__ENVELOPE__MSG_ERROR, and the session stays. Any other Error
 * from the master ends the session, as a refusal of the node. */
#define BRM_LINK_MODULE_IDS (1ull << 48)

/* Handles one message; CONN is the session, to reply on. */
typedef void (*brm_link_handler_fn)(void *arg, struct brm_conn *conn, const Bramble__Envelope *env);

struct brm_link_handler {
        Bramble__Envelope__MsgCase msg;
        brm_link_handler_fn fn;
        void *arg;
};

struct brm_link_opts {
        uv_loop_t *loop;
        const struct brm_agent_config *cfg;   /* masters, node name, heartbeat interval */
        struct brm_identity *id;              /* joined or not; the join and renewals update it */
        const struct brm_token *token;        /* for the join */
        struct brm_heartbeat *hb;             /* assembles the Hello and the heartbeats */
        const struct brm_link_handler *handlers; /* copied */
        size_t n_handlers;
        /* The session is up (CONN, after the master's HelloAck) or gone
         * (NULL). Optional. */
        void (*on_session)(void *arg, struct brm_conn *conn);
        /* The session has sent everything it had queued. Optional. */
        void (*on_drained)(void *arg);
        void *arg;
};

struct brm_link;

/* Starts connecting (from the loop). 0 or -ENOMEM. */
int brm_link_start(const struct brm_link_opts *opts, struct brm_link **ret);
/* Closes the connection and stops for good; the link frees itself once
 * its handles and requests are done. No callback runs after this returns.
 * Accepts NULL. */
void brm_link_stop(struct brm_link *l);

#endif
