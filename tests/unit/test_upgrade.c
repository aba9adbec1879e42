/* bramble node upgrade: its argument checks (cli/upgrade.c) and the texts
 * and JSON of a rollout from canned answers (cli/upgradefmt.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "statusjson.h"
#include "upgrade.h"
#include "upgradefmt.h"

#define NOW 1800000000000LL

static const char *img;
static char image_eq[4200];

static int run(struct brm_upgrade_args *a, char *why, ...)
{
        char *argv[32] = { "upgrade" };
        int argc = 1;
        va_list ap;

        va_start(ap, why);
        for (char *s; (s = va_arg(ap, char *));)
                argv[argc++] = strcmp(s, "IMG") == 0 ? (char *)img : strcmp(s, "--image=IMG") == 0 ? image_eq : s;
        va_end(ap);
        why[0] = '\0';
        return brm_upgrade_parse(argc, argv, a, why, 256);
}

#define REFUSED(want, ...)                                                                     \
        do {                                                                                   \
                CHECK_INT(run(&a, why, __VA_ARGS__, NULL), ==, -EINVAL);                       \
                if (!strstr(why, want))                                                        \
                        CHECK_FAIL_("why is '%s', expected '%s'", why, want);                  \
        } while (0)

static void check_args(void)
{
        static struct brm_upgrade_args a;
        char why[256];

        CHECK_INT(run(&a, why, "pi-a", "pi-b", "--image", "IMG", NULL), ==, 0);
        CHECK_INT(a.n_nodes, ==, 2);
        CHECK_STR(a.nodes[1], "pi-b");
        CHECK_STR(a.image, img);
        CHECK_INT(a.parallel, ==, 1);
        CHECK_INT(a.confirm_ms, ==, 300000);
        CHECK_INT(a.healthy_ms, ==, 30000);
        CHECK(!a.all && !a.detach && !a.status);
        CHECK_INT(run(&a, why, "--all", "--image=IMG", "--parallel", "3", "--confirm-within", "10m", "--healthy-for=1m",
                      "--detach", NULL), ==, 0);
        CHECK(a.all && a.detach);
        CHECK_INT(a.parallel, ==, 3);
        CHECK_INT(a.confirm_ms, ==, 600000);
        CHECK_INT(a.healthy_ms, ==, 60000);
        CHECK_INT(run(&a, why, "--status", NULL), ==, 0);
        CHECK(a.status);
        CHECK_INT(run(&a, why, "--image", "IMG", "--upload-only", NULL), ==, 0);
        CHECK(a.upload_only);
        CHECK_INT(run(&a, why, "--help", NULL), ==, 1);

        REFUSED("invalid --parallel '0': expected 1-64 nodes at a time", "--all", "--image", "IMG", "--parallel", "0");
        REFUSED("invalid --parallel 'x'", "--all", "--image", "IMG", "--parallel", "x");
        REFUSED("name nodes or give --all, not both", "pi-a", "--all", "--image", "IMG");
        REFUSED("--image FILE.img[.xz] is required", "pi-a");
        REFUSED("--image needs a file", "pi-a", "--image");
        REFUSED("which nodes? name them, or give --all", "--image", "IMG");
        REFUSED("cannot read /nonexistent/os.img: No such file or directory", "pi-a", "--image", "/nonexistent/os.img");
        REFUSED("'Pi_A' is not a node name", "Pi_A", "--image", "IMG");
        REFUSED("unknown option '--force'", "pi-a", "--image", "IMG", "--force");
        REFUSED("invalid --confirm-within 'soon'", "pi-a", "--image", "IMG", "--confirm-within", "soon");
        REFUSED("invalid --confirm-within '5s': expected a duration of at least 10s", "pi-a", "--image", "IMG",
                "--confirm-within", "5s");
        REFUSED("invalid --healthy-for '-1s'", "pi-a", "--image", "IMG", "--healthy-for", "-1s");
        REFUSED("--confirm-within (60000ms) must be longer than --healthy-for (60000ms)", "pi-a", "--image", "IMG",
                "--confirm-within", "1m", "--healthy-for", "1m");
        REFUSED("--status takes no other argument", "--status", "pi-a");
        REFUSED("--upload-only stores the bundle and upgrades no node", "--upload-only", "--all", "--image", "IMG");
}

static void check_texts(void)
{
        Bramble__UpdateStatus u = BRAMBLE__UPDATE_STATUS__INIT;
        Bramble__UpgradeNode n = BRAMBLE__UPGRADE_NODE__INIT, n2 = BRAMBLE__UPGRADE_NODE__INIT;
        Bramble__UpgradeNode *nodes[] = { &n, &n2 };
        Bramble__UpgradeInfo i = BRAMBLE__UPGRADE_INFO__INIT;
        char t[256];

        u.state = "downloading";
        u.has_bytes_done = u.has_bytes_total = 1;
        u.bytes_done = 22100000;
        u.bytes_total = 52300000;
        brm_upgrade_update_text(&u, NOW, false, t, sizeof(t));
        CHECK_STR(t, "downloading 42% (22.1 of 52.3 MB)");
        brm_upgrade_update_text(&u, NOW, true, t, sizeof(t));
        CHECK_STR(t, "downloading 40% (20.9 of 52.3 MB)");
        CHECK(brm_upgrade_in_progress(&u));
        u.state = "confirming";
        u.has_deadline_ms = 1;
        u.deadline_ms = NOW + 250000;
        brm_upgrade_update_text(&u, NOW, false, t, sizeof(t));
        CHECK_STR(t, "confirming (4m left)");
        brm_upgrade_update_text(&u, NOW, true, t, sizeof(t));
        CHECK_STR(t, "confirming (gives up at 2027-01-15T08:04:10Z)");
        u.state = "rolled-back";
        u.reason = "not connected within 5m of the reboot";
        CHECK(!brm_upgrade_in_progress(&u));
        brm_upgrade_update_text(&u, NOW, false, t, sizeof(t));
        CHECK_STR(t, "rolled-back: not connected within 5m of the reboot");
        u.version = "0.9.1";
        u.has_finished_ms = 1;
        u.finished_ms = NOW - 7200000;
        brm_upgrade_update_cell(&u, NOW, t, sizeof(t));
        CHECK_STR(t, "rolled-back 0.9.1: not connected within 5m of the reboot (2h ago)");
        brm_upgrade_update_cell(NULL, NOW, t, sizeof(t));
        CHECK_STR(t, "-");

        /* A node of a rollout: its own state until it upgrades. */
        n.node = "pi-a";
        n.state = "draining";
        n.update = &u;
        brm_upgrade_node_text(&n, NOW, false, t, sizeof(t));
        CHECK_STR(t, "draining: not connected within 5m of the reboot");
        u.state = "committed";
        u.reason = NULL;
        u.slot = "b";
        n.state = "committed";
        brm_upgrade_node_text(&n, NOW, false, t, sizeof(t));
        CHECK_STR(t, "committed 0.9.1 on slot b");
        n2.node = "pi-b";
        n2.state = "failed";
        n2.reason = "the bundle is for arm64, the node is amd64";
        brm_upgrade_node_text(&n2, NOW, false, t, sizeof(t));
        CHECK_STR(t, "failed: the bundle is for arm64, the node is amd64");

        i.id = 3;
        i.ref = "docker.io/library/bramble-os:0.9.1";
        i.version = "0.9.1";
        i.state = "stopped";
        i.reason = "pi-b failed";
        i.n_nodes = 2;
        i.nodes = nodes;
        i.has_started_ms = 1;
        i.started_ms = NOW - 600000;
        cJSON *j = brm_upgrade_info_json(&i);
        CHECK_INT(cJSON_GetObjectItem(j, "id")->valueint, ==, 3);
        CHECK_STR(cJSON_GetObjectItem(j, "state")->valuestring, "stopped");
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "finished")));
        cJSON *j0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "nodes"), 0);
        CHECK_STR(cJSON_GetObjectItem(j0, "node")->valuestring, "pi-a");
        CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j0, "update"), "slot")->valuestring, "b");
        CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(j0, "update"), "finished_ms")->valuedouble, ==, NOW - 7200000);
        cJSON_Delete(j);

        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        brm_upgrade_print_info(f, &i, NOW);
        fclose(f);
        CHECK_STR(buf, "rollout 3: docker.io/library/bramble-os:0.9.1, stopped: pi-b failed; started 10m ago\n"
                       "  pi-a                 committed 0.9.1 on slot b\n"
                       "  pi-b                 failed: the bundle is for arm64, the node is amd64\n");
        free(buf);
}

