/* The master's own counters, for its Prometheus metrics (metrics.c). Plain
 * integers bumped in place by the code that sees the event: the master is
 * one libuv loop, so nothing here needs to be atomic. brm_master embeds
 * one, zeroed with the rest of it. */
#ifndef BRM_STATS_H
#define BRM_STATS_H

#include <stdint.h>

/* How a join was answered (api.c). */
enum brm_join_result {
        BRM_JOIN_R_OK,
        BRM_JOIN_R_MALFORMED,     /* bad token form or node name */
        BRM_JOIN_R_BAD_CSR,       /* the certificate request broke the name policy */
        BRM_JOIN_R_BAD_TOKEN,     /* unknown token id or wrong secret */
        BRM_JOIN_R_TOKEN_EXPIRED,
        BRM_JOIN_R_TOKEN_USED_UP,
        BRM_JOIN_R_TOKEN_REVOKED,
        BRM_JOIN_R_NAME_TAKEN,    /* the name is held by another node's key */
        BRM_JOIN_R_ERROR,         /* the master failed (store, signing) */
        BRM_JOIN_R_COUNT
};

/* Why a peer that completed the TLS handshake was refused (server.c). */
enum brm_refusal {
        BRM_REFUSE_UNTRUSTED_CERT, /* not issued by this cluster's CA, or expired */
        BRM_REFUSE_NO_ROLE,        /* no CN/O, or an O that is not a Bramble role */
        BRM_REFUSE_UNKNOWN_NODE,   /* a node certificate whose node is not registered with that key */
        BRM_REFUSE_COUNT
};

/* Why the master closed a peer's connection (server.c, from its close
 * reason). */
enum brm_drop {
        BRM_DROP_BACKLOG,      /* it stopped reading and its queue passed the limit (session.c) */
        BRM_DROP_OVERSIZE,     /* a frame longer than the maximum */
        BRM_DROP_MALFORMED,    /* a frame that is not an Envelope */
        BRM_DROP_IDLE,         /* nothing received within its idle timeout */
        BRM_DROP_COUNT
};

/* Request duration buckets, in seconds (upper bounds; +Inf is the count). */
#define BRM_STATS_BUCKETS 12
#define BRM_STATS_BUCKET_BOUNDS_NS                                                                              \
        { 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000, \
          1000000000 }
#define BRM_STATS_BUCKET_LABELS                                                                        \
        { "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", \
          "1" }
/* Envelope message cases below this are timed (the oneof's field numbers). */
#define BRM_STATS_MSG_MAX 128

struct brm_req_hist {
        uint64_t bucket[BRM_STATS_BUCKETS]; /* not cumulative: observations in (bound[i-1], bound[i]] */
        uint64_t count;
        uint64_t sum_ns;
};

struct brm_stats {
        uint64_t heartbeats;
        uint64_t joins[BRM_JOIN_R_COUNT];
        uint64_t tls_handshake_failures;
        uint64_t refused[BRM_REFUSE_COUNT];
        uint64_t dropped[BRM_DROP_COUNT];
        struct brm_req_hist req[BRM_STATS_MSG_MAX]; /* by Envelope message case */
};

/* One request of message case msg took ns nanoseconds to handle. */
static inline void brm_stats_request(struct brm_stats *st, unsigned msg, uint64_t ns)
{
        static const uint64_t bound[BRM_STATS_BUCKETS] = BRM_STATS_BUCKET_BOUNDS_NS;
        struct brm_req_hist *h;
        unsigned i = 0;

        if (msg >= BRM_STATS_MSG_MAX)
                return;
        h = &st->req[msg];
        while (i < BRM_STATS_BUCKETS && ns > bound[i])
                i++;
        if (i < BRM_STATS_BUCKETS)
                h->bucket[i]++;
        h->count++;
        h->sum_ns += ns;
}

#endif
