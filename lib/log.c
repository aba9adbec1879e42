#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum brm_log_level max_level = BRM_LOG_INFO;
static brm_log_sink_fn sink;
static void *sink_arg;

void brm_log_set_sink(brm_log_sink_fn fn, void *arg)
{
        sink = fn;
        sink_arg = arg;
}

void brm_log_set_level(enum brm_log_level level)
{
        max_level = level;
}

int brm_log_parse_level(const char *s, enum brm_log_level *ret)
{
        static const char *names[] = { "error", "warn", "info", "debug" };

        for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (s && strcmp(s, names[i]) == 0) {
                        *ret = (enum brm_log_level)i;
                        return 0;
                }
        return -EINVAL;
}

void brm_log(enum brm_log_level level, const char *module, const char *fmt, ...)
{
        static const char *tags[] = { "error", "warn", "info", "debug" };
        char line[1024], ts[32];
        struct timespec now;
        struct tm tm;
        va_list ap;
        int n;

        if (level > max_level)
                return;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s: ", ts, now.tv_nsec / 1000000, tags[level], module);
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof(line))
                vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        /* One write per line so lines from concurrent processes never interleave. */
        fprintf(stderr, "%s\n", line);
        if (sink) {
                /* A sink that logs must not come back here. */
                brm_log_sink_fn fn = sink;
                sink = NULL;
                fn(sink_arg, level, line, strnlen(line, sizeof(line)));
                sink = fn;
        }
}
