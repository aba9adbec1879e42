/* Whether flash may overwrite a target: a card, a loop device, or a file. */
#ifndef BRM_CLI_TARGET_H
#define BRM_CLI_TARGET_H

#include <stddef.h>
#include <sys/stat.h>

/* target is the stat of a block device or of an existing regular file.
 * Returns 0 when nothing on this system uses it, else -EBUSY with why
 * saying what does: it is mounted, or a partition of it is (also through a
 * loop device over it), it backs /, it is swap, or device-mapper or RAID
 * holds it. Opening a block device with O_EXCL stays the last guard. */
int brm_target_check(const struct stat *target, char *why, size_t why_size);

#endif
