#include "registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define MOD "registry"

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
        free(n->labels);
        free(n->briefs);
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
                n->run_dirty = true;
                /* Kept by the store across re-joins: read when the node
                 * enters the registry, changed through the registry since. */
                snprintf(n->schedule, sizeof(n->schedule), "%s", rec->schedule);
                if (rec->labels[0] && (r = brm_registry_set_labels(n, rec->labels)) < 0) {
                        free(n);
                        return r;
                }
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

void brm_registry_seen(struct brm_node *n)
{
        n->last_seen_ms = brm_now_ms();
        n->last_seen_mono = brm_mono_ms();
        n->seen_dirty = true;
        if (!n->ready) {
                n->ready = true;
                n->notready_mono = 0;
                brm_info(MOD, "node %s Ready", n->name);
        }
}

int brm_registry_set_labels(struct brm_node *n, const char *labels)
{
        char *copy = labels && *labels ? strdup(labels) : NULL;

        if (labels && *labels && !copy)
                return -ENOMEM;
        free(n->labels);
        n->labels = copy;
        return 0;
}

const Bramble__Heartbeat *brm_hb_cache_get(struct brm_hb_cache *c, struct brm_registry *reg, const char *node)
{
        struct brm_node *n;
        char(*nn)[64];
        Bramble__Heartbeat **nh;

        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->names[i], node) == 0)
                        return c->hbs[i];
        if (!(nn = realloc(c->names, (c->n + 1) * sizeof(*nn))))
                return NULL;
        c->names = nn;
        if (!(nh = realloc(c->hbs, (c->n + 1) * sizeof(*nh))))
                return NULL;
        c->hbs = nh;
        n = brm_registry_get(reg, node);
        snprintf(c->names[c->n], sizeof(c->names[0]), "%s", node);
        c->hbs[c->n] = n && n->last_hb ? bramble__heartbeat__unpack(NULL, n->last_hb_len, n->last_hb) : NULL;
        return c->hbs[c->n++];
}

void brm_hb_cache_free(struct brm_hb_cache *c)
{
        for (size_t i = 0; i < c->n; i++)
                if (c->hbs[i])
                        bramble__heartbeat__free_unpacked(c->hbs[i], NULL);
        free(c->names);
        free(c->hbs);
        memset(c, 0, sizeof(*c));
}

static uint8_t brief_state(const char *s)
{
        static const char *const names[] = { "pending", "running", "exited", "backoff", "failed", "stopped" };

        for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(s, names[i]) == 0)
                        return (uint8_t)i;
        return BRM_BRIEF_PENDING;
}

static uint8_t brief_health(const char *s)
{
        if (!s)
                return BRM_HEALTH_NONE;
        if (strcmp(s, "healthy") == 0)
                return BRM_HEALTH_HEALTHY;
        if (strcmp(s, "unhealthy") == 0)
                return BRM_HEALTH_UNHEALTHY;
        return BRM_HEALTH_STARTING;
}

bool brm_registry_briefs(struct brm_node *n, const Bramble__Heartbeat *hb)
{
        size_t k = hb->n_containers;
        struct brm_brief *b = k ? calloc(k, sizeof(*b)) : NULL;
        bool changed;

        if (k && !b)
                return false; /* the old view stays */
        for (size_t i = 0; i < k; i++) {
                const Bramble__ContainerStatus *c = hb->containers[i];
                snprintf(b[i].name, sizeof(b[i].name), "%s", c->name ? c->name : "");
                b[i].state = brief_state(c->state);
                b[i].health = brief_health(c->health);
        }
        changed = k != n->n_briefs || (k && memcmp(b, n->briefs, k * sizeof(*b)) != 0);
        free(n->briefs);
        n->briefs = b;
        n->n_briefs = k;
        return changed;
}

const struct brm_brief *brm_registry_brief(const struct brm_node *n, const char *name)
{
        for (size_t i = 0; i < n->n_briefs; i++)
                if (strcmp(n->briefs[i].name, name) == 0)
                        return &n->briefs[i];
        return NULL;
}

size_t brm_registry_check(struct brm_registry *reg, uint64_t grace_ms)
{
        uint64_t now = brm_mono_ms();
        size_t turned = 0;

        for (size_t b = 0; b < reg->n_buckets; b++)
                for (struct brm_node *n = reg->buckets[b]; n; n = n->hnext)
                        if (n->ready && now - n->last_seen_mono > grace_ms) {
                                n->ready = false;
                                n->notready_mono = now;
                                turned++;
                                brm_info(MOD, "node %s NotReady: no heartbeat for %llu ms", n->name,
                                         (unsigned long long)(now - n->last_seen_mono));
                        }
        return turned;
}

int brm_registry_flush(struct brm_registry *reg, struct brm_store *store)
{
        const char **names = NULL;
        int64_t *seen = NULL;
        size_t n = 0, i = 0;
        int r = 0;

        for (size_t b = 0; b < reg->n_buckets; b++)
                for (struct brm_node *nd = reg->buckets[b]; nd; nd = nd->hnext)
                        n += nd->seen_dirty;
        if (n == 0)
                return 0;
        names = malloc(n * sizeof(*names));
        seen = malloc(n * sizeof(*seen));
        if (!names || !seen) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t b = 0; b < reg->n_buckets; b++)
                for (struct brm_node *nd = reg->buckets[b]; nd; nd = nd->hnext)
                        if (nd->seen_dirty) {
                                names[i] = nd->name;
                                seen[i++] = nd->last_seen_ms;
                        }
        if ((r = brm_store_node_touch(store, names, seen, n)) < 0)
                goto out;
        for (size_t b = 0; b < reg->n_buckets; b++)
                for (struct brm_node *nd = reg->buckets[b]; nd; nd = nd->hnext)
                        nd->seen_dirty = false;
out:
        free(names);
        free(seen);
        return r;
}

int brm_registry_platform(const struct brm_node *n, char *buf, size_t size)
{
        Bramble__NodeInfo *info = n->info ? bramble__node_info__unpack(NULL, n->info_len, n->info) : NULL;
        int r = brm_oci_platform_of(info && info->arch ? info->arch : "", buf, size);

        if (info)
                bramble__node_info__free_unpacked(info, NULL);
        return r < 0 ? -EAGAIN : 0;
}
