/* bramble.json: the join options that fill it, its exact text, where it
 * goes (partition 1, found from the MBR), and a write into a real FAT
 * partition read back with mtools. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bootcfg.h"
#include "bootcfg_take.h"
#include "check.h"
#include "image.h"
#include "util.h"

#define TOKEN "bramble1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:abcdef.0123456789abcdef0123456789abcdef"

static void check_options(void)
{
        struct brm_bootcfg cfg = { 0 }, before;
        char *ok[] = { "flash", "IMG", "--master", "10.0.0.1:7443", "--master=pi-master.local:7443", "--token", TOKEN,
                       "--name-prefix=rack2", "--name", "pi-7", "TARGET", "--no-bmap" };

        CHECK_INT(take_all((int)BRM_ARRAY_SIZE(ok), ok, &cfg), ==, 3); /* IMG, TARGET, --no-bmap */
        CHECK_INT(cfg.nmasters, ==, 2);
        CHECK_STR(cfg.masters[0], "10.0.0.1:7443");
        CHECK_STR(cfg.masters[1], "pi-master.local:7443");
        CHECK_STR(cfg.token, TOKEN);
        CHECK_STR(cfg.prefix, "rack2");
        CHECK_STR(cfg.name, "pi-7");

        /* Each bad value is refused before anything is taken from it. */
        char *bad[][3] = {
                { "x", "--master", "10.0.0.1" },          { "x", "--master", "10.0.0.1:99999" },
                { "x", "--token", "K10abc::x.y" },        { "x", "--name-prefix", "Rack" },
                { "x", "--name-prefix", "-rack" },        { "x", "--name", "pi_7" },
                { "x", "--name-prefix", "a234567890123456789012345678901234567890123456789012345678" },
        };
        for (size_t k = 0; k < BRM_ARRAY_SIZE(bad); k++) {
                before = cfg;
                CHECK_INT(take_all(3, bad[k], &cfg), ==, -EINVAL);
                CHECK(memcmp(&cfg, &before, sizeof(cfg)) == 0);
        }
        char *novalue[] = { "x", "--token" };
        CHECK_INT(take_all(2, novalue, &cfg), ==, -EINVAL);

        /* At most eight masters. */
        struct brm_bootcfg many = { 0 };
        char *m[] = { "x", "--master=a:1", "--master=a:2", "--master=a:3", "--master=a:4", "--master=a:5",
                      "--master=a:6", "--master=a:7", "--master=a:8", "--master=a:9" };
        CHECK_INT(take_all(9, m, &many), ==, 0);
        CHECK_INT(many.nmasters, ==, 8);
        CHECK_INT(take_all(10, m, &many), ==, -EINVAL);
}

static void check_json(void)
{
        struct brm_bootcfg one = { .masters = { "10.0.0.1:7443" }, .nmasters = 1, .token = TOKEN };
        struct brm_bootcfg two = { .masters = { "10.0.0.1:7443", "10.0.0.2:7443" },
                                   .nmasters = 2,
                                   .token = TOKEN,
                                   .prefix = "rack2",
                                   .name = "pi-7" };
        char *text = NULL;
        cJSON *root, *m;

        /* One master is a plain string; the prefix defaults to "bramble". */
        CHECK_INT(brm_bootcfg_json(&one, &text), ==, 0);
        CHECK_STR(text, "{\n"
                        "\t\"master\":\t\"10.0.0.1:7443\",\n"
                        "\t\"token\":\t\"" TOKEN "\",\n"
                        "\t\"name_prefix\":\t\"bramble\"\n"
                        "}\n");
        free(text);

        /* Several are a list, in the order given. */
        CHECK_INT(brm_bootcfg_json(&two, &text), ==, 0);
        CHECK_INT(text[strlen(text) - 1], ==, '\n');
        CHECK((root = cJSON_Parse(text)) != NULL);
        m = cJSON_GetObjectItemCaseSensitive(root, "master");
        CHECK(cJSON_IsArray(m));
        CHECK_INT(cJSON_GetArraySize(m), ==, 2);
        CHECK_STR(cJSON_GetArrayItem(m, 0)->valuestring, "10.0.0.1:7443");
        CHECK_STR(cJSON_GetArrayItem(m, 1)->valuestring, "10.0.0.2:7443");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(root, "token")->valuestring, TOKEN);
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(root, "name_prefix")->valuestring, "rack2");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(root, "name")->valuestring, "pi-7");
        CHECK_INT(cJSON_GetArraySize(root), ==, 4);
        cJSON_Delete(root);
        free(text);
}

/* A disk image of sectors 512-byte sectors whose MBR has partition 1 of
 * type type at lba, count sectors long. */
