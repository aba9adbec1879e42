/* bramble node upgrade / node upgrade --status / node rollback: OS updates
 * over the air. The image file becomes a bundle on the master
 * (osbuild.h); the master runs the rollout (drain, update, confirm, one
 * node after another) and this follows it by asking for its state once a
 * second. Each command returns a process exit code (common.h). */
#ifndef BRM_CLI_UPGRADE_H
#define BRM_CLI_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brm_cli;

#define BRM_UPGRADE_MAX_NODES 256
#define BRM_UPGRADE_PARALLEL_MAX 64

/* What 'node upgrade' was asked. */
struct brm_upgrade_args {
        const char *nodes[BRM_UPGRADE_MAX_NODES]; /* into argv */
        size_t n_nodes;
        bool all, status, detach, upload_only;
        const char *image;
        const char *bundle;   /* --bundle REF: one stored already (--upload-only) */
        uint32_t parallel, confirm_ms, healthy_ms;
};

/* Parses 'node upgrade' (argv[0] "upgrade") into *a, with the defaults
 * (parallel 1, confirm within 5m, healthy for 30s), and checks that the
 * image file can be read. Returns 0, 1 for --help, or -EINVAL with a
 * one-line why. */
int brm_upgrade_parse(int argc, char **argv, struct brm_upgrade_args *a, char *why, size_t why_size);

/* bramble node upgrade NODE...|--all --image FILE.img[.xz] [--parallel N]
 *   [--confirm-within D] [--healthy-for D] [--detach] [--upload-only]
 * bramble node upgrade --status */
int brm_cli_node_upgrade(struct brm_cli *c, int argc, char **argv);

/* What 'node rollback' was asked. */
struct brm_rollback_args {
        const char *node; /* into argv */
        uint32_t confirm_ms, healthy_ms;
};

/* Parses 'node rollback' (argv[0] "rollback") into *a, with the defaults
 * (confirm within 5m, healthy for 30s). Returns 0, 1 for --help, or
 * -EINVAL with a one-line why. */
int brm_rollback_parse(int argc, char **argv, struct brm_rollback_args *a, char *why, size_t why_size);

/* bramble node rollback NODE [--confirm-within D] [--healthy-for D]: the
 * node boots its other slot again, tried and confirmed as an update is. */
int brm_cli_node_rollback(struct brm_cli *c, int argc, char **argv);

#endif
