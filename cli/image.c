/* bramble image configure / bramble flash.
 *
 * The boot partition is FAT32; bramble.json is written into it with mtools
 * (mcopy -i FILE@@OFFSET), which needs no root and works the same on an image
 * file, a loop device and a card. Partition 1's offset comes from the MBR.
 *
 * Flashing copies only the blocks the image's block map (IMG.bmap, written
 * by bmaptool at build time) lists, checks each range against the map's
 * SHA-256 while reading, reads the target back after a flush to verify it,
 * and only then writes the configuration. It refuses a target that is
 * mounted (or has a mounted partition), backs the running system, is used
 * as swap or is held by device-mapper/RAID. */
#include "image.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/fs.h>

#include <cjson/cJSON.h>
#include <mbedtls/md.h>

#include "err.h"
#include "fileio.h"
#include "token.h"
#include "util.h"

#include "common.h"

extern char **environ;

#define MAX_MASTERS 8
#define BUF_SIZE (1u << 20)
#define MAX_RANGES 65536

struct join_opts {
        const char *masters[MAX_MASTERS];
        int nmasters;
        const char *token;
        const char *prefix;
        const char *name;
};

/* Takes one option of the join settings at argv[*i]; 1 when it was one,
 * 0 when it is not a join option, -1 (message printed) on a bad value. */
static int take_join_opt(const char *cmd, int argc, char **argv, int *i, struct join_opts *o)
{
        static const char *names[] = { "--master", "--token", "--name-prefix", "--name" };
        const char *a = argv[*i], *val = NULL;
        size_t k, n;

        for (k = 0; k < BRM_ARRAY_SIZE(names); k++) {
                n = strlen(names[k]);
                if (strcmp(a, names[k]) == 0) {
                        if (*i + 1 >= argc) {
                                brm_cli_command_error(cmd, "%s needs a value", names[k]);
                                return -1;
                        }
                        val = argv[++*i];
                        break;
                }
                if (strncmp(a, names[k], n) == 0 && a[n] == '=') {
                        val = a + n + 1;
                        break;
                }
        }
        if (!val)
                return 0;
        switch (k) {
        case 0: {
                char host[256];
                uint16_t port;
                if (brm_parse_hostport(val, host, sizeof(host), &port) < 0) {
                        brm_cli_command_error(cmd, "--master '%s' is not HOST:PORT, e.g. 192.168.1.10:7443", val);
                        return -1;
                }
                if (o->nmasters == MAX_MASTERS) {
                        brm_cli_command_error(cmd, "at most %d --master addresses", MAX_MASTERS);
                        return -1;
                }
                o->masters[o->nmasters++] = val;
                return 1;
        }
        case 1: {
                const char *why = brm_token_problem(val);
                if (why) {
                        brm_cli_command_error(cmd, "--token: %s", why);
                        return -1;
                }
                o->token = val;
                return 1;
        }
        case 2: {
                size_t len = strlen(val);
                /* The node name is PREFIX-<6 characters of the serial>. */
                if (len == 0 || len > 56 || !brm_valid_node_name(val)) {
                        brm_cli_command_error(cmd, "--name-prefix '%s': expected 1-56 characters of a-z, 0-9 and '-', not starting or ending with '-'", val);
                        return -1;
                }
                o->prefix = val;
                return 1;
        }
        default:
                if (!brm_valid_node_name(val)) {
                        brm_cli_command_error(cmd, "--name '%s': expected 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'", val);
                        return -1;
                }
                o->name = val;
                return 1;
        }
}

static char *bootcfg_json(const struct join_opts *o)
{
        cJSON *root = cJSON_CreateObject(), *m;
        char *text;

        if (!root)
                return NULL;
        if (o->nmasters == 1) {
                cJSON_AddStringToObject(root, "master", o->masters[0]);
        } else {
                m = cJSON_AddArrayToObject(root, "master");
                for (int i = 0; m && i < o->nmasters; i++)
                        cJSON_AddItemToArray(m, cJSON_CreateString(o->masters[i]));
        }
        cJSON_AddStringToObject(root, "token", o->token);
        cJSON_AddStringToObject(root, "name_prefix", o->prefix ? o->prefix : "bramble");
        if (o->name)
                cJSON_AddStringToObject(root, "name", o->name);
        text = cJSON_Print(root);
        cJSON_Delete(root);
        return text;
}

