#include "join.h"

#include <errno.h>
#include <stdio.h>

#include "pki.h"
#include "util.h"

int brm_join_send(struct brm_conn *c, const struct brm_token *token, const char *node_name, const uint8_t *csr_der,
                  size_t csr_len, uint64_t id)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__JoinRequest req = BRAMBLE__JOIN_REQUEST__INIT;
        const mbedtls_x509_crt *chain = mbedtls_ssl_get_peer_cert(&c->tls.ssl);
        uint8_t ca[BRM_CERT_MAX_DER];
        size_t ca_len;

        /* The secret only goes to a master that proved the pinned CA. */
        if (brm_pki_verify_pinned(chain, token->ca_hash, ca, &ca_len) < 0)
                return -EACCES;
        req.token_id = (char *)token->id;
        req.token_secret = (char *)token->secret;
        req.node_name = (char *)node_name;
        req.has_csr_der = 1;
        req.csr_der.data = (uint8_t *)csr_der;
        req.csr_der.len = csr_len;
        env.has_id = 1;
        env.id = id;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_JOIN_REQUEST;
        env.join_request = &req;
        return brm_conn_send(c, &env);
}

void brm_join_peer_ca_hash(struct brm_conn *c, char ret_hex[65])
{
        const mbedtls_x509_crt *chain = mbedtls_ssl_get_peer_cert(&c->tls.ssl);
        uint8_t h[32];

        snprintf(ret_hex, 65, "none");
        for (const mbedtls_x509_crt *x = chain; x && x->raw.len; x = x->next)
                if ((x->next == NULL || x->next->raw.len == 0) && brm_pki_sha256(x->raw.p, x->raw.len, h) == 0)
                        brm_hex(h, 32, ret_hex);
}
