/* The flags of 'bramble service create' and 'service update' (the
 * container ones through ctrflags.h, then replicas, constraints, update
 * policy, --on-disconnect, --env-add/--env-rm), and what they make: a new
 * ServiceSpec, or the current one with exactly the given flags laid over
 * it. Prints one-line errors; sends nothing, so the unit tests run it. */
#ifndef BRM_CLI_SVCFLAGS_H
#define BRM_CLI_SVCFLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bramble.pb-c.h"
#include "ctrflags.h"
#include "svcspec.h"

#define BRM_SVCFLAGS_MAX_ENV_EDITS 64

/* Everything the flags said; points into argv. */
struct brm_svcflags {
        struct brm_ctrflags cf;
        bool has_replicas;
        uint32_t replicas;
        char *constraints[BRM_SERVICE_MAX_CONSTRAINTS];
        size_t n_constraints;
        bool constraints_given;
        bool has_max_per_node;
        uint32_t max_per_node;
        Bramble__UpdatePolicy update;
        bool update_given;
        bool has_disconnect;
        uint64_t disconnect_ms;
        char *env_add[BRM_SVCFLAGS_MAX_ENV_EDITS], *env_rm[BRM_SVCFLAGS_MAX_ENV_EDITS];
        size_t n_env_add, n_env_rm;
        bool args_given; /* "--" was there */
        char **args;
        size_t n_args;
};

/* The new spec of 'service update' and what it points to. */
struct brm_svcedit {
        Bramble__ServiceSpec spec;
        Bramble__ContainerSpec container;
        Bramble__HealthCheck health;
        Bramble__UpdatePolicy update;
        char *env[BRM_CTRSPEC_MAX_ENV + 1 + BRM_SVCFLAGS_MAX_ENV_EDITS];
};

/* "'NAME' is not a valid service name (...)": returns EXIT_USAGE. */
int brm_svcflags_bad_name(const char *name);
/* Parses argv = {"create"|"update", NAME, flags..., [--, CMD...]}: 0, or
 * EXIT_USAGE after the error. Free with brm_ctrflags_free(&f->cf), also
 * after an error. */
int brm_svcflags_parse(struct brm_svcflags *f, int argc, char **argv, bool update);
/* The spec 'service create NAME' sends (replicas default to 1); points
 * into f. */
void brm_svcflags_create(struct brm_svcflags *f, const char *name, Bramble__ServiceSpec *out);
/* cur with the flags given laid over it, in e->spec: a flag given replaces
 * the value; --env, --cap-add, --cap-drop and --constraint replace the
 * whole list; --env-add sets (or replaces) one variable, --env-rm drops
 * one; "--" replaces the command; --health-cmd/-http/-tcp replace the
 * kind of check, the times only what they name; --no-health drops it.
 * Points into cur, f and e. */
void brm_svcflags_update(const struct brm_svcflags *f, const Bramble__ServiceSpec *cur, struct brm_svcedit *e);

#endif
