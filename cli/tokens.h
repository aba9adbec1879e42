/* bramble token create / list / revoke. argv[0] is the subcommand; each
 * returns a process exit code (common.h). */
#ifndef BRM_CLI_TOKENS_H
#define BRM_CLI_TOKENS_H

struct brm_cli;

/* bramble token create [--ttl D] [--uses N] [--description TEXT]: prints
 * the new token. */
int brm_cli_token_create(struct brm_cli *c, int argc, char **argv);
/* bramble token list */
int brm_cli_token_list(struct brm_cli *c, int argc, char **argv);
/* bramble token revoke ID (argv[1] ID) */
int brm_cli_token_revoke(struct brm_cli *c, int argc, char **argv);

#endif
