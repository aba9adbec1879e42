/* Reading one HTTP/1.1 request head with Debian's http-parser: the
 * method, the path and query, and the few headers the master uses, each
 * bounded; nothing else is kept. Pure (no I/O), so it is fuzzed on its own
 * (tests/fuzz/fuzz_httpreq.c). */
#ifndef BRM_HTTPREQ_H
#define BRM_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#define BRM_HTTP_HEAD_MAX (16 * 1024)

struct brm_http_req {
        char method[8];
        char path[256];
        char query[1024];
        char authorization[160];
        char cookie[512];
        char if_none_match[64];
        bool head_too_long;  /* a header we keep, or the target, did not fit */
        bool has_body;
};

struct brm_httpreq {
        http_parser parser;
        struct brm_http_req req;
        char field[24];      /* the header name being read */
        size_t field_len;    /* SIZE_MAX: its value is being read */
        char *value;         /* where a kept header's value goes, or NULL */
        size_t value_size, value_len;
        size_t head_bytes;   /* of the request being read */
        bool begun;          /* its first byte has come */
        char error[160];     /* why, with a status from brm_httpreq_feed */
};

enum { BRM_HTTPREQ_MORE = 0, BRM_HTTPREQ_DONE = 1 };

void brm_httpreq_init(struct brm_httpreq *q);
/* Reads from data; *used is what it took. BRM_HTTPREQ_MORE: all taken,
 * the head is not complete yet. BRM_HTTPREQ_DONE: a request is in q->req
 * (what follows *used belongs to the next one; call brm_httpreq_next
 * first). Otherwise the HTTP status of a request that cannot be read on,
 * with q->error: 400 (malformed) or 431 (a head over 16 KiB). */
int brm_httpreq_feed(struct brm_httpreq *q, const char *data, size_t len, size_t *used);
/* After BRM_HTTPREQ_DONE. */
bool brm_httpreq_keep_alive(const struct brm_httpreq *q);
bool brm_httpreq_upgrade(const struct brm_httpreq *q);
/* Ready for the next request on the same connection. */
void brm_httpreq_next(struct brm_httpreq *q);

#endif
