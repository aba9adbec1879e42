/* OS update bundles, the pure part (cli/osbundle.c): version.txt, the
 * squashfs superblock, the boot parts' titles, and the documents. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "osbundle.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static int parse(const char *text, struct brm_os_version *v, char *why)
{
        return brm_osb_version_parse(text, strlen(text), v, why, 256);
}

static void check_version(void)
{
        struct brm_os_version v, keep;
        char why[256];

        CHECK_INT(parse("version=0.9.1\narch=arm64\nkernel=6.12.117+deb13-arm64\nbuild_time=1796191299\n", &v, why), ==, 0);
        CHECK_STR(v.version, "0.9.1");
        CHECK_STR(v.arch, "arm64");
        CHECK_STR(v.kernel, "6.12.117+deb13-arm64");
        CHECK_STR(v.build_time, "1796191299");
        /* CRLF, comments, unknown keys, no final newline, kernel optional. */
        CHECK_INT(parse("# made by hand\r\nversion=v1~rc.2\r\nfoo=bar\r\narch=amd64", &v, why), ==, 0);
        CHECK_STR(v.version, "v1~rc.2");
        CHECK_STR(v.arch, "amd64");
        CHECK_STR(v.kernel, "");

        keep = v;
        static const struct {
                const char *text, *why;
        } bad[] = {
                { "arch=arm64\n", "it has no version= line" },
                { "version=1\n", "it has no arch= line" },
                { "version=1\narch=riscv64\n", "arch 'riscv64' is not one Bramble images are built for (arm64, amd64, arm)" },
                { "version=-1\narch=arm64\n", "version '-1' is not 1-63 of" },
                { "version=1 2\narch=arm64\n", "version '1 2' is not" },
                { "version=1\nversion=2\narch=arm64\n", "line 2: version is given twice" },
                { "version=1\narch\n", "line 2 is not KEY=VALUE" },
                { "version=1\narch=arm64\x01\n", "line 2: the arch is longer than 15 characters or not printable" },
                { "version=1234567890123456789012345678901234567890123456789012345678901234\narch=arm64\n",
                  "line 1: the version is longer than 63" },
                { "", "it has no version= line" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                why[0] = '\0';
                CHECK_INT(parse(bad[i].text, &v, why), ==, -EINVAL);
                if (!strstr(why, bad[i].why))
                        CHECK_FAIL_("'%s': why is '%s', expected '%s'", bad[i].text, why, bad[i].why);
                CHECK(!strchr(why, '\n'));
                CHECK(memcmp(&v, &keep, sizeof(v)) == 0);
        }
        CHECK(brm_osb_valid_version("0.9.0-test"));
        CHECK(brm_osb_valid_version("739ba7d-dirty"));
        CHECK(!brm_osb_valid_version(""));
        CHECK(!brm_osb_valid_version(".1"));
        CHECK(!brm_osb_valid_version("1/2"));
        CHECK(brm_osb_valid_arch("arm"));
        CHECK(!brm_osb_valid_arch("armhf"));
        CHECK(!brm_osb_valid_arch("ARM64"));
}

static void check_squashfs(void)
{
        uint8_t sb[BRM_SQUASHFS_SB_SIZE] = { 'h', 's', 'q', 's' };
        uint64_t size = 7;
        char why[256];

        /* bytes_used 12,305,000: rounded up to whole 4 KiB blocks. */
        sb[40] = 12305000 & 0xff;
        sb[41] = 12305000 >> 8 & 0xff;
        sb[42] = 12305000 >> 16 & 0xff;
        CHECK_INT(brm_osb_squashfs_size(sb, sizeof(sb), 12582912, &size, why, sizeof(why)), ==, 0);
        CHECK_U64(size, ==, 12308480);
        /* Exactly a block. */
        memset(sb + 40, 0, 8);
        sb[41] = 0x10;
        CHECK_INT(brm_osb_squashfs_size(sb, sizeof(sb), 4096, &size, why, sizeof(why)), ==, 0);
        CHECK_U64(size, ==, 4096);
        /* The rounding never goes past the partition. */
        sb[40] = 1;
        CHECK_INT(brm_osb_squashfs_size(sb, sizeof(sb), 4100, &size, why, sizeof(why)), ==, 0);
        CHECK_U64(size, ==, 4100);

        size = 7;
        CHECK_INT(brm_osb_squashfs_size(sb, sizeof(sb), 4096, &size, why, sizeof(why)), ==, -EINVAL);
        CHECK_STR(why, "partition 2's squashfs says it uses 4097 bytes, the partition has 4096");
        memset(sb + 40, 0, 8);
        CHECK_INT(brm_osb_squashfs_size(sb, sizeof(sb), 4096, &size, why, sizeof(why)), ==, -EINVAL);
        memcpy(sb, "hsqt", 4);
        CHECK_INT(brm_osb_squashfs_size(sb, sizeof(sb), 4096, &size, why, sizeof(why)), ==, -EINVAL);
        CHECK_STR(why, "partition 2 holds no squashfs file system (no 'hsqs' magic at its start)");
        memcpy(sb, "hsqs", 4);
        CHECK_INT(brm_osb_squashfs_size(sb, 40, 4096, &size, why, sizeof(why)), ==, -EINVAL);
        CHECK_U64(size, ==, 7);
}

static struct brm_osb_file file(const char *name, const char *digest, uint64_t size)
{
        struct brm_osb_file f = { .size = size };

