/* OS updates as text and JSON; see upgradefmt.h. */
#include "upgradefmt.h"

#include <inttypes.h>
#include <string.h>

#include "statusjson.h"
#include "util.h"

static bool is(const char *s, const char *want)
{
        return s && strcmp(s, want) == 0;
}

bool brm_upgrade_in_progress(const Bramble__UpdateStatus *u)
{
        return u && (is(u->state, "downloading") || is(u->state, "writing") || is(u->state, "rebooting") ||
                     is(u->state, "confirming"));
}

/* "22.1 MB": decimal megabytes, as download figures are usually read. */
static void mb(uint64_t b, char *out, size_t size)
{
        snprintf(out, size, "%.1f", (double)b / 1e6);
}

/* "4m", "50s", or a time when coarse. */
static void left(int64_t deadline_ms, int64_t now_ms, bool coarse, char *out, size_t size)
{
        char t[32];

        if (coarse) {
                brm_rfc3339(deadline_ms, t, sizeof(t));
                snprintf(out, size, "gives up at %s", t);
        } else if (deadline_ms > now_ms) {
                brm_format_age(deadline_ms - now_ms, t, sizeof(t));
                snprintf(out, size, "%s left", t);
        } else {
                snprintf(out, size, "past its deadline");
        }
}

void brm_upgrade_update_text(const Bramble__UpdateStatus *u, int64_t now_ms, bool coarse, char *out, size_t size)
{
        const char *st = u->state && u->state[0] ? u->state : "idle";
        char a[24], b[24], t[64];
        size_t n;

        if ((is(st, "downloading") || is(st, "writing")) && u->has_bytes_total && u->bytes_total) {
                unsigned pct = (unsigned)(u->bytes_done * 100 / u->bytes_total);
                if (pct > 100)
                        pct = 100;
                if (coarse)
                        pct = pct / 10 * 10;
                mb(coarse ? u->bytes_total * pct / 100 : u->bytes_done, a, sizeof(a));
                mb(u->bytes_total, b, sizeof(b));
                snprintf(out, size, "%s %u%% (%s of %s MB)", st, pct, a, b);
        } else if ((is(st, "rebooting") || is(st, "confirming")) && u->has_deadline_ms && u->deadline_ms) {
                left(u->deadline_ms, now_ms, coarse, t, sizeof(t));
                snprintf(out, size, "%s (%s)", st, t);
        } else if (is(st, "committed")) {
                snprintf(out, size, "committed %s%s%s", u->version ? u->version : "", u->slot ? " on slot " : "",
                         u->slot ? u->slot : "");
        } else {
                snprintf(out, size, "%s", st);
        }
        n = strlen(out);
        if (u->reason && u->reason[0] && n < size)
                snprintf(out + n, size - n, ": %s", u->reason);
}

void brm_upgrade_node_text(const Bramble__UpgradeNode *n, int64_t now_ms, bool coarse, char *out, size_t size)
{
        const char *st = n->state && n->state[0] ? n->state : "queued";
        size_t len;

        /* While it upgrades, the node's own report says more. */
        if (is(st, "upgrading") && n->update && n->update->state && n->update->state[0]) {
                brm_upgrade_update_text(n->update, now_ms, coarse, out, size);
                return;
        }
        if (is(st, "committed") && n->update && is(n->update->state, "committed")) {
                brm_upgrade_update_text(n->update, now_ms, coarse, out, size);
                return;
        }
        snprintf(out, size, "%s", st);
        len = strlen(out);
        if (n->reason && n->reason[0] && len < size)
                snprintf(out + len, size - len, ": %s", n->reason);
        else if (n->update && n->update->reason && n->update->reason[0] && len < size)
                snprintf(out + len, size - len, ": %s", n->update->reason);
}

void brm_upgrade_update_cell(const Bramble__UpdateStatus *u, int64_t now_ms, char *out, size_t size)
{
        int64_t when;
        char age[16];
        size_t n;

        if (!u || !u->state || !u->state[0]) {
                snprintf(out, size, "-");
                return;
        }
        if (brm_upgrade_in_progress(u)) {
                brm_upgrade_update_text(u, now_ms, false, out, size);
                return;
        }
        snprintf(out, size, "%s%s%s", u->state, u->version ? " " : "", u->version ? u->version : "");
        n = strlen(out);
        if (u->reason && u->reason[0] && n < size)
                snprintf(out + n, size - n, ": %s", u->reason);
        when = u->has_finished_ms && u->finished_ms ? u->finished_ms : u->has_started_ms ? u->started_ms : 0;
        n = strlen(out);
        if (when > 0 && n < size) {
                brm_format_age(now_ms > when ? now_ms - when : 0, age, sizeof(age));
                snprintf(out + n, size - n, " (%s ago)", age);
        }
}

void brm_upgrade_print_info(FILE *f, const Bramble__UpgradeInfo *i, int64_t now_ms)
{
        char age[16], text[512];

        fprintf(f, "rollout %" PRIu64 ": %s, %s", i->id, i->ref ? i->ref : "-", i->state ? i->state : "-");
        if (i->reason && i->reason[0])
                fprintf(f, ": %s", i->reason);
        if (i->has_parallel)
                fprintf(f, "; %u at a time", i->parallel);
        if (i->has_started_ms && i->started_ms) {
                brm_format_age(now_ms > i->started_ms ? now_ms - i->started_ms : 0, age, sizeof(age));
                fprintf(f, "; started %s ago", age);
        }
        if (i->has_finished_ms && i->finished_ms) {
                brm_format_age(now_ms > i->finished_ms ? now_ms - i->finished_ms : 0, age, sizeof(age));
                fprintf(f, ", ended %s ago", age);
        }
        fputc('\n', f);
        for (size_t k = 0; k < i->n_nodes; k++) {
                brm_upgrade_node_text(i->nodes[k], now_ms, false, text, sizeof(text));
                fprintf(f, "  %-20s %s\n", i->nodes[k]->node ? i->nodes[k]->node : "?", text);
        }
}

