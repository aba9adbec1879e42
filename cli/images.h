/* bramble image load / ls / rm / prune: the cluster's images, kept by the
 * master; bramble registry login / ls / logout: where it pulls them from. */
#ifndef BRM_CLI_IMAGES_H
#define BRM_CLI_IMAGES_H

#include "common.h"

int brm_cli_image_pull(struct brm_cli *c, int argc, char **argv);
int brm_cli_image_load(struct brm_cli *c, int argc, char **argv);
int brm_cli_image_ls(struct brm_cli *c, int argc, char **argv);
int brm_cli_image_rm(struct brm_cli *c, int argc, char **argv);
int brm_cli_image_prune(struct brm_cli *c, int argc, char **argv);
/* registries.c */
int brm_cli_registry_login(struct brm_cli *c, int argc, char **argv);
int brm_cli_registry_ls(struct brm_cli *c, int argc, char **argv);
int brm_cli_registry_logout(struct brm_cli *c, int argc, char **argv);

#endif
