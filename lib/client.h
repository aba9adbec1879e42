/* A blocking request/response client over the same TLS policy, for the CLI
 * and test tools. Errors come back as negative errno plus a one-line
 * description in c->error. */
#ifndef BRM_CLIENT_H
#define BRM_CLIENT_H

#include <stdint.h>

#include <mbedtls/ssl.h>

#include "bramble.pb-c.h"
#include "tls.h"

struct brm_client {
        int fd;
        int timeout_ms;
        uint64_t next_id;
        mbedtls_ssl_config conf;
        mbedtls_ssl_context ssl;
        bool conf_init, ssl_init;
        char error[512];
        /* Optional: called by brm_client_call with each ImagePullProgress
         * frame answering the request (a run that pulls its image first),
         * which is then not taken for the reply. */
        void (*on_progress)(void *arg, const Bramble__ImagePullProgress *p);
        void *progress_arg;
};

/* Connects to host:port and performs the handshake. verify is REQUIRED
 * (creds->ca must be set) or PIN (no verification; the caller checks the
 * peer chain). creds must outlive the client. On failure everything is
 * already released and c->error says why. */
int brm_client_connect(struct brm_client *c, const char *hostport, struct brm_tls_creds *creds,
                       enum brm_tls_verify verify, int timeout_ms);
/* Sends req (its id is set here) and waits for the reply with the same id.
 * Returns 0 with *ret_resp to free with brm_msg_free(); an Error reply is
 * returned as a reply, not as a failure. */
int brm_client_call(struct brm_client *c, Bramble__Envelope *req, Bramble__Envelope **ret_resp);
/* Sends req with a fresh id (set here) and returns without waiting for
 * anything: for requests answered by a stream of frames, read with
 * brm_client_recv. On failure c->error says why. */
int brm_client_send(struct brm_client *c, Bramble__Envelope *req);
/* Changes how long brm_client_recv waits for data (and sends may block)
 * from the timeout given to brm_client_connect; 0 waits for ever. */
int brm_client_set_timeout(struct brm_client *c, int timeout_ms);
/* Sends raw bytes on the TLS channel (tests use it for malformed frames). */
int brm_client_send_raw(struct brm_client *c, const uint8_t *data, size_t len);
/* Reads one frame; -ECONNRESET when the peer closed. */
int brm_client_recv(struct brm_client *c, Bramble__Envelope **ret_env);
void brm_client_close(struct brm_client *c);

#endif