        snprintf(f.name, sizeof(f.name), "%s", name);
        snprintf(f.digest, sizeof(f.digest), "%s", digest);
        return f;
}

static void check_parts(void)
{
        struct brm_osb_file a[] = { file("vmlinuz", D1, 10),    file("initrd.img", D2, 20), file("version.txt", D3, 30),
                                    file("cmdline.txt", D1, 5), file("only-a.dtb", D2, 6),  file("u-boot.bin", D1, 7) };
        struct brm_osb_file b[] = { file("version.txt", D3, 30), file("vmlinuz", D1, 10),   file("initrd.img", D2, 20),
                                    file("cmdline.txt", D2, 5),  file("only-b.dtb", D2, 6), file("u-boot.bin", D1, 7) };
        struct brm_osb_file out[16], parts[17];
        const char *want[] = { "boot-a/cmdline.txt", "boot-a/only-a.dtb", "boot-b/cmdline.txt", "boot-b/only-b.dtb",
                               "boot/initrd.img",    "boot/u-boot.bin",   "boot/version.txt",   "boot/vmlinuz" };
        char why[256];
        int n;

        n = brm_osb_boot_parts(a, 6, b, 6, out, 16, why, sizeof(why));
        CHECK_INT(n, ==, 8);
        for (int i = 0; i < n; i++)
                CHECK_STR(out[i].name, want[i]);
        CHECK_INT(out[0].slot, ==, 'a');
        CHECK_INT(out[2].slot, ==, 'b');
        CHECK_STR(out[2].digest, D2);
        CHECK_INT(out[7].slot, ==, 'a');
        /* Same name and digest, another size: two parts. */
        b[1].size = 11;
        CHECK_INT(brm_osb_boot_parts(a, 6, b, 6, out, 16, why, sizeof(why)), ==, 9);
        CHECK_STR(out[5].name, "boot-b/vmlinuz");
        b[1].size = 10;

        CHECK_INT(brm_osb_boot_parts(a, 6, b, 6, out, 3, why, sizeof(why)), ==, -EINVAL);
        CHECK_STR(why, "the boot slots hold more than 3 files");
        CHECK_INT(brm_osb_boot_parts(a, 6, b + 1, 5, out, 16, why, sizeof(why)), ==, -EINVAL);
        CHECK_STR(why, "the boot partition has no slot-b/version.txt");
        CHECK_INT(brm_osb_boot_parts(a + 1, 5, b, 6, out, 16, why, sizeof(why)), ==, -EINVAL);
        CHECK_STR(why, "the boot partition has no slot-a/vmlinuz");
        /* A slot of an image from before U-Boot. */
        CHECK_INT(brm_osb_boot_parts(a, 6, b, 5, out, 16, why, sizeof(why)), ==, -EINVAL);
        CHECK_STR(why, "the boot partition has no slot-b/u-boot.bin (an image from before the Pis booted through "
                       "U-Boot: a Pi could not start it)");
        a[4] = file("vmlinuz", D1, 10);
        CHECK_INT(brm_osb_boot_parts(a, 6, b, 6, out, 16, why, sizeof(why)), ==, -EINVAL);
        CHECK_STR(why, "slot-a/vmlinuz is listed twice");
        a[4] = file("", D1, 10);
        CHECK_INT(brm_osb_boot_parts(a, 6, b, 6, out, 16, why, sizeof(why)), ==, -EINVAL);
        a[4] = file("only-a.dtb", D2, 6);

        /* The documents: root.squashfs first, the same bytes each time. */
        n = brm_osb_boot_parts(a, 6, b, 6, parts + 1, 16, why, sizeof(why));
        parts[0] = file("root.squashfs", D3, 8192);
        struct brm_os_version v = { .version = "0.9.1", .arch = "arm64", .kernel = "6.12" };
        char *cfg = brm_osb_config_json(&v, parts, (size_t)n + 1), *cfg2 = brm_osb_config_json(&v, parts, (size_t)n + 1);
        char *man = brm_osb_manifest_json(D1, strlen(cfg), parts, (size_t)n + 1);
        CHECK_STR(cfg, cfg2);
        CHECK(strncmp(cfg, "{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"org.bramble.os.version\":"
                           "\"0.9.1\",\"org.bramble.os.kernel\":\"6.12\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D3,
                      strlen("{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"org.bramble.os.version\":"
                             "\"0.9.1\",\"org.bramble.os.kernel\":\"6.12\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D3)) == 0);
        cJSON *m = cJSON_Parse(man), *l0 = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "layers"), 0);
        CHECK_STR(cJSON_GetObjectItem(m, "mediaType")->valuestring, BRM_OCI_MANIFEST);
        CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "digest")->valuestring, D1);
        CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(m, "layers")), ==, n + 1);
        CHECK_STR(cJSON_GetObjectItem(l0, "mediaType")->valuestring, BRM_OSB_PART_TYPE);
        CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(l0, "annotations"), "org.opencontainers.image.title")->valuestring,
                  "root.squashfs");
        CHECK_INT(cJSON_GetObjectItem(l0, "size")->valuedouble, ==, 8192);
        cJSON_Delete(m);
        free(cfg);
        free(cfg2);
        free(man);
}

int main(void)
{
        check_version();
        check_squashfs();
        check_parts();
        printf("ok\n");
        return 0;
}
