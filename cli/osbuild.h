/* An OS update bundle (osbundle.h) made from a built image file, FILE.img
 * or FILE.img.xz, and stored on the master as bramble-os:VERSION. Every
 * check of the image (whole, partition 2 a squashfs, both boot slots with
 * their files and agreeing version.txt) is done before anything is sent.
 * Needs mtools (mcopy) for the boot partition. The temporary files (a
 * .img.xz decompressed, the slots' files) live in $TMPDIR (else /tmp)
 * only while the bundle is made: the upload reads the parts through open
 * descriptors. */
#ifndef BRM_CLI_OSBUILD_H
#define BRM_CLI_OSBUILD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "osbundle.h"

struct brm_cli;

struct brm_osbuild {
        const char *cmd;                /* for errors: "node upgrade" */
        const char *file;               /* as given */
        char img[PATH_MAX];             /* the raw image: file, or the decompressed copy */
        char tmp[256];                  /* temporary directory ($TMPDIR or /tmp), "" when none */
        struct brm_os_version v;
        struct brm_osb_file parts[BRM_OSB_MAX_PARTS];
        int fds[BRM_OSB_MAX_PARTS];     /* each part's file, open: the temporary ones are removed once made */
        size_t n;
        uint64_t root_off;              /* partition 2's offset in img */
        uint64_t total;                 /* bytes of all parts */
        char *config, *manifest;        /* the documents */
        char config_digest[BRM_OCI_DIGEST_SIZE], manifest_digest[BRM_OCI_DIGEST_SIZE];
        bool tty;                       /* progress on stderr */
};

/* Reads FILE into b (cmd names the command in errors), the parts hashed
 * and open, the temporary files removed. Returns 0, or
 * prints "bramble CMD: FILE: why" and returns EXIT_FAIL. Free with
 * brm_osbuild_free either way. */
int brm_osbuild_make(struct brm_osbuild *b, const char *cmd, const char *file);

/* Uploads the parts, the config and the manifest and names it
 * bramble-os:VERSION; ret_ref gets the name. Returns 0 or the exit code
 * after printing its one-line error. */
int brm_osbuild_upload(struct brm_osbuild *b, struct brm_cli *c, char *ret_ref, size_t ref_size);

/* Closes the parts, removes what temporary files are left, frees the
 * documents. */
void brm_osbuild_free(struct brm_osbuild *b);

#endif
