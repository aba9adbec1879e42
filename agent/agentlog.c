/* The agent's own log, stored; see agentlog.h. */
#include "agentlog.h"

#include <string.h>

#include "log.h"

#define MOD "logs"

static void sink(void *arg, enum brm_log_level level, const char *line, size_t len)
{
        struct brm_agentlog *al = arg;

        if (!al->open)
                return;
        if (len > BRM_LOG_LINE_MAX)
                len = BRM_LOG_LINE_MAX;
        if (brm_logwriter_add(&al->writer, level <= BRM_LOG_WARN ? BRM_LOG_STDERR : BRM_LOG_STDOUT, false,
                              brm_now_ns(), line, len) == 0)
                brm_logwriter_flush(&al->writer);
}

int brm_agentlog_open(struct brm_agentlog *al, const struct brm_logdir *dir, uint64_t max_size, unsigned max_files,
                      uint64_t reserve)
{
        char path[1100];
        int r;

        memset(al, 0, sizeof(*al));
        if ((r = brm_logdir_agent(dir, path, sizeof(path))) < 0 ||
            (r = brm_logwriter_open(&al->writer, path, max_size, max_files)) < 0) {
                brm_warn(MOD, "cannot store the agent's log in %s/agent: %s", dir->root, strerror(-r));
                return r;
        }
        brm_logwriter_set_reserve(&al->writer, reserve);
        al->open = true;
        brm_log_set_sink(sink, al);
        return 0;
}

void brm_agentlog_close(struct brm_agentlog *al)
{
        if (!al || !al->open)
                return;
        brm_log_set_sink(NULL, NULL);
        brm_logwriter_close(&al->writer);
        al->open = false;
}
