#include "place.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const char *board_of(const char *model)
{
        static const struct {
                const char *needle, *board;
        } boards[] = {
                { "Raspberry Pi 5", "pi5" },         { "Raspberry Pi 400", "pi400" },
                { "Raspberry Pi 4", "pi4" },         { "Compute Module 5", "cm5" },
                { "Compute Module 4", "cm4" },       { "Compute Module 3", "cm3" },
                { "Raspberry Pi 3", "pi3" },         { "Raspberry Pi Zero 2", "pizero2" },
                { "Raspberry Pi Zero", "pizero" },   { "Raspberry Pi 2", "pi2" },
        };

        for (size_t i = 0; model && i < sizeof(boards) / sizeof(boards[0]); i++)
                if (strstr(model, boards[i].needle))
                        return boards[i].board;
        return "other";
}

/* Appends "key=value" to v's labels unless the operator set KEY. */
static void add_label(struct brm_node_view *v, size_t *used, const char *key, const char *value, bool builtin)
{
        size_t room = sizeof(v->buf) - *used;
        int len;

        if (v->n_labels == BRM_VIEW_LABELS || (builtin && brm_view_label(v, key)))
                return;
        len = snprintf(v->buf + *used, room, "%s=%s", key, value ? value : "");
        if (len < 0 || (size_t)len >= room)
                return;
        v->labels[v->n_labels++] = v->buf + *used;
        *used += (size_t)len + 1;
}

void brm_view_fill(struct brm_node_view *v, struct brm_node *n)
{
        Bramble__NodeInfo *info = n->info ? bramble__node_info__unpack(NULL, n->info_len, n->info) : NULL;
        size_t used = 0;
        char num[32];

        memset(v, 0, offsetof(struct brm_node_view, buf));
        v->buf[0] = 0;
        v->n = n;
        /* The operator's labels, one per line. */
        for (const char *p = n->labels; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                if (len && len < sizeof(v->buf) - used && v->n_labels < BRM_VIEW_LABELS) {
                        memcpy(v->buf + used, p, len);
                        v->buf[used + len] = 0;
                        v->labels[v->n_labels++] = v->buf + used;
                        used += len + 1;
                }
                p = nl ? nl + 1 : p + len;
        }
        add_label(v, &used, "node", n->name, true);
        if (info) {
                if (info->arch && brm_oci_platform_of(info->arch, v->platform, sizeof(v->platform)) == 0) {
                        char arch[32], *slash;
                        snprintf(arch, sizeof(arch), "%s", v->platform + strlen("linux/"));
                        if ((slash = strchr(arch, '/')))
                                *slash = 0;
                        add_label(v, &used, "arch", arch, true);
                }
                if (info->model)
                        add_label(v, &used, "model", info->model, true);
                add_label(v, &used, "board", board_of(info->model), true);
                v->mem_total = info->mem_total_bytes;
                snprintf(num, sizeof(num), "%llu", (unsigned long long)(info->mem_total_bytes >> 20));
                add_label(v, &used, "mem_mib", num, true);
                if (info->has_cgroup_version) {
                        snprintf(num, sizeof(num), "v%u", info->cgroup_version);
                        add_label(v, &used, "cgroup", num, true);
                }
                v->cpu_millis = info->cpu_count * 1000;
                bramble__node_info__free_unpacked(info, NULL);
        }
}

const char *brm_view_label(const struct brm_node_view *v, const char *key)
{
        size_t k = strlen(key);

        for (size_t i = 0; i < v->n_labels; i++)
                if (strncmp(v->labels[i], key, k) == 0 && v->labels[i][k] == '=')
                        return v->labels[i] + k + 1;
        return NULL;
}

enum { F_NOTREADY, F_SCHED, F_PLATFORM, F_CONSTRAINT, F_PERNODE, F_MEM, F_CPU, F_N };

static void mib(char *buf, size_t size, uint64_t bytes)
{
        if (bytes % (1024 * 1024) == 0 || bytes >= 64ull << 20)
                snprintf(buf, size, "%llu MiB", (unsigned long long)(bytes >> 20));
        else
                snprintf(buf, size, "%llu KiB", (unsigned long long)(bytes >> 10));
}

