/* Container supervision against a real OCI runtime and real cgroups.
 *
 *   supervise SCENARIO [IMAGE]
 *
 * The "agent" is a forked child that runs a libuv loop with the supervisor
 * (brm_supervisor_open / _apply) and writes a status snapshot every 100 ms;
 * the parent asserts on snapshots, on /proc and on the cgroup files, and
 * kills the agent with SIGKILL to test re-adoption. Every scenario ends by
 * applying an empty desired set and waiting until every container is gone.
 * Needs root, runc and usable cgroups; otherwise exits 77 saying why.
 *
 * Environment: BRM_SHIM (path of bramble-shim) or BRM_BIN (its directory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervise.h"

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: supervise oom|pids|cpu|readopt|desired|refuse|logs|confine|records|image IMAGE|bench-start [N]|"
                                "bench-memory [N]|bench-logs [SECONDS]\n");
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        sv_setup();
        if (strcmp(argv[1], "oom") == 0)
                scenario_oom();
        else if (strcmp(argv[1], "pids") == 0)
                scenario_pids();
        else if (strcmp(argv[1], "cpu") == 0)
                scenario_cpu();
        else if (strcmp(argv[1], "readopt") == 0)
                scenario_readopt();
        else if (strcmp(argv[1], "desired") == 0)
                scenario_desired();
        else if (strcmp(argv[1], "refuse") == 0)
                scenario_refuse();
        else if (strcmp(argv[1], "logs") == 0)
                scenario_logs();
        else if (strcmp(argv[1], "confine") == 0)
                scenario_confine();
        else if (strcmp(argv[1], "records") == 0)
                scenario_records();
        else if (strcmp(argv[1], "health_exec") == 0)
                scenario_health_exec();
        else if (strcmp(argv[1], "health_http") == 0)
                scenario_health_http();
        else if (strcmp(argv[1], "health_timeout") == 0)
                scenario_health_timeout();
        else if (strcmp(argv[1], "stopafter") == 0)
                scenario_stopafter();
        else if (strcmp(argv[1], "image") == 0 && argc == 3)
                scenario_image(argv[2]);
        else if (strcmp(argv[1], "bench-start") == 0)
                bench_start(argc > 2 ? atoi(argv[2]) : 10);
        else if (strcmp(argv[1], "bench-memory") == 0)
                bench_memory(argc > 2 ? atoi(argv[2]) : 20);
        else if (strcmp(argv[1], "bench-logs") == 0)
                bench_logs(argc > 2 ? atoi(argv[2]) : 5);
        else {
                fprintf(stderr, "supervise: unknown scenario %s\n", argv[1]);
                return 2;
        }
        printf("%s: passed\n", argv[1]);
        return 0;
}
