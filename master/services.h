/* Services: N replicas of one container spec kept running across the
 * cluster. The store keeps each service (its spec, the previous one, where
 * its last change stands) and each replica as a container on its node
 * whose spec names the service and the version it runs; this module keeps
 * the same in memory for the scheduler (sched.c), which places, moves,
 * replaces and rolls replicas, and for the operator's calls (svcapi.c).
 * Every change goes to the store first, then to memory, then to the nodes
 * (their complete desired set, pushed once per scheduling pass). */
#ifndef BRM_SERVICES_H
#define BRM_SERVICES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bramble.pb-c.h"

struct brm_master;
struct brm_session;

struct brm_replica {
        char name[64];          /* SERVICE.N */
        unsigned index;         /* N */
        char node[64];
        uint64_t version;       /* of the service spec it runs */
        uint64_t placed_mono;   /* when it was placed (the master's start for one it found stored) */
        uint64_t running_mono;  /* when this run first saw it running and healthy enough; 0: not yet */
        uint64_t mem;           /* its limits, reserved on its node */
        uint32_t cpu;
        bool failed_counted;    /* a failed new replica of a rollout, counted once */
        char avoid[64];         /* a node it failed on: placed elsewhere when it can be */
        struct brm_replica *next;
};

struct brm_service {
        char name[48];
        Bramble__ServiceSpec *spec;  /* the one the replicas converge to */
        Bramble__ServiceSpec *prev;  /* the one before (rollback target); NULL: none */
        uint64_t version;            /* of spec: replicas of another version are stale */
        uint64_t prev_version;       /* of prev */
        char update_state[24];       /* "", updating, completed, rolling-back, rolled-back */
        char update_reason[256];
        int64_t created_ms, updated_ms;
        struct brm_replica *replicas;
        unsigned n_replicas;
        char pending_reason[300];    /* why a replica could not be placed; "" when none waits */
        unsigned update_failures;    /* new replicas that failed in the current rollout */
        bool pulling;                /* its image is being pulled into the store */
        uint64_t pull_retry_mono;    /* after a failed pull, not before this */
        char image_error[256];       /* the last pull's failure */
        struct brm_service *next;
};

struct brm_event {
        uint64_t seq;
        int64_t time_ms;
        char service[48];
        char node[64];
        char msg[300];
};

#define BRM_EVENTS_KEPT 1000

struct brm_services {
        struct brm_service *list;    /* by name */
        size_t count;
        struct brm_event *events;    /* ring of BRM_EVENTS_KEPT */
        size_t ev_head, ev_n;
        uint64_t ev_seq;
        uv_timer_t kick;             /* a scheduling pass soon (coalesced) */
        bool kick_open;
        uint64_t start_mono;
        char (*push)[64];            /* nodes whose desired set changed in this pass */
        size_t n_push, cap_push;
};

/* At start, after the registry is loaded: services and their replicas from
 * the store; containers of services that no longer exist are removed. */
int brm_services_open(struct brm_master *m);
/* Frees them; the kick timer was closed by brm_server_stop. */
void brm_services_close(struct brm_master *m);
/* A scheduling pass soon (within a few ms; many calls make one pass). */
void brm_services_kick(struct brm_master *m);

struct brm_service *brm_service_find(struct brm_master *m, const char *name);
/* Writes s (spec, prev, version, state) to the store. */
int brm_service_save(struct brm_master *m, struct brm_service *s);
/* A new service from spec (taken on success), stored. -EEXIST, or -errno. */
int brm_service_create(struct brm_master *m, Bramble__ServiceSpec *spec, struct brm_service **ret);
/* Replaces the spec (taken on success): a change other than replicas
 * bumps the version and keeps the old spec as prev, starting a rollout. */
int brm_service_change(struct brm_master *m, struct brm_service *s, Bramble__ServiceSpec *spec, bool *ret_rollout);
/* Back to the previous spec (its replicas of that version are current
 * again), as a rollout: state rolling-back with REASON. -ENOENT: none. */
int brm_service_rollback(struct brm_master *m, struct brm_service *s, const char *reason);
/* Whether a and b differ in anything but the replica count (a change
 * that rolls the replicas). */
bool brm_service_differs(const Bramble__ServiceSpec *a, const Bramble__ServiceSpec *b);
/* Removes the service and its replicas. */
int brm_service_remove(struct brm_master *m, struct brm_service *s);

/* Replicas. Adding stores the container on node and queues the node's
 * push; -EEXIST when the name is taken there. Removing likewise. */
int brm_replica_add(struct brm_master *m, struct brm_service *s, const char *node, unsigned index,
                    struct brm_replica **ret);
int brm_replica_remove(struct brm_master *m, struct brm_service *s, struct brm_replica *r);
/* Pushes the desired sets queued by brm_replica_add/remove. */
void brm_services_push(struct brm_master *m);

/* Records what the master decided and why, and logs it. */
void brm_event(struct brm_master *m, const char *service, const char *node, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* The scheduling pass (sched.c). */
void brm_sched_pass(struct brm_master *m);
/* Whether a pass has anything to judge by time (a NotReady or draining
 * node holding a replica, a rollout, a replica waiting for a node), so the
 * liveness tick runs one only then; changes run one through a kick. */
bool brm_sched_wanted(struct brm_master *m);

/* Route handlers (svcapi.c). */
void brm_svc_create(struct brm_session *s, const Bramble__Envelope *env);
void brm_svc_update(struct brm_session *s, const Bramble__Envelope *env);
void brm_svc_scale(struct brm_session *s, const Bramble__Envelope *env);
void brm_svc_rollback(struct brm_session *s, const Bramble__Envelope *env);
void brm_svc_remove(struct brm_session *s, const Bramble__Envelope *env);
void brm_svc_list(struct brm_session *s, const Bramble__Envelope *env);
void brm_svc_apply(struct brm_session *s, const Bramble__Envelope *env);
void brm_svc_events(struct brm_session *s, const Bramble__Envelope *env);
void brm_node_label(struct brm_session *s, const Bramble__Envelope *env);
void brm_node_schedule(struct brm_session *s, const Bramble__Envelope *env);

#endif
