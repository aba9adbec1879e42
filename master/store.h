/* The master's durable state behind one interface, so another backend can
 * be added for users who outgrow one master. The default is SQLite (WAL,
 * versioned schema) in the data directory. Functions return 0 or -errno. */
#ifndef BRM_STORE_H
#define BRM_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brm_token_rec {
        char id[8];
        char secret_hash[65];
        int64_t created_ms;
        int64_t expires_ms; /* 0 = never */
        uint32_t uses_max;  /* 0 = unlimited */
        uint32_t uses;
        bool revoked;
        char description[128];
};

/* A token for the HTTPS port; role "metrics" or "viewer". */
struct brm_api_token_rec {
        char id[8];
        char secret_hash[65];
        char role[16];
        int64_t created_ms;
        int64_t expires_ms; /* 0 = never */
        bool revoked;
        char description[128];
};

struct brm_node_rec {
        char name[64];
        char pubkey_hash[65];
        int64_t created_ms;
        int64_t last_seen_ms;
        int64_t cert_not_after_ms;
        uint8_t info[1024]; /* packed NodeInfo, as last reported */
        size_t info_len;
        char labels[2048];  /* the operator's "key=value" labels, one per line */
        char schedule[16];  /* "", "cordoned", "draining" */
};

/* A service as stored: its spec, the one before (for a rollback) and
 * where its last change stands. Replicas are containers whose spec names
 * the service. */
struct brm_service_rec {
        char name[48];
        const uint8_t *spec; /* packed ServiceSpec */
        size_t spec_len;
        const uint8_t *prev; /* packed ServiceSpec; NULL when none */
        size_t prev_len;
        uint64_t version;    /* of spec: a new one for every change but a scale */
        uint64_t prev_version;
        char update_state[24];
        char update_reason[256];
        int64_t created_ms;
        int64_t updated_ms;
};

struct brm_store;

/* Why a join was refused, so the server can say exactly what failed. They
 * are negative errno values like every other failure, chosen so that no
 * backend returns them for a failure of its own. */
#define BRM_JOIN_NO_TOKEN (-EKEYREJECTED)  /* unknown id or wrong secret */
#define BRM_JOIN_EXPIRED (-EKEYEXPIRED)
#define BRM_JOIN_REVOKED (-EKEYREVOKED)
#define BRM_JOIN_USED_UP (-EUSERS)         /* every use taken */
#define BRM_JOIN_NAME_TAKEN (-ENOTUNIQ)    /* the name is held by another key */

/* The stored data is damaged (a failed integrity check, or the backend found
 * a page it cannot read): distinct from a plain I/O error so the master can
 * say so and point at a snapshot. */
#define BRM_STORE_DAMAGED (-EUCLEAN)

/* A backend: one instance of this table (designated initializers), and a
 * struct that begins with struct brm_store. Callers use the brm_store_*
 * functions below, never the table, so a second backend is a new file and
 * no caller changes. Each operation's contract is at its function. */
struct brm_store_ops {
        const char *name;
        /* The files under a data dir that hold the state (the ones present
         * are what a restore moves aside and copies in), NULL-terminated. */
        const char *const *files;
        int (*verify)(const char *dir, char *detail, size_t size);
        int (*open)(const char *dir, struct brm_store **ret);
        int (*snapshot)(struct brm_store *s, const char *dir);
        void (*close)(struct brm_store *s);
        int (*token_add)(struct brm_store *s, const struct brm_token_rec *t);
        int (*token_list)(struct brm_store *s, int (*cb)(void *arg, const struct brm_token_rec *t), void *arg);
        int (*token_revoke)(struct brm_store *s, const char *id);
        int (*join)(struct brm_store *s, const char *token_id, const char *secret_hash, int64_t now_ms,
                    const struct brm_node_rec *node);
        int (*node_get)(struct brm_store *s, const char *name, struct brm_node_rec *ret);
        int (*node_list)(struct brm_store *s, int (*cb)(void *arg, const struct brm_node_rec *n), void *arg);
        int (*node_remove)(struct brm_store *s, const char *name);
        int (*node_set_info)(struct brm_store *s, const char *name, const uint8_t *info, size_t len);
        int (*node_set_cert)(struct brm_store *s, const char *name, int64_t not_after_ms);
        int (*node_touch)(struct brm_store *s, const char *const *names, const int64_t *seen_ms, size_t n);
        int (*container_add)(struct brm_store *s, const char *node, const char *name, const uint8_t *spec, size_t len);
        int (*container_update)(struct brm_store *s, const char *node, const char *name, const uint8_t *spec, size_t len);
        int (*container_remove)(struct brm_store *s, const char *node, const char *name);
        int (*container_get)(struct brm_store *s, const char *node, const char *name, uint8_t **ret_spec,
                             size_t *ret_len);
        int (*container_list)(struct brm_store *s, const char *node,
                              int (*cb)(void *arg, const char *node, const uint8_t *spec, size_t len), void *arg);
        int (*node_set_labels)(struct brm_store *s, const char *name, const char *labels);
        int (*node_set_schedule)(struct brm_store *s, const char *name, const char *schedule);
        int (*service_put)(struct brm_store *s, const struct brm_service_rec *rec);
        int (*service_list)(struct brm_store *s, int (*cb)(void *arg, const struct brm_service_rec *rec), void *arg);
        int (*service_remove)(struct brm_store *s, const char *name);
        int (*api_token_add)(struct brm_store *s, const struct brm_api_token_rec *t);
        int (*api_token_list)(struct brm_store *s, int (*cb)(void *arg, const struct brm_api_token_rec *t), void *arg);
        int (*api_token_revoke)(struct brm_store *s, const char *id);
};

