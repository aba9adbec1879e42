/* SQLite store: joins are all-or-nothing, every refusal leaves the data as
 * it was, the schema is versioned and a newer one is refused. */
#include <errno.h>
#include <sqlite3.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "token.h"

static struct brm_token_rec tok(const char *id, const char *secret, int64_t expires, uint32_t uses_max)
{
        struct brm_token_rec t;
        memset(&t, 0, sizeof(t));
        snprintf(t.id, sizeof(t.id), "%s", id);
        brm_token_hash_secret(secret, t.secret_hash);
        t.created_ms = 1000;
        t.expires_ms = expires;
        t.uses_max = uses_max;
        return t;
}

static struct brm_node_rec node(const char *name, char key)
{
        struct brm_node_rec n;
        memset(&n, 0, sizeof(n));
        snprintf(n.name, sizeof(n.name), "%s", name);
        memset(n.pubkey_hash, key, 64);
        n.created_ms = 2000;
        n.cert_not_after_ms = 9000;
        return n;
}

static int count_tokens_uses(void *arg, const struct brm_token_rec *t)
{
        if (strcmp(t->id, "aaaaaa") == 0)
                *(uint32_t *)arg = t->uses;
        return 0;
}

static int count_nodes(void *arg, const struct brm_node_rec *n)
{
        (*(int *)arg)++;
        return 0;
}

static int count_containers(void *arg, const char *node, const uint8_t *spec, size_t len)
{
        (*(int *)arg)++;
        return len > 0 && node ? 0 : -EINVAL;
}

static uint32_t uses_of_a(struct brm_store *s)
{
        uint32_t u = 999;
        CHECK_INT(s->ops->token_list(s, count_tokens_uses, &u), ==, 0);
        return u;
}

