/* bramble apply -f FILE [--prune] [--dry-run]: the services a file
 * describes (cli/applyfile.h), checked whole before one ApplyRequest goes
 * to the master; prints the changes it made, or with --dry-run would make. */
#ifndef BRM_CLI_APPLY_H
#define BRM_CLI_APPLY_H

struct brm_cli;

int brm_cli_apply(struct brm_cli *c, int argc, char **argv);

#endif