static void explain(const struct brm_place_req *req, size_t n, const size_t *fails, char *why, size_t why_size)
{
        static const char *const what[F_N] = { "NotReady", "cordoned or draining", "of a platform the image lacks",
                                               "failing a constraint", "at --max-per-node", "without the memory",
                                               "without the CPU" };
        char ask[300], amount[32];
        size_t len;

        len = (size_t)snprintf(ask, sizeof(ask), "no Ready node");
        if (req->mem) {
                mib(amount, sizeof(amount), req->mem);
                len += (size_t)snprintf(ask + len, sizeof(ask) - len, " with %s free", amount);
        }
        if (req->cpu && len < sizeof(ask))
                len += (size_t)snprintf(ask + len, sizeof(ask) - len, "%s %u.%03u CPU free", req->mem ? " and" : " with",
                                        req->cpu / 1000, req->cpu % 1000);
        for (size_t i = 0; i < req->n_cons && len < sizeof(ask); i++)
                len += (size_t)snprintf(ask + len, sizeof(ask) - len, " and %s%s%s", req->cons[i].key,
                                        req->cons[i].op == '=' ? "=" : req->cons[i].op == '!' ? "!=" : "~",
                                        req->cons[i].value);
        if (n == 0) {
                snprintf(why, why_size, "%s: the cluster has no nodes", ask);
                return;
        }
        len = (size_t)snprintf(why, why_size, "%s (%zu node%s:", ask, n, n == 1 ? "" : "s");
        for (int f = 0, first = 1; f < F_N && len < why_size; f++) {
                if (!fails[f])
                        continue;
                len += (size_t)snprintf(why + len, why_size - len, "%s %zu %s", first ? "" : ",", fails[f], what[f]);
                first = 0;
        }
        if (len < why_size)
                snprintf(why + len, why_size - len, ")");
}

/* Whether a is a better home than b. */
static bool better(const struct brm_node_view *a, const struct brm_node_view *b, uint64_t reserve)
{
        uint64_t ra = a->n->sched_mem + a->n->run_mem + reserve, rb = b->n->sched_mem + b->n->run_mem + reserve;
        uint64_t fa = a->mem_total > ra ? a->mem_total - ra : 0, fb = b->mem_total > rb ? b->mem_total - rb : 0;

        if (a->svc_count != b->svc_count)
                return a->svc_count < b->svc_count;
        if (a->n->sched_count != b->n->sched_count)
                return a->n->sched_count < b->n->sched_count;
        if (fa != fb)
                return fa > fb;
        return strcmp(a->n->name, b->n->name) < 0;
}

int brm_place(struct brm_node_view *v, size_t n, const struct brm_place_req *req, char *why, size_t why_size)
{
        size_t fails[F_N] = { 0 };
        int best = -1, quiet = -1, fallback = -1;

        for (size_t i = 0; i < n; i++) {
                struct brm_node_view *x = &v[i];
                struct brm_node *nd = x->n;
                int f = -1;

                if (req->exclude && strcmp(nd->name, req->exclude) == 0)
                        continue;
                if (!nd->ready)
                        f = F_NOTREADY;
                else if (nd->schedule[0])
                        f = F_SCHED;
                else if (req->platform_ok && req->platform_ok(req->platform_arg, x->platform) < 0)
                        f = F_PLATFORM;
                else if (req->max_per_node && x->svc_count >= req->max_per_node)
                        f = F_PERNODE;
                else if (req->mem && nd->sched_mem + nd->run_mem + req->mem + req->reserve > x->mem_total)
                        f = F_MEM;
                else if (req->cpu && nd->sched_cpu + nd->run_cpu + req->cpu > x->cpu_millis)
                        f = F_CPU;
                for (size_t c = 0; f < 0 && c < req->n_cons; c++)
                        if (!brm_constraint_match(&req->cons[c], x->labels, x->n_labels))
                                f = F_CONSTRAINT;
                if (f >= 0) {
                        fails[f]++;
                        continue;
                }
                if (req->avoid && strcmp(nd->name, req->avoid) == 0) {
                        fallback = (int)i;
                        continue;
                }
                if (req->quiet_ms && nd->last_seen_mono && req->now_mono > nd->last_seen_mono + req->quiet_ms) {
                        if (quiet < 0 || better(x, &v[quiet], req->reserve))
                                quiet = (int)i;
                        continue;
                }
                if (best < 0 || better(x, &v[best], req->reserve))
                        best = (int)i;
        }
        if (best < 0)
                best = quiet;
        if (best < 0)
                best = fallback;
        if (best < 0)
                explain(req, n, fails, why, why_size);
        return best;
}