int main(void)
{
        const struct brm_store_ops *ops = &brm_store_sqlite;
        char dir[] = "/tmp/brm-store-XXXXXX", hash[65], wrong[65], path[128];
        struct brm_store *s;
        struct brm_node_rec n, got;
        struct brm_token_rec t;
        int count = 0;

        CHECK(mkdtemp(dir) != NULL);
        CHECK_INT(ops->open(dir, &s), ==, 0);
        t = tok("aaaaaa", "secret-a", 0, 2);
        CHECK_INT(ops->token_add(s, &t), ==, 0);
        CHECK_INT(ops->token_add(s, &t), ==, -EEXIST);
        t = tok("bbbbbb", "secret-b", 5000, 0);
        CHECK_INT(ops->token_add(s, &t), ==, 0);
        t = tok("cccccc", "secret-c", 0, 0);
        CHECK_INT(ops->token_add(s, &t), ==, 0);
        CHECK_INT(ops->token_revoke(s, "cccccc"), ==, 0);
        CHECK_INT(ops->token_revoke(s, "zzzzzz"), ==, -ENOENT);

        brm_token_hash_secret("secret-a", hash);
        brm_token_hash_secret("not-it", wrong);
        n = node("pi-1", 'a');
        CHECK_INT(ops->join(s, "aaaaaa", wrong, 3000, &n), ==, BRM_JOIN_NO_TOKEN);
        CHECK_INT(ops->join(s, "nosuch", hash, 3000, &n), ==, BRM_JOIN_NO_TOKEN);
        CHECK_INT(uses_of_a(s), ==, 0);
        CHECK_INT(ops->node_get(s, "pi-1", &got), ==, -ENOENT);

        CHECK_INT(ops->join(s, "aaaaaa", hash, 3000, &n), ==, 0);
        CHECK_INT(uses_of_a(s), ==, 1);
        CHECK_INT(ops->node_get(s, "pi-1", &got), ==, 0);
        CHECK_STR(got.pubkey_hash, n.pubkey_hash);

        /* The same name with another key is refused and costs no use. */
        n = node("pi-1", 'b');
        CHECK_INT(ops->join(s, "aaaaaa", hash, 3000, &n), ==, BRM_JOIN_NAME_TAKEN);
        CHECK_INT(uses_of_a(s), ==, 1);
        CHECK_INT(ops->node_get(s, "pi-1", &got), ==, 0);
        CHECK(got.pubkey_hash[0] == 'a');
        /* The same key may join again (a node that lost its certificate). */
        n = node("pi-1", 'a');
        CHECK_INT(ops->join(s, "aaaaaa", hash, 3000, &n), ==, 0);
        CHECK_INT(uses_of_a(s), ==, 2);
        /* Used up. */
        n = node("pi-2", 'c');
        CHECK_INT(ops->join(s, "aaaaaa", hash, 3000, &n), ==, BRM_JOIN_USED_UP);
        /* Expired at 5000. */
        brm_token_hash_secret("secret-b", hash);
        CHECK_INT(ops->join(s, "bbbbbb", hash, 5000, &n), ==, BRM_JOIN_EXPIRED);
        CHECK_INT(ops->join(s, "bbbbbb", hash, 4999, &n), ==, 0);
        /* Revoked. */
        brm_token_hash_secret("secret-c", hash);
        n = node("pi-3", 'd');
        CHECK_INT(ops->join(s, "cccccc", hash, 3000, &n), ==, BRM_JOIN_REVOKED);

        /* Info, cert, touch, list, remove. */
        CHECK_INT(ops->node_set_info(s, "pi-1", (const uint8_t *)"\x0a\x02hi", 4), ==, 0);
        CHECK_INT(ops->node_set_cert(s, "pi-1", 12345), ==, 0);
        CHECK_INT(ops->node_set_cert(s, "ghost", 1), ==, -ENOENT);
        {
                const char *names[] = { "pi-1", "pi-2" };
                int64_t seen[] = { 7777, 8888 };
                CHECK_INT(ops->node_touch(s, names, seen, 2), ==, 0);
        }
        ops->close(s);

        /* Everything survives a reopen. */
        CHECK_INT(ops->open(dir, &s), ==, 0);
        CHECK_INT(ops->node_get(s, "pi-1", &got), ==, 0);
        CHECK_U64(got.info_len, ==, 4);
        CHECK_INT(got.cert_not_after_ms, ==, 12345);
        CHECK_INT(got.last_seen_ms, ==, 7777);
        CHECK_INT(ops->node_list(s, count_nodes, &count), ==, 0);
        CHECK_INT(count, ==, 2);
        /* Containers: unique per node, only on known nodes, gone with their node. */
        CHECK_INT(ops->container_add(s, "pi-1", "web", (const uint8_t *)"A", 1), ==, 0);
        CHECK_INT(ops->container_add(s, "pi-1", "web", (const uint8_t *)"B", 1), ==, -EEXIST);
        CHECK_INT(ops->container_add(s, "pi-2", "web", (const uint8_t *)"C", 1), ==, 0);
        CHECK_INT(ops->container_add(s, "ghost", "web", (const uint8_t *)"D", 1), ==, -ENOENT);
        CHECK_INT(ops->container_update(s, "pi-1", "web", (const uint8_t *)"EE", 2), ==, 0);
        CHECK_INT(ops->container_update(s, "pi-1", "nope", (const uint8_t *)"EE", 2), ==, -ENOENT);
        count = 0;
        CHECK_INT(ops->container_list(s, NULL, count_containers, &count), ==, 0);
        CHECK_INT(count, ==, 2);
        count = 0;
        CHECK_INT(ops->container_list(s, "pi-1", count_containers, &count), ==, 0);
        CHECK_INT(count, ==, 1);
        CHECK_INT(ops->node_remove(s, "pi-1"), ==, 0);
        CHECK_INT(ops->node_remove(s, "pi-1"), ==, -ENOENT);
        count = 0;
        CHECK_INT(ops->container_list(s, NULL, count_containers, &count), ==, 0);
        CHECK_INT(count, ==, 1);
        CHECK_INT(ops->container_remove(s, "pi-2", "web"), ==, 0);
        CHECK_INT(ops->container_remove(s, "pi-2", "web"), ==, -ENOENT);
        ops->close(s);

        /* A database from a newer master is refused, not rewritten. */
        {
                sqlite3 *db;
                snprintf(path, sizeof(path), "%s/bramble.db", dir);
                CHECK_INT(sqlite3_open(path, &db), ==, SQLITE_OK);
                CHECK_INT(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), ==, SQLITE_OK);
                sqlite3_close(db);
                CHECK_INT(ops->open(dir, &s), ==, -EPROTONOSUPPORT);
        }
        snprintf(path, sizeof(path), "rm -rf %s", dir);
        CHECK_INT(system(path), ==, 0);
        printf("store: ok\n");
        return 0;
}