static void add_time(cJSON *o, const char *key, bool has, int64_t ms)
{
        char ts[32];

        if (!has || ms <= 0) {
                cJSON_AddNullToObject(o, key);
                return;
        }
        brm_rfc3339(ms, ts, sizeof(ts));
        cJSON_AddStringToObject(o, key, ts);
}

cJSON *brm_upgrade_info_json(const Bramble__UpgradeInfo *i)
{
        cJSON *o = cJSON_CreateObject(), *arr, *n;

        cJSON_AddNumberToObject(o, "id", (double)i->id);
        cJSON_AddStringToObject(o, "ref", i->ref ? i->ref : "");
        cJSON_AddStringToObject(o, "version", i->version ? i->version : "");
        cJSON_AddStringToObject(o, "state", i->state ? i->state : "");
        cJSON_AddStringToObject(o, "reason", i->reason ? i->reason : "");
        if (i->has_parallel)
                cJSON_AddNumberToObject(o, "parallel", i->parallel);
        add_time(o, "started", i->has_started_ms, i->started_ms);
        add_time(o, "finished", i->has_finished_ms, i->finished_ms);
        arr = cJSON_AddArrayToObject(o, "nodes");
        for (size_t k = 0; k < i->n_nodes; k++) {
                const Bramble__UpgradeNode *u = i->nodes[k];
                cJSON_AddItemToArray(arr, n = cJSON_CreateObject());
                cJSON_AddStringToObject(n, "node", u->node ? u->node : "");
                cJSON_AddStringToObject(n, "state", u->state ? u->state : "");
                if (u->reason && u->reason[0])
                        cJSON_AddStringToObject(n, "reason", u->reason);
                if (u->schedule && u->schedule[0])
                        cJSON_AddStringToObject(n, "schedule", u->schedule);
                if (u->update)
                        cJSON_AddItemToObject(n, "update", brm_json_update(u->update));
        }
        return o;
}

/* ---- following ---- */

static char *seen_of(struct brm_upgrade_follow *f, const char *node)
{
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->seen[i].node, node) == 0)
                        return f->seen[i].text;
        if (f->n == BRM_UPGRADE_FOLLOW_NODES)
                return NULL;
        snprintf(f->seen[f->n].node, sizeof(f->seen[f->n].node), "%s", node);
        f->seen[f->n].text[0] = '\0';
        return f->seen[f->n++].text;
}

void brm_upgrade_follow_end_line(struct brm_upgrade_follow *f)
{
        if (f->open_node[0]) {
                fputc('\n', f->out);
                f->open_node[0] = '\0';
        }
}

static void show(struct brm_upgrade_follow *f, const Bramble__UpgradeNode *n, int64_t now)
{
        const char *node = n->node ? n->node : "?";
        bool moving = f->tty && is(n->state, "upgrading") && brm_upgrade_in_progress(n->update);
        char *seen = seen_of(f, node), text[512];

        brm_upgrade_node_text(n, now, !f->tty, text, sizeof(text));
        if (!seen || strcmp(seen, text) == 0)
                return;
        snprintf(seen, sizeof(f->seen[0].text), "%s", text);
        if (f->open_node[0]) {
                if (strcmp(f->open_node, node) == 0)
                        fputs("\r\033[K", f->out);
                else
                        fputc('\n', f->out);
                f->open_node[0] = '\0';
        }
        fprintf(f->out, "%s: %s%s", node, text, moving ? "" : "\n");
        if (moving)
                snprintf(f->open_node, sizeof(f->open_node), "%s", node);
        fflush(f->out);
}

int brm_upgrade_follow_step(struct brm_upgrade_follow *f, const Bramble__UpgradeInfo *i, int64_t now_ms)
{
        int rc;

        if (i->id != f->id) {
                brm_upgrade_follow_end_line(f);
                fprintf(f->err, "bramble: another rollout (%" PRIu64 ") started after this one (%" PRIu64 "); "
                                "see it with 'bramble node upgrade --status'\n", i->id, f->id);
                return 1;
        }
        if (!f->json)
                for (size_t k = 0; k < i->n_nodes; k++)
                        show(f, i->nodes[k], now_ms);
        if (is(i->state, "completed"))
                rc = 0;
        else if (is(i->state, "stopped"))
                rc = 1;
        else
                return -1;
        brm_upgrade_follow_end_line(f);
        if (f->json) {
                cJSON *o = brm_upgrade_info_json(i);
                char *text = cJSON_Print(o);
                if (text)
                        fprintf(f->out, "%s\n", text);
                cJSON_free(text);
                cJSON_Delete(o);
        }
        if (rc == 0 && !f->json)
                fprintf(f->out, "rollout %" PRIu64 " completed: %s\n", i->id, i->ref ? i->ref : "");
        if (rc == 1)
                fprintf(f->err, "bramble: rollout %" PRIu64 " stopped: %s\n", i->id,
                        i->reason && i->reason[0] ? i->reason : "(no reason given)");
        return rc;
}
