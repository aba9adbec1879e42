/* A container as the node runs it: the spec the supervisor converges to,
 * the states it reports, and the rules a spec must meet on this node. This
 * sits below the supervisor, so that the modules it uses (image, ocispec,
 * the on-disk records) can name a spec without including it. Does not
 * log. */
#ifndef BRM_SPEC_H
#define BRM_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brm_cgroup;

enum brm_restart { BRM_RESTART_ALWAYS, BRM_RESTART_ON_FAILURE, BRM_RESTART_NEVER };
enum brm_network { BRM_NET_HOST, BRM_NET_NONE };
enum brm_cstate { BRM_CS_PENDING, BRM_CS_RUNNING, BRM_CS_EXITED, BRM_CS_BACKOFF, BRM_CS_FAILED, BRM_CS_STOPPED };

/* A health check (proto HealthCheck, lib/svcspec.h): exactly one of cmd,
 * http_port and tcp_port; times in milliseconds, 0 = the default. */
struct brm_health_spec {
        char *cmd;                /* malloc'd; run with /bin/sh -c inside the container */
        uint16_t http_port;
        char http_path[1025];     /* "" = "/" */
        uint16_t tcp_port;
        uint32_t interval_ms, timeout_ms, retries, start_period_ms;
};

/* NULL-terminated arrays: the contract (lib/ctrspec.h) allows one less. */
#define BRM_MAX_ARGS 64
#define BRM_MAX_ENV 64

struct brm_container_spec {
        char name[64];            /* [a-z0-9][a-z0-9_.-]{0,62} */
        char image[512];          /* a rootfs dir, an OCI layout dir, or an oci-archive tarball, on the node */
        uint64_t memory_max;      /* bytes, 0 = none */
        uint64_t memory_high;     /* bytes, 0 = none */
        uint32_t cpu_millis;      /* --cpus 0.5 -> 500; 0 = none */
        uint32_t pids_max;        /* 0 = none */
        enum brm_restart restart;
        enum brm_network network;
        char workdir[256];        /* "" = image default */
        char *args[BRM_MAX_ARGS]; /* NULL-terminated; empty = image entrypoint+cmd */
        char *env[BRM_MAX_ENV];   /* "K=V", NULL-terminated; added to the image's */
        bool stopped;             /* desired state is "stopped" (bramble stop) */
        uint64_t cap_add;         /* capability bits (lib/ctrspec.h); BRM_CTRSPEC_CAPS_ALL = ALL */
        uint64_t cap_drop;
        char *seccomp;            /* NULL = the node's default profile, "unconfined", or a profile's text */
        bool has_health;
        struct brm_health_spec health;
        uint64_t disconnect_stop_ms; /* stop after this long without a master; 0 = keep running */
};

/* Checks what a spec says on its own: a valid name, an image, restart
 * and network in range, memory_high not above memory_max, env entries of
 * the form KEY=VALUE. 0, or -EINVAL and a one-line reason in WHY. */
int brm_spec_validate(const struct brm_container_spec *spec, char *why, size_t why_size);

/* The first limit the spec asks for that the cgroup controllers of CG
 * cannot enforce: NULL when there is none, else a one-line reason, worded
 * as a refusal of the request (AT_CHECK) or as why a start failed. A
 * container never runs without the limits it asked for. */
const char *brm_spec_unenforceable(const struct brm_container_spec *spec, const struct brm_cgroup *cg, bool at_check);

#endif
