/* bramble events; see events.h. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frame.h"

#include "common.h"
#include "events.h"

static void print_event(const struct brm_cli *c, const Bramble__Event *e)
{
        char ts[32];

        brm_cli_rfc3339(e->time_ms, ts, sizeof(ts));
        if (c->json) {
                cJSON *o = cJSON_CreateObject();
                char *text;
                cJSON_AddNumberToObject(o, "seq", (double)e->seq);
                cJSON_AddStringToObject(o, "time", ts);
                cJSON_AddNumberToObject(o, "time_ms", (double)e->time_ms);
                cJSON_AddStringToObject(o, "service", e->service ? e->service : "");
                cJSON_AddStringToObject(o, "node", e->node ? e->node : "");
                cJSON_AddStringToObject(o, "message", e->message ? e->message : "");
                if ((text = cJSON_PrintUnformatted(o)))
                        printf("%s\n", text);
                cJSON_free(text);
                cJSON_Delete(o);
                return;
        }
        printf("%-20s %-16s %-12s %s\n", ts, e->service && e->service[0] ? e->service : "-",
               e->node && e->node[0] ? e->node : "-", e->message ? e->message : "");
}

int brm_cli_events(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__EventsRequest q = BRAMBLE__EVENTS_REQUEST__INIT;
        bool follow = false;
        int rc = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
                        follow = true;
                else
                        return brm_cli_usage_error(argv[i][0] == '-' ? "unknown option '%s' (usage: bramble events [-f])"
                                                                     : "unexpected argument '%s' (usage: bramble events [-f])",
                                                   argv[i]);
        }
        req.msg_case = BRAMBLE__ENVELOPE__MSG_EVENTS;
        req.events = &q;
        for (bool first = true;; first = false) {
                if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_EVENT_LIST, &rc)))
                        return rc;
                if (first && !c->json)
                        printf("%-20s %-16s %-12s %s\n", "TIME", "SERVICE", "NODE", "MESSAGE");
                for (size_t i = 0; i < resp->event_list->n_events; i++) {
                        const Bramble__Event *e = resp->event_list->events[i];
                        /* Only what follows the last one printed. */
                        if (q.has_after_seq && e->seq <= q.after_seq && e->seq)
                                continue;
                        print_event(c, e);
                        q.has_after_seq = 1;
                        q.after_seq = e->seq;
                }
                brm_msg_free(resp);
                fflush(stdout);
                if (!follow)
                        return 0;
                usleep(500 * 1000);
        }
}
