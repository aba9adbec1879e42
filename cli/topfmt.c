/* 'bramble top' frames: the nodes sorted by a key, laid out for a terminal
 * of a given size. Pure: everything comes from the NodeListResponse and the
 * view, so the same frame is drawn on a terminal, printed once, or checked
 * by a unit test. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#include "common.h"
#include "topfmt.h"

/* Between two columns. */
#define GAP 2
/* MODEL is cut no shorter than this before it goes altogether. */
#define MODEL_MIN 10
/* A cell's text at most (a model string is the longest). */
#define CELL_MAX 64

static const char *const sort_names[] = {
        [BRM_TOP_SORT_CPU] = "cpu",
        [BRM_TOP_SORT_MEM] = "mem",
        [BRM_TOP_SORT_TEMP] = "temp",
        [BRM_TOP_SORT_NAME] = "name",
};

int brm_top_sort_parse(const char *s, enum brm_top_sort *ret)
{
        for (size_t i = 0; i < BRM_ARRAY_SIZE(sort_names); i++)
                if (s && strcmp(s, sort_names[i]) == 0) {
                        *ret = (enum brm_top_sort)i;
                        return 0;
                }
        return -EINVAL;
}

const char *brm_top_sort_name(enum brm_top_sort key)
{
        return (size_t)key < BRM_ARRAY_SIZE(sort_names) ? sort_names[key] : "?";
}

static bool is_ready(const Bramble__NodeStatus *n)
{
        return n->state && strcmp(n->state, "Ready") == 0;
}

/* A heartbeat's figures are current only while the node is Ready; a
 * NotReady node's last one is history and is neither shown nor sorted on. */
static const Bramble__Heartbeat *live_hb(const Bramble__NodeStatus *n)
{
        return is_ready(n) ? n->last : NULL;
}

struct sort_entry {
        size_t idx;
        int have;
        double v, v2; /* the figure, then what breaks its ties */
        const char *name;
};

