/* An OS image's untrusted bytes as 'bramble node upgrade' reads them
 * (cli/osbundle.c): the first byte picks the reader. 0: a slot's
 * version.txt; 1: partition 2's squashfs superblock, the next 8 bytes the
 * partition's size. What parses is usable as it is: a version and an
 * architecture that pass their own checks, NUL-terminated fields; a size
 * within the partition and, unless cut by it, whole 4 KiB blocks. A
 * refusal is one line and leaves the output alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osbundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *why)
{
        if (!why[0] || strchr(why, '\n'))
                abort();
}

static void version(const uint8_t *data, size_t size)
{
        /* An exact-size copy, so ASan catches any read past the end. */
        char *buf = malloc(size ? size : 1), why[256] = "";
        struct brm_os_version v, before;

        if (!buf)
                return;
        memcpy(buf, data, size);
        memset(&v, 0xa5, sizeof(v));
        before = v;
        if (brm_osb_version_parse(buf, size, &v, why, sizeof(why)) < 0) {
                one_line(why);
                if (memcmp(&v, &before, sizeof(v)) != 0)
                        abort();
        } else if (!memchr(v.version, 0, sizeof(v.version)) || !memchr(v.arch, 0, sizeof(v.arch)) ||
                   !memchr(v.kernel, 0, sizeof(v.kernel)) || !memchr(v.build_time, 0, sizeof(v.build_time)) ||
                   !brm_osb_valid_version(v.version) || !brm_osb_valid_arch(v.arch)) {
                abort();
        }
        free(buf);
}

static void squashfs(const uint8_t *data, size_t size)
{
        uint64_t part = 0, got = 7;
        uint8_t *sb;
        char why[256] = "";

        if (size < 8)
                return;
        for (int i = 0; i < 8; i++)
                part = part << 8 | data[i];
        data += 8;
        size -= 8;
        if (!(sb = malloc(size ? size : 1)))
                return;
        memcpy(sb, data, size);
        if (brm_osb_squashfs_size(sb, size, part, &got, why, sizeof(why)) < 0) {
                one_line(why);
                if (got != 7)
                        abort();
        } else if (got == 0 || got > part || (got % BRM_OSB_ALIGN && got != part)) {
                abort();
        }
        free(sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        if (data[0] % 2 == 0)
                version(data + 1, size - 1);
        else
                squashfs(data + 1, size - 1);
        return 0;
}
