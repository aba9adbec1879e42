/* bramble service create / update / ls / ps / inspect / scale / rollback /
 * rm: N replicas of a container kept running across the cluster. Every
 * flag is checked here and the spec as a whole by the service contract
 * (lib/svcspec.h) before anything is sent. argv[0] is the subcommand word;
 * each returns a process exit code (common.h). */
#ifndef BRM_CLI_SERVICES_H
#define BRM_CLI_SERVICES_H

struct brm_cli;

/* The synopsis of the service flags (after the container ones). */
#define BRM_SVCFLAGS_SYNOPSIS                                                                                           \
        "      [--replicas N] [--constraint KEY=V|KEY!=V|KEY~S]... [--max-per-node N]\n"                               \
        "      [--update-parallelism N] [--update-monitor 10s] [--update-max-failures N]\n"                            \
        "      [--update-order start-first|stop-first] [--on-disconnect keep|stop-after D]"

/* service create NAME --image REF [flags] [-- CMD ARGS...] */
int brm_cli_service_create(struct brm_cli *c, int argc, char **argv);
/* service update NAME [flags] [--env-add K=V] [--env-rm K] [--no-health] [-- CMD ARGS...]:
 * reads the current spec, lays the flags given over it, sends it whole. */
int brm_cli_service_update(struct brm_cli *c, int argc, char **argv);
/* service ls */
int brm_cli_service_ls(struct brm_cli *c, int argc, char **argv);
/* service ps NAME, service inspect NAME (argv[0] says which) */
int brm_cli_service_show(struct brm_cli *c, int argc, char **argv);
/* service scale NAME N */
int brm_cli_service_scale(struct brm_cli *c, int argc, char **argv);
/* service rollback NAME, service rm NAME (argv[0] says which) */
int brm_cli_service_change(struct brm_cli *c, int argc, char **argv);

#endif