/* Following a rollout: a line per change, in place on a terminal. */
static void check_follow(bool tty, const char *want_out, const char *want_err)
{
        Bramble__UpdateStatus u = BRAMBLE__UPDATE_STATUS__INIT;
        Bramble__UpgradeNode a = BRAMBLE__UPGRADE_NODE__INIT, b = BRAMBLE__UPGRADE_NODE__INIT;
        Bramble__UpgradeNode *nodes[] = { &a, &b };
        Bramble__UpgradeInfo i = BRAMBLE__UPGRADE_INFO__INIT;
        static struct brm_upgrade_follow f;
        char *out = NULL, *err = NULL;
        size_t lo = 0, le = 0;

        memset(&f, 0, sizeof(f));
        f.out = open_memstream(&out, &lo);
        f.err = open_memstream(&err, &le);
        f.id = 7;
        f.tty = tty;
        i.id = 7;
        i.ref = "docker.io/library/bramble-os:0.9.1";
        i.state = "running";
        i.n_nodes = 2;
        i.nodes = nodes;
        a.node = "pi-a";
        b.node = "pi-b";
        a.state = "draining";
        b.state = "queued";
        CHECK_INT(brm_upgrade_follow_step(&f, &i, NOW), ==, -1);
        CHECK_INT(brm_upgrade_follow_step(&f, &i, NOW + 1000), ==, -1); /* nothing new */
        a.state = "upgrading";
        a.update = &u;
        u.state = "downloading";
        u.has_bytes_done = u.has_bytes_total = 1;
        u.bytes_total = 50000000;
        u.bytes_done = 1000000;
        CHECK_INT(brm_upgrade_follow_step(&f, &i, NOW + 2000), ==, -1);
        u.bytes_done = 3000000;
        CHECK_INT(brm_upgrade_follow_step(&f, &i, NOW + 3000), ==, -1);
        u.bytes_done = 26000000;
        CHECK_INT(brm_upgrade_follow_step(&f, &i, NOW + 4000), ==, -1);
        u.state = "rolled-back";
        u.reason = "not connected within 5m";
        a.state = "rolled-back";
        a.reason = "the node went back to slot a";
        i.state = "stopped";
        i.reason = "pi-a rolled back: not connected within 5m";
        b.state = "skipped";
        CHECK_INT(brm_upgrade_follow_step(&f, &i, NOW + 5000), ==, 1);
        fclose(f.out);
        fclose(f.err);
        CHECK_STR(out, want_out);
        CHECK_STR(err, want_err);
        free(out);
        free(err);

        /* Another rollout replaced it. */
        memset(&f, 0, sizeof(f));
        f.out = open_memstream(&out, &lo);
        f.err = open_memstream(&err, &le);
        f.id = 6;
        CHECK_INT(brm_upgrade_follow_step(&f, &i, NOW), ==, 1);
        fclose(f.out);
        fclose(f.err);
        CHECK_STR(out, "");
        CHECK(strstr(err, "another rollout (7) started after this one (6)"));
        free(out);
        free(err);
}

