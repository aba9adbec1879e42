/* bramble flash. */
#ifndef BRM_CLI_FLASH_H
#define BRM_CLI_FLASH_H

struct brm_cli;

/* bramble flash IMG TARGET [--master HOST:PORT ... --token TOKEN
 *                           [--name-prefix P] [--name NAME]] [--no-bmap]
 * Writes IMG to TARGET (a card, a loop device or a file), reads it back to
 * verify it, then writes bramble.json when join settings are given.
 * argv[0] is "flash"; c is not used. Returns a process exit code
 * (common.h): 0 done, 1 failed, 2 bad arguments, after printing its own
 * one-line error. */
int brm_cli_flash(struct brm_cli *c, int argc, char **argv);

#endif
