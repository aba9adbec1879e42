/* What 'bramble top' shows: the nodes of a NodeListResponse in a chosen
 * order, laid out as a header and one row per node for a given terminal
 * size. Pure formatting of a master's answer (no connection, no terminal),
 * so the unit tests feed it canned responses; top.c owns the terminal. */
#ifndef BRM_CLI_TOPFMT_H
#define BRM_CLI_TOPFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bramble.pb-c.h"

/* The orders top knows: CPU, memory in use (as a share of the node's) and
 * temperature descending, or node name ascending. */
enum brm_top_sort { BRM_TOP_SORT_CPU, BRM_TOP_SORT_MEM, BRM_TOP_SORT_TEMP, BRM_TOP_SORT_NAME };

/* "cpu", "mem", "temp" or "name" into *ret; -EINVAL for anything else. */
int brm_top_sort_parse(const char *s, enum brm_top_sort *ret);
/* The name brm_top_sort_parse takes for key. */
const char *brm_top_sort_name(enum brm_top_sort key);

/* Fills order (l->n_nodes entries) with the indexes of l's nodes in the
 * order of key. Nodes without the figure (no heartbeat yet, not Ready, a
 * board without a temperature sensor) come after those with it; ties go by
 * name. Returns 0, or -ENOMEM (order untouched). */
int brm_top_order(const Bramble__NodeListResponse *l, enum brm_top_sort key, size_t *order);

/* The firmware's throttling flags as words: those in force now in upper
 * case ("UNDERVOLT THROTTLED"), those that only happened since boot in
 * lower case with a '!' ("undervolt!"); "-" for none or no report. */
void brm_top_throttle_text(const Bramble__Throttle *t, char *out, size_t size);

/* How to lay a frame out. */
struct brm_top_view {
        enum brm_top_sort sort;
        int width;         /* columns of the terminal; 0: no limit */
        int height;        /* lines of the terminal; 0: no limit */
        int64_t now_ms;    /* when the figures were fetched (wall clock) */
        const char *error; /* shown under the header when set */
        bool ansi;         /* highlight with escape sequences */
        bool keys;         /* name the keys on a last line */
};

/* One frame: its lines, without line ends; no line is wider than the
 * view's width (escape sequences, when asked for, take no columns). */
struct brm_top_frame {
        char **lines;
        size_t n;
};

/* Lays out l as v says into *ret (free it with brm_top_frame_free): a
 * header line (nodes, Ready, containers running/total, the time, the
 * sort key), the error line if any, the column titles, then one row per
 * node: NAME STATE CPU% MEM TEMP THROTTLE LOAD1 CONTAINERS UPTIME MODEL,
 * and the keys when asked for.
 * Columns that do not fit go, least important first (MODEL is first cut
 * shorter); rows that do not fit are counted on a last line. l may be
 * NULL (nothing fetched yet). Returns 0 or -ENOMEM. */
int brm_top_format(const Bramble__NodeListResponse *l, const struct brm_top_view *v, struct brm_top_frame *ret);
/* Frees a frame's lines; accepts a zeroed frame. */
void brm_top_frame_free(struct brm_top_frame *f);

#endif
