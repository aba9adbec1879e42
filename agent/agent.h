/* The agent process: one libuv loop, one link to the master. main.c holds
 * this and wires the modules together: it registers the link's message
 * handlers and tells the log modules about the session and about removed
 * containers. */
#ifndef BRM_AGENT_H
#define BRM_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "agentlog.h"
#include "config.h"
#include "fetch.h"
#include "heartbeat.h"
#include "identity.h"
#include "imagegc.h"
#include "link.h"
#include "logdir.h"
#include "logretention.h"
#include "logstream.h"
#include "osupdate.h"
#include "token.h"
#include "workload.h"

struct brm_agent {
        uv_loop_t *loop;
        struct brm_agent_config cfg;
        struct brm_identity id;
        struct brm_token token;
        bool has_token;
        struct brm_heartbeat hb;
        struct brm_workload wl;
        struct brm_link *link;
        struct brm_logdir logdir;
        struct brm_logstream *logs;     /* NULL if the log directory is unusable */
        struct brm_logretention *retention;
        struct brm_agentlog agentlog;
        struct brm_fetch *fetch;        /* cluster images; NULL if its layout is unusable */
        struct brm_imagegc *imagegc;    /* unused images off a short disk; NULL when off */
        struct brm_osupdate *osupdate;  /* OS updates (A/B slots) */
        uv_signal_t sigint, sigterm;
        bool stopping;
};

#endif
