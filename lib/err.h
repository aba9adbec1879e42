/* The one place where mbedTLS and protobuf-c failures become errno values. */
#ifndef BRM_ERR_H
#define BRM_ERR_H

/* Maps an mbedTLS error code (negative) to a negative errno:
 * certificate verification failures -> -EACCES, want-read/write -> -EAGAIN,
 * allocation -> -ENOMEM, peer closed -> -ECONNRESET, bad input -> -EINVAL,
 * everything else -> -EPROTO. */
int brm_err_mbedtls(int mbedtls_err);

/* Human text for a negative errno from this project (strerror plus the
 * project's own meanings, e.g. -EMSGSIZE "frame too large", -EUCLEAN the
 * store's "damaged"). */
const char *brm_strerror(int err);

#endif
