/* bramble-browse: asks the LAN for _bramble._tcp.local (DNS-SD over
 * multicast DNS) and prints what answered, one line per address:
 *
 *     master INSTANCE IP PORT CA
 *
 * CA is the first 16 hex digits of the announced CA hash ("-" if none).
 * The agent runs it when it looks for its master (agent/discover.c): the
 * agent itself is linked statically, and libmdnsd exists only as a shared
 * library, so the browse runs in this short-lived helper and the idle
 * agent carries none of it. Exits 0 after WAIT ms, or 400 ms after the
 * first complete answer (answers from every master on the LAN come
 * within a few ms of each other); 1 when no socket could be opened. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "mdns.h"
#include "util.h"

#define SETTLE_MS 400

struct browse {
        struct brm_mdns *m;
        uv_timer_t deadline, settle;
        bool settling;
};

static void finish(struct browse *b)
{
        struct brm_mdns_found f[BRM_MDNS_MAX_ADDRS];
        size_t n = brm_mdns_results(b->m, f, BRM_MDNS_MAX_ADDRS);

        for (size_t i = 0; i < n; i++)
                printf("master %s %s %u %s\n", f[i].instance, f[i].ip, f[i].port, f[i].ca[0] ? f[i].ca : "-");
        fflush(stdout);
        brm_mdns_close(b->m);
        uv_close((uv_handle_t *)&b->deadline, NULL);
        uv_close((uv_handle_t *)&b->settle, NULL);
}

static void on_deadline(uv_timer_t *t)
{
        finish(t->data);
}

static void on_update(void *arg)
{
        struct browse *b = arg;
        struct brm_mdns_found f[1];

        if (!b->settling && brm_mdns_results(b->m, f, 1) > 0) {
                b->settling = true;
                uv_timer_start(&b->settle, on_deadline, SETTLE_MS, 0);
        }
}

int main(int argc, char **argv)
{
        struct in_addr ifs[BRM_MDNS_MAX_IFS];
        struct browse b = { 0 };
        uint64_t wait_ms = 3000;
        uv_loop_t *loop = uv_default_loop();
        int n, r;

        if (argc > 2 || (argc == 2 && brm_parse_u64(argv[1], 100, 60000, &wait_ms) < 0)) {
                fprintf(stderr, "usage: bramble-browse [WAIT_MS]   (100 to 60000, default 3000)\n");
                return 2;
        }
        if ((n = brm_mdns_interfaces(NULL, ifs, BRM_MDNS_MAX_IFS)) <= 0) {
                fprintf(stderr, "bramble-browse: no multicast-capable network interface is up\n");
                return 1;
        }
        if ((r = brm_mdns_open(loop, ifs, (size_t)n, &b.m)) < 0) {
                fprintf(stderr, "bramble-browse: cannot open UDP port 5353: %s\n", uv_strerror(r));
                uv_run(loop, UV_RUN_DEFAULT);
                return 1;
        }
        uv_timer_init(loop, &b.deadline);
        uv_timer_init(loop, &b.settle);
        b.deadline.data = b.settle.data = &b;
        uv_timer_start(&b.deadline, on_deadline, wait_ms, 0);
        brm_mdns_browse(b.m, on_update, &b);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
        return 0;
}
