#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
        uint64_t h = 1469598103934665603ULL;

        for (; *s; s++)
                h = (h ^ (uint8_t)*s) * 1099511628211ULL;
        return h;
}

int brm_registry_init(struct brm_registry *reg)
{
        reg->n_buckets = 1024;
        reg->count = 0;
        reg->buckets = calloc(reg->n_buckets, sizeof(*reg->buckets));
        return reg->buckets ? 0 : -ENOMEM;
}

static void node_free(struct brm_node *n)
{
        free(n->info);
        free(n->last_hb);
        free(n);
}

void brm_registry_free(struct brm_registry *reg)
{
        for (size_t i = 0; i < reg->n_buckets; i++) {
                struct brm_node *n = reg->buckets[i];
                while (n) {
                        struct brm_node *next = n->hnext;
                        node_free(n);
                        n = next;
                }
        }
        free(reg->buckets);
        reg->buckets = NULL;
        reg->count = 0;
}

struct brm_node *brm_registry_get(struct brm_registry *reg, const char *name)
{
        struct brm_node *n = reg->buckets[hash(name) & (reg->n_buckets - 1)];

        while (n && strcmp(n->name, name) != 0)
                n = n->hnext;
        return n;
}

static void grow(struct brm_registry *reg)
{
        size_t nb = reg->n_buckets * 2;
        struct brm_node **b = calloc(nb, sizeof(*b));

        if (!b)
                return; /* a longer chain is slower, not wrong */
        for (size_t i = 0; i < reg->n_buckets; i++) {
                struct brm_node *n = reg->buckets[i];
                while (n) {
                        struct brm_node *next = n->hnext;
                        size_t k = hash(n->name) & (nb - 1);
                        n->hnext = b[k];
                        b[k] = n;
                        n = next;
                }
        }
        free(reg->buckets);
        reg->buckets = b;
        reg->n_buckets = nb;
}

int brm_registry_set_blob(uint8_t **blob, size_t *blob_len, const uint8_t *data, size_t len)
{
        uint8_t *p;

        if (*blob && *blob_len == len) {
                memcpy(*blob, data, len);
                return 0;
        }
        p = malloc(len ? len : 1);
        if (!p)
                return -ENOMEM;
        memcpy(p, data, len);
        free(*blob);
        *blob = p;
        *blob_len = len;
        return 0;
}

int brm_registry_put(struct brm_registry *reg, const struct brm_node_rec *rec, struct brm_node **ret)
{
        struct brm_node *n = brm_registry_get(reg, rec->name);
        int r;

        if (!n) {
                size_t k;
                if (reg->count >= reg->n_buckets)
                        grow(reg);
                n = calloc(1, sizeof(*n));
                if (!n)
                        return -ENOMEM;
                memcpy(n->name, rec->name, sizeof(n->name));
                n->last_seen_ms = rec->last_seen_ms;
                k = hash(n->name) & (reg->n_buckets - 1);
                n->hnext = reg->buckets[k];
                reg->buckets[k] = n;
                reg->count++;
        }
        memcpy(n->pubkey_hash, rec->pubkey_hash, sizeof(n->pubkey_hash));
        n->created_ms = rec->created_ms;
        n->cert_not_after_ms = rec->cert_not_after_ms;
        if (rec->info_len && (r = brm_registry_set_blob(&n->info, &n->info_len, rec->info, rec->info_len)) < 0)
                return r;
        if (ret)
                *ret = n;
        return 0;
}

void brm_registry_remove(struct brm_registry *reg, const char *name)
{
        struct brm_node **pp = &reg->buckets[hash(name) & (reg->n_buckets - 1)];

        for (; *pp; pp = &(*pp)->hnext) {
                if (strcmp((*pp)->name, name) == 0) {
                        struct brm_node *n = *pp;
                        *pp = n->hnext;
                        node_free(n);
                        reg->count--;
                        return;
                }
        }
}

void brm_registry_foreach(struct brm_registry *reg, void (*fn)(void *arg, struct brm_node *n), void *arg)
{
        for (size_t i = 0; i < reg->n_buckets; i++)
                for (struct brm_node *n = reg->buckets[i]; n; n = n->hnext)
                        fn(arg, n);
}
