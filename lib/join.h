/* The node's side of the join (docs: "Join"), shared by bramble-agent and
 * the load generator so that both speak it the same way. The connection is
 * TLS without a client certificate, trusting nothing yet
 * (BRM_TLS_VERIFY_PIN); once it is ready, the master must present the CA
 * whose hash the token pins and a certificate verified against it, and
 * only then do the token's secret and the node's CSR go out. Does not
 * log. */
#ifndef BRM_JOIN_H
#define BRM_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "token.h"

/* Checks the master on C against TOKEN's pin, then sends a JoinRequest
 * (request id ID) for NODE_NAME with the DER CSR. 0 when it was sent;
 * -EACCES when the master does not present the pinned CA (nothing was
 * sent); else brm_conn_send's error. */
int brm_join_send(struct brm_conn *c, const struct brm_token *token, const char *node_name, const uint8_t *csr_der,
                  size_t csr_len, uint64_t id);

/* The hex SHA-256 of the last certificate of the master's chain on C, the
 * CA it presents, for the message of a refused join; "none" without one. */
void brm_join_peer_ca_hash(struct brm_conn *c, char ret_hex[65]);

#endif
