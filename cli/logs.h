/* bramble logs. Returns a process exit code (common.h). */
#ifndef BRM_CLI_LOGS_H
#define BRM_CLI_LOGS_H

struct brm_cli;

/* bramble logs [-f] [--tail N] [--since T] [-t] [--stdout|--stderr]
 *              NODE/NAME | NODE --agent|--kernel
 * (argv[0] "logs"): prints the lines until the stream ends, or with -f
 * until it is stopped. */
int brm_cli_logs(struct brm_cli *c, int argc, char **argv);

#endif
