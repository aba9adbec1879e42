/* bramble image configure, and the boot-partition code flash shares.
 *
 * The boot partition is FAT32; bramble.json is written into it with mtools
 * (mcopy -i FILE@@OFFSET), which needs no root and works the same on an image
 * file, a loop device and a card. Partition 1's offset comes from the MBR. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/fs.h>

#include "err.h"
#include "fileio.h"

#include "bootcfg.h"
#include "common.h"
#include "image.h"

extern char **environ;

/* The logical sector size of fd: the block device's, else 512. */
static unsigned sector_size(int fd)
{
        struct stat st;
        int ssz = 0;

        if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz >= 512)
                return (unsigned)ssz;
        return 512;
}

int brm_mbr_partition(const uint8_t mbr[512], int n, unsigned ss, uint64_t *ret_off, uint64_t *ret_size, uint8_t *ret_type)
{
        const uint8_t *e = mbr + 446 + 16 * (n - 1);
        uint32_t lba, count;

        if (n < 1 || n > 4 || mbr[510] != 0x55 || mbr[511] != 0xaa)
                return -EINVAL;
        lba = (uint32_t)e[8] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
        count = (uint32_t)e[12] | (uint32_t)e[13] << 8 | (uint32_t)e[14] << 16 | (uint32_t)e[15] << 24;
        *ret_type = e[4];
        if (e[4] == 0 || lba == 0 || count == 0)
                return -ENOENT;
        *ret_off = (uint64_t)lba * ss;
        *ret_size = (uint64_t)count * ss;
        return 0;
}

