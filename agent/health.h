/* Health checks of running containers (proto HealthCheck, lib/svcspec.h):
 * a command run inside the container through the runtime's exec, an HTTP
 * GET or a TCP connect to 127.0.0.1 on the node. One check per container
 * at a time, never blocking the loop, killed at its timeout. The state
 * machine (starting, healthy, unhealthy) is pure and unit-tested; the
 * runner owns a few libuv handles per container with a check and
 * allocates nothing per check. The supervisor decides what an unhealthy
 * container means (a restart under its policy). Logs nothing itself. */
#ifndef BRM_HEALTH_H
#define BRM_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "runtime.h"
#include "spec.h"

enum brm_health_state { BRM_HEALTH_STARTING, BRM_HEALTH_HEALTHY, BRM_HEALTH_UNHEALTHY };

/* ---- the pure part ---- */

struct brm_health_sm {
        enum brm_health_state state;
        uint32_t failures;        /* consecutive failures that counted */
        char log[200];            /* the last failure: what it said or why it failed */
};

void brm_health_sm_init(struct brm_health_sm *sm);
/* Records one check: OK or not, LOG (may be NULL) saying why it failed.
 * A failure IN_START_PERIOD is kept in log but not counted; a success
 * makes it healthy and resets the count; RETRIES (0 = 1) counted failures
 * make it unhealthy. Returns true when this check made it unhealthy. */
bool brm_health_sm_record(struct brm_health_sm *sm, bool ok, const char *log, bool in_start_period, uint32_t retries);
/* "starting", "healthy", "unhealthy". */
const char *brm_health_state_name(enum brm_health_state s);
/* The delay of the first check after a container starts: 1 s, or the
 * interval when that is shorter. */
uint64_t brm_health_first_delay(uint32_t interval_ms);
/* The last non-empty line of BUF (LEN bytes; trailing blanks dropped),
 * into OUT as a C string ("" when there is none). */
void brm_health_last_line(const char *buf, size_t len, char *out, size_t size);

/* ---- the runner ---- */

struct brm_health;

/* Told (from the loop) when the checks made the container unhealthy; LOG
 * is the last failure. */
typedef void (*brm_health_cb)(void *arg, const char *log);

/* A runner for container NAME run by RT (kept by pointer); DIR is the
 * container's directory (exec writes its pid file there). 0 or -ENOMEM. */
int brm_health_open(uv_loop_t *loop, const struct brm_runtime *rt, const char *name, const char *dir,
                    struct brm_health **ret);
/* Starts checking a run that started at STARTED_MS (wall clock), state
 * starting, with SPEC (copied); the last failure's log is kept. 0 or
 * -ENOMEM. */
int brm_health_start(struct brm_health *h, const struct brm_health_spec *spec, int64_t started_ms, brm_health_cb cb,
                     void *arg);
/* Stops checking: the check in flight is killed and its result dropped;
 * the state stays as it was for reporting. */
void brm_health_stop(struct brm_health *h);
/* Whether H (may be NULL) is checking a run (started, not stopped). */
bool brm_health_running(const struct brm_health *h);
/* The state (valid until the next call on H). */
const struct brm_health_sm *brm_health_result(const struct brm_health *h);
/* Stops and frees H once its handles are closed; accepts NULL. */
void brm_health_close(struct brm_health *h);

#endif
