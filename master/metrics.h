/* The cluster in the Prometheus text format (GET /metrics). */
#ifndef BRM_METRICS_H
#define BRM_METRICS_H

#include <stddef.h>

struct brm_master;

/* A malloc'd text into *out, its length into *len; -ENOMEM. */
int brm_metrics_render(struct brm_master *m, char **out, size_t *len);

#endif
