/* The OCI image config document; see oci.h. */
#include "oci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *str_of(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int set_strv(const cJSON *arr, char **out, size_t max)
{
        const cJSON *v;
        size_t n = 0;

        cJSON_ArrayForEach(v, arr) {
                if (!cJSON_IsString(v))
                        continue;
                if (n + 1 >= max)
                        return -E2BIG;
                if (!(out[n++] = strdup(v->valuestring)))
                        return -ENOMEM;
        }
        return 0;
}

int brm_oci_config_parse(const char *json, size_t len, struct brm_image_config *img)
{
        cJSON *o = cJSON_ParseWithLength(json, len);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "config");
        const char *s;
        int r = 0;

        if (!cJSON_IsObject(o))
                r = -EINVAL;
        else if (!c)
                r = 0; /* an image without defaults */
        else if ((r = set_strv(cJSON_GetObjectItemCaseSensitive(c, "Entrypoint"), img->entrypoint, BRM_MAX_ARGS)) < 0 ||
                 (r = set_strv(cJSON_GetObjectItemCaseSensitive(c, "Cmd"), img->cmd, BRM_MAX_ARGS)) < 0 ||
                 (r = set_strv(cJSON_GetObjectItemCaseSensitive(c, "Env"), img->env, BRM_MAX_ENV)) < 0)
                ;
        else {
                if ((s = str_of(c, "WorkingDir")))
                        snprintf(img->workdir, sizeof(img->workdir), "%s", s);
                if ((s = str_of(c, "User")))
                        snprintf(img->user, sizeof(img->user), "%s", s);
        }
        cJSON_Delete(o);
        return r;
}
