/* Image references as people write them ("busybox", "ghcr.io/x/y:1",
 * "127.0.0.1:5000/test/hello@sha256:...") and the WWW-Authenticate
 * challenges and token answers of an OCI distribution registry. Pure
 * parsers of untrusted text: no I/O, no logging; tests/fuzz/fuzz_regref.c
 * drives them. Functions return 0 or -EINVAL and, where they take why, a
 * one-line reason; ret_* are untouched on failure. */
#ifndef BRM_REGREF_H
#define BRM_REGREF_H

#include <stddef.h>

#include "ocidoc.h"

/* Docker limits a repository name (with its registry) to 255 characters
 * and a tag to 128. */
#define BRM_REGREF_NAME_MAX 256
#define BRM_REGREF_TAG_MAX 129
#define BRM_REGREF_HOST_MAX 256

struct brm_regref {
        char registry[BRM_REGREF_HOST_MAX]; /* "docker.io", "127.0.0.1:5000": the name's first part */
        char host[BRM_REGREF_HOST_MAX];     /* where to connect: "registry-1.docker.io" for docker.io */
        char repo[BRM_REGREF_NAME_MAX];     /* "library/busybox" */
        char tag[BRM_REGREF_TAG_MAX];       /* "" when only a digest was given */
        char digest[BRM_OCI_DIGEST_SIZE];   /* "" when none was given */
};

/* Parses REF the way Docker reads it: a first part with a '.' or ':', or
 * "localhost", names the registry, else it is docker.io, where a
 * one-part name is under library/; no tag and no digest means :latest. */
int brm_regref_parse(const char *ref, struct brm_regref *ret, char *why, size_t why_size);

/* The full name "registry/repo:tag", "registry/repo@digest" or both
 * ("registry/repo:tag@digest"); -ENAMETOOLONG when it does not fit. */
int brm_regref_format(const struct brm_regref *r, char *buf, size_t size);

/* ---- authentication ---- */

enum brm_regauth_scheme { BRM_REGAUTH_NONE, BRM_REGAUTH_BASIC, BRM_REGAUTH_BEARER };

struct brm_regauth_challenge {
        enum brm_regauth_scheme scheme;
        char realm[1024];
        char service[256];
        char scope[512];
};

/* Reads one WWW-Authenticate value (RFC 7235: schemes, token=token or
 * token="quoted \"string\"" parameters, commas also inside quotes), LEN
 * bytes, not NUL-terminated. A Bearer challenge wins over a Basic one
 * (*ret overwritten only when it does); -EINVAL when the value names
 * neither or is malformed. A Bearer challenge needs a realm. */
int brm_regauth_parse_challenge(const char *value, size_t len, struct brm_regauth_challenge *ret);

/* The token of a token server's JSON answer ("token", else
 * "access_token"), malloc'd into *ret; -EINVAL with why when there is none
 * or it is not a usable header value. */
int brm_regauth_parse_token(const char *json, size_t len, char **ret, char *why, size_t why_size);

#endif
