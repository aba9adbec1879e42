/* The operator's calls about nodes' scheduling (labels, cordon, drain)
 * and the events the master records (services.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "services.h"
#include "session.h"
#include "svcspec.h"
#include "util.h"

#define MOD "services"

/* ---- events ---- */

void brm_svc_events(struct brm_session *s, const Bramble__Envelope *in)
{
        struct brm_services *v = &s->m->svc;
        uint64_t after = in->events->has_after_seq ? in->events->after_seq : 0;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__EventList list = BRAMBLE__EVENT_LIST__INIT;
        Bramble__Event *evs = calloc(v->ev_n ? v->ev_n : 1, sizeof(*evs));
        Bramble__Event **ptrs = calloc(v->ev_n ? v->ev_n : 1, sizeof(*ptrs));
        size_t n = 0;

        if (!evs || !ptrs) {
                brm_session_error(s, in->id, -ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < v->ev_n; i++) {
                struct brm_event *e = &v->events[(v->ev_head + i) % BRM_EVENTS_KEPT];
                if (e->seq <= after)
                        continue;
                bramble__event__init(&evs[n]);
                evs[n].has_seq = evs[n].has_time_ms = 1;
                evs[n].seq = e->seq;
                evs[n].time_ms = e->time_ms;
                evs[n].service = e->service[0] ? e->service : NULL;
                evs[n].node = e->node[0] ? e->node : NULL;
                evs[n].message = e->msg;
                ptrs[n] = &evs[n];
                n++;
        }
        list.n_events = n;
        list.events = ptrs;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_EVENT_LIST;
        env.event_list = &list;
        brm_session_reply(s, in->id, &env);
out:
        free(evs);
        free(ptrs);
}

/* ---- nodes: labels and scheduling ---- */

static struct brm_node *node_named(struct brm_session *s, uint64_t id, const char *name)
{
        struct brm_node *n = name && brm_valid_node_name(name) ? brm_registry_get(&s->m->reg, name) : NULL;
        char msg[160];

        if (!n) {
                snprintf(msg, sizeof(msg), "no node named '%.64s' (see 'bramble nodes')", name ? name : "");
                brm_session_error(s, id, -ENOENT, msg);
        }
        return n;
}

/* Whether line (of a labels text) has key KEY. */
static bool has_key(const char *line, size_t len, const char *key)
{
        size_t k = strlen(key);
        return len > k && strncmp(line, key, k) == 0 && line[k] == '=';
}

void brm_node_label(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__NodeLabelRequest *req = in->node_label;
        char text[2048], why[200], key[BRM_LABEL_KEY_MAX + 1];
        size_t len = 0, count = 0;
        struct brm_node *n;
        int r;

        if (!(n = node_named(s, in->id, req->node)))
                return;
        for (size_t i = 0; i < req->n_set + req->n_remove; i++) {
                bool rm = i >= req->n_set;
                if (brm_label_check(rm ? req->remove[i - req->n_set] : req->set[i], rm, why, sizeof(why)) < 0) {
                        brm_session_error(s, in->id, -EINVAL, why);
                        return;
                }
        }
        /* The old labels less those removed or set again, then the new ones. */
        for (const char *p = n->labels; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t)(nl - p) : strlen(p);
                bool drop = false;
                for (size_t i = 0; i < req->n_remove && !drop; i++)
                        drop = has_key(p, l, req->remove[i]);
                for (size_t i = 0; i < req->n_set && !drop; i++) {
                        snprintf(key, sizeof(key), "%.*s", (int)strcspn(req->set[i], "="), req->set[i]);
                        drop = has_key(p, l, key);
                }
                if (!drop && l && len + l + 1 < sizeof(text)) {
                        memcpy(text + len, p, l);
                        len += l;
                        text[len++] = '\n';
                        count++;
                }
                p = nl ? nl + 1 : p + l;
        }
        for (size_t i = 0; i < req->n_set; i++) {
                size_t l = strlen(req->set[i]);
                if (len + l + 1 >= sizeof(text) || ++count > BRM_NODE_MAX_LABELS) {
                        snprintf(why, sizeof(why), "node %s would have more than %d labels or 2 KiB of them", n->name,
                                 BRM_NODE_MAX_LABELS);
                        brm_session_error(s, in->id, -E2BIG, why);
                        return;
                }
                memcpy(text + len, req->set[i], l);
                len += l;
                text[len++] = '\n';
        }
        text[len] = 0;
        if ((r = brm_store_node_set_labels(s->m->store, n->name, text)) < 0 ||
            (r = brm_registry_set_labels(n, text)) < 0) {
                brm_session_error(s, in->id, r, "storing the labels failed; see the master's log");
                return;
        }
        brm_info(MOD, "node %s labels: %zu set, %zu removed", n->name, req->n_set, req->n_remove);
        brm_services_kick(s->m);
        brm_session_reply_ok(s, in->id);
}

void brm_node_schedule(struct brm_session *s, const Bramble__Envelope *in)
{
        const Bramble__NodeScheduleRequest *req = in->node_schedule;
        const char *v = req->schedule ? req->schedule : "";
        struct brm_node *n;
        int r;

        if (!(n = node_named(s, in->id, req->node)))
                return;
        if (*v && strcmp(v, "cordoned") != 0 && strcmp(v, "draining") != 0) {
                brm_session_error(s, in->id, -EINVAL, "schedule must be cordoned, draining or empty (uncordon)");
                return;
        }
        if ((r = brm_store_node_set_schedule(s->m->store, n->name, v)) < 0) {
                brm_session_error(s, in->id, r, "storing the node's scheduling failed; see the master's log");
                return;
        }
        if (strcmp(n->schedule, v) != 0)
                brm_event(s->m, NULL, n->name, "node %s %s", n->name,
                          !*v ? "uncordoned: new replicas may land on it" : strcmp(v, "cordoned") == 0
                                  ? "cordoned: no new replicas" : "draining: its replicas move away one at a time");
        snprintf(n->schedule, sizeof(n->schedule), "%s", v);
        brm_services_kick(s->m);
        brm_session_reply_ok(s, in->id);
}
