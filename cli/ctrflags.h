/* The container flags that 'bramble run', 'bramble service create' and
 * 'bramble service update' share (--image, limits, --env, confinement,
 * --health-*): one parser, so each flag is spelt, checked and refused with
 * the same one-line message wherever it is taken. What each flag sets goes
 * into a fresh ContainerSpec, so a caller can tell which flags were given
 * (service update lays exactly those over the current spec). */
#ifndef BRM_CLI_CTRFLAGS_H
#define BRM_CLI_CTRFLAGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "bramble.pb-c.h"
#include "ctrspec.h"

/* getopt_long values of the flags below (the container ones keep their
 * letters; the rest are past any character). */
enum {
        BRM_CF_HEALTH_CMD = 0x100,
        BRM_CF_HEALTH_HTTP,
        BRM_CF_HEALTH_TCP,
        BRM_CF_HEALTH_INTERVAL,
        BRM_CF_HEALTH_TIMEOUT,
        BRM_CF_HEALTH_RETRIES,
        BRM_CF_HEALTH_START,
        BRM_CF_NO_HEALTH,
};

/* The option rows, to be put first in a command's getopt_long table. */
#define BRM_CTRFLAGS_OPTIONS                                                                                            \
        { "image", required_argument, NULL, 'i' }, { "memory", required_argument, NULL, 'm' },                         \
        { "memory-high", required_argument, NULL, 'H' }, { "cpus", required_argument, NULL, 'c' },                     \
        { "pids", required_argument, NULL, 'p' }, { "restart", required_argument, NULL, 'r' },                         \
        { "env", required_argument, NULL, 'e' }, { "workdir", required_argument, NULL, 'w' },                          \
        { "network", required_argument, NULL, 'n' }, { "cap-add", required_argument, NULL, 'A' },                      \
        { "cap-drop", required_argument, NULL, 'D' }, { "security-opt", required_argument, NULL, 'S' },                \
        { "health-cmd", required_argument, NULL, BRM_CF_HEALTH_CMD },                                                   \
        { "health-http", required_argument, NULL, BRM_CF_HEALTH_HTTP },                                                 \
        { "health-tcp", required_argument, NULL, BRM_CF_HEALTH_TCP },                                                   \
        { "health-interval", required_argument, NULL, BRM_CF_HEALTH_INTERVAL },                                         \
        { "health-timeout", required_argument, NULL, BRM_CF_HEALTH_TIMEOUT },                                           \
        { "health-retries", required_argument, NULL, BRM_CF_HEALTH_RETRIES },                                           \
        { "health-start-period", required_argument, NULL, BRM_CF_HEALTH_START },                                        \
        { "no-health", no_argument, NULL, BRM_CF_NO_HEALTH }

/* The synopsis of those flags, for the usage text. */
#define BRM_CTRFLAGS_SYNOPSIS                                                                                           \
        "[--memory 64M] [--memory-high 48M] [--cpus 0.5] [--pids 100]\n"                                               \
        "      [--restart always|on-failure|never] [--env K=V]... [--workdir DIR] [--network host|none]\n"             \
        "      [--cap-add CAP]... [--cap-drop CAP]... [--security-opt seccomp=unconfined|FILE]\n"                      \
        "      [--health-cmd CMD | --health-http PORT/PATH | --health-tcp PORT] [--health-interval 10s]\n"           \
        "      [--health-timeout 2s] [--health-retries 3] [--health-start-period 0s]"

/* What the flags said. spec points at the strings of argv (and profile). */
struct brm_ctrflags {
        Bramble__ContainerSpec spec;
        Bramble__HealthCheck health;
        bool health_given;  /* any --health-* flag */
        bool no_health;     /* --no-health: drop the check (service update) */
        unsigned health_kinds; /* how many of --health-cmd/-http/-tcp */
        bool env_given, cap_add_given, cap_drop_given;
        char *env[BRM_CTRSPEC_MAX_ENV + 1];
        char *cap_add[BRM_CTRSPEC_NCAPS], *cap_drop[BRM_CTRSPEC_NCAPS];
        uint8_t *profile;   /* a seccomp profile read from its file */
};

void brm_ctrflags_init(struct brm_ctrflags *f);
void brm_ctrflags_free(struct brm_ctrflags *f);

/* Takes one getopt_long result: 1 when o is one of these flags and its
 * value is good, 0 when o is not one of them, or EXIT_USAGE (2) after
 * printing the one-line error. */
int brm_ctrflags_take(struct brm_ctrflags *f, int o, const char *arg);

/* Sets f->spec.health to f->health when a --health-* flag was given;
 * EXIT_USAGE (after the error) when two kinds of check were given. */
int brm_ctrflags_finish(struct brm_ctrflags *f);

/* "PORT" or "PORT/PATH" of --health-http (PATH "/" when absent) into h:
 * 0, or -EINVAL. The path points into s. */
int brm_parse_health_http(const char *s, Bramble__HealthCheck *h);

/* A duration that fits in 32 bits of milliseconds: 0 or -EINVAL. */
int brm_parse_duration_ms32(const char *s, uint32_t *ret_ms);

/* --on-disconnect: "keep" (0) or "stop-after D" / "stop-after=D" (D in
 * ms, at least 1s): 0, or -EINVAL. */
int brm_parse_on_disconnect(const char *s, uint64_t *ret_ms);

#endif
