/* The dashboard's log tail as Server-Sent Events; see weblogs.h. */
#include "weblogs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "logrec.h"
#include "relay.h"
#include "server.h"
#include "util.h"

#define TAIL_DEFAULT 200
#define TAIL_MAX 10000

void brm_weblogs_open(struct brm_http *h, struct brm_http_conn *c, const struct brm_http_req *r)
{
        Bramble__LogsRequest req = BRAMBLE__LOGS_REQUEST__INIT;
        char node[64], container[64], tail[24], msg[240];
        uint64_t n = TAIL_DEFAULT;
        int rc;

        if (!brm_web_query(r->query, "node", node, sizeof(node)) ||
            !brm_web_query(r->query, "container", container, sizeof(container))) {
                brm_web_json_error(c, 400, "node and container are required: /api/logs?node=N&container=C");
                return;
        }
        if (brm_web_query(r->query, "tail", tail, sizeof(tail)) && brm_parse_u64(tail, 0, TAIL_MAX, &n) < 0) {
                brm_web_json_error(c, 400, "tail must be a number of lines from 0 to 10000");
                return;
        }
        req.node = node;
        req.container = container;
        req.has_source = 1;
        req.source = BRAMBLE__LOG_SOURCE__LOG_CONTAINER;
        req.has_tail = 1;
        req.tail = (int64_t)n;
        req.has_follow = req.follow = 1;
        if ((rc = brm_relay_open_web(h->m, c, &req, msg, sizeof(msg))) < 0)
                brm_web_json_error(c, rc == -ENOENT ? 404 : rc == -EBUSY || rc == -EHOSTUNREACH ? 503 : 400, msg);
}

static int send_obj(struct brm_http_conn *c, const char *event, cJSON *o)
{
        char *text = cJSON_PrintUnformatted(o);
        int r = text ? brm_http_stream_send(c, event, text, strlen(text)) : -ENOMEM;

        cJSON_free(text);
        cJSON_Delete(o);
        return r;
}

int brm_weblogs_chunk(struct brm_http_conn *c, const Bramble__LogChunk *ch)
{
        const uint8_t *data = ch->data.data;
        size_t off = 0;
        int r;

        if (ch->has_skipped && ch->skipped) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "lines", (double)ch->skipped);
                if ((r = send_obj(c, "skipped", o)) < 0)
                        return r;
        }
        if (ch->n_len != ch->n_ts_ns || ch->n_len != ch->n_flags)
                return 0;
        for (size_t i = 0; i < ch->n_len; i++) {
                cJSON *o;
                char *line;
                if (ch->len[i] > ch->data.len - off)
                        return 0; /* a node's malformed chunk: the rest is not trusted */
                if (!(line = malloc(ch->len[i] + 1)))
                        return -ENOMEM;
                memcpy(line, data + off, ch->len[i]);
                line[ch->len[i]] = '\0';
                off += ch->len[i];
                o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "t", (double)(ch->ts_ns[i] / 1000000));
                cJSON_AddStringToObject(o, "stream", ch->flags[i] & BRM_LOG_FLAG_STDERR ? "stderr" : "stdout");
                cJSON_AddStringToObject(o, "line", line);
                cJSON_AddBoolToObject(o, "partial", (ch->flags[i] & BRM_LOG_FLAG_PARTIAL) != 0);
                free(line);
                if ((r = send_obj(c, "log", o)) < 0)
                        return r;
        }
        return 0;
}

void brm_weblogs_end(struct brm_http_conn *c, const Bramble__LogEnd *end)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "reason", end->error ? end->error : end->reason ? end->reason : "ended");
        send_obj(c, "end", o);
        brm_http_stream_end(c);
}

void brm_weblogs_fail(struct brm_http_conn *c, const char *why)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "reason", why);
        send_obj(c, "end", o);
        brm_http_stream_end(c);
}
