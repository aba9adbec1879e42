/* TLS configuration shared by every endpoint, and mbedTLS over a libuv TCP
 * stream. Policy: TLS 1.2, ECDHE-ECDSA on P-256 only, ChaCha20-Poly1305
 * preferred (Pi 3/4 cores have no AES instructions), AES-128-GCM allowed,
 * renegotiation off. TLS 1.3 is not enabled yet because mbedTLS 2.28 (the
 * development host) has no TLS 1.3 server; both ends stay on one version. */
#ifndef BRM_TLS_H
#define BRM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <uv.h>

enum brm_tls_verify {
        BRM_TLS_VERIFY_REQUIRED, /* peer must present a certificate from ca */
        BRM_TLS_VERIFY_OPTIONAL, /* server: a client may come without one (join) */
        BRM_TLS_VERIFY_PIN,      /* client joining: trust is decided after the handshake by the CA pin */
        BRM_TLS_VERIFY_NONE,     /* server: no client certificate is asked for (the HTTPS port) */
};

struct brm_tls_creds {
        mbedtls_x509_crt ca;
        mbedtls_x509_crt cert; /* own certificate, optionally followed by the CA */
        mbedtls_pk_context key;
        bool has_ca, has_cert;
};

void brm_tls_creds_init(struct brm_tls_creds *c);
void brm_tls_creds_free(struct brm_tls_creds *c);
/* Adds PEM or DER data; PEM must include its NUL terminator in len. */
int brm_tls_creds_add_ca(struct brm_tls_creds *c, const uint8_t *data, size_t len);
int brm_tls_creds_add_cert(struct brm_tls_creds *c, const uint8_t *data, size_t len);
int brm_tls_creds_set_key(struct brm_tls_creds *c, const uint8_t *data, size_t len);

/* Fills conf (mbedtls_ssl_config_init()ed by the caller). creds must
 * outlive conf. Returns 0 or -errno. */
int brm_tls_config(mbedtls_ssl_config *conf, bool server, enum brm_tls_verify verify, struct brm_tls_creds *creds);

/* For a client context: states that the server's name is not checked
 * (trust comes from the CA and the server-auth usage). No-op for servers. */
int brm_tls_client_no_hostname(mbedtls_ssl_context *ssl, const mbedtls_ssl_config *conf);

/* ---- mbedTLS on a libuv TCP handle ---- */

struct brm_tls_stream;
typedef void (*brm_tls_handshake_cb)(struct brm_tls_stream *s, int status);
typedef void (*brm_tls_data_cb)(struct brm_tls_stream *s, const uint8_t *data, size_t len);
/* The stream failed or the peer closed (status < 0); the owner closes it. */
typedef void (*brm_tls_error_cb)(struct brm_tls_stream *s, int status);
typedef void (*brm_tls_close_cb)(struct brm_tls_stream *s);
/* Everything queued has been handed to the kernel. */
typedef void (*brm_tls_drain_cb)(struct brm_tls_stream *s);

struct brm_tls_stream {
        uv_tcp_t tcp;
        mbedtls_ssl_context ssl;
        const uint8_t *rx;  /* ciphertext handed to mbedTLS during one read callback */
        size_t rx_len;
        size_t write_limit; /* bytes queued in the kernel-side backlog before writes fail */
        uint64_t rx_bytes;  /* ciphertext read from the peer so far */
        uint32_t hs_steps;  /* handshake steps the peer's data has completed, for admission deadlines */
        bool ssl_ready, handshake_done, reading, closing, failed;
        brm_tls_handshake_cb on_handshake;
        brm_tls_data_cb on_data;
        brm_tls_error_cb on_error;
        brm_tls_close_cb on_close;
        brm_tls_drain_cb on_drain; /* optional */
        void *data;
};

/* Initializes the TCP handle and the TLS context. On failure nothing needs
 * closing. */
int brm_tls_stream_init(uv_loop_t *loop, struct brm_tls_stream *s, const mbedtls_ssl_config *conf);
/* Starts reading and, for a client, sends the ClientHello. on_handshake is
 * called exactly once on success of this call. */
int brm_tls_stream_start(struct brm_tls_stream *s, brm_tls_handshake_cb on_handshake, brm_tls_data_cb on_data,
                         brm_tls_error_cb on_error);
/* Encrypts and queues len bytes. -ENOBUFS when the peer is not reading and
 * the queue is over write_limit (the caller should drop the peer). */
int brm_tls_stream_write(struct brm_tls_stream *s, const uint8_t *data, size_t len);
/* Bytes queued for the peer but not yet accepted by the kernel. */
size_t brm_tls_stream_queued(const struct brm_tls_stream *s);
/* Sends close_notify if possible and closes; cb runs once the handle is
 * closed and the TLS state freed. Idempotent. */
void brm_tls_stream_close(struct brm_tls_stream *s, brm_tls_close_cb cb);

#endif
