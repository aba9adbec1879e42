/* Drives the master's registry client (master/regpull.c) on its own
 * libuv loop, for registry_pull.sh and regpull_bench.sh, until the master
 * wires it to a command:
 *
 *   regpull_driver DATA_DIR REF [--platform P]... [--certs-dir D]
 *                  [--user U --password P] [--insecure] [--stall S]
 *                  [--connect S] [--cancel-after BYTES] [--tick-ms MS]
 *
 * Prints "progress DIGEST DONE TOTAL" lines, then "ok NAME DIGEST
 * MEDIATYPE SIZE" (and tags the image in the store) or "error ERRNO WHY";
 * exits 0 or 1. A timer checks every --tick-ms (default 50) that the loop
 * is never blocked for long: the longest gap between ticks is printed as
 * "loop_max_gap_ms N". */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "imagestore.h"
#include "regpull.h"

static struct brm_imagestore store;
static struct brm_regpull *pull;
static uv_timer_t tick;
static uint64_t last_tick, max_gap, cancel_after, last_printed;
static int exit_code = 1;
static bool cancelled;

static void on_tick(uv_timer_t *t)
{
        uint64_t now = uv_now(t->loop);

        if (last_tick && now - last_tick > max_gap)
                max_gap = now - last_tick;
        last_tick = now;
}

static void on_progress(void *arg, const char *digest, uint64_t done, uint64_t total)
{
        /* One line per blob and per 8 MiB, so a log stays readable. */
        if (done == total || done - last_printed >= (8u << 20) || done < last_printed) {
                printf("progress %s %" PRIu64 " %" PRIu64 "\n", digest, done, total);
                fflush(stdout);
                last_printed = done;
        }
        if (cancel_after && done >= cancel_after && !cancelled) {
                cancelled = true;
                printf("cancelling at %" PRIu64 "\n", done);
                brm_regpull_cancel(pull);
        }
}

static void on_done(void *arg, int status, const char *why, const char *name, const struct brm_oci_desc *top)
{
        char twhy[256];
        int r;

        pull = NULL;
        uv_close((uv_handle_t *)&tick, NULL);
        printf("loop_max_gap_ms %" PRIu64 "\n", max_gap);
        if (status < 0) {
                printf("error %d %s\n", -status, why);
                return;
        }
        if ((r = brm_imagestore_tag(&store, name, top, twhy, sizeof(twhy))) < 0) {
                printf("error %d tagging %s: %s\n", -r, name, twhy);
                return;
        }
        printf("ok %s %s %s %" PRIu64 "\n", name, top->digest, top->media_type, top->size);
        exit_code = 0;
}

int main(int argc, char **argv)
{
        const char *platforms[8];
        struct brm_regpull_opts o = { 0 };
        unsigned tick_ms = 50;
        char why[512];
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s DATA_DIR REF [options]\n", argv[0]);
                return 2;
        }
        o.ref = argv[2];
        o.platforms = platforms;
        for (int i = 3; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!strcmp(a, "--insecure")) {
                        o.insecure_http = true;
                        continue;
                }
                if (!v) {
                        fprintf(stderr, "%s needs a value\n", a);
                        return 2;
                }
                i++;
                if (!strcmp(a, "--platform") && o.n_platforms < 8)
                        platforms[o.n_platforms++] = v;
                else if (!strcmp(a, "--certs-dir"))
                        o.certs_dir = v;
                else if (!strcmp(a, "--user"))
                        o.username = v;
                else if (!strcmp(a, "--password"))
                        o.password = v;
                else if (!strcmp(a, "--stall"))
                        o.stall_timeout_s = (unsigned)atoi(v);
                else if (!strcmp(a, "--connect"))
                        o.connect_timeout_s = (unsigned)atoi(v);
                else if (!strcmp(a, "--cancel-after"))
                        cancel_after = strtoull(v, NULL, 10);
                else if (!strcmp(a, "--tick-ms"))
                        tick_ms = (unsigned)atoi(v);
                else {
                        fprintf(stderr, "unknown option %s\n", a);
                        return 2;
                }
        }
        if ((r = brm_imagestore_open(&store, argv[1], why, sizeof(why))) < 0) {
                printf("error %d image store: %s\n", -r, why);
                return 1;
        }
        uv_loop_t *loop = uv_default_loop();
        uv_timer_init(loop, &tick);
        uv_timer_start(&tick, on_tick, tick_ms, tick_ms);
        if ((r = brm_regpull_start(loop, &store, &o, on_progress, on_done, NULL, &pull, why, sizeof(why))) < 0) {
                printf("error %d %s\n", -r, why);
                uv_close((uv_handle_t *)&tick, NULL);
                uv_run(loop, UV_RUN_DEFAULT);
                uv_loop_close(loop);
                return 1;
        }
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
        return exit_code;
}
