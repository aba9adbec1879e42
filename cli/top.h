/* bramble top. Returns a process exit code (common.h). */
#ifndef BRM_CLI_TOP_H
#define BRM_CLI_TOP_H

struct brm_cli;

/* bramble top [--sort cpu|mem|temp|name] [--interval D] [--once]: the
 * nodes and their figures, asked for again every interval on one
 * connection and drawn on the terminal until q or Ctrl-C (keys c, m, t, n
 * change the order). When stdout is not a terminal, with --once or with
 * -o json, one frame (or the JSON of 'bramble nodes', sorted) and exit. */
int brm_cli_top(struct brm_cli *c, int argc, char **argv);

#endif
