/* The log directory's layout: paths, moving a removed container's log
 * aside, finding the newest one kept, and walking every log directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "logdir.h"

static char root[64];

struct seen {
        int n;
        char what[8][80];
};

static void each(const struct brm_logdir_entry *e, void *arg)
{
        struct seen *v = arg;
        static const char *const kinds[] = { "c", "r", "a" };

        CHECK(v->n < 8);
        if (e->kind == BRM_LOGDIR_REMOVED && e->has_removed_ms)
                snprintf(v->what[v->n++], sizeof(v->what[0]), "%s:%s:%lld", kinds[e->kind], e->name,
                         (long long)e->removed_ms);
        else
                snprintf(v->what[v->n++], sizeof(v->what[0]), "%s:%s", kinds[e->kind], e->name);
}

static bool saw(const struct seen *v, const char *what)
{
        for (int i = 0; i < v->n; i++)
                if (strcmp(v->what[i], what) == 0)
                        return true;
        return false;
}

int main(void)
{
        struct brm_logdir d;
        struct seen v = { 0 };
        char path[1300], sub[1200], moved[1200], small[16];
        struct stat st;
        FILE *f;

        snprintf(root, sizeof(root), "/tmp/brm-logdir.XXXXXX");
        CHECK(mkdtemp(root));
        snprintf(sub, sizeof(sub), "%s/logs/deeper", root);
        CHECK_INT(brm_logdir_init(&d, sub), ==, 0);
        CHECK_INT(brm_logdir_create(&d), ==, 0);
        CHECK_INT(brm_logdir_create(&d), ==, 0);
        snprintf(path, sizeof(path), "%s/removed", sub);
        CHECK_INT(stat(path, &st), ==, 0);

        CHECK_INT(brm_logdir_container(&d, "web", path, sizeof(path)), ==, 0);
        snprintf(sub, sizeof(sub), "%s/logs/deeper/containers/web", root);
        CHECK_STR(path, sub);
        strcpy(small, "keep");
        CHECK_INT(brm_logdir_container(&d, "../etc", path, sizeof(path)), ==, -EINVAL);
        CHECK_INT(brm_logdir_container(&d, "web", small, sizeof(small)), ==, -ENAMETOOLONG);
        CHECK_STR(small, "keep");

        /* Nothing to move, nothing kept. */
        CHECK_INT(brm_logdir_move_removed(&d, "web", 1000, moved, sizeof(moved)), ==, -ENOENT);
        CHECK_INT(brm_logdir_find_removed(&d, "web", path, sizeof(path)), ==, -ENOENT);

        /* Two removals of "web", one of "web2" (a name with "web" as prefix). */
        CHECK_INT(brm_logdir_container(&d, "web", path, sizeof(path)), ==, 0);
        CHECK_INT(mkdir(path, 0700), ==, 0);
        CHECK_INT(brm_logdir_move_removed(&d, "web", 1000, moved, sizeof(moved)), ==, 0);
        snprintf(sub, sizeof(sub), "%s/logs/deeper/removed/web.1000", root);
        CHECK_STR(moved, sub);
        CHECK_INT(mkdir(path, 0700), ==, 0);
        CHECK_INT(brm_logdir_move_removed(&d, "web", 3000, moved, sizeof(moved)), ==, 0);
        CHECK_INT(brm_logdir_container(&d, "web2", path, sizeof(path)), ==, 0);
        CHECK_INT(mkdir(path, 0700), ==, 0);
        CHECK_INT(brm_logdir_move_removed(&d, "web2", 5000, moved, sizeof(moved)), ==, 0);
        CHECK_INT(brm_logdir_find_removed(&d, "web", path, sizeof(path)), ==, 0);
        snprintf(sub, sizeof(sub), "%s/logs/deeper/removed/web.3000", root);
        CHECK_STR(path, sub);

        /* The walk: removed (with their times), containers, the agent; not
         * dot entries, files, or removed names without a suffix. */
        CHECK_INT(brm_logdir_container(&d, "db", path, sizeof(path)), ==, 0);
        CHECK_INT(mkdir(path, 0700), ==, 0);
        snprintf(path, sizeof(path), "%s/logs/deeper/containers/.hidden", root);
        CHECK_INT(mkdir(path, 0700), ==, 0);
        snprintf(path, sizeof(path), "%s/logs/deeper/containers/afile", root);
        CHECK((f = fopen(path, "w")) != NULL);
        fclose(f);
        snprintf(path, sizeof(path), "%s/logs/deeper/removed/nosuffix", root);
        CHECK_INT(mkdir(path, 0700), ==, 0);
        snprintf(path, sizeof(path), "%s/logs/deeper/removed/odd.x1", root);
        CHECK_INT(mkdir(path, 0700), ==, 0);
        brm_logdir_walk(&d, each, &v);
        for (int i = 0; i < v.n; i++)
                printf("walk: %s\n", v.what[i]);
        CHECK_INT(v.n, ==, 6);
        CHECK(saw(&v, "r:web.1000:1000"));
        CHECK(saw(&v, "r:web.3000:3000"));
        CHECK(saw(&v, "r:web2.5000:5000"));
        CHECK(saw(&v, "r:odd.x1"));
        CHECK(saw(&v, "c:db"));
        CHECK(saw(&v, "a:agent"));

        snprintf(path, sizeof(path), "rm -rf %s", root);
        CHECK_INT(system(path), ==, 0);
        printf("logdir: ok\n");
        return 0;
}
