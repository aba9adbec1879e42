/* An OS update bundle as the node reads it (pure; fuzzed by fuzz_osbundle).
 * The bundle is an OCI image in the master's store: its manifest lists the
 * parts, each a raw layer of media type application/vnd.bramble.os.part.v1
 * named by its org.opencontainers.image.title annotation, and its config
 * says the architecture and the version (label org.bramble.os.version).
 * Titles: "root.squashfs" (the root slot's file system), "boot/NAME" (a
 * boot file the same for both slots), "boot-a/NAME" or "boot-b/NAME" (a
 * slot's own boot file, such as its command line). */
#ifndef BRM_OSBUNDLE_H
#define BRM_OSBUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define BRM_OSBUNDLE_MAX_PARTS 64
#define BRM_OSBUNDLE_PART_MAX (1ull << 30)
#define BRM_OSBUNDLE_PART_TYPE "application/vnd.bramble.os.part.v1"
#define BRM_OSBUNDLE_VERSION_LABEL "org.bramble.os.version"

struct brm_ospart {
        char title[80];
        char hex[65];          /* the SHA-256 of its bytes */
        uint64_t size;
};

struct brm_osbundle {
        char config_hex[65];
        uint64_t config_size;
        char arch[32];
        char version[64];
        struct brm_ospart parts[BRM_OSBUNDLE_MAX_PARTS];
        size_t n;
        uint64_t total;        /* the parts' bytes */
};

/* Whether S is a version an image can carry (image/build.sh's rule:
 * 1-63 of A-Z a-z 0-9 . _ + ~ -, starting with a letter or digit). */
int brm_osbundle_valid_version(const char *s);

/* Reads the manifest into B (parts and the config's digest). 0, or
 * -EINVAL with WHY naming what is wrong. */
int brm_osbundle_manifest(const char *json, size_t len, struct brm_osbundle *b, char *why, size_t why_size);

/* Reads the config into B (architecture and version). 0 or -EINVAL. */
int brm_osbundle_config(const char *json, size_t len, struct brm_osbundle *b, char *why, size_t why_size);

/* Whether B can fill slot SLOT ('a' or 'b'): a root file system and the
 * slot's vmlinuz and initrd.img, each once. 0 or -EINVAL with WHY. */
int brm_osbundle_check(const struct brm_osbundle *b, char slot, char *why, size_t why_size);

/* The part of B installed as NAME in SLOT ("vmlinuz"): its boot/ or
 * boot-SLOT/ entry; NULL when it has none. */
const struct brm_ospart *brm_osbundle_boot_file(const struct brm_osbundle *b, char slot, const char *name);

#endif
