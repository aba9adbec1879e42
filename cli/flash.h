/* bramble flash. */
#ifndef BRM_CLI_FLASH_H
#define BRM_CLI_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brm_cli;

/* bramble flash IMG TARGET [--master HOST:PORT ... --token TOKEN
 *                           [--name-prefix P] [--name NAME]] [--no-bmap]
 * Writes IMG to TARGET (a card, a loop device or a file), reads it back to
 * verify it, then writes bramble.json when join settings are given.
 * argv[0] is "flash"; c is not used. Returns a process exit code
 * (common.h): 0 done, 1 failed, 2 bad arguments, after printing its own
 * one-line error. */
int brm_cli_flash(struct brm_cli *c, int argc, char **argv);

/* Reads exactly len bytes at off: 0, -EIO at the end of the file, or
 * -errno. */
int brm_cli_read_full(int fd, uint8_t *buf, size_t len, uint64_t off);

/* Copies (fd_out >= 0) or only hashes the bytes [off, off+len) of fd_in
 * through buf (1 MiB), returning their SHA-256. With skip_zero, blocks of
 * zeros are not written. Returns 0, or -errno with why filled. */
int brm_cli_pass_range(int fd_in, int fd_out, bool skip_zero, uint8_t *buf, uint64_t off, uint64_t len, uint8_t sha[32],
                       char *why, size_t why_size);

#endif
