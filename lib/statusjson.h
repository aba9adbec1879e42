/* The cluster's state as JSON: the keys of 'bramble nodes -o json',
 * 'bramble ps -o json', 'bramble inspect' and 'bramble service ls -o json',
 * built in one place for the CLI and for the master's dashboard API. */
#ifndef BRM_STATUSJSON_H
#define BRM_STATUSJSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bramble.pb-c.h"

/* "2026-12-01T10:00:00Z" for a wall-clock time in ms. */
void brm_rfc3339(int64_t ms, char *out, size_t size);
/* One node of a NodeListResponse. */
cJSON *brm_json_node(const Bramble__NodeStatus *n);
/* A node's OS update as it last said: its heartbeat's, else its
 * NodeInfo's; NULL when it reported none. */
const Bramble__UpdateStatus *brm_node_update(const Bramble__NodeStatus *n);
/* An UpdateStatus: state, version, from_version, slot, reason,
 * bytes_done, bytes_total, and started, deadline, finished as RFC 3339
 * times, each with its _ms (each key only when known). */
cJSON *brm_json_update(const Bramble__UpdateStatus *u);
/* One container of a PsResponse. */
cJSON *brm_json_ps_entry(const Bramble__PsEntry *e);
/* A container spec as JSON, the keys of 'bramble inspect -o json'. */
cJSON *brm_svc_container_json(const Bramble__ContainerSpec *sp);
/* A health check as JSON with its defaults applied; NULL for none. */
cJSON *brm_svc_health_json(const Bramble__HealthCheck *h);
/* The whole ServiceInfo (spec, counts, update state, previous spec,
 * replicas with their status). */
cJSON *brm_svc_json(const Bramble__ServiceInfo *s);

#endif