struct brm_store {
        const struct brm_store_ops *ops;
};

extern const struct brm_store_ops brm_store_sqlite;

/* ---- calling a store ---- */

/* Opens (creating if needed) the backend's state under dir. On failure
 * *ret is untouched. -EPROTONOSUPPORT: written by a newer master. */
static inline int brm_store_open(const struct brm_store_ops *ops, const char *dir, struct brm_store **ret)
{
        return ops->open(dir, ret);
}

/* Checks the state under dir without changing it (an integrity check of
 * every page's structure, not the data's meaning). Returns 0 when sound;
 * -ENOENT when there is none; -ENODATA when it holds nothing yet (a new,
 * empty database); BRM_STORE_DAMAGED with what is wrong in detail; another
 * -errno when it cannot be read. detail is always a string. */
static inline int brm_store_verify(const struct brm_store_ops *ops, const char *dir, char *detail, size_t size)
{
        return ops->verify(dir, detail, size);
}

/* Writes a consistent copy of the state into dir (which exists and holds
 * none of the backend's files), fsynced, so that brm_store_open(dir) would
 * see it. Writers are not held up for long. May be called from another
 * thread while the store is in use on its own; never concurrently with a
 * second snapshot of the same store. */
static inline int brm_store_snapshot(struct brm_store *s, const char *dir)
{
        return s->ops->snapshot(s, dir);
}

/* Accepts NULL. */
static inline void brm_store_close(struct brm_store *s)
{
        if (s)
                s->ops->close(s);
}

/* -EEXIST if a token with this id exists. */
static inline int brm_store_token_add(struct brm_store *s, const struct brm_token_rec *t)
{
        return s->ops->token_add(s, t);
}

/* Calls cb for every token, oldest first; a negative return from cb stops
 * the walk and is returned. */
static inline int brm_store_token_list(struct brm_store *s, int (*cb)(void *arg, const struct brm_token_rec *t),
                                       void *arg)
{
        return s->ops->token_list(s, cb, arg);
}

/* -ENOENT if there is no such token. */
static inline int brm_store_token_revoke(struct brm_store *s, const char *id)
{
        return s->ops->token_revoke(s, id);
}

/* In one transaction: checks the token (secret hash, expiry, uses,
 * revocation), checks the name is free or held by the same key, counts one
 * use and stores the node. Returns 0, a BRM_JOIN_* refusal, or another
 * -errno; nothing changes unless it returns 0. */
static inline int brm_store_join(struct brm_store *s, const char *token_id, const char *secret_hash, int64_t now_ms,
                                 const struct brm_node_rec *node)
{
        return s->ops->join(s, token_id, secret_hash, now_ms, node);
}

/* -ENOENT if absent. */
static inline int brm_store_node_get(struct brm_store *s, const char *name, struct brm_node_rec *ret)
{
        return s->ops->node_get(s, name, ret);
}

/* Calls cb for every node, by name; a negative return from cb stops the
 * walk and is returned. */
static inline int brm_store_node_list(struct brm_store *s, int (*cb)(void *arg, const struct brm_node_rec *n),
                                      void *arg)
{
        return s->ops->node_list(s, cb, arg);
}

