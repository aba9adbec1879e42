/* Log streams: the master relays a node's log frames to the operator who
 * asked for them, over the two mTLS sessions it already has.
 *
 * The master keeps no log data. It forwards each LogChunk frame unchanged
 * (the node stamps it with the stream id the master chose) and returns the
 * frame's size to the node as credit once the operator's connection has
 * taken it, so a stream never has more than BRM_LOG_WINDOW bytes between the
 * node and the operator. A viewer that stops reading stops getting credit;
 * its node skips ahead and says how many lines it skipped. Nothing waits on
 * a viewer: other viewers and the node's control traffic go on. */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "logrec.h"
#include "registry.h"
#include "server.h"
#include "session.h"
#include "util.h"
#include "weblogs.h"

#define MOD "relay"
#define MAX_STREAMS_PER_NODE 32

struct brm_relay {
        uint64_t id;
        struct brm_session *viewer;     /* an operator's session, or */
        struct brm_http_conn *web;      /* a dashboard's event stream */
        struct brm_session *node;
        uint64_t owed;          /* credit to give back once the viewer has drained */
        struct brm_relay *next;
};

static void unlink_relay(struct brm_master *m, struct brm_relay *r)
{
        for (struct brm_relay **p = &m->relays; *p; p = &(*p)->next)
                if (*p == r) {
                        *p = r->next;
                        break;
                }
        if (r->viewer && r->viewer->relay == r)
                r->viewer->relay = NULL;
        if (r->web)
                brm_http_set_data(r->web, NULL);
        free(r);
}

static struct brm_relay *find(struct brm_master *m, uint64_t id)
{
        for (struct brm_relay *r = m->relays; r; r = r->next)
                if (r->id == id)
                        return r;
        return NULL;
}

unsigned brm_relay_count(struct brm_master *m, const char *node)
{
        unsigned n = 0;
        for (struct brm_relay *r = m->relays; r; r = r->next)
                if (!node || strcmp(r->node->name, node) == 0)
                        n++;
        return n;
}

static void send_close(struct brm_session *node, uint64_t id)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogClose lc = BRAMBLE__LOG_CLOSE__INIT;

        lc.has_stream_id = 1;
        lc.stream_id = id;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_LOG_CLOSE;
        env.log_close = &lc;
        brm_session_send(node, &env);
}

static void give_credit(struct brm_relay *r)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogCredit lc = BRAMBLE__LOG_CREDIT__INIT;

        if (!r->owed)
                return;
        lc.has_stream_id = lc.has_bytes = 1;
        lc.stream_id = r->id;
        lc.bytes = (uint32_t)r->owed;
        r->owed = 0;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_LOG_CREDIT;
        env.log_credit = &lc;
        brm_session_send(r->node, &env);
}

static void viewer_drained(struct brm_conn *c)
{
        struct brm_session *s = c->data;
        if (s->relay)
                give_credit(s->relay);
}

static void fail_viewer(struct brm_session *viewer, uint64_t stream_id, int code, const char *msg)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogEnd end = BRAMBLE__LOG_END__INIT;

        end.has_stream_id = 1;
        end.stream_id = stream_id;
        end.error = (char *)msg;
        end.has_code = 1;
        end.code = code;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_LOG_END;
        env.log_end = &end;
        brm_session_send(viewer, &env);
}

/* What is wrong with an operator's request on its face, or NULL. */
static const char *request_problem(const Bramble__LogsRequest *req)
{
        if (!req->node || !brm_valid_node_name(req->node))
                return "node name must be 1-63 characters of a-z, 0-9 and '-'";
        if (req->has_source && req->source != BRAMBLE__LOG_SOURCE__LOG_CONTAINER &&
            req->source != BRAMBLE__LOG_SOURCE__LOG_AGENT && req->source != BRAMBLE__LOG_SOURCE__LOG_KERNEL)
                return "unknown log source";
        if ((!req->has_source || req->source == BRAMBLE__LOG_SOURCE__LOG_CONTAINER) &&
            (!req->container || !brm_valid_container_name(req->container)))
                return "container name must be 1-63 characters of a-z, 0-9, '_', '.' and '-', "
                       "starting with a letter or digit";
        if (req->has_tail && req->tail < 0)
                return "--tail must not be negative";
        if (req->has_streams && req->streams > 3)
                return "unknown log stream selection";
        return NULL;
}

/* Checks a request and opens its stream toward the node: the relay, or
 * NULL with why in code and msg. */
static struct brm_relay *open_stream(struct brm_master *m, const Bramble__LogsRequest *req, int *code, char *msg,
                                     size_t size)
{
        struct brm_relay *r;
        struct brm_node *n;
        const char *why;

        if ((why = request_problem(req))) {
                *code = -EINVAL;
                snprintf(msg, size, "%s", why);
                return NULL;
        }
        if (!(n = brm_registry_get(&m->reg, req->node))) {
                *code = -ENOENT;
                snprintf(msg, size, "no node named '%s'", req->node);
                return NULL;
        }
        if (!n->session || n->session->conn.closing) {
                *code = -EHOSTUNREACH;
                snprintf(msg, size,
                         "node '%s' is not connected; its logs are kept on the node and can be read when it is back",
                         req->node);
                return NULL;
        }
        if (brm_relay_count(m, req->node) >= MAX_STREAMS_PER_NODE) {
                *code = -EBUSY;
                snprintf(msg, size, "node '%s' already has %d log streams open", req->node, MAX_STREAMS_PER_NODE);
                return NULL;
        }
        if (!(r = calloc(1, sizeof(*r)))) {
                *code = -ENOMEM;
                snprintf(msg, size, "out of memory");
                return NULL;
        }
        r->id = ++m->next_relay_id;
        r->node = n->session;
        r->next = m->relays;
        m->relays = r;
        return r;
}

