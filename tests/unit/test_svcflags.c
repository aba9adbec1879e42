/* service create and update flags: what create builds, and what update
 * lays over the current spec (exactly the flags given; lists replaced
 * whole; --env-add/--env-rm edit one variable; the health check's kind
 * replaced, its times one by one), and flags refused before anything is
 * sent. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "svcflags.h"
#include "util.h"

static int parse(struct brm_svcflags *f, bool update, char **argv, int argc)
{
        int r = brm_svcflags_parse(f, argc, argv, update);
        return r;
}

static void check_create(void)
{
        char *argv[] = { "create", "web", "--image", "web:1", "--replicas", "3", "--env", "A=1", "--constraint",
                         "arch=arm64", "--health-http", "8080/healthz", "--health-retries", "5", "--update-order",
                         "stop-first", "--on-disconnect", "stop-after", "30s", "--", "/bin/web", "-v" };
        struct brm_svcflags f;
        Bramble__ServiceSpec s;
        char why[256];

        CHECK_INT(parse(&f, false, argv, (int)BRM_ARRAY_SIZE(argv)), ==, 0);
        brm_svcflags_create(&f, "web", &s);
        CHECK_INT(brm_svcspec_check(&s, why, sizeof(why)), ==, 0);
        CHECK_STR(s.container->image, "web:1");
        CHECK_INT(s.replicas, ==, 3);
        CHECK_INT(s.container->n_args, ==, 2);
        CHECK_STR(s.container->args[1], "-v");
        CHECK_INT(s.container->health->http_port, ==, 8080);
        CHECK_STR(s.container->health->http_path, "/healthz");
        CHECK_INT(s.container->health->retries, ==, 5);
        CHECK_STR(s.update->order, "stop-first");
        CHECK_U64(s.container->disconnect_stop_ms, ==, 30000);
        CHECK_STR(s.constraints[0], "arch=arm64");
        brm_ctrflags_free(&f.cf);

        char *one[] = { "create", "db", "--image", "db:1" };
        CHECK_INT(parse(&f, false, one, 4), ==, 0);
        brm_svcflags_create(&f, "db", &s);
        CHECK_INT(s.replicas, ==, 1);
        CHECK(!s.update && !s.container->health && !s.container->has_disconnect_stop_ms);
        brm_ctrflags_free(&f.cf);
}

static void check_update(void)
{
        char *env[] = { "A=1", "B=2", "C=3" }, *cons[] = { "arch=arm64", "zone=a" }, *args[] = { "/bin/old" };
        Bramble__HealthCheck h = BRAMBLE__HEALTH_CHECK__INIT;
        Bramble__ContainerSpec c = BRAMBLE__CONTAINER_SPEC__INIT;
        Bramble__UpdatePolicy u = BRAMBLE__UPDATE_POLICY__INIT;
        Bramble__ServiceSpec cur = BRAMBLE__SERVICE_SPEC__INIT;
        struct brm_svcflags f;
        struct brm_svcedit e;
        char why[256];

        h.cmd = "true";
        h.has_interval_ms = 1;
        h.interval_ms = 5000;
        c.image = "web:1";
        c.env = env;
        c.n_env = 3;
        c.args = args;
        c.n_args = 1;
        c.has_memory_max = 1;
        c.memory_max = 64 << 20;
        c.health = &h;
        u.has_parallelism = 1;
        u.parallelism = 2;
        cur.name = "web";
        cur.has_replicas = 1;
        cur.replicas = 3;
        cur.container = &c;
        cur.constraints = cons;
        cur.n_constraints = 2;
        cur.update = &u;

        /* Only the image: everything else stays. */
        char *img[] = { "update", "web", "--image", "web:2" };
        CHECK_INT(parse(&f, true, img, 4), ==, 0);
        brm_svcflags_update(&f, &cur, &e);
        CHECK_INT(brm_svcspec_check(&e.spec, why, sizeof(why)), ==, 0);
        CHECK_STR(e.spec.container->image, "web:2");
        CHECK_STR(c.image, "web:1"); /* the current spec is not touched */
        CHECK_INT(e.spec.replicas, ==, 3);
        CHECK_INT(e.spec.container->n_env, ==, 3);
        CHECK_U64(e.spec.container->memory_max, ==, 64 << 20);
        CHECK_STR(e.spec.container->args[0], "/bin/old");
        CHECK_STR(e.spec.container->health->cmd, "true");
        CHECK_INT(e.spec.n_constraints, ==, 2);
        CHECK_INT(e.spec.update->parallelism, ==, 2);
        brm_ctrflags_free(&f.cf);

        /* Lists given replace the whole list; env-add/env-rm edit; a new
         * kind of check replaces the old one but keeps its times. */
        char *many[] = { "update", "web", "--constraint", "board=pi4", "--env-add", "B=20", "--env-add", "D=4",
                         "--env-rm", "A", "--health-tcp", "8080", "--update-monitor", "30s", "--", "/bin/new", "x" };
        CHECK_INT(parse(&f, true, many, (int)BRM_ARRAY_SIZE(many)), ==, 0);
        brm_svcflags_update(&f, &cur, &e);
        CHECK_INT(brm_svcspec_check(&e.spec, why, sizeof(why)), ==, 0);
        CHECK_INT(e.spec.n_constraints, ==, 1);
        CHECK_STR(e.spec.constraints[0], "board=pi4");
        CHECK_INT(e.spec.container->n_env, ==, 3);
        CHECK_STR(e.spec.container->env[0], "C=3");
        CHECK_STR(e.spec.container->env[1], "B=20");
        CHECK_STR(e.spec.container->env[2], "D=4");
        CHECK(e.spec.container->health->cmd == NULL);
        CHECK_INT(e.spec.container->health->tcp_port, ==, 8080);
        CHECK_INT(e.spec.container->health->interval_ms, ==, 5000);
        CHECK_INT(e.spec.update->monitor_ms, ==, 30000);
        CHECK_INT(e.spec.update->parallelism, ==, 2);
        CHECK_INT(e.spec.container->n_args, ==, 2);
        CHECK_STR(h.cmd, "true");
        brm_ctrflags_free(&f.cf);

        /* --env replaces them all; --no-health drops the check. */
        char *env2[] = { "update", "web", "--env", "Z=9", "--no-health", "--replicas", "0" };
        CHECK_INT(parse(&f, true, env2, (int)BRM_ARRAY_SIZE(env2)), ==, 0);
        brm_svcflags_update(&f, &cur, &e);
        CHECK_INT(brm_svcspec_check(&e.spec, why, sizeof(why)), ==, 0);
        CHECK_INT(e.spec.container->n_env, ==, 1);
        CHECK_STR(e.spec.container->env[0], "Z=9");
        CHECK(!e.spec.container->health);
        CHECK_INT(e.spec.replicas, ==, 0);
        brm_ctrflags_free(&f.cf);
}

static void check_refused(void)
{
        char *bad[][6] = {
                { "create", "web", "--image", "x", "--replicas", "-1" },
                { "create", "web", "--image", "x", "--constraint", "a" },
                { "create", "web", "--image", "x", "--max-per-node", "0" },
                { "create", "web", "--image", "x", "--update-parallelism", "0" },
                { "create", "web", "--image", "x", "--on-disconnect", "later" },
                { "create", "web", "--image", "x", "--env-add", "A=1" },   /* update only */
                { "create", "web", "--image", "x", "--no-health", "x" },
                { "create", "Web", "--image", "x", "--replicas", "1" },
                { "create", "web", "--health-cmd", "a", "--health-tcp", "1" },
        };
        struct brm_svcflags f;

        for (size_t i = 0; i < BRM_ARRAY_SIZE(bad); i++) {
                int r = parse(&f, false, bad[i], 6);
                if (r != 2)
                        CHECK_FAIL_("case %zu accepted (%d)", i, r);
                brm_ctrflags_free(&f.cf);
        }
}

int main(void)
{
        check_create();
        check_update();
        check_refused();
        printf("ok\n");
        return 0;
}