/* The logical sector size of fd: the block device's, else 512. */
static unsigned sector_size(int fd)
{
        struct stat st;
        int ssz = 0;

        if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz >= 512)
                return (unsigned)ssz;
        return 512;
}

/* Offset and size in bytes of partition 1 (FAT) from the MBR of path.
 * Returns 0 or -errno with why[] filled. */
static int boot_partition(const char *path, uint64_t *ret_off, uint64_t *ret_size, char *why, size_t why_size)
{
        uint8_t mbr[512];
        const uint8_t *e = mbr + 446;
        uint32_t lba, count;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        unsigned ss;

        if (fd < 0) {
                snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
                return -errno;
        }
        ss = sector_size(fd);
        if (pread(fd, mbr, sizeof(mbr), 0) != (ssize_t)sizeof(mbr)) {
                snprintf(why, why_size, "%s: cannot read the partition table", path);
                close(fd);
                return -EIO;
        }
        close(fd);
        if (mbr[510] != 0x55 || mbr[511] != 0xaa) {
                snprintf(why, why_size, "%s has no MBR partition table (not a Bramble image?)", path);
                return -EINVAL;
        }
        if (e[4] != 0x0c && e[4] != 0x0b && e[4] != 0x0e) {
                snprintf(why, why_size, "%s: partition 1 is type 0x%02x, not FAT (not a Bramble image?)", path, e[4]);
                return -EINVAL;
        }
        lba = (uint32_t)e[8] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
        count = (uint32_t)e[12] | (uint32_t)e[13] << 8 | (uint32_t)e[14] << 16 | (uint32_t)e[15] << 24;
        if (lba == 0 || count == 0) {
                snprintf(why, why_size, "%s: partition 1 is empty", path);
                return -EINVAL;
        }
        *ret_off = (uint64_t)lba * ss;
        *ret_size = (uint64_t)count * ss;
        return 0;
}

/* Runs an mtools command; out (may be NULL) receives its stdout, errfile
 * its stderr (mtools warns about the geometry of block devices even when
 * all is well, so it is shown only on failure). */