static void forward(struct brm_relay *r, const Bramble__LogsRequest *req)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogsRequest fwd = *req;

        fwd.node = NULL;
        fwd.has_stream_id = 1;
        fwd.stream_id = r->id;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_LOGS;
        env.logs = &fwd;
        brm_debug(MOD, "stream %llu: %s %s", (unsigned long long)r->id, req->node,
                  req->container ? req->container : "");
        brm_session_send(r->node, &env);
}

void brm_relay_open(struct brm_session *s, const Bramble__Envelope *in)
{
        struct brm_relay *r;
        char msg[200];
        int code;

        if (s->relay) {
                brm_session_error(s, in->id, -EBUSY, "this connection already has a log stream");
                return;
        }
        if (!(r = open_stream(s->m, in->logs, &code, msg, sizeof(msg)))) {
                brm_session_error(s, in->id, code, msg);
                return;
        }
        r->viewer = s;
        s->relay = r;
        brm_conn_set_drain(&s->conn, viewer_drained);
        /* The operator sends nothing while reading: a followed log can be
         * quiet for hours, and a long history piped into a pager is read
         * slowly. The stream ends when the operator closes; TCP keepalive
         * finds one that vanished. */
        brm_conn_set_idle(&s->conn, 0);
        uv_tcp_keepalive(&s->conn.tls.tcp, 1, 60);
        forward(r, in->logs);
}

static void web_drained(struct brm_http_conn *c)
{
        struct brm_relay *r = brm_http_get_data(c);
        if (r)
                give_credit(r);
}

static void web_closed(struct brm_http_conn *c)
{
        struct brm_relay *r = brm_http_get_data(c);

        if (!r)
                return;
        r->web = NULL;
        if (!r->node->m->stopping)
                send_close(r->node, r->id);
        unlink_relay(r->node->m, r);
}

int brm_relay_open_web(struct brm_master *m, struct brm_http_conn *c, const Bramble__LogsRequest *req, char *msg,
                       size_t size)
{
        struct brm_relay *r;
        int code;

        if (!(r = open_stream(m, req, &code, msg, size)))
                return code;
        if ((code = brm_http_stream_start(c, BRM_WEB_STREAM_LOGS, web_closed, web_drained)) < 0) {
                unlink_relay(m, r);
                snprintf(msg, size, "the connection closed");
                return code;
        }
        r->web = c;
        brm_http_set_data(c, r);
        forward(r, req);
        return 0;
}

/* A frame from a node about one of its streams. */
void brm_relay_node(struct brm_session *s, const Bramble__Envelope *env)
{
        struct brm_master *m = s->m;
        uint64_t id = env->msg_case == BRAMBLE__ENVELOPE__MSG_LOG_CHUNK ? env->log_chunk->stream_id
                                                                        : env->log_end->stream_id;
        struct brm_relay *r = find(m, id);
        int rc;

        if (!r || r->node != s) {
                /* The viewer left while this was on its way. */
                if (env->msg_case == BRAMBLE__ENVELOPE__MSG_LOG_CHUNK)
                        send_close(s, id);
                return;
        }
        if (r->web) {
                struct brm_http_conn *web = r->web;
                if (env->msg_case == BRAMBLE__ENVELOPE__MSG_LOG_END) {
                        unlink_relay(m, r);
                        brm_weblogs_end(web, env->log_end);
                        return;
                }
                if (brm_weblogs_chunk(web, env->log_chunk) < 0)
                        return; /* dropped: web_closed unlinks it */
                r->owed += s->conn.frame_len;
                if (brm_http_queued(web) < BRM_LOG_WINDOW / 4)
                        give_credit(r);
                return;
        }
        rc = brm_conn_send_packed(&r->viewer->conn, s->conn.frame, s->conn.frame_len);
        if (env->msg_case == BRAMBLE__ENVELOPE__MSG_LOG_END) {
                unlink_relay(m, r);
                return;
        }
        if (rc < 0) {
                /* Cannot happen within the window unless the viewer is gone. */
                brm_conn_close(&r->viewer->conn, rc);
                return;
        }
        r->owed += s->conn.frame_len;
        if (brm_tls_stream_queued(&r->viewer->conn.tls) < BRM_LOG_WINDOW / 4)
                give_credit(r);
}

/* Called when a session goes away: its streams end on the other side. */
void brm_relay_session_closed(struct brm_session *s)
{
        struct brm_master *m = s->m;
        struct brm_relay *r, *next;
        char msg[160];

        for (r = m->relays; r; r = next) {
                next = r->next;
                if (r->viewer == s) {
                        if (!m->stopping)
                                send_close(r->node, r->id);
                        unlink_relay(m, r);
                } else if (r->node == s) {
                        struct brm_http_conn *web = r->web;
                        snprintf(msg, sizeof(msg), "node '%s' disconnected", s->name);
                        if (r->viewer && !m->stopping)
                                fail_viewer(r->viewer, r->id, -ECONNRESET, msg);
                        unlink_relay(m, r);
                        if (web)
                                brm_weblogs_fail(web, msg);
                }
        }
}

void brm_relay_free(struct brm_master *m)
{
        while (m->relays)
                unlink_relay(m, m->relays);
}
