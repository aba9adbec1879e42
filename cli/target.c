/* The checks that keep flash off a disk in use. They read what the kernel
 * publishes (/proc/self/mountinfo, /proc/swaps, sysfs) and compare whole
 * disks, so a mounted partition protects its disk. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include "target.h"

/* The sysfs directory of the whole disk holding device number dev
 * (a partition's parent), or "" when it has none. */
static void disk_of(dev_t dev, char *out, size_t size)
{
        char link[64], real[PATH_MAX], part[PATH_MAX + 16];
        struct stat st;

        out[0] = '\0';
        snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
        if (!realpath(link, real))
                return;
        snprintf(part, sizeof(part), "%s/partition", real);
        if (stat(part, &st) == 0) {
                char *slash = strrchr(real, '/');
                if (slash)
                        *slash = '\0';
        }
        snprintf(out, size, "%s", real);
}

/* The mountinfo "source" field decoded enough for a path (\040 etc.). */
static void unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

/* True when the loop device whose sysfs directory is disk is backed by
 * the target (a block device, or a regular file st). */
static bool loop_backed_by(const char *disk, const struct stat *target)
{
        char path[PATH_MAX + 32], backing[PATH_MAX];
        struct stat st;
        FILE *f;
        bool r = false;

        snprintf(path, sizeof(path), "%s/loop/backing_file", disk);
        if (!(f = fopen(path, "re")))
                return false;
        if (fgets(backing, sizeof(backing), f)) {
                backing[strcspn(backing, "\n")] = '\0';
                if (stat(backing, &st) == 0)
                        r = S_ISBLK(target->st_mode) ? S_ISBLK(st.st_mode) && st.st_rdev == target->st_rdev
                                                     : st.st_dev == target->st_dev && st.st_ino == target->st_ino;
        }
        fclose(f);
        return r;
}

int brm_target_check(const struct stat *target, char *why, size_t why_size)
{
        char disk[PATH_MAX], other[PATH_MAX], line[4096];
        bool blk = S_ISBLK(target->st_mode);
        FILE *f;
        DIR *d;
        struct dirent *de;

        disk[0] = '\0';
        if (blk)
                disk_of(target->st_rdev, disk, sizeof(disk));
        if ((f = fopen("/proc/self/mountinfo", "re"))) {
                while (fgets(line, sizeof(line), f)) {
                        unsigned maj, mi;
                        char mnt[1024], src[1024], *dash;
                        dev_t mdev = 0;

                        if (sscanf(line, "%*s %*s %u:%u %*s %1023s", &maj, &mi, mnt) != 3)
                                continue;
                        if (maj != 0)
                                mdev = makedev(maj, mi);
                        if ((dash = strstr(line, " - ")) && sscanf(dash + 3, "%*s %1023s", src) == 1 && src[0] == '/') {
                                struct stat st;
                                unescape(src);
                                if (mdev == 0 && stat(src, &st) == 0 && S_ISBLK(st.st_mode))
                                        mdev = st.st_rdev;
                        }
                        if (mdev == 0)
                                continue;
                        disk_of(mdev, other, sizeof(other));
                        if (!other[0])
                                continue;
                        unescape(mnt);
                        /* Mounted through a loop device over the target (e.g. mount -o offset=...). */
                        if (loop_backed_by(other, target)) {
                                fclose(f);
                                snprintf(why, why_size, "it is mounted through %.40s (on %.300s); unmount it first", strrchr(other, '/') + 1, mnt);
                                return -EBUSY;
                        }
                        if (!disk[0] || strcmp(other, disk) != 0)
                                continue;
                        fclose(f);
                        if (strcmp(mnt, "/") == 0)
                                snprintf(why, why_size, "it is the disk the system runs from (/ is mounted from it)");
                        else
                                snprintf(why, why_size, "it is mounted (on %.300s); unmount every partition of it first", mnt);
                        return -EBUSY;
                }
                fclose(f);
        }
        if (!disk[0])
                return 0; /* a regular file, or no sysfs: O_EXCL is the last guard */
        if ((f = fopen("/proc/swaps", "re"))) {
                while (fgets(line, sizeof(line), f)) {
                        char path[1024];
                        struct stat st;
                        if (sscanf(line, "%1023s", path) != 1 || path[0] != '/' || stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
                                continue;
                        disk_of(st.st_rdev, other, sizeof(other));
                        if (strcmp(other, disk) == 0) {
                                fclose(f);
                                snprintf(why, why_size, "it is in use as swap (%.300s)", path);
                                return -EBUSY;
                        }
                }
                fclose(f);
        }
        /* Held by device-mapper (LVM, LUKS) or RAID: the disk or a partition has holders. */
        if ((d = opendir(disk))) {
                while ((de = readdir(d))) {
                        char holders[PATH_MAX + 300];
                        DIR *h;
                        struct dirent *he;
                        if (strcmp(de->d_name, "holders") == 0)
                                snprintf(holders, sizeof(holders), "%s/holders", disk);
                        else if (de->d_name[0] != '.')
                                snprintf(holders, sizeof(holders), "%s/%s/holders", disk, de->d_name);
                        else
                                continue;
                        if (!(h = opendir(holders)))
                                continue;
                        while ((he = readdir(h))) {
                                if (he->d_name[0] == '.')
                                        continue;
                                snprintf(why, why_size, "it is in use by %s (device-mapper/RAID)", he->d_name);
                                closedir(h);
                                closedir(d);
                                return -EBUSY;
                        }
                        closedir(h);
                }
                closedir(d);
        }
        return 0;
}
