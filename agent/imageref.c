/* Image references on the node: what --image names (see image.h). Plain
 * file checks: the agent links this, and leaves reading layouts and
 * unpacking layers to bramble-unpack (image.c). */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))

void brm_image_config_free(struct brm_image_config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < BRM_MAX_ARGS; i++) {
                free(c->entrypoint[i]);
                free(c->cmd[i]);
                c->entrypoint[i] = c->cmd[i] = NULL;
        }
        for (size_t i = 0; i < BRM_MAX_ENV; i++) {
                free(c->env[i]);
                c->env[i] = NULL;
        }
}

/* ---- references ---- */

/* Splits "PATH:TAG" when PATH alone names something and the whole does not. */
int brm_image_split_ref(const char *ref, char *path, size_t size, char *tag, size_t tag_size)
{
        struct stat st;
        const char *colon = strrchr(ref, ':'), *slash = strrchr(ref, '/');

        tag[0] = '\0';
        if (stat(ref, &st) == 0 || !colon || (slash && colon < slash))
                return brm_path(path, size, "%s", ref);
        if ((size_t)(colon - ref) >= size || strlen(colon + 1) >= tag_size)
                return -ENAMETOOLONG;
        memcpy(path, ref, (size_t)(colon - ref));
        path[colon - ref] = '\0';
        strcpy(tag, colon + 1);
        return 0;
}

static bool is_layout(const char *dir)
{
        char p[1200];
        return brm_path(p, sizeof(p), "%s/oci-layout", dir) >= 0 && access(p, F_OK) == 0;
}

int brm_image_identify(const char *ref, enum brm_image_kind *ret_kind, char *why, size_t why_size)
{
        char path[1024], tag[256];
        struct stat st;

        if (brm_image_split_ref(ref, path, sizeof(path), tag, sizeof(tag)) < 0)
                return WHY("image %s: name too long", ref), -ENAMETOOLONG;
        if (stat(path, &st) < 0)
                return WHY("image not found: %s", ref), -ENOENT;
        if (S_ISDIR(st.st_mode)) {
                if (is_layout(path)) {
                        *ret_kind = BRM_IMAGE_LAYOUT;
                        return 0;
                }
                if (tag[0])
                        return WHY("image %s: %s is not an OCI image layout", ref, path), -EINVAL;
                *ret_kind = BRM_IMAGE_ROOTFS;
                return 0;
        }
        if (S_ISREG(st.st_mode)) {
                *ret_kind = BRM_IMAGE_ARCHIVE;
                return 0;
        }
        return WHY("image %s: neither a directory nor an oci-archive file", ref), -EINVAL;
}


int brm_image_rootfs_path(const char *ref, const char *path, struct brm_image_config *img, char *why, size_t why_size)
{
        char *real = realpath(path, NULL);
        int r = real ? brm_path(img->rootfs, sizeof(img->rootfs), "%s", real) : -errno;

        free(real);
        if (r < 0)
                WHY("image %s: %s", ref, strerror(-r));
        return r < 0 ? r : 0;
}
