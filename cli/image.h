/* bramble image configure: put the join settings (bramble.json) on the
 * boot partition of a Bramble SD-card image. It does not talk to the
 * master. Also the boot-partition helpers flash uses after writing a card. */
#ifndef BRM_CLI_IMAGE_H
#define BRM_CLI_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct brm_cli;
struct brm_bootcfg;

/* bramble image configure IMG --master HOST:PORT [--master ...] --token TOKEN
 *                         [--name-prefix P] [--name NAME]
 * argv[0] is "configure"; c is not used. Returns a process exit code
 * (common.h): 0 done, 1 failed, 2 bad arguments, after printing its own
 * one-line error. */
int brm_cli_image_configure(struct brm_cli *c, int argc, char **argv);

/* Offset and size in bytes of partition 1 (FAT) from the MBR of path (an
 * image file or a block device). Returns 0, or -errno with why filled. */
int brm_cli_image_boot_partition(const char *path, uint64_t *ret_off, uint64_t *ret_size, char *why, size_t why_size);

/* Writes bramble.json for cfg into the FAT partition of path with mtools,
 * and reads it back. Returns 0, or prints "bramble CMD: why" and returns
 * -errno. */
int brm_cli_image_write_bootcfg(const char *cmd, const char *path, const struct brm_bootcfg *cfg);

#endif
