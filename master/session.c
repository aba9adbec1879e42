/* Sessions: lookup, and sending with one policy for peers that stop
 * reading. */
#include "session.h"

#include <errno.h>

#include "log.h"
#include "registry.h"
#include "server.h"

#define MOD "session"

struct brm_session *brm_session_find(struct brm_master *m, uint64_t sid)
{
        for (struct brm_session *s = m->sessions; s; s = s->next)
                if (s->sid == sid && !s->conn.closing)
                        return s;
        return NULL;
}

void brm_session_close(struct brm_session *s, int reason)
{
        if (s->node && s->node->session == s)
                s->node->session = NULL;
        s->node = NULL;
        brm_conn_close(&s->conn, reason);
}

int brm_session_send(struct brm_session *s, const Bramble__Envelope *env)
{
        int r;

        if (s->capture) {
                s->capture(s, env);
                return 0;
        }
        r = brm_conn_send(&s->conn, env);

        if (r == -ENOBUFS) {
                brm_warn(MOD, "%s: peer is not reading, dropping the connection", s->name[0] ? s->name : "client");
                brm_session_close(s, r);
        }
        return r;
}

int brm_session_reply(struct brm_session *s, uint64_t id, Bramble__Envelope *env)
{
        env->has_id = id != 0;
        env->id = id;
        return brm_session_send(s, env);
}

int brm_session_reply_ok(struct brm_session *s, uint64_t id)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Ok ok = BRAMBLE__OK__INIT;

        env.msg_case = BRAMBLE__ENVELOPE__MSG_OK;
        env.ok = &ok;
        return brm_session_reply(s, id, &env);
}

void brm_session_error(struct brm_session *s, uint64_t id, int code, const char *msg)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Error err = BRAMBLE__ERROR__INIT;

        err.has_code = 1;
        err.code = code;
        err.message = (char *)msg;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_ERROR;
        env.error = &err;
        brm_session_reply(s, id, &env);
}

void brm_session_refuse(struct brm_session *s, uint64_t id, int code, const char *msg)
{
        brm_session_error(s, id, code, msg);
        brm_session_close(s, code);
}
