/* Between the wire and the container supervisor: desired state and checks
 * from the master in, container statuses and capabilities out. Works (and
 * says so) when the node has no usable OCI runtime. */
#ifndef BRM_WORKLOAD_H
#define BRM_WORKLOAD_H

#include <stddef.h>

#include "bramble.pb-c.h"
#include "conn.h"
#include "config.h"
#include "supervisor.h"

struct brm_workload {
        struct brm_supervisor *sup;      /* NULL when no runtime works here */
        char unavailable[160];           /* why, when sup is NULL */
        struct brm_supervisor_caps caps;
        /* Told when a container was removed and where its log went. */
        void (*on_removed)(const char *name, const char *moved_to, void *arg);
        void *on_removed_arg;
        /* Storage the heartbeat's container statuses point into. */
        struct brm_container_status *st;
        size_t n_st;
        Bramble__ContainerStatus *msgs;
        Bramble__ContainerStatus **ptrs;
};

/* Opens the supervisor (FETCH, may be NULL, gets it cluster images);
 * never fails the agent: without a runtime the node
 * still reports and refuses containers with the reason. ON_REMOVED (may
 * be NULL) hears of each removed container: MOVED_TO is where its log
 * went, NULL if it had none. */
void brm_workload_open(struct brm_workload *w, uv_loop_t *loop, const struct brm_agent_config *cfg,
                       struct brm_fetch *fetch, void (*on_removed)(const char *name, const char *moved_to, void *arg), void *arg);
/* Whether container NAME is on this node (in its desired set), also before
 * it has started. W is a struct brm_workload (the form of a callback). */
bool brm_workload_has(void *w, const char *name);
void brm_workload_close(struct brm_workload *w);
/* Converts and applies a DesiredState; returns 0 or -errno. Applied also
 * when the records cannot be written (the heartbeat then says why). */
int brm_workload_apply(struct brm_workload *w, const Bramble__DesiredState *ds, char *why, size_t why_size);
/* Answers a ContainerCheck: 0, or -errno with the reason in why. */
int brm_workload_check(struct brm_workload *w, const Bramble__ContainerSpec *spec, char *why, size_t why_size);
/* Link handlers (link.h) for the master's DesiredState and ContainerCheck:
 * W is the struct brm_workload. A check is answered with Ok or Error. */
void brm_workload_handle_desired(void *w, struct brm_conn *conn, const Bramble__Envelope *env);
void brm_workload_handle_check(void *w, struct brm_conn *conn, const Bramble__Envelope *env);
/* Points hb->containers at fresh statuses (valid until the next call). */
void brm_workload_fill_heartbeat(struct brm_workload *w, Bramble__Heartbeat *hb);
/* Adds runtime and memory-controller facts to info. */
void brm_workload_fill_info(struct brm_workload *w, Bramble__NodeInfo *info);

#endif
