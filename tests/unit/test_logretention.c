/* The log budget and retention sweep on a made-up log directory: expired
 * removed logs go whole, then the oldest files (removed containers' before
 * rotated ones) until the budget holds, never a file being written; and
 * when the file system is short of space (below twice the reserve), every
 * removed log whatever its retention, then rotated files. The loop only
 * closes the sweep's timers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <uv.h>

#include "check.h"
#include "logdir.h"
#include "logretention.h"
#include "util.h"

static char root[64];

/* A file of SIZE bytes below the root, AGE seconds old. */
static void file(const char *rel, size_t size, int age)
{
        char path[256], cmd[400];
        struct timeval tv[2];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname %s)\"", path);
        CHECK_INT(system(cmd), ==, 0);
        CHECK((f = fopen(path, "w")) != NULL);
        for (size_t i = 0; i < size; i++)
                fputc('x', f);
        fclose(f);
        gettimeofday(&tv[0], NULL);
        tv[0].tv_sec -= age;
        tv[1] = tv[0];
        CHECK_INT(utimes(path, tv), ==, 0);
}

static bool there(const char *rel)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        return access(path, F_OK) == 0;
}

int main(void)
{
        struct brm_logdir d;
        struct brm_logretention *r = NULL;
        uv_loop_t loop;
        char removed_old[64], removed_new[64];
        long long now = (long long)brm_now_ms();

        snprintf(root, sizeof(root), "/tmp/brm-logret.XXXXXX");
        CHECK(mkdtemp(root));
        CHECK_INT(brm_logdir_init(&d, root), ==, 0);
        CHECK_INT(brm_logdir_create(&d), ==, 0);
        /* A removed log past its hour of retention, and a fresh one. */
        snprintf(removed_old, sizeof(removed_old), "removed/old.%lld/log", now - 7200 * 1000LL);
        snprintf(removed_new, sizeof(removed_new), "removed/new.%lld/log", now - 1000);
        file(removed_old, 1000, 10);
        file(removed_new, 1000, 5);
        file("containers/web/log", 1000, 0);
        file("containers/web/log.1", 1000, 30);
        file("containers/web/log.2", 1000, 60);
        file("containers/web/notalog", 5000, 60);
        file("agent/log", 1000, 0);
        file("agent/log.1", 1000, 20);

        uv_loop_init(&loop);
        struct brm_logretention_opts o = { .loop = &loop, .dir = &d, .budget = 3500, .retention_ms = 3600 * 1000 };
        CHECK_INT(brm_logretention_open(&o, &r), ==, 0);
        /* 6000 bytes of logs once the expired one is gone: the fresh
         * removed log goes first, then the oldest rotated files. */
        brm_logretention_sweep(r);
        CHECK(!there(removed_old));
        snprintf(removed_old, sizeof(removed_old), "removed/old.%lld", now - 7200 * 1000LL);
        CHECK(!there(removed_old));
        CHECK(!there(removed_new));
        CHECK(!there("containers/web/log.2"));
        CHECK(!there("containers/web/log.1"));
        CHECK(there("agent/log.1"));
        CHECK(there("containers/web/log"));
        CHECK(there("agent/log"));
        CHECK(there("containers/web/notalog"));
        /* Only files being written left over the budget: they stay. */
        file("containers/db/log", 4000, 0);
        brm_logretention_sweep(r);
        CHECK(!there("agent/log.1"));
        CHECK(there("containers/db/log"));
        CHECK(there("containers/web/log"));
        CHECK(there("agent/log"));

        brm_logretention_close(r);
        brm_logretention_close(NULL);

        /* Short of space. Not short (a reserve of 1 byte): within the budget
         * and retention, nothing goes. */
        {
                struct brm_logretention *s1 = NULL, *s2 = NULL;
                struct statvfs sv;
                uint64_t avail;

                snprintf(removed_new, sizeof(removed_new), "removed/fresh.%lld/log", now - 1000);
                file(removed_new, 1000, 5);
                file("containers/web/log.1", 1000, 30);
                CHECK_INT(statvfs(root, &sv), ==, 0);
                avail = (uint64_t)sv.f_bavail * sv.f_frsize;
                struct brm_logretention_opts o2 = { .loop = &loop, .dir = &d, .budget = 1ull << 40,
                                                    .retention_ms = 3600 * 1000, .reserve = 1 };
                CHECK_INT(brm_logretention_open(&o2, &s1), ==, 0);
                brm_logretention_sweep(s1);
                CHECK(there(removed_new));
                CHECK(there("containers/web/log.1"));
                brm_logretention_close(s1);
                /* Short: what is free is under twice the reserve. */
                o2.reserve = avail / 2 + (1 << 20);
                CHECK_INT(brm_logretention_open(&o2, &s2), ==, 0);
                brm_logretention_sweep(s2);
                CHECK(!there(removed_new));
                snprintf(removed_new, sizeof(removed_new), "removed/fresh.%lld", now - 1000);
                CHECK(!there(removed_new));
                CHECK(!there("containers/web/log.1"));
                CHECK(there("containers/web/log"));
                CHECK(there("containers/db/log"));
                CHECK(there("agent/log"));
                brm_logretention_close(s2);
        }
        CHECK_INT(uv_run(&loop, UV_RUN_DEFAULT), ==, 0);
        CHECK_INT(uv_loop_close(&loop), ==, 0);
        {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
                CHECK_INT(system(cmd), ==, 0);
        }
        printf("logretention: ok\n");
        return 0;
}
