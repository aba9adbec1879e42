/* Placement (master/place.c) over hand-made nodes: filters (Ready,
 * cordoned, platform, constraints, --max-per-node, memory and CPU), the
 * spread and the reason given when nothing fits; built-in labels; and the
 * constraint and label grammar (lib/svcspec.c). */
#include <errno.h>

#include "check.h"
#include "place.h"
#include "svcspec.h"

static uint8_t *info_of(const char *arch, const char *model, uint64_t mem, uint32_t cpus, size_t *len)
{
        Bramble__NodeInfo info = BRAMBLE__NODE_INFO__INIT;
        uint8_t *buf;

        info.arch = (char *)arch;
        info.model = (char *)model;
        info.has_mem_total_bytes = info.has_cpu_count = info.has_cgroup_version = 1;
        info.mem_total_bytes = mem;
        info.cpu_count = cpus;
        info.cgroup_version = 2;
        *len = bramble__node_info__get_packed_size(&info);
        CHECK((buf = malloc(*len)) != NULL);
        bramble__node_info__pack(&info, buf);
        return buf;
}

static struct brm_node nodes[5];
static struct brm_node_view views[5];

static void setup(void)
{
        static const struct {
                const char *name, *arch, *model;
                uint64_t mib;
        } def[5] = {
                { "pi-a", "aarch64", "Raspberry Pi 4 Model B Rev 1.4", 4096 },
                { "pi-b", "aarch64", "Raspberry Pi 3 Model B Plus Rev 1.3", 1024 },
                { "pi-c", "aarch64", "Raspberry Pi 4 Model B Rev 1.5", 8192 },
                { "pi-d", "aarch64", "Raspberry Pi Zero 2 W Rev 1.0", 512 },
                { "pc-e", "x86_64", NULL, 16384 },
        };

        for (int i = 0; i < 5; i++) {
                free(nodes[i].info);
                free(nodes[i].labels);
                memset(&nodes[i], 0, sizeof(nodes[i]));
                snprintf(nodes[i].name, sizeof(nodes[i].name), "%s", def[i].name);
                nodes[i].ready = true;
                nodes[i].info = info_of(def[i].arch, def[i].model, def[i].mib << 20, 4, &nodes[i].info_len);
        }
        CHECK_INT(brm_registry_set_labels(&nodes[2], "zone=attic\nssd=yes\n"), ==, 0);
        for (int i = 0; i < 5; i++)
                brm_view_fill(&views[i], &nodes[i]);
}

static int arm64_only(void *arg, const char *platform)
{
        (void)arg;
        return strcmp(platform, "linux/arm64") == 0 ? 0 : -ENOENT;
}

static void builtin_labels(void)
{
        setup();
        CHECK_STR(brm_view_label(&views[0], "arch"), "arm64");
        CHECK_STR(brm_view_label(&views[0], "board"), "pi4");
        CHECK_STR(brm_view_label(&views[1], "board"), "pi3");
        CHECK_STR(brm_view_label(&views[3], "board"), "pizero2");
        CHECK_STR(brm_view_label(&views[4], "arch"), "amd64");
        CHECK_STR(brm_view_label(&views[4], "board"), "other");
        CHECK_STR(brm_view_label(&views[0], "mem_mib"), "4096");
        CHECK_STR(brm_view_label(&views[0], "cgroup"), "v2");
        CHECK_STR(brm_view_label(&views[0], "node"), "pi-a");
        CHECK_STR(brm_view_label(&views[2], "zone"), "attic");
        CHECK(brm_view_label(&views[0], "zone") == NULL);
        CHECK_STR(views[0].platform, "linux/arm64");
        /* The operator's label wins over a built-in one. */
        CHECK_INT(brm_registry_set_labels(&nodes[1], "board=special\n"), ==, 0);
        brm_view_fill(&views[1], &nodes[1]);
        CHECK_STR(brm_view_label(&views[1], "board"), "special");
}

