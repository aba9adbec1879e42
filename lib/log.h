/* Daemon-level logging: one line per event to stderr, with the module name.
 * Library code (codec, TLS, PKI, config) returns errors and does not log. */
#ifndef BRM_LOG_H
#define BRM_LOG_H

#include <stddef.h>

enum brm_log_level { BRM_LOG_ERROR, BRM_LOG_WARN, BRM_LOG_INFO, BRM_LOG_DEBUG };

void brm_log_set_level(enum brm_log_level level);
/* Parses "error", "warn", "info", "debug"; returns -EINVAL otherwise. */
int brm_log_parse_level(const char *s, enum brm_log_level *ret);
/* Also hands every line (without its newline) to fn, e.g. to store it. */
typedef void (*brm_log_sink_fn)(void *arg, enum brm_log_level level, const char *line, size_t len);
void brm_log_set_sink(brm_log_sink_fn fn, void *arg);
void brm_log(enum brm_log_level level, const char *module, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define brm_err(mod, ...) brm_log(BRM_LOG_ERROR, mod, __VA_ARGS__)
#define brm_warn(mod, ...) brm_log(BRM_LOG_WARN, mod, __VA_ARGS__)
#define brm_info(mod, ...) brm_log(BRM_LOG_INFO, mod, __VA_ARGS__)
#define brm_debug(mod, ...) brm_log(BRM_LOG_DEBUG, mod, __VA_ARGS__)

#endif
