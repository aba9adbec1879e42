/* How long a snapshot of the master's state takes: a store with N nodes
 * (each with a reported NodeInfo and two containers, as a busy cluster
 * has) in a temporary data dir, then brm_snapshot_take R times (the copy,
 * its integrity check, the CA files, every fsync, the rename and pruning).
 * Prints the figures; asserts nothing about time.
 *
 *     snapshot_bench [NODES [RUNS [DIR]]]    (defaults 100, 10, a dir in /tmp)
 *
 * DIR lets it run on the file system that matters (an SD card). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "snapshot.h"
#include "store.h"
#include "util.h"

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int die(const char *what, int r)
{
        fprintf(stderr, "snapshot_bench: %s: %s\n", what, strerror(-r));
        return 1;
}

int main(int argc, char **argv)
{
        unsigned nodes = argc > 1 ? (unsigned)atoi(argv[1]) : 100, runs = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
        char tmpl[] = "/tmp/brm-snapbench-XXXXXX", path[4200], name[BRM_SNAPSHOT_NAME_LEN + 1], detail[600], cmd[4300];
        const char *dir = argc > 3 ? argv[3] : NULL;
        struct brm_token_rec tok = { 0 };
        struct brm_store *s;
        uint64_t *ms;
        uint8_t blob[600];
        struct stat st;
        int r;

        if (nodes < 1 || runs < 1 || !(ms = calloc(runs, sizeof(*ms)))) {
                fprintf(stderr, "usage: snapshot_bench [NODES [RUNS [DIR]]] (NODES, RUNS >= 1)\n");
                return 2;
        }
        if (!dir && !(dir = mkdtemp(tmpl)))
                return die("mkdtemp", -errno);
        if ((r = brm_store_open(&brm_store_sqlite, dir, &s)) < 0)
                return die("opening the store", r);
        snprintf(tok.id, sizeof(tok.id), "bench1");
        memset(tok.secret_hash, 'a', 64);
        if ((r = brm_store_token_add(s, &tok)) < 0 && r != -EEXIST)
                return die("adding a token", r);
        for (size_t i = 0; i < sizeof(blob); i++)
                blob[i] = (uint8_t)(i * 37);
        for (unsigned i = 0; i < nodes; i++) {
                struct brm_node_rec n = { 0 };
                char cname[32];
                snprintf(n.name, sizeof(n.name), "pi-%04u", i);
                snprintf(n.pubkey_hash, sizeof(n.pubkey_hash), "%064u", i);
                n.created_ms = n.cert_not_after_ms = brm_now_ms();
                if ((r = brm_store_join(s, "bench1", tok.secret_hash, 0, &n)) < 0)
                        return die("adding a node", r);
                brm_store_node_set_info(s, n.name, blob, sizeof(blob));
                for (int c = 0; c < 2; c++) {
                        snprintf(cname, sizeof(cname), "app-%d", c);
                        brm_store_container_add(s, n.name, cname, blob, 300);
                }
        }
        /* Stand-ins for the CA files, the sizes the master writes. */
        memset(cmd, 'k', 1700);
        snprintf(path, sizeof(path), "%s/ca.key", dir);
        brm_file_write_atomic(path, cmd, 227, 0600);
        snprintf(path, sizeof(path), "%s/ca.crt", dir);
        brm_file_write_atomic(path, cmd, 635, 0644);
        snprintf(path, sizeof(path), "%s/admin.json", dir);
        brm_file_write_atomic(path, cmd, 1642, 0600);
        for (unsigned i = 0; i < runs; i++) {
                uint64_t t0 = brm_mono_ms();
                r = brm_snapshot_take(s, dir, 3, name, detail, sizeof(detail));
                ms[i] = brm_mono_ms() - t0;
                if (r < 0 && r != -EEXIST)
                        return fprintf(stderr, "snapshot_bench: %s\n", detail), 1;
                /* Names are per second: the next one needs the next second. */
                if (i + 1 < runs)
                        sleep(1);
        }
        /* The copy's size: the live database keeps much of itself in its WAL. */
        snprintf(path, sizeof(path), "%s/snapshots/%s/bramble.db", dir, name);
        if (stat(path, &st) < 0)
                st.st_size = 0;
        qsort(ms, runs, sizeof(*ms), cmp_u64);
        printf("snapshot of %u nodes (a %lld KiB copy) in %s: min %llu ms, median %llu ms, max %llu ms over %u runs\n",
               nodes, (long long)st.st_size / 1024, dir, (unsigned long long)ms[0],
               (unsigned long long)ms[runs / 2], (unsigned long long)ms[runs - 1], runs);
        brm_store_close(s);
        free(ms);
        if (dir == tmpl) {
                snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
                if (system(cmd) != 0)
                        return 1;
        }
        return 0;
}
