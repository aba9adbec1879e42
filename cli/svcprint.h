/* How services look to the operator: the JSON of a ServiceInfo and the
 * human tables of 'service ls', 'service ps' and 'service inspect', and
 * what 'node drain' counts. Pure formatting of a master's answer (no
 * connection), so the unit tests feed it canned responses. */
#ifndef BRM_CLI_SVCPRINT_H
#define BRM_CLI_SVCPRINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "bramble.pb-c.h"
#include "statusjson.h"

/* "3m ago" for a time ms before now; "-" for an unknown (0) time. */
void brm_svc_ago(int64_t since_ms, int64_t now_ms, char *out, size_t size);

/* NAME IMAGE REPLICAS (desired/running/healthy) UPDATE */
void brm_svc_print_ls(FILE *f, const Bramble__ServiceListResponse *l);
/* REPLICA NODE STATE HEALTH RESTARTS SINCE REASON, then why replicas
 * wait, if they do. */
void brm_svc_print_ps(FILE *f, const Bramble__ServiceInfo *s, int64_t now_ms);
/* The service in full, one "key value" line each. */
void brm_svc_print_inspect(FILE *f, const Bramble__ServiceInfo *s, int64_t now_ms);

/* How many replicas of all services l lists are on node; the first one's
 * "SERVICE.N" goes into first, and the first reason a service gives for
 * replicas it could not place (or its update reason) into reason ("" when
 * none). */
/* How many containers the heartbeat HB lists that are named as replicas
 * of the services in L (SERVICE.N): a replica removed from a node is
 * listed until the node has stopped and deleted it. The first into first. */
size_t brm_svc_replicas_reported(const Bramble__ServiceListResponse *l, const Bramble__Heartbeat *hb, char *first,
                                 size_t first_size);
size_t brm_svc_replicas_on(const Bramble__ServiceListResponse *l, const char *node, char *first, size_t first_size,
                           char *reason, size_t reason_size);

#endif
