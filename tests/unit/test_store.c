/* The store's contract, run against every backend in `backends`: joins
 * are all-or-nothing and every refusal leaves the data as it was,
 * everything survives a reopen, containers are unique per node and go with
 * their node, and data from a newer master is refused, not rewritten. A
 * second backend adds one line to the table. */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "token.h"

/* Makes the data in dir look written by a newer master. */
static void sqlite_from_newer_master(const char *dir)
{
        char path[128];
        sqlite3 *db;

        snprintf(path, sizeof(path), "%s/bramble.db", dir);
        CHECK_INT(sqlite3_open(path, &db), ==, SQLITE_OK);
        CHECK_INT(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), ==, SQLITE_OK);
        sqlite3_close(db);
}

/* Overwrites every page but the first (the header) with garbage, as a
 * failing disk or a stray write would. */
static void sqlite_damage(const char *dir)
{
        char path[128], junk[4096];
        FILE *f;
        long size;

        snprintf(path, sizeof(path), "%s/bramble.db", dir);
        CHECK((f = fopen(path, "r+b")) != NULL);
        CHECK_INT(fseek(f, 0, SEEK_END), ==, 0);
        size = ftell(f);
        CHECK_INT(size, >=, 3 * 4096);
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char)(i * 131 + 7);
        for (long off = 4096; off < size; off += 4096) {
                CHECK_INT(fseek(f, off, SEEK_SET), ==, 0);
                CHECK_U64(fwrite(junk, 1, sizeof(junk), f), ==, sizeof(junk));
        }
        CHECK_INT(fclose(f), ==, 0);
}

static const struct backend {
        const struct brm_store_ops *ops;
        void (*from_newer_master)(const char *dir); /* NULL: the backend has no versions to check */
        void (*damage)(const char *dir);            /* spoils the state in dir */
} backends[] = {
        { &brm_store_sqlite, sqlite_from_newer_master, sqlite_damage },
};

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
        CHECK_INT(brm_store_token_list(s, count_tokens_uses, &u), ==, 0);
        return u;
}

static void tokens(struct brm_store *s)
{
        struct brm_token_rec t;

        t = tok("aaaaaa", "secret-a", 0, 2);
        CHECK_INT(brm_store_token_add(s, &t), ==, 0);
        CHECK_INT(brm_store_token_add(s, &t), ==, -EEXIST);
        t = tok("bbbbbb", "secret-b", 5000, 0);
        CHECK_INT(brm_store_token_add(s, &t), ==, 0);
        t = tok("cccccc", "secret-c", 0, 0);
        CHECK_INT(brm_store_token_add(s, &t), ==, 0);
        CHECK_INT(brm_store_token_revoke(s, "cccccc"), ==, 0);
        CHECK_INT(brm_store_token_revoke(s, "zzzzzz"), ==, -ENOENT);
}

