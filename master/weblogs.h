/* The dashboard's log tail: GET /api/logs?node=N&container=C&tail=200 as
 * Server-Sent Events, fed by the same relay and credit window as
 * 'bramble logs -f' (relay.c). Events: "log" {"t": unix ms, "stream":
 * "stdout"|"stderr", "line": "...", "partial": bool}, "skipped"
 * {"lines": N}, "end" {"reason": "..."}. */
#ifndef BRM_WEBLOGS_H
#define BRM_WEBLOGS_H

#include <stdbool.h>
#include <stddef.h>

#include "bramble.pb-c.h"

enum { BRM_WEB_STREAM_STATE = 1, BRM_WEB_STREAM_LOGS = 2 };

struct brm_http;
struct brm_http_conn;
struct brm_http_req;

void brm_weblogs_open(struct brm_http *h, struct brm_http_conn *c, const struct brm_http_req *r);
/* A chunk from the node, as "log" (and "skipped") events; < 0 when the
 * client was dropped. */
int brm_weblogs_chunk(struct brm_http_conn *c, const Bramble__LogChunk *ch);
/* The stream ended on the node ("end"), or failed on the way. */
void brm_weblogs_end(struct brm_http_conn *c, const Bramble__LogEnd *end);
void brm_weblogs_fail(struct brm_http_conn *c, const char *why);

/* Answers {"error": msg} with status (web.c). */
void brm_web_json_error(struct brm_http_conn *c, int status, const char *msg);

/* The value of name in a query string, percent-decoded; false when absent
 * or not decodable into out. */
bool brm_web_query(const char *query, const char *name, char *out, size_t size);

#endif
