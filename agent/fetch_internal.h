/* Inside the fetch module (fetch.h): its jobs and transfers. Only fetch.c
 * includes it; the structures live here to keep fetch.c within its size. */
#ifndef BRM_FETCH_INTERNAL_H
#define BRM_FETCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/stat.h>

#include <uv.h>

#include "fetch.h"
#include "fetchstore.h"

#define REF_MAX 256

struct waiter {
        brm_fetch_cb cb;
        void *arg;
        struct waiter *next;
};

struct blob {
        char hex[65];
        uint64_t size;
};

enum jstate { J_RESOLVE, J_BLOBS, J_DONE };

struct job {
        struct brm_fetch *f;
        struct job *next;
        char ref[REF_MAX];
        enum jstate st;
        uint64_t req_id;          /* the ImageRequest on this session; 0 = not sent */
        struct blob *blobs;       /* config, layers, and last the manifest */
        size_t n, cur;            /* blobs[cur] is the one being fetched */
        char media_type[96];      /* the manifest's */
        uint64_t total, done;     /* done: the bytes of blobs[0..cur) */
        int status;
        char why[300];
        char local[800];
        struct waiter *waiters;
};

enum xstate { X_WAIT, X_STREAM, X_COMMIT };

struct xfer {
        struct brm_fetch *f;
        struct xfer *next;
        struct blob b;
        enum xstate st;
        uint64_t stream_id;       /* on the current session, while X_STREAM */
        int fd;                   /* the .part file, while X_STREAM */
        uint64_t have;            /* its bytes */
        uv_work_t work;
        int r;
        char why[300];
};

struct brm_fetch {
        uv_loop_t *loop;
        struct brm_fetchstore store;
        char platform[64];
        struct brm_conn *session;
        struct job *jobs;
        struct waiter *cancelled; /* told -ECANCELED from the timer */
        struct xfer *xfers;
        unsigned n_xfers;
        uint64_t next_stream, next_req;
        uv_timer_t deliver;
        unsigned works;           /* commits in the thread pool */
        bool closing, timer_closed;
        char *refs;               /* brm_fetch_refs: the cached answer */
        struct timespec refs_mtime; /* of index.json when it was read */
        ino_t refs_ino;
        off_t refs_size;
};

#endif