/* Needs the tokens above. */
static void joins(struct brm_store *s)
{
        struct brm_node_rec n, got;
        char hash[65], wrong[65];

        brm_token_hash_secret("secret-a", hash);
        brm_token_hash_secret("not-it", wrong);
        n = node("pi-1", 'a');
        CHECK_INT(brm_store_join(s, "aaaaaa", wrong, 3000, &n), ==, BRM_JOIN_NO_TOKEN);
        CHECK_INT(brm_store_join(s, "nosuch", hash, 3000, &n), ==, BRM_JOIN_NO_TOKEN);
        CHECK_INT(uses_of_a(s), ==, 0);
        CHECK_INT(brm_store_node_get(s, "pi-1", &got), ==, -ENOENT);

        CHECK_INT(brm_store_join(s, "aaaaaa", hash, 3000, &n), ==, 0);
        CHECK_INT(uses_of_a(s), ==, 1);
        CHECK_INT(brm_store_node_get(s, "pi-1", &got), ==, 0);
        CHECK_STR(got.pubkey_hash, n.pubkey_hash);

        /* The same name with another key is refused and costs no use. */
        n = node("pi-1", 'b');
        CHECK_INT(brm_store_join(s, "aaaaaa", hash, 3000, &n), ==, BRM_JOIN_NAME_TAKEN);
        CHECK_INT(uses_of_a(s), ==, 1);
        CHECK_INT(brm_store_node_get(s, "pi-1", &got), ==, 0);
        CHECK(got.pubkey_hash[0] == 'a');
        /* The same key may join again (a node that lost its certificate). */
        n = node("pi-1", 'a');
        CHECK_INT(brm_store_join(s, "aaaaaa", hash, 3000, &n), ==, 0);
        CHECK_INT(uses_of_a(s), ==, 2);
        /* Used up. */
        n = node("pi-2", 'c');
        CHECK_INT(brm_store_join(s, "aaaaaa", hash, 3000, &n), ==, BRM_JOIN_USED_UP);
        /* Expired at 5000. */
        brm_token_hash_secret("secret-b", hash);
        CHECK_INT(brm_store_join(s, "bbbbbb", hash, 5000, &n), ==, BRM_JOIN_EXPIRED);
        CHECK_INT(brm_store_join(s, "bbbbbb", hash, 4999, &n), ==, 0);
        /* Revoked. */
        brm_token_hash_secret("secret-c", hash);
        n = node("pi-3", 'd');
        CHECK_INT(brm_store_join(s, "cccccc", hash, 3000, &n), ==, BRM_JOIN_REVOKED);
        CHECK_INT(brm_store_node_get(s, "pi-3", &got), ==, -ENOENT);
}

/* Needs pi-1 and pi-2 from joins(). */
static void node_updates(struct brm_store *s)
{
        const char *names[] = { "pi-1", "pi-2" };
        int64_t seen[] = { 7777, 8888 };

        CHECK_INT(brm_store_node_set_info(s, "pi-1", (const uint8_t *)"\x0a\x02hi", 4), ==, 0);
        CHECK_INT(brm_store_node_set_cert(s, "pi-1", 12345), ==, 0);
        CHECK_INT(brm_store_node_set_cert(s, "ghost", 1), ==, -ENOENT);
        CHECK_INT(brm_store_node_touch(s, names, seen, 2), ==, 0);
}

/* After a reopen: what node_updates() wrote is there. */
static void survived(struct brm_store *s)
{
        struct brm_node_rec got;
        int count = 0;

        CHECK_INT(brm_store_node_get(s, "pi-1", &got), ==, 0);
        CHECK_U64(got.info_len, ==, 4);
        CHECK(memcmp(got.info, "\x0a\x02hi", 4) == 0);
        CHECK_INT(got.cert_not_after_ms, ==, 12345);
        CHECK_INT(got.last_seen_ms, ==, 7777);
        CHECK_INT(brm_store_node_list(s, count_nodes, &count), ==, 0);
        CHECK_INT(count, ==, 2);
}

/* Labels and scheduling: stored per node, kept by a reopen. */
static void node_scheduling(struct brm_store *s)
{
        char big[3000];

        CHECK_INT(brm_store_node_set_labels(s, "pi-1", "zone=a\nrack=3\n"), ==, 0);
        CHECK_INT(brm_store_node_set_schedule(s, "pi-1", "cordoned"), ==, 0);
        CHECK_INT(brm_store_node_set_labels(s, "ghost", "a=b\n"), ==, -ENOENT);
        CHECK_INT(brm_store_node_set_schedule(s, "ghost", "draining"), ==, -ENOENT);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        CHECK_INT(brm_store_node_set_labels(s, "pi-1", big), ==, -E2BIG);
}

static int collect_services(void *arg, const struct brm_service_rec *rec)
{
        struct brm_service_rec *out = arg;
        size_t i = 0;

        while (out[i].name[0])
                i++;
        CHECK_INT(i, <, 3);
        out[i] = *rec;
        /* The buffers live only for the call: keep their first byte. */
        out[i].spec_len = rec->spec_len ? rec->spec[0] : 0;
        out[i].prev_len = rec->prev ? rec->prev[0] : 0;
        out[i].spec = out[i].prev = NULL;
        return 0;
}

