/* bramble nodes / node rm. Each returns a process exit code (common.h). */
#ifndef BRM_CLI_NODES_H
#define BRM_CLI_NODES_H

struct brm_cli;

/* bramble nodes: every node with its state and last heartbeat. */
int brm_cli_nodes(struct brm_cli *c, int argc, char **argv);
/* bramble node rm NAME (argv[0] "rm", argv[1] NAME): forgets the node, so
 * its certificate stops working. */
int brm_cli_node_rm(struct brm_cli *c, int argc, char **argv);

#endif
