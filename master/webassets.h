/* The dashboard's files, built into the master (master/web, turned into
 * C by master/embed.cmake): no CDN, nothing fetched from elsewhere. */
#ifndef BRM_WEBASSETS_H
#define BRM_WEBASSETS_H

#include <stddef.h>
#include <string.h>

struct brm_asset {
        const char *path;          /* "/" for index.html */
        const char *content_type;
        const unsigned char *data;
        size_t len;
        const char *etag;          /* quoted: a hash of the content */
};

extern const struct brm_asset brm_assets[];

static inline const struct brm_asset *brm_asset_find(const char *path)
{
        for (const struct brm_asset *a = brm_assets; a->path; a++)
                if (strcmp(a->path, path) == 0 || (strcmp(path, "/index.html") == 0 && strcmp(a->path, "/") == 0))
                        return a;
        return NULL;
}

#endif