/* Removes the node and its containers. -ENOENT if absent. */
static inline int brm_store_node_remove(struct brm_store *s, const char *name)
{
        return s->ops->node_remove(s, name);
}

/* info is a packed NodeInfo. -ENOENT for an unknown node. */
static inline int brm_store_node_set_info(struct brm_store *s, const char *name, const uint8_t *info, size_t len)
{
        return s->ops->node_set_info(s, name, info, len);
}

/* -ENOENT for an unknown node. */
static inline int brm_store_node_set_cert(struct brm_store *s, const char *name, int64_t not_after_ms)
{
        return s->ops->node_set_cert(s, name, not_after_ms);
}

/* Records last-seen times for many nodes in one transaction; unknown names
 * are skipped. */
static inline int brm_store_node_touch(struct brm_store *s, const char *const *names, const int64_t *seen_ms,
                                       size_t n)
{
        return s->ops->node_touch(s, names, seen_ms, n);
}

/* Containers: spec is a packed ContainerSpec. -EEXIST if the name is taken
 * on that node, -ENOENT for an unknown node. */
static inline int brm_store_container_add(struct brm_store *s, const char *node, const char *name,
                                          const uint8_t *spec, size_t len)
{
        return s->ops->container_add(s, node, name, spec, len);
}

/* -ENOENT for an unknown node or container. */
static inline int brm_store_container_update(struct brm_store *s, const char *node, const char *name,
                                             const uint8_t *spec, size_t len)
{
        return s->ops->container_update(s, node, name, spec, len);
}

/* -ENOENT for an unknown node or container. */
static inline int brm_store_container_remove(struct brm_store *s, const char *node, const char *name)
{
        return s->ops->container_remove(s, node, name);
}

/* One container's packed spec, in a buffer the caller frees. -ENOENT for an
 * unknown node or container; *ret_spec and *ret_len are untouched on
 * failure. */
static inline int brm_store_container_get(struct brm_store *s, const char *node, const char *name, uint8_t **ret_spec,
                                          size_t *ret_len)
{
        return s->ops->container_get(s, node, name, ret_spec, ret_len);
}

/* Calls cb with each packed spec of node (NULL: of every node, by node),
 * by name; a negative return from cb stops the walk and is returned. */
static inline int brm_store_container_list(struct brm_store *s, const char *node,
                                           int (*cb)(void *arg, const char *node, const uint8_t *spec, size_t len),
                                           void *arg)
{
        return s->ops->container_list(s, node, cb, arg);
}

/* The operator's labels of a node ("key=value" lines, at most 2 KiB).
 * -ENOENT for an unknown node. */
static inline int brm_store_node_set_labels(struct brm_store *s, const char *name, const char *labels)
{
        return s->ops->node_set_labels(s, name, labels);
}

/* "", "cordoned" or "draining". -ENOENT for an unknown node. */
static inline int brm_store_node_set_schedule(struct brm_store *s, const char *name, const char *schedule)
{
        return s->ops->node_set_schedule(s, name, schedule);
}

/* Creates or replaces the service rec->name. */
static inline int brm_store_service_put(struct brm_store *s, const struct brm_service_rec *rec)
{
        return s->ops->service_put(s, rec);
}

/* Calls cb for every service, by name (the rec's buffers live until cb
 * returns); a negative return from cb stops the walk and is returned. */
static inline int brm_store_service_list(struct brm_store *s,
                                         int (*cb)(void *arg, const struct brm_service_rec *rec), void *arg)
{
        return s->ops->service_list(s, cb, arg);
}

/* Removes the service (not its replicas' containers: the caller removes
 * them, and the master removes leftovers of unknown services at start).
 * -ENOENT if absent. */
static inline int brm_store_service_remove(struct brm_store *s, const char *name)
{
        return s->ops->service_remove(s, name);
}

/* API tokens: -EEXIST if the id exists; list calls cb oldest first (a
 * negative return from cb stops it and is returned); revoke: -ENOENT if
 * there is no such token. */
static inline int brm_store_api_token_add(struct brm_store *s, const struct brm_api_token_rec *t)
{
        return s->ops->api_token_add(s, t);
}

static inline int brm_store_api_token_list(struct brm_store *s,
                                           int (*cb)(void *arg, const struct brm_api_token_rec *t), void *arg)
{
        return s->ops->api_token_list(s, cb, arg);
}

static inline int brm_store_api_token_revoke(struct brm_store *s, const char *id)
{
        return s->ops->api_token_revoke(s, id);
}

#endif
