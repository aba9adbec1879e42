/* Between the wire and the container supervisor: desired state and checks
 * from the master in, container statuses and capabilities out. Works (and
 * says so) when the node has no usable OCI runtime. */
#ifndef BRM_WORKLOAD_H
#define BRM_WORKLOAD_H

#include <stddef.h>

#include "bramble.pb-c.h"
#include "logs.h"
#include "supervisor.h"

struct brm_workload {
        struct brm_supervisor *sup;      /* NULL when no runtime works here */
        char unavailable[160];           /* why, when sup is NULL */
        struct brm_supervisor_caps caps;
        struct brm_logs *logs;           /* told of removed containers; may be NULL */
        /* Storage the heartbeat's container statuses point into. */
        struct brm_container_status *st;
        size_t n_st;
        Bramble__ContainerStatus *msgs;
        Bramble__ContainerStatus **ptrs;
};

/* Opens the supervisor; never fails the agent: without a runtime the node
 * still reports and refuses containers with the reason. */
void brm_workload_open(struct brm_workload *w, uv_loop_t *loop, const char *state_dir, const char *runtime,
                       uint64_t log_max_size, unsigned log_max_files, struct brm_logs *logs);
void brm_workload_close(struct brm_workload *w);
/* Converts and applies a DesiredState; returns 0 or -errno. */
int brm_workload_apply(struct brm_workload *w, const Bramble__DesiredState *ds, char *why, size_t why_size);
/* Answers a ContainerCheck: 0, or -errno with the reason in why. */
int brm_workload_check(struct brm_workload *w, const Bramble__ContainerSpec *spec, char *why, size_t why_size);
/* Points hb->containers at fresh statuses (valid until the next call). */
void brm_workload_fill_heartbeat(struct brm_workload *w, Bramble__Heartbeat *hb);
/* Adds runtime and memory-controller facts to info. */
void brm_workload_fill_info(struct brm_workload *w, Bramble__NodeInfo *info);

#endif