/* Services: created, replaced whole (with the previous spec and its
 * version), listed by name, removed; all kept by a reopen. */
static void services(struct brm_store *s)
{
        struct brm_service_rec web = { .name = "web", .spec = (const uint8_t *)"S1", .spec_len = 2, .version = 1,
                                       .created_ms = 10, .updated_ms = 10 };
        struct brm_service_rec db = { .name = "db", .spec = (const uint8_t *)"D", .spec_len = 1, .version = 1 };

        CHECK_INT(brm_store_service_put(s, &web), ==, 0);
        CHECK_INT(brm_store_service_put(s, &db), ==, 0);
        web.prev = web.spec;
        web.prev_len = 2;
        web.spec = (const uint8_t *)"T2";
        web.version = 2;
        web.prev_version = 1;
        web.updated_ms = 20;
        snprintf(web.update_state, sizeof(web.update_state), "updating");
        snprintf(web.update_reason, sizeof(web.update_reason), "because");
        CHECK_INT(brm_store_service_put(s, &web), ==, 0);
        CHECK_INT(brm_store_service_remove(s, "nope"), ==, -ENOENT);
}

static void services_survived(struct brm_store *s)
{
        struct brm_service_rec got[4];
        struct brm_node_rec n;

        memset(got, 0, sizeof(got));
        CHECK_INT(brm_store_service_list(s, collect_services, got), ==, 0);
        CHECK_STR(got[0].name, "db");
        CHECK_STR(got[1].name, "web");
        CHECK_INT(got[2].name[0], ==, 0);
        CHECK_U64(got[1].spec_len, ==, 'T');
        CHECK_U64(got[1].prev_len, ==, 'S');
        CHECK_U64(got[0].prev_len, ==, 0);
        CHECK_U64(got[1].version, ==, 2);
        CHECK_U64(got[1].prev_version, ==, 1);
        CHECK_STR(got[1].update_state, "updating");
        CHECK_STR(got[1].update_reason, "because");
        CHECK_INT(got[1].created_ms, ==, 10);
        CHECK_INT(got[1].updated_ms, ==, 20);
        CHECK_INT(brm_store_service_remove(s, "db"), ==, 0);
        memset(got, 0, sizeof(got));
        CHECK_INT(brm_store_service_list(s, collect_services, got), ==, 0);
        CHECK_STR(got[0].name, "web");
        CHECK_INT(got[1].name[0], ==, 0);
        CHECK_INT(brm_store_node_get(s, "pi-1", &n), ==, 0);
        CHECK_STR(n.labels, "zone=a\nrack=3\n");
        CHECK_STR(n.schedule, "cordoned");
        CHECK_INT(brm_store_node_get(s, "pi-2", &n), ==, 0);
        CHECK_STR(n.labels, "");
        CHECK_STR(n.schedule, "");
}

