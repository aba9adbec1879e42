/* The master's Prometheus metrics: every node's last heartbeat (one unpack
 * per node per scrape), its containers, the services and the master's own
 * counters (stats.h), in the text exposition format 0.0.4. */
#ifndef BRM_METRICS_H
#define BRM_METRICS_H

#include <stddef.h>

struct brm_master;

/* The content type to serve the text with. */
#define BRM_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders the metrics into a malloc'd buffer (*out, not NUL-terminated;
 * *len bytes), which the caller frees. Returns 0, or -ENOMEM with *out and
 * *len untouched. */
int brm_metrics_render(struct brm_master *m, char **out, size_t *len);

#endif
