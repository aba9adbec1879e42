/* OS update bundles: what 'bramble node upgrade' makes of a built SD-card
 * image (image/build.sh) before it stores it on the master. A bundle is an
 * OCI image for linux/ARCH whose config carries the labels
 * org.bramble.os.version and org.bramble.os.kernel and whose layers are
 * the parts, raw bytes of media type application/vnd.bramble.os.part.v1,
 * each named by its org.opencontainers.image.title annotation:
 * "root.squashfs" (partition 2's file system), "boot/NAME" (a file of the
 * FAT's slot-a/ and slot-b/ with the same bytes in both) and
 * "boot-a/NAME", "boot-b/NAME" (a slot's own).
 *
 * This module is the pure part: version.txt, the squashfs superblock, the
 * parts' titles and the two JSON documents. Every reader here takes
 * untrusted bytes (tests/fuzz/fuzz_osbundle.c). osbuild.c reads the image
 * and uploads. */
#ifndef BRM_CLI_OSBUNDLE_H
#define BRM_CLI_OSBUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocidoc.h"

#define BRM_OSB_PART_TYPE "application/vnd.bramble.os.part.v1"
#define BRM_OSB_LABEL_VERSION "org.bramble.os.version"
#define BRM_OSB_LABEL_KERNEL "org.bramble.os.kernel"
#define BRM_OSB_REPO "bramble-os"
/* The files a slot must have: u-boot.bin is what config.txt starts on a
 * Pi (the slot's update.sh commit refuses a slot without it). */
#define BRM_OSB_REQUIRED { "u-boot.bin", "vmlinuz", "initrd.img", "version.txt" }
#define BRM_OSB_MAX_FILES 48          /* per slot */
#define BRM_OSB_MAX_PARTS (1 + 2 * BRM_OSB_MAX_FILES)
#define BRM_OSB_NAME_MAX 100          /* a boot file's name */
#define BRM_OSB_TITLE_MAX (BRM_OSB_NAME_MAX + 8)
/* A squashfs superblock: magic "hsqs" at 0, bytes_used (le64) at 40. */
#define BRM_SQUASHFS_SB_SIZE 96
#define BRM_OSB_ALIGN 4096

/* A slot's version.txt: "version=V\narch=A\nkernel=K\nbuild_time=T\n". */
struct brm_os_version {
        char version[64];
        char arch[16];
        char kernel[128];
        char build_time[64];
};

/* One file of a slot directory, or one part of a bundle. */
struct brm_osb_file {
        char name[BRM_OSB_TITLE_MAX];  /* a slot's file: "vmlinuz"; a part: its title */
        char digest[BRM_OCI_DIGEST_SIZE];
        uint64_t size;
        int slot;                       /* a part: where its bytes are ('a', 'b', or 0: the root) */
};

/* Whether s is an image version as image/build.sh takes it:
 * [A-Za-z0-9][A-Za-z0-9._+~-]{0,62}. */
bool brm_osb_valid_version(const char *s);

/* Whether s is an architecture a Bramble image is built for, by its
 * OCI / Debian name: arm64, amd64 or arm (what brm_oci_host_arch can say);
 * a node runs only the bundle of its own. */
bool brm_osb_valid_arch(const char *s);

/* Parses version.txt (LEN bytes, not NUL-terminated): version and arch are
 * required and checked, kernel and build_time optional, unknown keys
 * ignored, a key given twice refused. Returns 0 with *ret filled, or
 * -EINVAL with a one-line why; *ret untouched then. */
int brm_osb_version_parse(const char *text, size_t len, struct brm_os_version *ret, char *why, size_t why_size);

/* The bytes of a squashfs file system that starts with the superblock SB
 * (LEN bytes read) in a partition of PART_SIZE bytes: its bytes_used
 * rounded up to BRM_OSB_ALIGN (at most PART_SIZE). Returns 0 with *ret, or
 * -EINVAL with a one-line why (no squashfs magic, bytes_used 0 or beyond
 * the partition). */
int brm_osb_squashfs_size(const uint8_t *sb, size_t len, uint64_t part_size, uint64_t *ret, char *why, size_t why_size);

/* The boot parts from the two slots' files (each with its digest): a name
 * in both with the same digest is one part "boot/NAME" (slot 'a'), any
 * other is "boot-a/NAME" or "boot-b/NAME". Each slot must hold the
 * required files. Parts come out sorted by title. Returns the number of
 * parts written to out (at most max), or -EINVAL with why. */
int brm_osb_boot_parts(const struct brm_osb_file *a, size_t na, const struct brm_osb_file *b, size_t nb,
                       struct brm_osb_file *out, size_t max, char *why, size_t why_size);

/* The image config and the manifest of a bundle: parts[0] must be
 * root.squashfs, the rest sorted. Each is a malloc'ed string (free()), the
 * same bytes for the same input. The manifest names the config by
 * config_digest and config_size. Return NULL when out of memory. */
char *brm_osb_config_json(const struct brm_os_version *v, const struct brm_osb_file *parts, size_t n);
char *brm_osb_manifest_json(const char *config_digest, uint64_t config_size, const struct brm_osb_file *parts, size_t n);

#endif
