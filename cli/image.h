/* bramble image configure / bramble flash: put the join settings
 * (bramble.json) on the boot partition of a Bramble SD-card image, and write
 * an image to a card. Neither talks to the master.
 *
 * Both take the arguments after the command word, with argv[0] being the
 * subcommand ("configure" for 'bramble image configure', "flash" for
 * 'bramble flash'), and return a process exit code (common.h): 0 done,
 * 1 failed, 2 bad arguments. They print their own one-line errors and
 * ignore c. */
#ifndef BRM_CLI_IMAGE_H
#define BRM_CLI_IMAGE_H

struct brm_cli;

/* bramble image configure IMG --master HOST:PORT [--master ...] --token TOKEN
 *                         [--name-prefix P] [--name NAME] */
int brm_cli_image_configure(struct brm_cli *c, int argc, char **argv);

/* bramble flash IMG TARGET [--master HOST:PORT ... --token TOKEN
 *                           [--name-prefix P] [--name NAME]] [--no-bmap] */
int brm_cli_flash(struct brm_cli *c, int argc, char **argv);

#endif