int brm_cli_image_partition(const char *path, int n, uint64_t *ret_off, uint64_t *ret_size, char *why, size_t why_size)
{
        uint8_t mbr[512], type;
        uint64_t off, size;
        int fd = open(path, O_RDONLY | O_CLOEXEC), r;
        unsigned ss;

        if (fd < 0) {
                r = -errno;
                snprintf(why, why_size, "cannot open %s: %s", path, strerror(-r));
                return r;
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
        r = brm_mbr_partition(mbr, n, ss, &off, &size, &type);
        if (r == 0 && n == 1 && type != 0x0c && type != 0x0b && type != 0x0e) {
                snprintf(why, why_size, "%s: partition 1 is type 0x%02x, not FAT (not a Bramble image?)", path, type);
                return -EINVAL;
        }
        if (r < 0) {
                snprintf(why, why_size, "%s: partition %d is empty (not a Bramble image?)", path, n);
                return -EINVAL;
        }
        *ret_off = off;
        *ret_size = size;
        return 0;
}

int brm_cli_image_boot_partition(const char *path, uint64_t *ret_off, uint64_t *ret_size, char *why, size_t why_size)
{
        return brm_cli_image_partition(path, 1, ret_off, ret_size, why, why_size);
}

int brm_cli_mtools_run(char *const argv[], const char *errfile, char *out, size_t out_size, size_t *ret_len)
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

const char *brm_cli_first_line(const char *path, char *buf, size_t size)
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

int brm_cli_image_write_bootcfg(const char *cmd, const char *path, const struct brm_bootcfg *cfg)
{
        char why[512], spec[PATH_MAX + 32], tmpl[] = "/tmp/bramble-json.XXXXXX", tmpfile[sizeof(tmpl) + 16];
        char errfile[sizeof(tmpl) + 16];
        char back[8192];
        uint64_t off = 0, size = 0;
        char *json = NULL;
        size_t len;
        int r;

        if ((r = brm_cli_image_boot_partition(path, &off, &size, why, sizeof(why))) < 0) {
                fprintf(stderr, "bramble %s: %s\n", cmd, why);
                return r;
        }
        if ((r = brm_bootcfg_json(cfg, &json)) < 0) {
                fprintf(stderr, "bramble %s: cannot build bramble.json: %s\n", cmd, brm_strerror(r));
                return r;
        }
        if (!mkdtemp(tmpl)) {
                r = -errno;
                fprintf(stderr, "bramble %s: cannot create a temporary directory: %s\n", cmd, strerror(errno));
                goto out;
        }
        snprintf(tmpfile, sizeof(tmpfile), "%s/bramble.json", tmpl);
        snprintf(errfile, sizeof(errfile), "%s/mtools.err", tmpl);
        len = strlen(json);
        if ((r = brm_file_write_atomic(tmpfile, json, len, 0600)) < 0) {
                fprintf(stderr, "bramble %s: cannot write %s: %s\n", cmd, tmpfile, brm_strerror(r));
                goto out_dir;
        }
        snprintf(spec, sizeof(spec), "%s@@%" PRIu64, path, off);
        {
                char *argv[] = { "mcopy", "-o", "-i", spec, tmpfile, "::bramble.json", NULL };
                r = brm_cli_mtools_run(argv, errfile, NULL, 0, NULL);
        }
        if (r == -ENOENT) {
                fprintf(stderr, "bramble %s: mcopy not found: install mtools (Debian/Ubuntu: apt install mtools)\n", cmd);
                goto out_file;
        }
        if (r < 0) {
                fprintf(stderr, "bramble %s: mcopy could not write bramble.json into the boot partition of %s: %s\n", cmd, path,
                        brm_cli_first_line(errfile, why, sizeof(why)));
                goto out_file;
        }
        {
                char *argv[] = { "mtype", "-i", spec, "::bramble.json", NULL };
                size_t blen = 0;
                r = brm_cli_mtools_run(argv, errfile, back, sizeof(back), &blen);
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

int brm_cli_image_configure(struct brm_cli *c, int argc, char **argv)
{
        const char *cmd = "image configure", *img = NULL;
        struct brm_bootcfg o = { 0 };
        struct stat st;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("usage: bramble image configure IMG --master HOST:PORT|auto [--master ...] --token TOKEN\n"
                               "                               [--name-prefix PREFIX] [--name NAME]\n"
                               "                               [--wifi-ssid SSID [--wifi-hidden] ... --wifi-psk-stdin --wifi-country CC]\n"
                               "Writes bramble.json (the join settings) into the boot partition of the image file IMG.\n"
                               "--master auto: the node finds the master by mDNS on its network.\n"
                               "--wifi-ssid: a Wi-Fi network the node joins (repeat for more); the passphrases are read\n"
                               "from stdin, one line per network in order, and only the derived WPA2 key is written.\n"
                               "--wifi-country: the ISO 3166 country whose radio rules apply (required with Wi-Fi).\n");
                        return 0;
                }
                r = brm_bootcfg_take_opt(cmd, argc, argv, &i, &o);
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
        if (o.nmasters == 0 && !o.master_auto)
                return brm_cli_command_error(cmd, "%s", "--master HOST:PORT is required (or --master auto)");
        if (!o.token)
                return brm_cli_command_error(cmd, "%s", "--token is required (create one with 'bramble token create')");
        if (brm_bootcfg_read_psks(cmd, &o, stdin) < 0)
                return EXIT_USAGE;
        if (stat(img, &st) < 0) {
                fprintf(stderr, "bramble %s: %s: %s\n", cmd, img, strerror(errno));
                return EXIT_FAIL;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                fprintf(stderr, "bramble %s: %s is not an image file\n", cmd, img);
                return EXIT_FAIL;
        }
        if (brm_cli_image_write_bootcfg(cmd, img, &o) < 0)
                return EXIT_FAIL;
        printf("configured %s: master %s%s, name prefix %s%s%s", img, o.master_auto ? "auto (mDNS)" : o.masters[0],
               o.nmasters > 1 ? " (+more)" : "", o.prefix ? o.prefix : "bramble", o.name ? ", name " : "", o.name ? o.name : "");
        if (o.nwifi)
                printf(", Wi-Fi '%s'%s (country %s)", o.wifi[0].ssid, o.nwifi > 1 ? " (+more)" : "", o.country);
        printf("\n");
        return 0;
}
