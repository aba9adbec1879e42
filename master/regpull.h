/* The master's registry client: pulls an image from an OCI distribution
 * registry (Docker Registry HTTP API v2) into the image store, off the
 * loop thread.
 *
 * Each pull runs on a thread of its own with libcurl's easy interface:
 * a pull is long (minutes for a large image on a Pi), and its hashing,
 * file writes and fsyncs would block the loop just as much as the network
 * does; a thread of its own, not libuv's pool, keeps the pool's four
 * threads free for the file and DNS work of everything else. Progress and
 * the result reach the loop thread through a uv_async_t.
 *
 * What a pull stores: the top document (a manifest, or an index and the
 * manifests of the platforms asked for), their configs and layers, each
 * checked against its digest and size before it enters blobs/. Blobs the
 * store has are skipped; a blob cut short is kept as a partial file and
 * resumed with a Range request by the next pull. Naming the image
 * (brm_imagestore_tag, index.json) is left to the caller, on the loop
 * thread, with the descriptor the done callback gives. */
#ifndef BRM_REGPULL_H
#define BRM_REGPULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "imagestore.h"
#include "ocidoc.h"
#include "regref.h"

struct brm_regpull;

struct brm_regpull_opts {
        const char *ref;                /* "busybox", "127.0.0.1:5000/test/hello:1", "ghcr.io/x/y@sha256:..." */
        /* The platforms ("linux/arm64", "linux/arm/v7") whose manifests
         * and blobs are pulled when REF names an index; NULL or none: this
         * build's own, linux/brm_oci_host_arch(). An image of one manifest
         * must be of one of them. */
        const char *const *platforms;
        size_t n_platforms;
        /* DATA_DIR/certs.d: certs.d/REGISTRY/ca.crt (REGISTRY as the
         * reference names it: "127.0.0.1:5000", "docker.io") is the CA
         * bundle for that registry, instead of the system's, and
         * client.cert + client.key, when both are there, a client
         * certificate; a token realm on another host uses certs.d/ of its
         * HOST[:PORT]. NULL: the system's CAs only. */
        const char *certs_dir;
        /* Sent as Basic, or exchanged for a Bearer token at the realm the
         * registry names; NULL: anonymous. */
        const char *username;
        const char *password;
        bool insecure_http;             /* plain HTTP; only when asked */
        unsigned connect_timeout_s;     /* 0: 15 */
        /* A transfer that moves less than 1 KiB in this many seconds
         * fails, as does a registry that never answers; 0: 30. */
        unsigned stall_timeout_s;
};

/* The latest progress, on the loop thread: bytes of blob DIGEST done of
 * TOTAL. Reports are coalesced (a few a second at most), so a small blob
 * may show only its end. */
typedef void (*brm_regpull_progress_cb)(void *arg, const char *digest, uint64_t done, uint64_t total);

/* The end, on the loop thread, exactly once: STATUS 0 or -errno, WHY a
 * one-line reason ("" on success), NAME the full reference pulled
 * ("docker.io/library/busybox:1.36") and TOP the top document's
 * descriptor (valid on success only) to tag it with. The pull's handle
 * is gone when this is called. */
typedef void (*brm_regpull_done_cb)(void *arg, int status, const char *why, const char *name,
                                    const struct brm_oci_desc *top);

/* Starts pulling O->ref into S (whose directory must stay until done).
 * 0 and the handle in *ret (done will be called), or -EINVAL (a bad
 * reference or platform), -ENOMEM or a libuv error, with why, and done
 * is never called. O's strings are copied. The loop must keep running
 * until done has been called, also after a cancel. */
int brm_regpull_start(uv_loop_t *loop, const struct brm_imagestore *s, const struct brm_regpull_opts *o,
                      brm_regpull_progress_cb progress, brm_regpull_done_cb done, void *arg,
                      struct brm_regpull **ret, char *why, size_t why_size);

/* Stops a pull as soon as its transfer notices (within a second): done
 * follows with -ECANCELED. A blob cut short stays as a partial file. Only
 * before done; from the loop thread. */
void brm_regpull_cancel(struct brm_regpull *p);

#endif
