/* The node's log directory and its layout, in this one place:
 *
 *   LOGS/containers/NAME/   a container's output while the container exists
 *                           (its shim writes it; kept across its runs)
 *   LOGS/removed/NAME.MS/   the same, moved there when the container is
 *                           removed (MS: wall-clock ms of the removal)
 *   LOGS/agent/             the agent's own log
 *
 * Each of these directories holds one rotating log (lib/logrec.h). LOGS is
 * STATE/logs unless configured. The supervisor moves logs of removed
 * containers, the stream server reads them, the retention sweep deletes
 * them: all through these functions. Plain file I/O: no loop, no logging.
 * Functions return 0 or -errno; ret_* outputs are untouched on failure. */
#ifndef BRM_LOGDIR_H
#define BRM_LOGDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brm_logdir {
        char root[1024];
};

/* Remembers ROOT (nothing is created). -ENAMETOOLONG. */
int brm_logdir_init(struct brm_logdir *d, const char *root);
/* Creates ROOT (with its parents) and the three directories below it. */
int brm_logdir_create(const struct brm_logdir *d);

/* LOGS/containers/NAME, whether or not it exists. -EINVAL when NAME is not
 * a container name, -ENAMETOOLONG. */
int brm_logdir_container(const struct brm_logdir *d, const char *name, char *ret_path, size_t size);
/* LOGS/agent. */
int brm_logdir_agent(const struct brm_logdir *d, char *ret_path, size_t size);
/* The newest LOGS/removed/NAME.MS still kept. -ENOENT when there is none. */
int brm_logdir_find_removed(const struct brm_logdir *d, const char *name, char *ret_path, size_t size);
/* Moves LOGS/containers/NAME to LOGS/removed/NAME.NOW_MS and says where.
 * -ENOENT when the container had no log directory. */
int brm_logdir_move_removed(const struct brm_logdir *d, const char *name, int64_t now_ms, char *ret_path, size_t size);

enum brm_logdir_kind { BRM_LOGDIR_CONTAINER, BRM_LOGDIR_REMOVED, BRM_LOGDIR_AGENT };

struct brm_logdir_entry {
        enum brm_logdir_kind kind;
        const char *name;         /* the directory's own name: NAME, NAME.MS or "agent" */
        const char *path;
        bool has_removed_ms;      /* REMOVED: the name ends in a time */
        int64_t removed_ms;
};

/* Calls EACH for every log directory: the removed ones (those named
 * SOMETHING.SUFFIX), then the containers', then the agent's. A name
 * starting with '.' and anything that is not a directory are passed over.
 * EACH may remove the directory it is given. */
void brm_logdir_walk(const struct brm_logdir *d, void (*each)(const struct brm_logdir_entry *e, void *arg), void *arg);

#endif