static void make_disk(const char *path, uint32_t sectors, uint8_t type, uint32_t lba, uint32_t count)
{
        uint8_t mbr[512] = { 0 }, *e = mbr + 446;
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

        CHECK(fd >= 0);
        e[4] = type;
        for (int i = 0; i < 4; i++) {
                e[8 + i] = (uint8_t)(lba >> (8 * i));
                e[12 + i] = (uint8_t)(count >> (8 * i));
        }
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        CHECK_INT(pwrite(fd, mbr, sizeof(mbr), 0), ==, sizeof(mbr));
        CHECK_INT(ftruncate(fd, (off_t)sectors * 512), ==, 0);
        close(fd);
}

static void check_partition(const char *dir)
{
        char path[512], why[512];
        uint64_t off = 1, size = 1;
        int fd;

        snprintf(path, sizeof(path), "%s/disk.img", dir);
        make_disk(path, 20480, 0x0c, 2048, 8192);
        CHECK_INT(brm_cli_image_boot_partition(path, &off, &size, why, sizeof(why)), ==, 0);
        CHECK_U64(off, ==, 2048 * 512);
        CHECK_U64(size, ==, 8192 * 512);

        /* Refusals say why and leave the outputs alone. */
        make_disk(path, 20480, 0x83, 2048, 8192);
        CHECK_INT(brm_cli_image_boot_partition(path, &off, &size, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "type 0x83, not FAT") != NULL);
        make_disk(path, 20480, 0x0c, 0, 8192);
        CHECK_INT(brm_cli_image_boot_partition(path, &off, &size, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "partition 1 is empty") != NULL);
        CHECK((fd = open(path, O_WRONLY)) >= 0);
        CHECK_INT(pwrite(fd, "\0", 1, 511), ==, 1);
        close(fd);
        CHECK_INT(brm_cli_image_boot_partition(path, &off, &size, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "no MBR partition table") != NULL);
        CHECK_INT(truncate(path, 100), ==, 0);
        CHECK_INT(brm_cli_image_boot_partition(path, &off, &size, why, sizeof(why)), ==, -EIO);
        snprintf(path, sizeof(path), "%s/missing.img", dir);
        CHECK_INT(brm_cli_image_boot_partition(path, &off, &size, why, sizeof(why)), ==, -ENOENT);
        CHECK_U64(off, ==, 2048 * 512);
        CHECK_U64(size, ==, 8192 * 512);
}

/* Writes bramble.json into a FAT partition made by mkfs.vfat and reads it
 * back with mtype: the bytes brm_bootcfg_json gave. */
static void check_write(const char *dir)
{
        struct brm_bootcfg cfg = { .masters = { "10.0.0.1:7443" }, .nmasters = 1, .token = TOKEN, .name = "pi-7" };
        char path[512], cmd[1200], back[4096], *want = NULL;
        size_t n;
        FILE *p;

        snprintf(path, sizeof(path), "%s/fat.img", dir);
        make_disk(path, 20480, 0x0c, 2048, 8192);
        snprintf(cmd, sizeof(cmd),
                 "{ command -v mkfs.vfat || command -v /usr/sbin/mkfs.vfat || command -v /sbin/mkfs.vfat; } >/dev/null && "
                 "command -v mtype >/dev/null && "
                 "PATH=$PATH:/usr/sbin:/sbin mkfs.vfat --offset=2048 %s 4096 >/dev/null 2>&1",
                 path);
        if (system(cmd) != 0) {
                printf("note: no mkfs.vfat or mtools here; writing into a FAT partition is not exercised\n");
                return;
        }
        CHECK_INT(brm_cli_image_write_bootcfg("test", path, &cfg), ==, 0);
        CHECK_INT(brm_bootcfg_json(&cfg, &want), ==, 0);
        snprintf(cmd, sizeof(cmd), "MTOOLS_SKIP_CHECK=1 mtype -i %s@@%d ::bramble.json", path, 2048 * 512);
        CHECK((p = popen(cmd, "r")) != NULL);
        n = fread(back, 1, sizeof(back) - 1, p);
        back[n] = '\0';
        CHECK_INT(pclose(p), ==, 0);
        CHECK_STR(back, want);
        free(want);

        /* Not an image: refused before anything is written. */
        snprintf(path, sizeof(path), "%s/plain.txt", dir);
        CHECK((p = fopen(path, "w")) != NULL);
        fputs("hello\n", p);
        fclose(p);
        CHECK_INT(brm_cli_image_write_bootcfg("test", path, &cfg), ==, -EIO);
}

int main(void)
{
        char dir[] = "/tmp/test_bootcfg.XXXXXX", cmd[64];

        check_options();
        check_json();
        CHECK(mkdtemp(dir) != NULL);
        check_partition(dir);
        check_write(dir);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INT(system(cmd), ==, 0);
        printf("bootcfg: ok\n");
        return 0;
}
