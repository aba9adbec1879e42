/* The agent process: one libuv loop, one link to the master. */
#ifndef BRM_AGENT_H
#define BRM_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <mbedtls/ssl.h>
#include <uv.h>

#include "backoff.h"
#include "config.h"
#include "conn.h"
#include "heartbeat.h"
#include "agentlog.h"
#include "identity.h"
#include "logdir.h"
#include "logretention.h"
#include "logstream.h"
#include "token.h"
#include "workload.h"

struct brm_link;

struct brm_agent {
        uv_loop_t *loop;
        struct brm_agent_config cfg;
        struct brm_identity id;
        struct brm_token token;
        bool has_token;
        struct brm_heartbeat hb;
        struct brm_node_info info;
        struct brm_workload wl;
        struct brm_link *link;
        struct brm_logdir logdir;
        struct brm_logstream *logs;     /* NULL if the log directory is unusable */
        struct brm_logretention *retention;
        struct brm_agentlog agentlog;
        uv_signal_t sigint, sigterm;
        bool stopping;
};

/* link.c */
int brm_link_start(struct brm_agent *a);
void brm_link_stop(struct brm_agent *a);

#endif
