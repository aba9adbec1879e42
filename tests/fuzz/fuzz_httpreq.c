/* HTTP request heads as the master's HTTPS port reads them
 * (master/httpreq.c, Debian's http-parser underneath), then the query
 * strings, bearer tokens and cookies the routes take from them
 * (master/web.c, master/webauth.c). The first byte picks the size of the
 * pieces the rest arrives in, so heads split anywhere are exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"
#include "webauth.h"
#include "weblogs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t size)
{
        /* Every kept field is a NUL-terminated string inside its buffer. */
        if (!memchr(s, '\0', size))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct brm_httpreq q;
        struct brm_webauth auth;
        size_t piece, off = 1;
        char out[256];

        if (size < 1)
                return 0;
        piece = (size_t)data[0] % 64 + 1;
        brm_httpreq_init(&q);
        memset(&auth, 0, sizeof(auth));
        while (off < size) {
                size_t n = size - off < piece ? size - off : piece, used = 0;
                int rc = brm_httpreq_feed(&q, (const char *)data + off, n, &used);
                if (used > n)
                        abort();
                off += used;
                if (rc == BRM_HTTPREQ_DONE) {
                        const struct brm_http_req *r = &q.req;
                        check_string(r->method, sizeof(r->method));
                        check_string(r->path, sizeof(r->path));
                        check_string(r->query, sizeof(r->query));
                        check_string(r->authorization, sizeof(r->authorization));
                        check_string(r->cookie, sizeof(r->cookie));
                        if (brm_web_query(r->query, "code", out, sizeof(out)) && strlen(out) >= sizeof(out))
                                abort();
                        brm_web_query(r->query, "node", out, 64);
                        /* No token is known: nothing may pass. */
                        if (brm_webauth_bearer(&auth, r->authorization, 0) || brm_webauth_cookie(&auth, r->cookie, 0))
                                abort();
                        brm_httpreq_next(&q);
                } else if (rc != BRM_HTTPREQ_MORE) {
                        if ((rc != 400 && rc != 431) || !q.error[0])
                                abort(); /* a refusal says why */
                        break;
                } else if (used == 0) {
                        abort(); /* no progress without a verdict */
                }
        }
        brm_webauth_free(&auth);
        return 0;
}