/* nodes -o json: the heartbeat's update over the NodeInfo's. */
static void check_node_json(void)
{
        Bramble__UpdateStatus hu = BRAMBLE__UPDATE_STATUS__INIT, iu = BRAMBLE__UPDATE_STATUS__INIT;
        Bramble__Heartbeat hb = BRAMBLE__HEARTBEAT__INIT;
        Bramble__NodeInfo in = BRAMBLE__NODE_INFO__INIT;
        Bramble__NodeStatus n = BRAMBLE__NODE_STATUS__INIT;
        cJSON *j, *u;

        n.name = "pi-a";
        n.state = "Ready";
        n.info = &in;
        in.os_version = "0.9.0";
        in.slot = "a";
        iu.state = "committed";
        iu.version = "0.9.0";
        in.update = &iu;
        CHECK(brm_node_update(&n) == &iu);
        n.last = &hb;
        CHECK(brm_node_update(&n) == &iu);
        hu.state = "writing";
        hu.version = "0.9.1";
        hu.from_version = "0.9.0";
        hu.slot = "b";
        hu.has_bytes_done = hu.has_bytes_total = 1;
        hu.bytes_done = 10;
        hu.bytes_total = 40;
        hu.has_started_ms = 1;
        hu.started_ms = NOW;
        hb.update = &hu;
        CHECK(brm_node_update(&n) == &hu);
        j = brm_json_node(&n);
        u = cJSON_GetObjectItem(j, "update");
        CHECK_STR(cJSON_GetObjectItem(j, "os_version")->valuestring, "0.9.0");
        CHECK_STR(cJSON_GetObjectItem(u, "state")->valuestring, "writing");
        CHECK_STR(cJSON_GetObjectItem(u, "from_version")->valuestring, "0.9.0");
        CHECK_INT(cJSON_GetObjectItem(u, "bytes_total")->valuedouble, ==, 40);
        CHECK_STR(cJSON_GetObjectItem(u, "started")->valuestring, "2027-01-15T08:00:00Z");
        CHECK(!cJSON_GetObjectItem(u, "deadline"));
        cJSON_Delete(j);
        n.info = NULL;
        n.last = NULL;
        j = brm_json_node(&n);
        CHECK(!cJSON_GetObjectItem(j, "update"));
        cJSON_Delete(j);
}

