/* The service contract: what makes a ServiceSpec, a health check, a label
 * and a placement constraint valid, said once for the CLI (and its apply
 * files), the master and the node. Pure; does not log. */
#ifndef BRM_SVCSPEC_H
#define BRM_SVCSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bramble.pb-c.h"

#define BRM_SERVICE_NAME_MAX 40        /* so that NAME.N fits a container name */
#define BRM_SERVICE_MAX_REPLICAS 1000
#define BRM_SERVICE_MAX_CONSTRAINTS 16
#define BRM_LABEL_KEY_MAX 63
#define BRM_LABEL_VALUE_MAX 127
#define BRM_NODE_MAX_LABELS 32

/* Health check defaults (Docker's, but for the interval's first run: see
 * agent/health.c) and bounds. */
#define BRM_HEALTH_INTERVAL_MS 10000u
#define BRM_HEALTH_TIMEOUT_MS 2000u
#define BRM_HEALTH_RETRIES 3u
#define BRM_HEALTH_MIN_MS 100u
#define BRM_HEALTH_MAX_MS 86400000u
#define BRM_HEALTH_CMD_MAX 4096

/* Update policy defaults. */
#define BRM_UPDATE_PARALLELISM 1u
#define BRM_UPDATE_MONITOR_MS 10000u

/* A health check's times with their defaults applied. */
uint32_t brm_health_interval(const Bramble__HealthCheck *h);
uint32_t brm_health_timeout(const Bramble__HealthCheck *h);
uint32_t brm_health_retries(const Bramble__HealthCheck *h);

/* Update policy values with their defaults applied; h may be NULL. */
uint32_t brm_update_parallelism(const Bramble__UpdatePolicy *u);
uint32_t brm_update_monitor(const Bramble__UpdatePolicy *u);
bool brm_update_stop_first(const Bramble__UpdatePolicy *u);

/* A service name: 1-40 characters of a-z, 0-9 and '-', starting with a
 * letter or digit. */
bool brm_valid_service_name(const char *s);

/* 0, or -EINVAL with one line in why naming the flag and what it must be.
 * network is the container's ("host" when NULL): an HTTP or TCP check
 * reaches 127.0.0.1 on the node, so it needs network host. */
int brm_health_check(const Bramble__HealthCheck *h, const char *network, char *why, size_t why_size);

/* A placement constraint: key=value, key!=value, key~substring. */
struct brm_constraint {
        char key[BRM_LABEL_KEY_MAX + 1];
        char op; /* '=', '!' (not equal), '~' (contains) */
        char value[BRM_LABEL_VALUE_MAX + 1];
};

/* 0, or -EINVAL with why. */
int brm_constraint_parse(const char *expr, struct brm_constraint *c, char *why, size_t why_size);
/* Whether labels ("key=value" strings, n of them) satisfy c. A missing key
 * fails '=' and '~' and satisfies '!='. */
bool brm_constraint_match(const struct brm_constraint *c, const char *const *labels, size_t n);

/* A label "key=value" (set) or "key" (only_key: removal). Keys: 1-63 of
 * a-z, A-Z, 0-9, '.', '_', '-', '/'; values up to 127 printable ASCII
 * characters other than spaces. 0, or -EINVAL with why. */
int brm_label_check(const char *label, bool only_key, char *why, size_t why_size);

/* The whole service: name, replicas, the container spec (through
 * brm_ctrspec_check, named as its first replica), health check,
 * constraints, update policy. 0, or -EINVAL with why. */
int brm_svcspec_check(const Bramble__ServiceSpec *s, char *why, size_t why_size);

#endif
