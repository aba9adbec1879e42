/* bramble run / ps / stop / start / rm. argv[0] is the command word; each
 * returns a process exit code (common.h). */
#ifndef BRM_CLI_CONTAINERS_H
#define BRM_CLI_CONTAINERS_H

struct brm_cli;

/* bramble run NODE NAME --image REF [options] [-- CMD ARGS...] */
int brm_cli_run(struct brm_cli *c, int argc, char **argv);
/* bramble ps [NODE] */
int brm_cli_ps(struct brm_cli *c, int argc, char **argv);
int brm_cli_inspect(struct brm_cli *c, int argc, char **argv);
/* bramble stop|start|rm NODE/NAME: argv[0] says which. */
int brm_cli_container_change(struct brm_cli *c, int argc, char **argv);

#endif
