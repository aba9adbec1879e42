/* bramble nodes / node rm / label / cordon / uncordon / drain. Each returns a process exit code (common.h). */
#ifndef BRM_CLI_NODES_H
#define BRM_CLI_NODES_H

#include <cjson/cJSON.h>

#include "bramble.pb-c.h"

struct brm_cli;

/* bramble nodes: every node with its state and last heartbeat. */
int brm_cli_nodes(struct brm_cli *c, int argc, char **argv);
/* bramble node rm NAME (argv[0] "rm", argv[1] NAME): forgets the node, so
 * its certificate stops working. */
int brm_cli_node_rm(struct brm_cli *c, int argc, char **argv);

/* bramble node label NODE KEY=VALUE... KEY-...: sets and removes labels. */
int brm_cli_node_label(struct brm_cli *c, int argc, char **argv);
/* bramble node cordon|uncordon NODE (argv[0] says which). */
int brm_cli_node_schedule(struct brm_cli *c, int argc, char **argv);
/* bramble node drain NODE [--timeout D]: cordons the node and moves its
 * replicas away, polling service_list every 500 ms and printing each
 * change, until no replica is on it (0) or the timeout (EXIT_FAIL). */
int brm_cli_node_drain(struct brm_cli *c, int argc, char **argv);

#endif
