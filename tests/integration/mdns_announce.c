/* brm_mdns_announce INSTANCE PORT CA: publishes INSTANCE._bramble._tcp.local
 * with the addresses of this network namespace's multicast interfaces, as
 * a master would, but with whatever CA prefix it is given, until SIGTERM.
 * The discovery test uses it for a rogue that claims the real cluster's
 * CA in its announcement, which the agent's TLS pin must still refuse. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "mdns.h"

static struct brm_mdns *m;
static uv_signal_t sig;

static void on_signal(uv_signal_t *s, int signum)
{
        (void)signum;
        brm_mdns_close(m);
        uv_close((uv_handle_t *)s, NULL);
}

int main(int argc, char **argv)
{
        struct in_addr ifs[BRM_MDNS_MAX_IFS];
        uv_loop_t *loop = uv_default_loop();
        int n, r;

        if (argc != 4) {
                fprintf(stderr, "usage: brm_mdns_announce INSTANCE PORT CA16\n");
                return 2;
        }
        if ((n = brm_mdns_interfaces(NULL, ifs, BRM_MDNS_MAX_IFS)) <= 0) {
                fprintf(stderr, "brm_mdns_announce: no multicast interface\n");
                return 1;
        }
        if ((r = brm_mdns_open(loop, ifs, (size_t)n, &m)) < 0 ||
            (r = brm_mdns_publish(m, argv[1], (uint16_t)atoi(argv[2]), ifs, (size_t)n, argv[3])) < 0) {
                fprintf(stderr, "brm_mdns_announce: %s\n", uv_strerror(r));
                return 1;
        }
        uv_signal_init(loop, &sig);
        uv_signal_start(&sig, on_signal, SIGTERM);
        fprintf(stderr, "brm_mdns_announce: announcing %s on port %s with ca=%s\n", argv[1], argv[2], argv[3]);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
        return 0;
}
