/* Turns metrics into wire messages. Does not log. */
#ifndef BRM_HEARTBEAT_H
#define BRM_HEARTBEAT_H

#include "bramble.pb-c.h"
#include "metrics.h"

struct brm_heartbeat {
        const char *root;
        const char *disk_path;
        struct brm_cpu_times prev_cpu;
        bool has_prev;
        uint64_t seq;
        struct brm_metrics m;      /* storage the message points into */
        Bramble__Heartbeat msg;
        Bramble__Throttle throttle;
};

void brm_heartbeat_init(struct brm_heartbeat *hb, const char *root, const char *disk_path);
/* Samples now and fills hb->msg; returns 0 or -errno. */
int brm_heartbeat_build(struct brm_heartbeat *hb);

struct brm_node_info {
        struct brm_node_facts f;
        char *controllers[16];
        Bramble__NodeInfo msg;
};

/* Fills info->msg from the node facts under root. */
int brm_heartbeat_node_info(struct brm_node_info *info, const char *root);

#endif
