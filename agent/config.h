/* Agent configuration: a JSON file, then command-line flags on top. Parsed
 * through one table of fields; errors name the field and the expected form.
 * Does not log. */
#ifndef BRM_AGENT_CONFIG_H
#define BRM_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRM_MAX_MASTERS 8

struct brm_agent_config {
        char masters[BRM_MAX_MASTERS][300]; /* HOST:PORT, tried in turn */
        size_t n_masters;
        bool master_auto;                   /* "master": "auto": found by mDNS (agent/discover.c) */
        char token[160];
        char name[64];
        char state_dir[1024];
        char root[1024];                    /* prefix for /proc and /sys (tests use fixtures) */
        uint64_t heartbeat_interval_ms;
        char log_level[16];
        char runtime[256];                  /* "crun", "runc", a path; "" = auto-detect */
        char seccomp_profile[1024];         /* containers' default seccomp profile; "" = seccomp.h's */
        uint64_t log_max_size;              /* a log file is rotated at this size */
        unsigned log_max_files;             /* files kept per log, the one being written included */
        uint64_t log_budget;                /* all logs of the node together */
        uint64_t log_retention_ms;          /* logs of a removed container are kept this long */
        uint64_t log_reserve;               /* free space on the state dir's file system logs never take */
        uint64_t image_gc_free;             /* unused images are collected below this much free space; 0 = never */
        char os_update_hook[1024];          /* the image's slot writer (image/rootfs/etc/bramble/update.sh); "" = no OS updates */
};

void brm_agent_config_defaults(struct brm_agent_config *cfg);
/* Applies a JSON document. On failure returns -EINVAL and writes a one-line
 * description naming the field into err. */
int brm_agent_config_parse_json(struct brm_agent_config *cfg, const char *text, char *err, size_t err_size);
/* Sets one field by its JSON name from a string (used for flags). */
int brm_agent_config_set(struct brm_agent_config *cfg, const char *field, const char *value, char *err, size_t err_size);
/* Final checks and derived defaults (the name from the hostname). */
int brm_agent_config_finish(struct brm_agent_config *cfg, char *err, size_t err_size);

#endif