static void spread_and_filters(void)
{
        struct brm_place_req req = { .reserve = 64u << 20, .platform_ok = arm64_only };
        struct brm_constraint c[2];
        char why[400];
        int i;

        setup();
        /* Spread: each placement takes the node with the fewest of this service. */
        int seen[5] = { 0 };
        for (int k = 0; k < 4; k++) {
                i = brm_place(views, 5, &req, why, sizeof(why));
                CHECK(i >= 0 && i < 4); /* never the amd64 one */
                CHECK_INT(seen[i], ==, 0);
                seen[i] = 1;
                views[i].svc_count++;
                nodes[i].sched_count++;
        }
        /* --max-per-node 1 with every arm64 node holding one: nothing fits. */
        req.max_per_node = 1;
        CHECK_INT(brm_place(views, 5, &req, why, sizeof(why)), ==, -1);
        CHECK(strstr(why, "4 at --max-per-node") != NULL);
        CHECK(strstr(why, "1 of a platform the image lacks") != NULL);

        /* Memory: 1000 MiB fits pi-a and pi-c only (pi-b has 1024 - 64 reserve). */
        setup();
        req = (struct brm_place_req){ .reserve = 64u << 20, .platform_ok = arm64_only, .mem = 1000u << 20 };
        nodes[0].ready = false;
        i = brm_place(views, 5, &req, why, sizeof(why));
        CHECK_STR(nodes[i].name, "pi-c");
        nodes[2].sched_mem = 7400ull << 20;
        CHECK_INT(brm_place(views, 5, &req, why, sizeof(why)), ==, -1);
        CHECK(strstr(why, "no Ready node with 1000 MiB free") != NULL);
        CHECK(strstr(why, "1 NotReady") != NULL);
        CHECK(strstr(why, "3 without the memory") != NULL);

        /* Constraints and cordon. */
        setup();
        CHECK_INT(brm_constraint_parse("zone=attic", &c[0], why, sizeof(why)), ==, 0);
        req = (struct brm_place_req){ .cons = c, .n_cons = 1, .platform_ok = arm64_only };
        CHECK_STR(nodes[brm_place(views, 5, &req, why, sizeof(why))].name, "pi-c");
        snprintf(nodes[2].schedule, sizeof(nodes[2].schedule), "cordoned");
        CHECK_INT(brm_place(views, 5, &req, why, sizeof(why)), ==, -1);
        CHECK(strstr(why, "and zone=attic") != NULL);
        CHECK(strstr(why, "1 cordoned or draining") != NULL);
        nodes[2].schedule[0] = 0;
        CHECK_INT(brm_constraint_parse("board!=pi4", &c[0], why, sizeof(why)), ==, 0);
        CHECK_INT(brm_constraint_parse("model~Zero", &c[1], why, sizeof(why)), ==, 0);
        req.n_cons = 2;
        CHECK_STR(nodes[brm_place(views, 5, &req, why, sizeof(why))].name, "pi-d");

        /* CPU: 4 cores each; 3.5 CPUs reserved on all but pi-b. */
        setup();
        req = (struct brm_place_req){ .cpu = 1000, .platform_ok = arm64_only };
        for (int k = 0; k < 5; k++)
                nodes[k].sched_cpu = k == 1 ? 0 : 3500;
        CHECK_STR(nodes[brm_place(views, 5, &req, why, sizeof(why))].name, "pi-b");

        /* avoid: chosen only when nothing else fits; exclude: never. */
        setup();
        req = (struct brm_place_req){ .platform_ok = arm64_only, .avoid = "pi-a", .exclude = "pi-b" };
        nodes[2].ready = nodes[3].ready = false;
        CHECK_STR(nodes[brm_place(views, 5, &req, why, sizeof(why))].name, "pi-a");
        req.exclude = NULL;
        CHECK_STR(nodes[brm_place(views, 5, &req, why, sizeof(why))].name, "pi-b");

        /* A node gone quiet (seen 5 s ago with a 2 s interval) only when
         * nothing else fits. */
        setup();
        req = (struct brm_place_req){ .platform_ok = arm64_only, .now_mono = 100000, .quiet_ms = 3000 };
        for (int k = 0; k < 5; k++)
                nodes[k].last_seen_mono = 99500;
        nodes[0].last_seen_mono = 95000;
        nodes[1].sched_count = nodes[2].sched_count = nodes[3].sched_count = 1;
        CHECK_STR(nodes[brm_place(views, 5, &req, why, sizeof(why))].name, "pi-c");
        nodes[1].ready = nodes[2].ready = nodes[3].ready = false;
        CHECK_STR(nodes[brm_place(views, 5, &req, why, sizeof(why))].name, "pi-a");

        /* No nodes at all. */
        CHECK_INT(brm_place(views, 0, &req, why, sizeof(why)), ==, -1);
        CHECK(strstr(why, "the cluster has no nodes") != NULL);
}

static void grammar(void)
{
        struct brm_constraint c;
        const char *labels[] = { "zone=attic", "ssd=yes" };
        char why[200];

        CHECK_INT(brm_constraint_parse("zone=attic", &c, why, sizeof(why)), ==, 0);
        CHECK(brm_constraint_match(&c, labels, 2));
        CHECK_INT(brm_constraint_parse("zone!=attic", &c, why, sizeof(why)), ==, 0);
        CHECK(!brm_constraint_match(&c, labels, 2));
        CHECK_INT(brm_constraint_parse("gpu!=yes", &c, why, sizeof(why)), ==, 0);
        CHECK(brm_constraint_match(&c, labels, 2)); /* a missing key is not equal */
        CHECK_INT(brm_constraint_parse("zone~tt", &c, why, sizeof(why)), ==, 0);
        CHECK(brm_constraint_match(&c, labels, 2));
        CHECK_INT(brm_constraint_parse("gpu~x", &c, why, sizeof(why)), ==, 0);
        CHECK(!brm_constraint_match(&c, labels, 2));
        CHECK_INT(brm_constraint_parse("zone", &c, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "expected key=value") != NULL);
        CHECK_INT(brm_constraint_parse("=x", &c, why, sizeof(why)), ==, -EINVAL);
        CHECK_INT(brm_constraint_parse("zo ne=x", &c, why, sizeof(why)), ==, -EINVAL);
        CHECK_INT(brm_constraint_parse("zone~", &c, why, sizeof(why)), ==, -EINVAL);
        CHECK_INT(brm_constraint_parse("a!b", &c, why, sizeof(why)), ==, -EINVAL);
        CHECK_INT(brm_label_check("zone=attic", false, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_label_check("zone", false, why, sizeof(why)), ==, -EINVAL);
        CHECK_INT(brm_label_check("zone", true, why, sizeof(why)), ==, 0);
        CHECK_INT(brm_label_check("zone=a\tb", false, why, sizeof(why)), ==, -EINVAL);
        CHECK(brm_valid_service_name("web-1"));
        CHECK(!brm_valid_service_name("Web"));
        CHECK(!brm_valid_service_name("-web"));
        CHECK(!brm_valid_service_name("a.b"));
        CHECK(!brm_valid_service_name("abcdefghijabcdefghijabcdefghijabcdefghijx"));
}

int main(void)
{
        builtin_labels();
        spread_and_filters();
        grammar();
        for (int i = 0; i < 5; i++) {
                free(nodes[i].info);
                free(nodes[i].labels);
        }
        printf("place: ok\n");
        return 0;
}
