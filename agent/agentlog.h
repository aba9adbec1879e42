/* The agent's own log lines, stored like a container's output in
 * LOGS/agent (logdir.h, lib/logrec.h), so that they can be streamed
 * (bramble logs --agent) and fall under the logs' budget. From
 * brm_agentlog_open on, every line the agent logs is also stored there. */
#ifndef BRM_AGENTLOG_H
#define BRM_AGENTLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "logdir.h"
#include "logrec.h"

struct brm_agentlog {
        struct brm_logwriter writer;
        bool open;
};

/* Starts storing, in files of MAX_SIZE bytes, MAX_FILES kept, never taking
 * the last RESERVE bytes of the file system; on failure says so in the agent's log (which then only
 * goes to stderr) and returns -errno. */
int brm_agentlog_open(struct brm_agentlog *al, const struct brm_logdir *dir, uint64_t max_size, unsigned max_files,
                      uint64_t reserve);
/* Stops storing and closes the file. Accepts NULL and one that is not
 * open. */
void brm_agentlog_close(struct brm_agentlog *al);

#endif