/* Unique per node, only on known nodes, gone with their node. */
static void containers(struct brm_store *s)
{
        uint8_t *spec = (uint8_t *)"untouched";
        size_t len = 12345;
        int count = 0;

        CHECK_INT(brm_store_container_add(s, "pi-1", "web", (const uint8_t *)"A", 1), ==, 0);
        CHECK_INT(brm_store_container_add(s, "pi-1", "web", (const uint8_t *)"B", 1), ==, -EEXIST);
        CHECK_INT(brm_store_container_add(s, "pi-2", "web", (const uint8_t *)"C", 1), ==, 0);
        CHECK_INT(brm_store_container_add(s, "ghost", "web", (const uint8_t *)"D", 1), ==, -ENOENT);
        CHECK_INT(brm_store_container_update(s, "pi-1", "web", (const uint8_t *)"EE", 2), ==, 0);
        CHECK_INT(brm_store_container_update(s, "pi-1", "nope", (const uint8_t *)"EE", 2), ==, -ENOENT);
        /* One container, without walking the node's others. */
        CHECK_INT(brm_store_container_get(s, "pi-1", "nope", &spec, &len), ==, -ENOENT);
        CHECK_INT(brm_store_container_get(s, "ghost", "web", &spec, &len), ==, -ENOENT);
        CHECK_STR((const char *)spec, "untouched");
        CHECK_U64(len, ==, 12345);
        CHECK_INT(brm_store_container_get(s, "pi-1", "web", &spec, &len), ==, 0);
        CHECK_U64(len, ==, 2);
        CHECK(memcmp(spec, "EE", 2) == 0);
        free(spec);
        CHECK_INT(brm_store_container_get(s, "pi-2", "web", &spec, &len), ==, 0);
        CHECK_U64(len, ==, 1);
        CHECK(spec[0] == 'C');
        free(spec);
        CHECK_INT(brm_store_container_list(s, NULL, count_containers, &count), ==, 0);
        CHECK_INT(count, ==, 2);
        count = 0;
        CHECK_INT(brm_store_container_list(s, "pi-1", count_containers, &count), ==, 0);
        CHECK_INT(count, ==, 1);
        CHECK_INT(brm_store_node_remove(s, "pi-1"), ==, 0);
        CHECK_INT(brm_store_node_remove(s, "pi-1"), ==, -ENOENT);
        count = 0;
        CHECK_INT(brm_store_container_list(s, NULL, count_containers, &count), ==, 0);
        CHECK_INT(count, ==, 1);
        CHECK_INT(brm_store_container_get(s, "pi-1", "web", &spec, &len), ==, -ENOENT);
        CHECK_INT(brm_store_container_remove(s, "pi-2", "web"), ==, 0);
        CHECK_INT(brm_store_container_remove(s, "pi-2", "web"), ==, -ENOENT);
}

/* verify tells sound, absent, empty and damaged state apart without
 * changing it; a snapshot is a sound copy that opens with everything in
 * it; a damaged store is refused as damaged, not as a plain I/O error. */
