/* The dashboard's files (master/web/), built into the master: a C source
 * generated at build time by master/webassets.cmake holds every file's
 * bytes, its content type and an ETag. */
#ifndef BRM_WEBASSETS_H
#define BRM_WEBASSETS_H

#include <stddef.h>

struct brm_asset {
        const char *path;         /* "/index.html", "/app.js", ... */
        const char *content_type; /* for the Content-Type header, charset included for text */
        const unsigned char *data;
        size_t len;
        const char *etag; /* quoted, as the ETag header carries it: "\"0123456789abcdef\"" (SHA-256 prefix) */
};

/* The file served at PATH (no query string; "/" is "/index.html"), or NULL
 * if there is none. The data is static and lives as long as the program. */
const struct brm_asset *brm_asset_find(const char *path);

#endif