static int run_mtools(char *const argv[], const char *errfile, char *out, size_t out_size, size_t *ret_len)
{
        posix_spawn_file_actions_t fa;
        int pipefd[2] = { -1, -1 }, status, r;
        pid_t pid;
        size_t len = 0;

        setenv("MTOOLS_SKIP_CHECK", "1", 1);
        setenv("MTOOLS_NO_VFAT", "0", 1);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return -r;
        }
        for (;;) {
                char tmp[4096];
                ssize_t n = read(pipefd[0], tmp, sizeof(tmp));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (out && len + (size_t)n < out_size) {
                        memcpy(out + len, tmp, (size_t)n);
                        len += (size_t)n;
                }
        }
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (out)
                out[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The first line of a file, for an error message. */
static const char *first_line(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");

        snprintf(buf, size, "(no message)");
        if (f) {
                if (fgets(buf, (int)size, f))
                        buf[strcspn(buf, "\n")] = '\0';
                fclose(f);
        }
        return buf;
}

/* Writes bramble.json into the FAT partition of path (file or device) and
 * reads it back. Returns 0, else prints why and returns -errno. */
static int write_bootcfg(const char *cmd, const char *path, const struct join_opts *o)
{
        char why[512], spec[PATH_MAX + 32], tmpl[] = "/tmp/bramble-json.XXXXXX", tmpfile[sizeof(tmpl) + 16];
        char errfile[sizeof(tmpl) + 16];
        char back[8192];
        uint64_t off = 0, size = 0;
        char *json = NULL;
        size_t len;
        int r;

        if ((r = boot_partition(path, &off, &size, why, sizeof(why))) < 0) {
                fprintf(stderr, "bramble %s: %s\n", cmd, why);
                return r;
        }
        if (!(json = bootcfg_json(o)))
                return -ENOMEM;
        if (!mkdtemp(tmpl)) {
                r = -errno;
                fprintf(stderr, "bramble %s: cannot create a temporary directory: %s\n", cmd, strerror(errno));
                goto out;
        }
        snprintf(tmpfile, sizeof(tmpfile), "%s/bramble.json", tmpl);
        snprintf(errfile, sizeof(errfile), "%s/mtools.err", tmpl);
        len = strlen(json);
        json[len++] = '\n'; /* cJSON's buffer holds the NUL we overwrite */
        if ((r = brm_file_write_atomic(tmpfile, json, len, 0600)) < 0) {
                fprintf(stderr, "bramble %s: cannot write %s: %s\n", cmd, tmpfile, brm_strerror(r));
                goto out_dir;
        }
        snprintf(spec, sizeof(spec), "%s@@%" PRIu64, path, off);
        {
                char *argv[] = { "mcopy", "-o", "-i", spec, tmpfile, "::bramble.json", NULL };
                r = run_mtools(argv, errfile, NULL, 0, NULL);
        }
        if (r == -ENOENT) {
                fprintf(stderr, "bramble %s: mcopy not found: install mtools (Debian/Ubuntu: apt install mtools)\n", cmd);
                goto out_file;
        }
        if (r < 0) {
                fprintf(stderr, "bramble %s: mcopy could not write bramble.json into the boot partition of %s: %s\n", cmd, path,
                        first_line(errfile, why, sizeof(why)));
                goto out_file;
        }
        {
                char *argv[] = { "mtype", "-i", spec, "::bramble.json", NULL };
                size_t blen = 0;
                r = run_mtools(argv, errfile, back, sizeof(back), &blen);
                if (r == 0 && (blen != len || memcmp(back, json, len) != 0))
                        r = -EIO;
        }
        if (r < 0)
                fprintf(stderr, "bramble %s: bramble.json read back from %s differs from what was written\n", cmd, path);
out_file:
        unlink(tmpfile);
        unlink(errfile);
out_dir:
        rmdir(tmpl);
out:
        free(json);
        return r;
}

/* -------------------------------------------------------------- configure */

int brm_cli_image_configure(struct brm_cli *c, int argc, char **argv)
{
        const char *cmd = "image configure", *img = NULL;
        struct join_opts o = { 0 };
        struct stat st;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("usage: bramble image configure IMG --master HOST:PORT [--master ...] --token TOKEN\n"
                               "                               [--name-prefix PREFIX] [--name NAME]\n"
                               "Writes bramble.json (the join settings) into the boot partition of the image file IMG.\n");
                        return 0;
                }
                r = take_join_opt(cmd, argc, argv, &i, &o);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (argv[i][0] == '-')
                        return brm_cli_command_error(cmd, "unknown option '%s'", argv[i]);
                if (img)
                        return brm_cli_command_error(cmd, "unexpected argument '%s' (one image at a time)", argv[i]);
                img = argv[i];
        }
        if (!img)
                return brm_cli_command_error(cmd, "%s", "usage: bramble image configure IMG --master HOST:PORT --token TOKEN [--name-prefix P]");
        if (o.nmasters == 0)
                return brm_cli_command_error(cmd, "%s", "--master HOST:PORT is required");
        if (!o.token)
                return brm_cli_command_error(cmd, "%s", "--token is required (create one with 'bramble token create')");
        if (stat(img, &st) < 0) {
                fprintf(stderr, "bramble %s: %s: %s\n", cmd, img, strerror(errno));
                return EXIT_FAIL;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                fprintf(stderr, "bramble %s: %s is not an image file\n", cmd, img);
                return EXIT_FAIL;
        }
        if (write_bootcfg(cmd, img, &o) < 0)
                return EXIT_FAIL;
        printf("configured %s: master %s%s, name prefix %s%s%s\n", img, o.masters[0], o.nmasters > 1 ? " (+more)" : "",
               o.prefix ? o.prefix : "bramble", o.name ? ", name " : "", o.name ? o.name : "");
        return 0;
}

/* ------------------------------------------------------------------ bmap */