static void snapshots(const struct backend *b, const char *dir)
{
        char snap[256], detail[512], cmd[300];
        struct brm_store *s = NULL, *copy = NULL;
        struct brm_node_rec n;
        char hash[65];
        int count = 0;

        snprintf(snap, sizeof(snap), "%s/snap", dir);
        CHECK_INT(mkdir(snap, 0700), ==, 0);
        CHECK_INT(brm_store_verify(b->ops, snap, detail, sizeof(detail)), ==, -ENOENT);
        CHECK_INT(brm_store_verify(b->ops, dir, detail, sizeof(detail)), ==, 0);
        CHECK_INT(brm_store_open(b->ops, dir, &s), ==, 0);
        CHECK_INT(brm_store_snapshot(s, snap), ==, 0);
        /* Written after the snapshot: not in it. */
        n = node("pi-after", 'f');
        brm_token_hash_secret("secret-b", hash);
        CHECK_INT(brm_store_join(s, "bbbbbb", hash, 4000, &n), ==, 0);
        brm_store_close(s);
        CHECK_INT(brm_store_verify(b->ops, snap, detail, sizeof(detail)), ==, 0);
        CHECK_INT(brm_store_open(b->ops, snap, &copy), ==, 0);
        CHECK_INT(brm_store_node_list(copy, count_nodes, &count), ==, 0);
        CHECK_INT(brm_store_node_get(copy, "pi-after", &n), ==, -ENOENT);
        CHECK_INT(count, >=, 1);
        brm_store_close(copy);

        b->damage(snap);
        CHECK_INT(brm_store_verify(b->ops, snap, detail, sizeof(detail)), ==, BRM_STORE_DAMAGED);
        CHECK(detail[0] != '\0');
        fprintf(stderr, "store[%s]: damaged: %s\n", b->ops->name, detail);
        copy = NULL;
        {
                int r = brm_store_open(b->ops, snap, &copy);
                if (r == 0) {
                        /* Opening may not touch a damaged page; reading must. */
                        r = brm_store_node_list(copy, count_nodes, &count);
                        brm_store_close(copy);
                }
                CHECK_INT(r, ==, BRM_STORE_DAMAGED);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", snap);
        CHECK_INT(system(cmd), ==, 0);
}

static void run(const struct backend *b)
{
        char dir[] = "/tmp/brm-store-XXXXXX", cmd[64], detail[256];
        struct brm_store *s = NULL;

        fprintf(stderr, "store[%s]: checking\n", b->ops->name);
        CHECK(mkdtemp(dir) != NULL);
        CHECK_INT(brm_store_verify(b->ops, dir, detail, sizeof(detail)), ==, -ENOENT);
        CHECK_INT(brm_store_open(b->ops, dir, &s), ==, 0);
        tokens(s);
        joins(s);
        node_updates(s);
        node_scheduling(s);
        services(s);
        brm_store_close(s);

        CHECK_INT(brm_store_open(b->ops, dir, &s), ==, 0);
        survived(s);
        services_survived(s);
        containers(s);
        brm_store_close(s);
        snapshots(b, dir);

        if (b->from_newer_master) {
                struct brm_store *untouched = NULL;
                b->from_newer_master(dir);
                CHECK_INT(brm_store_open(b->ops, dir, &untouched), ==, -EPROTONOSUPPORT);
                CHECK(untouched == NULL);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INT(system(cmd), ==, 0);
        printf("store[%s]: ok\n", b->ops->name);
}

/* A database of schema 2 (before services) is migrated in place: its nodes
 * and containers stay, and the new columns and table start empty. */
static void sqlite_migrates_v2(void)
{
        char dir[] = "/tmp/brm-store-XXXXXX", path[128], cmd[64];
        struct brm_store *s = NULL;
        struct brm_node_rec n;
        struct brm_service_rec got[4];
        uint8_t *spec;
        size_t len;
        sqlite3 *db;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/bramble.db", dir);
        CHECK_INT(sqlite3_open(path, &db), ==, SQLITE_OK);
        CHECK_INT(sqlite3_exec(db,
                               "CREATE TABLE tokens (id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
                               " expires_ms INTEGER NOT NULL, uses_max INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0,"
                               " revoked INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL DEFAULT '');"
                               "CREATE TABLE nodes (name TEXT PRIMARY KEY, pubkey_hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
                               " last_seen_ms INTEGER NOT NULL DEFAULT 0, cert_not_after_ms INTEGER NOT NULL DEFAULT 0,"
                               " info BLOB, joined_with TEXT);"
                               "CREATE TABLE containers (node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,"
                               " name TEXT NOT NULL, spec BLOB NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(node, name));"
                               "INSERT INTO nodes(name,pubkey_hash,created_ms) VALUES('pi-old','h',1);"
                               "INSERT INTO containers VALUES('pi-old','web',X'41',2);"
                               "PRAGMA user_version=2;",
                               NULL, NULL, NULL),
                  ==, SQLITE_OK);
        sqlite3_close(db);
        CHECK_INT(brm_store_open(&brm_store_sqlite, dir, &s), ==, 0);
        CHECK_INT(brm_store_node_get(s, "pi-old", &n), ==, 0);
        CHECK_STR(n.labels, "");
        CHECK_STR(n.schedule, "");
        CHECK_INT(brm_store_container_get(s, "pi-old", "web", &spec, &len), ==, 0);
        CHECK_U64(len, ==, 1);
        free(spec);
        memset(got, 0, sizeof(got));
        CHECK_INT(brm_store_service_list(s, collect_services, got), ==, 0);
        CHECK_INT(got[0].name[0], ==, 0);
        CHECK_INT(brm_store_node_set_labels(s, "pi-old", "a=b\n"), ==, 0);
        brm_store_close(s);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INT(system(cmd), ==, 0);
        printf("store[sqlite]: schema 2 migrated\n");
}

int main(void)
{
        sqlite_migrates_v2();
        for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
                run(&backends[i]);
        return 0;
}
