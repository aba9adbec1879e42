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

/* Offset, size in bytes and type of MBR partition N (1-4) of a sector
 * size SS. Returns 0, -ENOENT when the entry is empty, -EINVAL when there
 * is no MBR or N is not 1-4. Pure. */
int brm_mbr_partition(const uint8_t mbr[512], int n, unsigned ss, uint64_t *ret_off, uint64_t *ret_size, uint8_t *ret_type);

/* Offset and size in bytes of partition N (1-4; 1 must be FAT) of path.
 * Returns 0, or -errno with why filled. */
int brm_cli_image_partition(const char *path, int n, uint64_t *ret_off, uint64_t *ret_size, char *why, size_t why_size);

/* Runs an mtools command (argv[0] "mcopy", "mtype", ...); out (may be
 * NULL) receives its stdout, errfile its stderr (mtools warns about the
 * geometry of block devices even when all is well, so it is shown only on
 * failure). Returns 0, -ENOENT when the tool is missing, -EIO when it
 * failed. */
int brm_cli_mtools_run(char *const argv[], const char *errfile, char *out, size_t out_size, size_t *ret_len);

/* The first line of the file path into buf, "(no message)" without one. */
const char *brm_cli_first_line(const char *path, char *buf, size_t size);

/* Writes bramble.json for cfg into the FAT partition of path with mtools,
 * and reads it back. Returns 0, or prints "bramble CMD: why" and returns
 * -errno. */
int brm_cli_image_write_bootcfg(const char *cmd, const char *path, const struct brm_bootcfg *cfg);

#endif