struct range {
        uint64_t first, last; /* blocks, inclusive */
        uint8_t sha[32];
        bool has_sha;
};

struct bmap {
        uint64_t block_size, image_size;
        struct range *r;
        size_t n;
};

/* The number between <tag> and </tag>. */
static int xml_u64(const char *text, const char *tag, uint64_t *ret)
{
        char open[64];
        const char *p;

        snprintf(open, sizeof(open), "<%s>", tag);
        if (!(p = strstr(text, open)))
                return -EINVAL;
        p += strlen(open);
        while (isspace((unsigned char)*p))
                p++;
        if (!isdigit((unsigned char)*p))
                return -EINVAL;
        errno = 0;
        *ret = strtoull(p, NULL, 10);
        return errno ? -EINVAL : 0;
}

/* Blanks out <!-- comments --> (bmaptool's mention tag names). */
static void strip_comments(char *text)
{
        char *p = text, *end;

        while ((p = strstr(p, "<!--"))) {
                if (!(end = strstr(p + 4, "-->"))) {
                        *p = '\0';
                        return;
                }
                memset(p, ' ', (size_t)(end + 3 - p));
                p = end + 3;
        }
}

/* Parses bmaptool's XML (format 1.x/2.x): BlockSize, ImageSize and the
 * <Range chksum="..."> A-B </Range> list. Returns 0 or -EINVAL. */
static int bmap_parse(char *text, uint64_t image_size, struct bmap *ret, char *why, size_t why_size)
{
        struct bmap b = { 0 };
        const char *p;
        bool sha256;
        uint64_t blocks;

        strip_comments(text);
        if (!strstr(text, "<bmap") || xml_u64(text, "BlockSize", &b.block_size) < 0 ||
            xml_u64(text, "ImageSize", &b.image_size) < 0 || xml_u64(text, "BlocksCount", &blocks) < 0) {
                snprintf(why, why_size, "not a bmaptool block map");
                return -EINVAL;
        }
        if (b.block_size < 512 || b.block_size > (1u << 24) || (b.block_size & (b.block_size - 1))) {
                snprintf(why, why_size, "block size %" PRIu64 " is not valid", b.block_size);
                return -EINVAL;
        }
        if (b.image_size != image_size) {
                snprintf(why, why_size, "it describes an image of %" PRIu64 " bytes, the image has %" PRIu64, b.image_size, image_size);
                return -EINVAL;
        }
        sha256 = strstr(text, "<ChecksumType>") && strstr(text, "sha256");
        if (!(b.r = calloc(MAX_RANGES, sizeof(*b.r))))
                return -ENOMEM;
        for (p = text; (p = strstr(p, "<Range")) != NULL;) {
                struct range *rg;
                const char *c, *end = strchr(p, '>');
                char *q;

                if (!end || b.n == MAX_RANGES)
                        goto bad;
                rg = &b.r[b.n];
                c = strstr(p, "chksum=\"");
                if (sha256 && c && c < end) {
                        char hex[65];
                        memcpy(hex, c + 8, 64); /* within the text: the tag ends later */
                        hex[64] = '\0';
                        if (end - (c + 8) != 65 || c[8 + 64] != '"' || brm_unhex(hex, rg->sha, 32) < 0)
                                goto bad;
                        rg->has_sha = true;
                }
                errno = 0;
                rg->first = strtoull(end + 1, &q, 10);
                rg->last = rg->first;
                if (*q == '-')
                        rg->last = strtoull(q + 1, &q, 10);
                while (isspace((unsigned char)*q))
                        q++;
                if (errno || strncmp(q, "</Range>", 8) != 0 || rg->last < rg->first ||
                    (b.n && rg->first <= b.r[b.n - 1].last) || rg->last >= (image_size + b.block_size - 1) / b.block_size)
                        goto bad;
                b.n++;
                p = q;
        }
        if (b.n == 0)
                goto bad;
        *ret = b;
        return 0;
bad:
        snprintf(why, why_size, "its <BlockMap> ranges are not valid");
        free(b.r);
        return -EINVAL;
}