static int cmp_entry(const void *pa, const void *pb)
{
        const struct sort_entry *a = pa, *b = pb;
        int r;

        if (a->have != b->have)
                return b->have - a->have;
        if (a->v != b->v)
                return a->v < b->v ? 1 : -1;
        if (a->v2 != b->v2)
                return a->v2 < b->v2 ? 1 : -1;
        if ((r = strcmp(a->name, b->name)) != 0)
                return r;
        return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int brm_top_order(const Bramble__NodeListResponse *l, enum brm_top_sort key, size_t *order)
{
        size_t n = l ? l->n_nodes : 0;
        struct sort_entry *e;

        if (!n)
                return 0;
        if (!(e = calloc(n, sizeof(*e))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const Bramble__NodeStatus *node = l->nodes[i];
                const Bramble__Heartbeat *hb = live_hb(node);

                e[i].idx = i;
                e[i].name = node->name ? node->name : "";
                switch (key) {
                case BRM_TOP_SORT_CPU:
                        e[i].have = hb && hb->has_cpu_percent;
                        e[i].v = e[i].have ? hb->cpu_percent : 0;
                        break;
                case BRM_TOP_SORT_MEM:
                        e[i].have = hb && hb->has_mem_total_bytes && hb->mem_total_bytes > 0;
                        /* The share in use: a 1 GiB Pi 3 at 900 MiB is in more
                         * trouble than an 8 GiB Pi 4 at 2 GiB. Equal shares go
                         * by the bytes. */
                        if (e[i].have) {
                                uint64_t avail = hb->mem_available_bytes, total = hb->mem_total_bytes;
                                e[i].v2 = (double)(total - (avail < total ? avail : total));
                                e[i].v = e[i].v2 / (double)total;
                        }
                        break;
                case BRM_TOP_SORT_TEMP:
                        e[i].have = hb && hb->has_temp_celsius;
                        e[i].v = e[i].have ? hb->temp_celsius : 0;
                        break;
                case BRM_TOP_SORT_NAME:
                        e[i].have = 1;
                        break;
                }
        }
        qsort(e, n, sizeof(*e), cmp_entry);
        for (size_t i = 0; i < n; i++)
                order[i] = e[i].idx;
        free(e);
        return 0;
}

void brm_top_throttle_text(const Bramble__Throttle *t, char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        if (!t) {
                snprintf(out, size, "-");
                return;
        }
        /* The words in the order of the firmware's bits. */
        const struct {
                const char *now, *past;
                bool is, was;
        } f[] = {
                { "UNDERVOLT", "undervolt!", t->under_voltage, t->under_voltage_occurred },
                { "CAPPED", "capped!", t->freq_capped, t->freq_capped_occurred },
                { "THROTTLED", "throttled!", t->throttled, t->throttled_occurred },
                { "SOFTLIMIT", "softlimit!", t->soft_temp_limit, t->soft_temp_limit_occurred },
        };
        for (size_t i = 0; i < BRM_ARRAY_SIZE(f) && len < size; i++) {
                if (!f[i].is && !f[i].was)
                        continue;
                len += (size_t)snprintf(out + len, size - len, "%s%s", len ? " " : "", f[i].is ? f[i].now : f[i].past);
        }
        if (!out[0])
                snprintf(out, size, "-");
}

/* ---- cells and columns ---- */

enum col { C_NAME, C_STATE, C_CPU, C_MEM, C_TEMP, C_THROTTLE, C_LOAD, C_CTRS, C_UPTIME, C_MODEL, N_COLS };

/* How a cell stands out on a terminal. */
enum attr { A_NONE, A_ALARM, A_WARN, A_SORT };

static const char *const attr_on[] = {
        [A_NONE] = "",
        [A_ALARM] = "\033[1;31m",
        [A_WARN] = "\033[33m",
        [A_SORT] = "\033[7m",
};

static const struct {
        const char *title;
        bool right; /* figures line up on the right */
} cols[N_COLS] = {
        [C_NAME] = { "NAME", false },     [C_STATE] = { "STATE", false },     [C_CPU] = { "CPU%", true },
        [C_MEM] = { "MEM", true },        [C_TEMP] = { "TEMP", true },        [C_THROTTLE] = { "THROTTLE", false },
        [C_LOAD] = { "LOAD1", true },     [C_CTRS] = { "CONTAINERS", true }, [C_UPTIME] = { "UPTIME", true },
        [C_MODEL] = { "MODEL", false },
};

/* The columns a narrow terminal loses, first to last; NAME always stays,
 * and the sort key's column goes only when nothing else is left. */
static const enum col drop_order[] = { C_MODEL, C_UPTIME, C_LOAD, C_CTRS, C_MEM, C_THROTTLE, C_TEMP, C_CPU, C_STATE };

struct cell {
        char text[CELL_MAX];
        enum attr attr;
};

/* Text from a node may hold anything; what reaches the terminal is
 * printable ASCII only, so no escape sequence of a node's making does. */
static void printable(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
                        *s = '?';
}

static void set_text(struct cell *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_text(struct cell *c, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->text, sizeof(c->text), fmt, ap);
        va_end(ap);
        printable(c->text);
}

static enum col sort_col(enum brm_top_sort key)
{
        switch (key) {
        case BRM_TOP_SORT_MEM:
                return C_MEM;
        case BRM_TOP_SORT_TEMP:
                return C_TEMP;
        case BRM_TOP_SORT_NAME:
                return C_NAME;
        default:
                return C_CPU;
        }
}

static void fill_row(const Bramble__NodeStatus *n, int64_t now_ms, struct cell *row)
{
        const Bramble__Heartbeat *hb = live_hb(n);
        const Bramble__NodeInfo *in = n->info;
        char a[16], b[16];

        for (int c = 0; c < N_COLS; c++) {
                row[c].attr = A_NONE;
                set_text(&row[c], "-");
        }
        set_text(&row[C_NAME], "%s", n->name ? n->name : "?");
        set_text(&row[C_STATE], "%s", n->state && n->state[0] ? n->state : "?");
        if (!is_ready(n))
                row[C_STATE].attr = A_ALARM;
        if (in && in->model && in->model[0])
                set_text(&row[C_MODEL], "%s", in->model);
        else if (in && in->arch && in->arch[0])
                set_text(&row[C_MODEL], "%s", in->arch);
        if (!hb) {
                /* What matters about a silent node is for how long. */
                if (!is_ready(n) && n->last_seen_ms > 0) {
                        brm_format_age(now_ms - n->last_seen_ms, a, sizeof(a));
                        set_text(&row[C_UPTIME], "down %s", a);
                }
                return;
        }
        if (hb->has_cpu_percent)
                set_text(&row[C_CPU], "%.1f", hb->cpu_percent);
        if (hb->has_mem_total_bytes && hb->mem_total_bytes > 0) {
                uint64_t used = hb->mem_total_bytes - (hb->mem_available_bytes <= hb->mem_total_bytes ? hb->mem_available_bytes
                                                                                                       : hb->mem_total_bytes);
                int pct = (int)((used * 100 + hb->mem_total_bytes / 2) / hb->mem_total_bytes);
                brm_cli_human_bytes(used, a, sizeof(a));
                brm_cli_human_bytes(hb->mem_total_bytes, b, sizeof(b));
                set_text(&row[C_MEM], "%s/%s %d%%", a, b, pct);
                if (pct >= 90)
                        row[C_MEM].attr = A_WARN;
        }
        if (hb->has_temp_celsius) {
                set_text(&row[C_TEMP], "%.1fC", hb->temp_celsius);
                /* The firmware caps the clock from 80 C (85 C on the Pi 4). */
                row[C_TEMP].attr = hb->temp_celsius >= 80 ? A_ALARM : hb->temp_celsius >= 70 ? A_WARN : A_NONE;
        }
        brm_top_throttle_text(hb->throttle, row[C_THROTTLE].text, sizeof(row[C_THROTTLE].text));
        if (hb->throttle) {
                const Bramble__Throttle *t = hb->throttle;
                if (t->under_voltage || t->throttled || t->freq_capped || t->soft_temp_limit)
                        row[C_THROTTLE].attr = A_ALARM;
                else if (t->under_voltage_occurred || t->throttled_occurred || t->freq_capped_occurred ||
                         t->soft_temp_limit_occurred)
                        row[C_THROTTLE].attr = A_WARN;
        }
        if (hb->has_load1)
                set_text(&row[C_LOAD], "%.2f", hb->load1);
        size_t running = 0;
        for (size_t i = 0; i < hb->n_containers; i++)
                if (hb->containers[i]->state && strcmp(hb->containers[i]->state, "running") == 0)
                        running++;
        set_text(&row[C_CTRS], "%zu/%zu", running, hb->n_containers);
        if (hb->has_uptime_ms) {
                brm_format_age((int64_t)hb->uptime_ms, a, sizeof(a));
                set_text(&row[C_UPTIME], "%s", a);
        }
}

/* ---- lines ---- */

struct line {
        char *p;
        size_t len, cap;
        int cols; /* columns taken (escape sequences take none) */
        bool oom;
};

static void put(struct line *l, const char *s, size_t n, bool visible)
{
        if (l->oom)
                return;
        if (l->len + n + 1 > l->cap) {
                size_t cap = l->cap ? l->cap : 128;
                while (cap < l->len + n + 1)
                        cap *= 2;
                char *p = realloc(l->p, cap);
                if (!p) {
                        l->oom = true;
                        return;
                }
                l->p = p;
                l->cap = cap;
        }
        memcpy(l->p + l->len, s, n);
        l->len += n;
        l->p[l->len] = '\0';
        if (visible)
                l->cols += (int)n;
}

static void put_esc(struct line *l, const struct brm_top_view *v, const char *esc)
{
        if (v->ansi && esc[0])
                put(l, esc, strlen(esc), false);
}

/* text in a field of width w: cut to fit (its last kept character then
 * '~'), padded on the side cols[] says, highlighted as attr. */
static void put_cell(struct line *l, const struct brm_top_view *v, const char *text, int w, bool right, enum attr attr)
{
        int len = (int)strlen(text), shown = len <= w ? len : w;
        static const char spaces[] = "                                ";

        for (int pad = right ? w - shown : 0; pad > 0; pad -= (int)sizeof(spaces) - 1)
                put(l, spaces, (size_t)(pad < (int)sizeof(spaces) - 1 ? pad : (int)sizeof(spaces) - 1), true);
        put_esc(l, v, attr_on[attr]);
        if (shown < len && shown > 0) {
                put(l, text, (size_t)shown - 1, true);
                put(l, "~", 1, true);
        } else {
                put(l, text, (size_t)shown, true);
        }
        if (attr != A_NONE)
                put_esc(l, v, "\033[0m");
        for (int pad = right ? 0 : w - shown; pad > 0; pad -= (int)sizeof(spaces) - 1)
                put(l, spaces, (size_t)(pad < (int)sizeof(spaces) - 1 ? pad : (int)sizeof(spaces) - 1), true);
}

static int add_line(struct brm_top_frame *f, struct line *l)
{
        char **lines;

        if (l->oom || !(lines = realloc(f->lines, (f->n + 1) * sizeof(*lines)))) {
                free(l->p);
                *l = (struct line){ 0 };
                return -ENOMEM;
        }
        f->lines = lines;
        f->lines[f->n++] = l->p ? l->p : strdup("");
        *l = (struct line){ 0 };
        return f->lines[f->n - 1] ? 0 : -ENOMEM;
}

/* A whole line of text, cut to the width. */
static int add_text(struct brm_top_frame *f, const struct brm_top_view *v, enum attr attr, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int add_text(struct brm_top_frame *f, const struct brm_top_view *v, enum attr attr, const char *fmt, ...)
{
        char text[768];
        struct line l = { 0 };
        va_list ap;
        int w;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        printable(text);
        w = (int)strlen(text);
        if (v->width > 0 && w > v->width)
                w = v->width;
        put_cell(&l, v, text, w, false, attr);
        return add_line(f, &l);
}

/* Which columns show and how wide: each as wide as its widest cell, then
 * cut down to the terminal as drop_order says. */
static void layout(struct cell (*rows)[N_COLS], size_t n, const struct brm_top_view *v, int *w)
{
        enum col keep = sort_col(v->sort);
        int total = -GAP;

        for (int c = 0; c < N_COLS; c++) {
                w[c] = (int)strlen(cols[c].title);
                for (size_t r = 0; r < n; r++)
                        if ((int)strlen(rows[r][c].text) > w[c])
                                w[c] = (int)strlen(rows[r][c].text);
                total += w[c] + GAP;
        }
        if (v->width <= 0)
                return;
        for (int pass = 0; pass < 2 && total > v->width; pass++) {
                for (size_t i = 0; i < BRM_ARRAY_SIZE(drop_order) && total > v->width; i++) {
                        enum col c = drop_order[i];
                        if (w[c] < 0 || (pass == 0 && c == keep))
                                continue;
                        if (c == C_MODEL && w[c] - (total - v->width) >= MODEL_MIN) {
                                w[c] -= total - v->width;
                                total = v->width;
                                break;
                        }
                        total -= w[c] + GAP;
                        w[c] = -1; /* gone */
                }
        }
        if (total > v->width)
                w[C_NAME] = v->width;
}

static void put_row(struct line *l, const struct brm_top_view *v, const struct cell *row, const int *w)
{
        int last = N_COLS - 1;
        bool first = true;

        while (last > 0 && w[last] < 0)
                last--;
        for (int c = 0; c <= last; c++) {
                int cw = w[c];
                if (cw < 0)
                        continue;
                if (!first)
                        put(l, "  ", GAP, true);
                first = false;
                /* No spaces after the last column's text. */
                if (c == last && !cols[c].right && (int)strlen(row[c].text) < cw)
                        cw = (int)strlen(row[c].text);
                put_cell(l, v, row[c].text, cw, cols[c].right, row[c].attr);
        }
}

int brm_top_format(const Bramble__NodeListResponse *list, const struct brm_top_view *v, struct brm_top_frame *ret)
{
        struct brm_top_frame f = { 0 };
        size_t n = list ? list->n_nodes : 0, ready = 0, running = 0, total = 0, *order = NULL;
        struct cell(*rows)[N_COLS] = NULL;
        struct cell titles[N_COLS];
        struct line l = { 0 };
        int w[N_COLS], r = -ENOMEM;
        char clock[16] = "--:--:--";

        if (n && (!(order = calloc(n, sizeof(*order))) || !(rows = calloc(n, sizeof(*rows)))))
                goto out;
        if (brm_top_order(list, v->sort, order) < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                const Bramble__NodeStatus *node = list->nodes[order[i]];
                const Bramble__Heartbeat *hb = live_hb(node);
                fill_row(node, v->now_ms, rows[i]);
                ready += is_ready(node);
                if (!hb)
                        continue;
                total += hb->n_containers;
                for (size_t k = 0; k < hb->n_containers; k++)
                        running += hb->containers[k]->state && strcmp(hb->containers[k]->state, "running") == 0;
        }
        if (v->now_ms > 0) {
                time_t t = (time_t)(v->now_ms / 1000);
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        }
        if (add_text(&f, v, A_NONE, "cluster: %zu node%s, %zu Ready | containers %zu/%zu running | %s | sort: %s", n,
                     n == 1 ? "" : "s", ready, running, total, clock, brm_top_sort_name(v->sort)) < 0)
                goto out;
        if (v->error && add_text(&f, v, A_ALARM, "error: %s", v->error) < 0)
                goto out;

        layout(rows, n, v, w);
        for (int c = 0; c < N_COLS; c++) {
                set_text(&titles[c], "%s", cols[c].title);
                titles[c].attr = c == (int)sort_col(v->sort) ? A_SORT : A_NONE;
        }
        put_row(&l, v, titles, w);
        if (add_line(&f, &l) < 0)
                goto out;

        /* Rows below the terminal's last line are counted instead. */
        size_t room = n, foot = v->keys;
        if (v->height > 0) {
                size_t left = (size_t)v->height > f.n + foot ? (size_t)v->height - f.n - foot : 0;
                room = n <= left ? n : left ? left - 1 : 0;
        }
        for (size_t i = 0; i < room; i++) {
                put_row(&l, v, rows[i], w);
                if (add_line(&f, &l) < 0)
                        goto out;
        }
        if (room < n && (v->height <= 0 || f.n + foot < (size_t)v->height) &&
            add_text(&f, v, A_NONE, "... %zu more node%s below", n - room, n - room == 1 ? "" : "s") < 0)
                goto out;
        if (!n && add_text(&f, v, A_NONE, "(no node has joined yet)") < 0)
                goto out;
        if (v->keys && add_text(&f, v, A_NONE, "keys: c cpu, m mem, t temp, n name, q quit") < 0)
                goto out;
        /* A terminal too short even for the header keeps its top lines. */
        while (v->height > 0 && f.n > (size_t)v->height)
                free(f.lines[--f.n]);
        *ret = f;
        f = (struct brm_top_frame){ 0 };
        r = 0;
out:
        brm_top_frame_free(&f);
        free(rows);
        free(order);
        return r;
}

void brm_top_frame_free(struct brm_top_frame *f)
{
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++)
                free(f->lines[i]);
        free(f->lines);
        f->lines = NULL;
        f->n = 0;
}
