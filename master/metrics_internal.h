/* Between metrics.c and metrics_master.c. */
#ifndef BRM_METRICS_INTERNAL_H
#define BRM_METRICS_INTERNAL_H

#include "metrics.h"
#include "mtext.h"

/* # HELP and # TYPE lines of one family. */
void brm_metrics_header(struct brm_mtext *o, const char *name, const char *type, const char *help);
/* The master's own families (sessions, counters, requests, process). */
void brm_metrics_master(struct brm_mtext *o, struct brm_master *m);

#endif
