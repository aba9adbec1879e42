/* The registry client's HTTP side (regpull.c's helper, not a public
 * module): one libcurl easy handle per pull, used from the pull's thread
 * only, with the registry's TLS settings, timeouts and authentication
 * (Basic, or a Bearer token fetched from the realm a 401 names, fetched
 * again once when it expires). Every failure becomes -errno and a
 * one-line reason in why that names the registry and what was wrong. */
#ifndef BRM_REGHTTP_H
#define BRM_REGHTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imagestore.h"
#include "regref.h"

struct brm_reghttp_conf {
        const struct brm_regref *ref;
        const char *certs_dir;
        const char *username, *password;
        bool insecure_http;
        unsigned connect_timeout_s, stall_timeout_s;
        atomic_int *cancel;             /* nonzero: stop the transfer */
};

struct brm_reghttp;

/* Where an answer's body goes: into memory (at most max bytes), or into a
 * blob writer (at most limit bytes in all, 0: no limit). on_data is called
 * after each piece with the bytes held so far. */
struct brm_reghttp_sink {
        char *buf;                      /* memory: malloc'd, NUL after the end; the caller frees */
        size_t len, max;
        struct brm_blobw *w;            /* or a blob writer */
        uint64_t limit;
        uint64_t range_from;            /* > 0: ask for the bytes from here on (Range) */
        bool restarted;                 /* the server sent the whole blob instead: w was reopened at 0 */
        const struct brm_imagestore *s; /* to reopen w with */
        void (*on_data)(void *ctx, uint64_t have);
        void *ctx;
        /* Filled from the answer's headers. */
        long status;
        char content_type[BRM_OCI_TYPE_SIZE];
        char docker_digest[BRM_OCI_DIGEST_SIZE];
};

int brm_reghttp_new(const struct brm_reghttp_conf *conf, struct brm_reghttp **ret, char *why, size_t why_size);
void brm_reghttp_free(struct brm_reghttp *h);

/* GET PATH ("/v2/REPO/manifests/REF") from the registry into SINK,
 * authenticating as the registry asks; ACCEPT: an Accept header value or
 * NULL. WHAT names the object in messages ("manifest test/hello:1"). 0
 * only for a 2xx answer; 404 is -ENOENT, 401 and 403 -EACCES, anything
 * else that failed -EIO, -ETIMEDOUT, -ECONNREFUSED, -EPERM (TLS), -EBADMSG
 * or -ECANCELED. */
int brm_reghttp_get(struct brm_reghttp *h, const char *path, const char *accept, struct brm_reghttp_sink *sink,
                    const char *what, char *why, size_t why_size);

/* A one-line reason into why (nothing when why_size is 0); the WHY macro
 * of reghttp.c and regpull.c. */
void brm_reg_why(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define WHY(...) brm_reg_why(why, why_size, __VA_ARGS__)

#endif