static int rollback(struct brm_rollback_args *a, char *why, ...)
{
        char *argv[16] = { "rollback" };
        int argc = 1;
        va_list ap;

        va_start(ap, why);
        for (char *s; (s = va_arg(ap, char *));)
                argv[argc++] = s;
        va_end(ap);
        why[0] = '\0';
        return brm_rollback_parse(argc, argv, a, why, 256);
}

#define RB_REFUSED(want, ...)                                                                  \
        do {                                                                                   \
                CHECK_INT(rollback(&r, why, __VA_ARGS__, NULL), ==, -EINVAL);                  \
                if (!strstr(why, want))                                                        \
                        CHECK_FAIL_("why is '%s', expected '%s'", why, want);                  \
        } while (0)

/* node rollback: one node, the same windows as an upgrade. */
static void check_rollback_args(void)
{
        struct brm_rollback_args r;
        char why[256];

        CHECK_INT(rollback(&r, why, "pi-a", NULL), ==, 0);
        CHECK_STR(r.node, "pi-a");
        CHECK_INT(r.confirm_ms, ==, 300000);
        CHECK_INT(r.healthy_ms, ==, 30000);
        CHECK_INT(rollback(&r, why, "--confirm-within", "2m", "pi-a", "--healthy-for=10s", NULL), ==, 0);
        CHECK_STR(r.node, "pi-a");
        CHECK_INT(r.confirm_ms, ==, 120000);
        CHECK_INT(r.healthy_ms, ==, 10000);
        CHECK_INT(rollback(&r, why, "--help", NULL), ==, 1);
        RB_REFUSED("which node?", "--healthy-for", "5s");
        RB_REFUSED("one node at a time: 'pi-a' and 'pi-b'", "pi-a", "pi-b");
        RB_REFUSED("'Pi_A' is not a node name", "Pi_A");
        RB_REFUSED("invalid --confirm-within '5s': expected a duration of at least 10s", "pi-a", "--confirm-within", "5s");
        RB_REFUSED("invalid --healthy-for 'soon'", "pi-a", "--healthy-for", "soon");
        RB_REFUSED("--confirm-within (60000ms) must be longer than --healthy-for (120000ms)", "pi-a", "--confirm-within",
                   "1m", "--healthy-for", "2m");
        RB_REFUSED("unknown option '--all'", "--all");
}

int main(int argc, char **argv)
{
        (void)argc;
        img = argv[0]; /* a file that can be read */
        snprintf(image_eq, sizeof(image_eq), "--image=%s", img);
        check_args();
        check_rollback_args();
        check_texts();
        check_node_json();
        check_follow(false,
                     "pi-a: draining\n"
                     "pi-b: queued\n"
                     "pi-a: downloading 0% (0.0 of 50.0 MB)\n"
                     "pi-a: downloading 50% (25.0 of 50.0 MB)\n"
                     "pi-a: rolled-back: the node went back to slot a\n"
                     "pi-b: skipped\n",
                     "bramble: rollout 7 stopped: pi-a rolled back: not connected within 5m\n");
        check_follow(true,
                     "pi-a: draining\n"
                     "pi-b: queued\n"
                     "pi-a: downloading 2% (1.0 of 50.0 MB)"
                     "\r\033[Kpi-a: downloading 6% (3.0 of 50.0 MB)"
                     "\r\033[Kpi-a: downloading 52% (26.0 of 50.0 MB)"
                     "\r\033[Kpi-a: rolled-back: the node went back to slot a\n"
                     "pi-b: skipped\n",
                     "bramble: rollout 7 stopped: pi-a rolled back: not connected within 5m\n");
        printf("ok\n");
        return 0;
}
