/* The cluster in the Prometheus text format; see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct out {
        char *buf;
        size_t len, cap;
        int err;
};

static void put(struct out *o, const char *s)
{
        size_t n = strlen(s);

        if (o->err)
                return;
        if (o->len + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 4096;
                char *b;
                while (cap < o->len + n + 1)
                        cap *= 2;
                if (!(b = realloc(o->buf, cap))) {
                        o->err = -ENOMEM;
                        return;
                }
                o->buf = b;
                o->cap = cap;
        }
        memcpy(o->buf + o->len, s, n + 1);
        o->len += n;
}

static void ready_line(void *arg, struct brm_node *n)
{
        char line[160];

        snprintf(line, sizeof(line), "bramble_node_ready{node=\"%s\"} %d\n", n->name, n->ready ? 1 : 0);
        put(arg, line);
}

int brm_metrics_render(struct brm_master *m, char **out, size_t *len)
{
        struct out o = { 0 };

        put(&o, "# HELP bramble_node_ready Whether the node is Ready (1) or NotReady (0).\n"
                "# TYPE bramble_node_ready gauge\n");
        brm_registry_foreach(&m->reg, ready_line, &o);
        if (o.err) {
                free(o.buf);
                return o.err;
        }
        *out = o.buf;
        *len = o.len;
        return 0;
}