/* ------------------------------------------------------------ the target */

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

/* NULL when the target (stat of a block device or an existing regular
 * file) may be overwritten, else why not. */
static const char *target_problem(const struct stat *target, char *why, size_t why_size)
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
                                return why;
                        }
                        if (!disk[0] || strcmp(other, disk) != 0)
                                continue;
                        fclose(f);
                        if (strcmp(mnt, "/") == 0)
                                snprintf(why, why_size, "it is the disk the system runs from (/ is mounted from it)");
                        else
                                snprintf(why, why_size, "it is mounted (on %.300s); unmount every partition of it first", mnt);
                        return why;
                }
                fclose(f);
        }
        if (!disk[0])
                return NULL; /* a regular file, or no sysfs: O_EXCL is the last guard */
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
                                return why;
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
                                return why;
                        }
                        closedir(h);
                }
                closedir(d);
        }
        return NULL;
}

/* ------------------------------------------------------------------ flash */

static int md_start(mbedtls_md_context_t *md)
{
        mbedtls_md_init(md);
        if (mbedtls_md_setup(md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0) != 0 || mbedtls_md_starts(md) != 0) {
                mbedtls_md_free(md);
                return -ENOMEM;
        }
        return 0;
}

static int read_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
        while (len) {
                ssize_t n = pread(fd, buf, len, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                buf += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
        while (len) {
                ssize_t n = pwrite(fd, buf, len, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                buf += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

static bool all_zero(const uint8_t *buf, size_t len)
{
        return len == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
}

/* Copies (fd_out >= 0) or only hashes the bytes [off, off+len) of fd_in,
 * returning their SHA-256. With skip_zero, blocks of zeros are not written
 * (a fresh regular file reads zeros there already and stays sparse). */
static int pass_range(int fd_in, int fd_out, bool skip_zero, uint8_t *buf, uint64_t off, uint64_t len, uint8_t sha[32],
                      char *why, size_t why_size)
{
        mbedtls_md_context_t md;
        int r;

        if ((r = md_start(&md)) < 0)
                return r;
        while (len) {
                size_t n = len < BUF_SIZE ? (size_t)len : BUF_SIZE;
                if ((r = read_full(fd_in, buf, n, off)) < 0) {
                        snprintf(why, why_size, "reading at byte %" PRIu64 " failed: %s", off, brm_strerror(r));
                        goto out;
                }
                mbedtls_md_update(&md, buf, n);
                if (fd_out >= 0 && !(skip_zero && all_zero(buf, n)) && (r = write_full(fd_out, buf, n, off)) < 0) {
                        snprintf(why, why_size, "writing at byte %" PRIu64 " failed: %s", off, brm_strerror(r));
                        goto out;
                }
                off += n;
                len -= n;
        }
        mbedtls_md_finish(&md, sha);
        r = 0;
out:
        mbedtls_md_free(&md);
        return r;
}

int brm_cli_flash(struct brm_cli *c, int argc, char **argv)
{
        const char *cmd = "flash", *img = NULL, *target = NULL;
        struct join_opts o = { 0 };
        bool use_bmap = true, is_blk;
        struct stat ist, tst;
        struct bmap bm = { 0 };
        char why[512], bmap_path[PATH_MAX];
        uint8_t *buf = NULL, (*sums)[32] = NULL;
        uint64_t mapped = 0, tsize = 0;
        int ifd = -1, tfd = -1, rc = EXIT_FAIL, r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("usage: bramble flash IMG TARGET [--master HOST:PORT ... --token TOKEN [--name-prefix P] [--name NAME]] [--no-bmap]\n"
                               "Writes the image IMG to TARGET (a card such as /dev/sdX or /dev/mmcblk0, a loop device or a file),\n"
                               "verifies it by reading it back, then writes bramble.json with the join settings.\n"
                               "Only the blocks listed in IMG.bmap are written when it exists.\n");
                        return 0;
                }
                if (strcmp(argv[i], "--no-bmap") == 0) {
                        use_bmap = false;
                        continue;
                }
                r = take_join_opt(cmd, argc, argv, &i, &o);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (argv[i][0] == '-' && argv[i][1])
                        return brm_cli_command_error(cmd, "unknown option '%s'", argv[i]);
                if (!img)
                        img = argv[i];
                else if (!target)
                        target = argv[i];
                else
                        return brm_cli_command_error(cmd, "unexpected argument '%s'", argv[i]);
        }
        if (!img || !target)
                return brm_cli_command_error(cmd, "%s", "usage: bramble flash IMG TARGET [--master HOST:PORT --token TOKEN [--name-prefix P]]");
        if ((o.nmasters || o.name || o.prefix) && !o.token)
                return brm_cli_command_error(cmd, "%s", "--token is required with --master (create one with 'bramble token create')");
        if (o.token && !o.nmasters)
                return brm_cli_command_error(cmd, "%s", "--master HOST:PORT is required with --token");

        if ((ifd = open(img, O_RDONLY | O_CLOEXEC)) < 0 || fstat(ifd, &ist) < 0 || !S_ISREG(ist.st_mode)) {
                fprintf(stderr, "bramble flash: %s: %s\n", img, ifd < 0 ? strerror(errno) : "not a regular file");
                goto out;
        }
        {
                size_t l = strlen(img);
                if (l > 3 && strcmp(img + l - 3, ".xz") == 0) {
                        fprintf(stderr, "bramble flash: %s is compressed; decompress it first (xz -dk %s)\n", img, img);
                        goto out;
                }
        }
        snprintf(bmap_path, sizeof(bmap_path), "%s.bmap", img);
        if (use_bmap && access(bmap_path, F_OK) == 0) {
                uint8_t *text;
                size_t len;
                if ((r = brm_file_read(bmap_path, 16u << 20, &text, &len)) < 0) {
                        fprintf(stderr, "bramble flash: cannot read %s: %s\n", bmap_path, brm_strerror(r));
                        goto out;
                }
                r = bmap_parse((char *)text, (uint64_t)ist.st_size, &bm, why, sizeof(why));
                free(text);
                if (r < 0) {
                        fprintf(stderr, "bramble flash: %s does not fit %s: %s (pass --no-bmap to write every block)\n", bmap_path, img, why);
                        goto out;
                }
        } else {
                /* No block map: one range, the whole image. */
                bm.block_size = 4096;
                bm.image_size = (uint64_t)ist.st_size;
                if (!(bm.r = calloc(1, sizeof(*bm.r))))
                        goto out;
                bm.n = 1;
                bm.r[0].first = 0;
                bm.r[0].last = (bm.image_size + bm.block_size - 1) / bm.block_size - 1;
        }

        /* The target: a block device (card, loop device) or a regular file. */
        if (stat(target, &tst) == 0) {
                is_blk = S_ISBLK(tst.st_mode);
                if (!is_blk && !S_ISREG(tst.st_mode)) {
                        fprintf(stderr, "bramble flash: %s is neither a block device nor a regular file\n", target);
                        goto out;
                }
                if (!is_blk && tst.st_dev == ist.st_dev && tst.st_ino == ist.st_ino) {
                        fprintf(stderr, "bramble flash: %s is the image itself\n", target);
                        goto out;
                }
                if (target_problem(&tst, why, sizeof(why))) {
                        fprintf(stderr, "bramble flash: refusing to write %s: %s\n", target, why);
                        goto out;
                }
        } else if (errno == ENOENT) {
                is_blk = false;
        } else {
                fprintf(stderr, "bramble flash: %s: %s\n", target, strerror(errno));
                goto out;
        }
        if (is_blk) {
                /* O_EXCL on a block device fails with EBUSY while the kernel
                 * uses it (mounted, swap, device-mapper): the last guard. */
                tfd = open(target, O_RDWR | O_EXCL | O_CLOEXEC);
                if (tfd < 0) {
                        fprintf(stderr, "bramble flash: cannot open %s: %s\n", target,
                                errno == EBUSY ? "it is in use (mounted or held by the kernel)" : strerror(errno));
                        goto out;
                }
                if (ioctl(tfd, BLKGETSIZE64, &tsize) < 0 || tsize < bm.image_size) {
                        fprintf(stderr, "bramble flash: %s holds %" PRIu64 " MiB; the image needs %" PRIu64 " MiB\n", target,
                                tsize >> 20, (bm.image_size + (1u << 20) - 1) >> 20);
                        goto out;
                }
        } else {
                tfd = open(target, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (tfd < 0 || ftruncate(tfd, (off_t)bm.image_size) < 0) {
                        fprintf(stderr, "bramble flash: cannot create %s: %s\n", target, strerror(errno));
                        goto out;
                }
        }

        if (!(buf = malloc(BUF_SIZE)) || !(sums = calloc(bm.n, sizeof(*sums))))
                goto out;
        for (size_t i = 0; i < bm.n; i++) {
                uint64_t off = bm.r[i].first * bm.block_size, end = (bm.r[i].last + 1) * bm.block_size;
                if (end > bm.image_size)
                        end = bm.image_size;
                mapped += end - off;
        }
        printf("writing %s to %s: %" PRIu64 " of %" PRIu64 " MiB%s\n", img, target, (mapped + (1u << 20) - 1) >> 20,
               (bm.image_size + (1u << 20) - 1) >> 20, bm.n > 1 || bm.r[0].has_sha ? " (block map)" : "");
        fflush(stdout);
        for (size_t i = 0; i < bm.n; i++) {
                uint64_t off = bm.r[i].first * bm.block_size, end = (bm.r[i].last + 1) * bm.block_size;
                if (end > bm.image_size)
                        end = bm.image_size;
                if (pass_range(ifd, tfd, !is_blk, buf, off, end - off, sums[i], why, sizeof(why)) < 0) {
                        fprintf(stderr, "bramble flash: %s\n", why);
                        goto out;
                }
                if (bm.r[i].has_sha && memcmp(sums[i], bm.r[i].sha, 32) != 0) {
                        fprintf(stderr, "bramble flash: %s does not match its block map at blocks %" PRIu64 "-%" PRIu64
                                        " (corrupted download?); the target is incomplete\n", img, bm.r[i].first, bm.r[i].last);
                        goto out;
                }
        }
        if (fsync(tfd) < 0) {
                fprintf(stderr, "bramble flash: flushing %s failed: %s\n", target, strerror(errno));
                goto out;
        }
        /* Read back from the device, not from the page cache. */
        if (is_blk)
                (void)ioctl(tfd, BLKFLSBUF, 0);
        (void)posix_fadvise(tfd, 0, 0, POSIX_FADV_DONTNEED);
        for (size_t i = 0; i < bm.n; i++) {
                uint64_t off = bm.r[i].first * bm.block_size, end = (bm.r[i].last + 1) * bm.block_size;
                uint8_t sha[32];
                if (end > bm.image_size)
                        end = bm.image_size;
                if (pass_range(tfd, -1, false, buf, off, end - off, sha, why, sizeof(why)) < 0) {
                        fprintf(stderr, "bramble flash: verifying %s: %s\n", target, why);
                        goto out;
                }
                if (memcmp(sha, sums[i], 32) != 0) {
                        fprintf(stderr, "bramble flash: verification failed: %s reads back different data at bytes %" PRIu64 "-%" PRIu64
                                        " (a failing or fake card?)\n", target, off, end - 1);
                        goto out;
                }
        }
        printf("verified %" PRIu64 " MiB read back from %s\n", (mapped + (1u << 20) - 1) >> 20, target);
        if (is_blk)
                (void)ioctl(tfd, BLKRRPART, 0); /* let the system see the new partitions */
        close(tfd);
        tfd = -1;
        if (o.token) {
                if (write_bootcfg(cmd, target, &o) < 0)
                        goto out;
                printf("configured %s: master %s%s, name prefix %s\n", target, o.masters[0], o.nmasters > 1 ? " (+more)" : "",
                       o.prefix ? o.prefix : "bramble");
        }
        sync();
        rc = 0;
out:
        if (ifd >= 0)
                close(ifd);
        if (tfd >= 0)
                close(tfd);
        free(buf);
        free(sums);
        free(bm.r);
        return rc;
}
