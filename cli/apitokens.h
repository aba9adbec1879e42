/* bramble api-token create / ls / revoke, bramble dashboard. */
#ifndef BRM_CLI_APITOKENS_H
#define BRM_CLI_APITOKENS_H

struct brm_cli;

int brm_cli_api_token_create(struct brm_cli *c, int argc, char **argv);
int brm_cli_api_token_list(struct brm_cli *c, int argc, char **argv);
int brm_cli_api_token_revoke(struct brm_cli *c, int argc, char **argv);
int brm_cli_dashboard(struct brm_cli *c, int argc, char **argv);

#endif
