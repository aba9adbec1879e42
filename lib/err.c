#include "err.h"

#include <errno.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <uv.h>

int brm_err_mbedtls(int e)
{
        switch (e) {
        case 0:
                return 0;
        case MBEDTLS_ERR_SSL_WANT_READ:
        case MBEDTLS_ERR_SSL_WANT_WRITE:
                return -EAGAIN;
        case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        case MBEDTLS_ERR_X509_ALLOC_FAILED:
                return -ENOMEM;
        case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        case MBEDTLS_ERR_SSL_CONN_EOF:
        case MBEDTLS_ERR_NET_SEND_FAILED:
        case MBEDTLS_ERR_NET_RECV_FAILED:
        case MBEDTLS_ERR_NET_CONN_RESET:
                return -ECONNRESET;
        case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
                return -EACCES;
        case MBEDTLS_ERR_X509_BAD_INPUT_DATA:
        case MBEDTLS_ERR_X509_INVALID_FORMAT:
        case MBEDTLS_ERR_SSL_BAD_INPUT_DATA:
                return -EINVAL;
        case MBEDTLS_ERR_SSL_TIMEOUT:
                return -ETIMEDOUT;
        default:
                return -EPROTO;
        }
}

const char *brm_strerror(int err)
{
        switch (err) {
        case -EMSGSIZE:
                return "frame larger than the allowed maximum";
        case -EPROTO:
                return "protocol error";
        case -EACCES:
                return "certificate not trusted";
        case -EBADMSG:
                return "malformed message";
        case -EUCLEAN:
                return "stored data damaged";
        case UV_EOF:
                /* libuv's one code that is no errno: the peer closed the
                 * connection, e.g. a master that went away mid-handshake. */
                return "connection closed by the peer";
        default:
                return strerror(err < 0 ? -err : err);
        }
}
