/* The persisted desired state (STATE/containers/desired.json) read back by
 * brm_ctrrecord_load_desired, on arbitrary bytes: the file may be cut by a
 * full disk or edited by hand. The reader must return 0 or a negative
 * errno, hand out only specs with a valid name, an image and NULL-ended
 * args and env, and call nothing when it refuses the file. A set it read
 * must survive being saved and read again unchanged. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrrecord.h"
#include "fileio.h"
#include "ocispec.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KEEP 16

struct got {
        size_t n;
        struct brm_container_spec specs[MAX_KEEP];
};

static void each(const struct brm_container_spec *s, void *arg)
{
        struct got *g = arg;
        size_t i;

        if (!brm_valid_container_name(s->name) || !memchr(s->image, '\0', sizeof(s->image)) ||
            !memchr(s->workdir, '\0', sizeof(s->workdir)))
                abort();
        for (i = 0; i < BRM_MAX_ARGS && s->args[i]; i++)
                ;
        if (i == BRM_MAX_ARGS)
                abort();
        for (i = 0; i < BRM_MAX_ENV && s->env[i]; i++)
                ;
        if (i == BRM_MAX_ENV)
                abort();
        /* The spec lives for this call only: keep a deep copy. */
        if (g->n < MAX_KEEP && brm_ocispec_spec_dup(s, &g->specs[g->n]) == 0)
                g->n++;
}

static void free_got(struct got *g)
{
        for (size_t i = 0; i < g->n; i++)
                brm_ocispec_spec_free(&g->specs[i]);
        g->n = 0;
}

/* Same spec: the same change key (every field but "stopped") and the same
 * stopped flag. */
static bool same(const struct brm_container_spec *a, const struct brm_container_spec *b)
{
        char *ka = brm_ctrrecord_spec_key(a), *kb = brm_ctrrecord_spec_key(b);
        bool eq;

        if (!ka || !kb)
                abort();
        eq = strcmp(ka, kb) == 0 && a->stopped == b->stopped;
        free(ka);
        free(kb);
        return eq;
}

static const char *the_dir;

/* The harness's own directory, emptied after each input. */
static void remove_dir(void)
{
        rmdir(the_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char dir[64];
        char path[128];
        struct got g = { 0 }, again = { 0 };
        size_t invalid = 12345, invalid2;
        char why[700] = "";
        int r;

        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "/tmp/brm-fuzz-desired.XXXXXX");
                if (!mkdtemp(dir))
                        abort();
                the_dir = dir;
                atexit(remove_dir);
        }
        snprintf(path, sizeof(path), "%s/desired.json", dir);
        if (brm_file_write_fast(path, data, size, 0600) < 0)
                abort();
        r = brm_ctrrecord_load_desired(dir, each, &g, &invalid, why, sizeof(why));
        if (r > 0 || (r < 0 && (g.n != 0 || invalid != 12345)))
                abort();
        /* A refusal names the file and says what is wrong, on one line. */
        if (r < 0 && (!strstr(why, "/desired.json is ") || strchr(why, '\n')))
                abort();
        /* What was read survives being saved and read again. */
        if (r == 0 && g.n < MAX_KEEP) {
                if (brm_ctrrecord_save_desired(dir, g.specs, g.n) < 0 ||
                    brm_ctrrecord_load_desired(dir, each, &again, &invalid2, why, sizeof(why)) < 0 || invalid2 != 0 || again.n != g.n)
                        abort();
                for (size_t i = 0; i < g.n; i++)
                        if (!same(&g.specs[i], &again.specs[i]))
                                abort();
        }
        free_got(&g);
        free_got(&again);
        unlink(path);
        return 0;
}
