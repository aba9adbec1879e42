/* One HTTP request head at a time; see httpreq.h. */
#include "httpreq.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static void keep_header(struct brm_httpreq *c)
{
        static const struct {
                const char *name;
                size_t off, size;
        } kept[] = {
                { "authorization", offsetof(struct brm_http_req, authorization), sizeof(((struct brm_http_req *)0)->authorization) },
                { "cookie", offsetof(struct brm_http_req, cookie), sizeof(((struct brm_http_req *)0)->cookie) },
                { "if-none-match", offsetof(struct brm_http_req, if_none_match), sizeof(((struct brm_http_req *)0)->if_none_match) },
        };

        c->value = NULL;
        for (size_t i = 0; i < BRM_ARRAY_SIZE(kept); i++)
                if (c->field_len == strlen(kept[i].name) && strncasecmp(c->field, kept[i].name, c->field_len) == 0) {
                        c->value = (char *)&c->req + kept[i].off;
                        c->value_size = kept[i].size;
                        /* A repeated header: the last one counts. */
                        c->value[0] = '\0';
                        c->value_len = 0;
                }
}

static int on_message_begin(http_parser *p)
{
        struct brm_httpreq *c = p->data;

        memset(&c->req, 0, sizeof(c->req));
        c->field_len = 0;
        c->value = NULL;
        c->begun = true;
        return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
        struct brm_httpreq *c = p->data;
        size_t have = strlen(c->req.path);

        /* The target is kept whole in path until the head is complete. */
        if (have + len >= sizeof(c->req.path)) {
                c->req.head_too_long = true;
                return 0;
        }
        memcpy(c->req.path + have, at, len);
        c->req.path[have + len] = '\0';
        return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
        struct brm_httpreq *c = p->data;

        if (c->value) {
                /* A new field: the previous value is complete. */
                c->value = NULL;
                c->field_len = 0;
        } else if (c->field_len == SIZE_MAX) {
                c->field_len = 0;
        }
        if (c->field_len + len < sizeof(c->field)) {
                memcpy(c->field + c->field_len, at, len);
                c->field_len += len;
        } else {
                c->field_len = sizeof(c->field); /* longer than any header we keep */
        }
        return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
        struct brm_httpreq *c = p->data;

        if (c->field_len != SIZE_MAX) {
                keep_header(c);
                c->field_len = SIZE_MAX; /* the field is complete */
                if (!c->value)
                        return 0;
        }
        if (!c->value)
                return 0;
        if (c->value_len + len >= c->value_size) {
                c->req.head_too_long = true;
                c->value = NULL;
                return 0;
        }
        memcpy(c->value + c->value_len, at, len);
        c->value_len += len;
        c->value[c->value_len] = '\0';
        return 0;
}

static int on_headers_complete(http_parser *p)
{
        struct brm_httpreq *c = p->data;
        struct http_parser_url u;
        char target[sizeof(c->req.path)];

        snprintf(c->req.method, sizeof(c->req.method), "%s", http_method_str((enum http_method)p->method));
        if ((p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX))
                c->req.has_body = true;
        /* The request target: "/path?query" (an absolute form is taken
         * apart the same way). */
        snprintf(target, sizeof(target), "%s", c->req.path);
        c->req.path[0] = '\0';
        http_parser_url_init(&u);
        if (!c->req.head_too_long && http_parser_parse_url(target, strlen(target), 0, &u) == 0 &&
            (u.field_set & (1 << UF_PATH))) {
                snprintf(c->req.path, sizeof(c->req.path), "%.*s", (int)u.field_data[UF_PATH].len,
                         target + u.field_data[UF_PATH].off);
                if (u.field_set & (1 << UF_QUERY))
                        snprintf(c->req.query, sizeof(c->req.query), "%.*s", (int)u.field_data[UF_QUERY].len,
                                 target + u.field_data[UF_QUERY].off);
        }
        /* No body is read: GET and HEAD have none, anything else is
         * refused once the head is complete. */
        return 1;
}

static int on_message_complete(http_parser *p)
{
        http_parser_pause(p, 1);
        return 0;
}

static const http_parser_settings settings = {
        .on_message_begin = on_message_begin,
        .on_url = on_url,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_message_complete = on_message_complete,
};


void brm_httpreq_init(struct brm_httpreq *q)
{
        memset(q, 0, sizeof(*q));
        http_parser_init(&q->parser, HTTP_REQUEST);
        q->parser.data = q;
}

void brm_httpreq_next(struct brm_httpreq *q)
{
        q->begun = false;
        q->head_bytes = 0;
}

bool brm_httpreq_keep_alive(const struct brm_httpreq *q)
{
        return http_should_keep_alive(&q->parser) != 0;
}

bool brm_httpreq_upgrade(const struct brm_httpreq *q)
{
        return q->parser.upgrade != 0;
}

int brm_httpreq_feed(struct brm_httpreq *q, const char *data, size_t len, size_t *used)
{
        size_t n = len;
        enum http_errno e;

        /* At most one byte past the limit at a time, so a head over it is
         * caught before it completes. */
        if (n > BRM_HTTP_HEAD_MAX + 1 - q->head_bytes)
                n = BRM_HTTP_HEAD_MAX + 1 - q->head_bytes;
        n = http_parser_execute(&q->parser, &settings, data, n);
        q->head_bytes += n;
        *used = n;
        e = HTTP_PARSER_ERRNO(&q->parser);
        if (e == HPE_PAUSED) {
                http_parser_pause(&q->parser, 0);
                return BRM_HTTPREQ_DONE;
        }
        if (e != HPE_OK) {
                snprintf(q->error, sizeof(q->error), "malformed request (%s)", http_errno_description(e));
                return 400;
        }
        if (q->head_bytes > BRM_HTTP_HEAD_MAX) {
                snprintf(q->error, sizeof(q->error), "the request's head is over 16 KiB");
                return 431;
        }
        return BRM_HTTPREQ_MORE;
}
