/* 'bramble top' frames from a canned node list: the order of each sort
 * key, the throttle words, NotReady nodes, and the layout cut to the
 * terminal's width and height. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "topfmt.h"

#define NOW 1800000000000LL /* 2027-01-15 08:00:00 UTC */
#define GIB (1024ULL * 1024 * 1024)

static Bramble__NodeInfo info[4];
static Bramble__Heartbeat hb[4];
static Bramble__NodeStatus ns[4];
static Bramble__NodeStatus *nodes[4] = { &ns[0], &ns[1], &ns[2], &ns[3] };
static Bramble__NodeListResponse list = BRAMBLE__NODE_LIST_RESPONSE__INIT;
static Bramble__Throttle th_past = BRAMBLE__THROTTLE__INIT, th_now = BRAMBLE__THROTTLE__INIT;
static Bramble__ContainerStatus cs[6];
static Bramble__ContainerStatus *ctr_a[] = { &cs[0], &cs[1] }, *ctr_b[] = { &cs[2], &cs[3], &cs[4] }, *ctr_d[] = { &cs[5] };

static void node(int i, const char *name, const char *state, float cpu, uint64_t total, uint64_t avail)
{
        info[i] = (Bramble__NodeInfo)BRAMBLE__NODE_INFO__INIT;
        hb[i] = (Bramble__Heartbeat)BRAMBLE__HEARTBEAT__INIT;
        ns[i] = (Bramble__NodeStatus)BRAMBLE__NODE_STATUS__INIT;
        ns[i].name = (char *)name;
        ns[i].state = (char *)state;
        ns[i].info = &info[i];
        ns[i].last = &hb[i];
        ns[i].last_seen_ms = NOW - 1000;
        hb[i].has_cpu_percent = 1;
        hb[i].cpu_percent = cpu;
        hb[i].has_mem_total_bytes = hb[i].has_mem_available_bytes = 1;
        hb[i].mem_total_bytes = total;
        hb[i].mem_available_bytes = avail;
        hb[i].has_load1 = 1;
        hb[i].load1 = cpu / 25;
        hb[i].has_uptime_ms = 1;
        hb[i].uptime_ms = 3 * 3600 * 1000;
}

static void temp(int i, float c)
{
        hb[i].has_temp_celsius = 1;
        hb[i].temp_celsius = c;
}

/* alpha: a cool Pi 4 that was short of power once since boot; bravo: a
 * hot Pi 3 under-voltage and throttled now; charlie: a PC with no sensor
 * and its memory nearly full; delta: NotReady, its last figures the
 * highest of all (and stale). */
static void setup(void)
{
        for (int i = 0; i < 6; i++) {
                cs[i] = (Bramble__ContainerStatus)BRAMBLE__CONTAINER_STATUS__INIT;
                cs[i].state = "running";
        }
        cs[1].state = "exited";
        node(0, "alpha", "Ready", 10, 1 * GIB, GIB / 2);
        temp(0, 48.7f);
        info[0].model = "Raspberry Pi 4 Model B Rev 1.4";
        th_past.under_voltage_occurred = 1;
        hb[0].throttle = &th_past;
        hb[0].containers = ctr_a;
        hb[0].n_containers = 2;

        node(1, "bravo", "Ready", 80, 4 * GIB, 4 * GIB - 4 * GIB / 10);
        temp(1, 55.8f);
        info[1].model = "Raspberry Pi 3 Model B Plus Rev 1.3";
        th_now.under_voltage = th_now.throttled = 1;
        th_now.under_voltage_occurred = th_now.throttled_occurred = 1;
        hb[1].throttle = &th_now;
        hb[1].containers = ctr_b;
        hb[1].n_containers = 3;

        node(2, "charlie", "Ready", 30, 8 * GIB, 8 * GIB / 20);
        info[2].arch = "x86_64";

        node(3, "delta", "NotReady", 99, 2 * GIB, GIB / 10);
        temp(3, 90);
        info[3].model = "Raspberry Pi 4 Model B Rev 1.5";
        ns[3].last_seen_ms = NOW - 150 * 1000;
        hb[3].containers = ctr_d;
        hb[3].n_containers = 1;

        /* Not in name order, so name order is the sort's doing. */
        nodes[0] = &ns[2];
        nodes[1] = &ns[3];
        nodes[2] = &ns[0];
        nodes[3] = &ns[1];
        list.nodes = nodes;
        list.n_nodes = 4;
}

static const char *order_of(enum brm_top_sort key)
{
        static char names[128];
        size_t order[4];

        CHECK_INT(brm_top_order(&list, key, order), ==, 0);
        names[0] = '\0';
        for (int i = 0; i < 4; i++) {
                strcat(names, i ? " " : "");
                strcat(names, list.nodes[order[i]]->name);
        }
        return names;
}

static void test_sort_keys(void)
{
        enum brm_top_sort k = BRM_TOP_SORT_NAME;

        CHECK_INT(brm_top_sort_parse("cpu", &k), ==, 0);
        CHECK_INT(k, ==, BRM_TOP_SORT_CPU);
        CHECK_INT(brm_top_sort_parse("mem", &k), ==, 0);
        CHECK_INT(k, ==, BRM_TOP_SORT_MEM);
        CHECK_INT(brm_top_sort_parse("temp", &k), ==, 0);
        CHECK_INT(k, ==, BRM_TOP_SORT_TEMP);
        CHECK_INT(brm_top_sort_parse("name", &k), ==, 0);
        CHECK_INT(k, ==, BRM_TOP_SORT_NAME);
        CHECK_INT(brm_top_sort_parse("CPU", &k), ==, -EINVAL);
        CHECK_INT(brm_top_sort_parse("", &k), ==, -EINVAL);
        CHECK_INT(brm_top_sort_parse("memory", &k), ==, -EINVAL);
        CHECK_INT(k, ==, BRM_TOP_SORT_NAME);
        CHECK_STR(brm_top_sort_name(BRM_TOP_SORT_TEMP), "temp");

        /* The NotReady node's stale figures do not count: it goes last. */
        CHECK_STR(order_of(BRM_TOP_SORT_CPU), "bravo charlie alpha delta");
        /* By the share in use: 95 %, 50 %, 10 %. */
        CHECK_STR(order_of(BRM_TOP_SORT_MEM), "charlie alpha bravo delta");
        /* A node without a sensor after those with one. */
        CHECK_STR(order_of(BRM_TOP_SORT_TEMP), "bravo alpha charlie delta");
        CHECK_STR(order_of(BRM_TOP_SORT_NAME), "alpha bravo charlie delta");

        /* Equal shares of memory go by the bytes in use: alpha at 50 % of
         * 4 GiB before charlie at 50 % of 2 GiB. */
        hb[0].mem_total_bytes = 4 * GIB;
        hb[0].mem_available_bytes = 2 * GIB;
        hb[2].mem_total_bytes = 2 * GIB;
        hb[2].mem_available_bytes = GIB;
        CHECK_STR(order_of(BRM_TOP_SORT_MEM), "alpha charlie bravo delta");
        hb[0].mem_total_bytes = GIB;
        hb[0].mem_available_bytes = GIB / 2;
        hb[2].mem_total_bytes = 8 * GIB;
        hb[2].mem_available_bytes = 8 * GIB / 20;

        /* Equal figures go by name; a node without a heartbeat goes last. */
        hb[0].cpu_percent = hb[1].cpu_percent;
        ns[2].last = NULL;
        CHECK_STR(order_of(BRM_TOP_SORT_CPU), "alpha bravo charlie delta");
        hb[0].cpu_percent = 10;
        ns[2].last = &hb[2];

        /* An empty list sorts to nothing. */
        CHECK_INT(brm_top_order(NULL, BRM_TOP_SORT_CPU, NULL), ==, 0);
}

static void test_throttle(void)
{
        Bramble__Throttle t = BRAMBLE__THROTTLE__INIT;
        char out[64];

        brm_top_throttle_text(NULL, out, sizeof(out));
        CHECK_STR(out, "-");
        brm_top_throttle_text(&t, out, sizeof(out));
        CHECK_STR(out, "-");
        brm_top_throttle_text(&th_now, out, sizeof(out));
        CHECK_STR(out, "UNDERVOLT THROTTLED");
        brm_top_throttle_text(&th_past, out, sizeof(out));
        CHECK_STR(out, "undervolt!");
        /* get_throttled 0x5000f with the capping now over. */
        t.under_voltage = t.soft_temp_limit = 1;
        t.under_voltage_occurred = t.freq_capped_occurred = t.throttled_occurred = t.soft_temp_limit_occurred = 1;
        brm_top_throttle_text(&t, out, sizeof(out));
        CHECK_STR(out, "UNDERVOLT capped! throttled! SOFTLIMIT");
        /* Cut to the buffer, never past it. */
        brm_top_throttle_text(&t, out, 12);
        CHECK_INT(strlen(out), ==, 11);
}

static struct brm_top_frame frame(const struct brm_top_view *v)
{
        struct brm_top_frame f = { 0 };

        CHECK_INT(brm_top_format(&list, v, &f), ==, 0);
        return f;
}

/* The frame's row for a node ("" when it has none). */
static const char *row_of(const struct brm_top_frame *f, const char *name)
{
        for (size_t i = 0; i < f->n; i++)
                if (strncmp(f->lines[i], name, strlen(name)) == 0 && f->lines[i][strlen(name)] == ' ')
                        return f->lines[i];
        return "";
}

static void test_wide_frame(void)
{
        struct brm_top_view v = { .sort = BRM_TOP_SORT_CPU, .now_ms = NOW };
        struct brm_top_frame f = frame(&v);

        CHECK_INT(f.n, ==, 6);
        /* Three Ready; containers of Ready nodes only (delta's are unknown). */
        CHECK_STR(f.lines[0], "cluster: 4 nodes, 3 Ready | containers 4/5 running | 08:00:00 | sort: cpu");
        const char *titles[] = { "NAME", "STATE", "CPU%", "MEM", "TEMP", "THROTTLE", "LOAD1", "CONTAINERS", "UPTIME", "MODEL" };
        const char *at = f.lines[1];
        for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
                const char *p = strstr(at, titles[i]);
                if (!p)
                        CHECK_FAIL_("title %s missing or out of order in \"%s\"", titles[i], f.lines[1]);
                at = p;
        }
        CHECK(strncmp(f.lines[2], "bravo ", 6) == 0);
        CHECK(strncmp(f.lines[3], "charlie ", 8) == 0);
        CHECK(strncmp(f.lines[4], "alpha ", 6) == 0);
        CHECK(strncmp(f.lines[5], "delta ", 6) == 0);

        const char *b = row_of(&f, "bravo");
        CHECK(strstr(b, " 80.0 "));
        CHECK(strstr(b, " 410M/4.0G 10% "));
        CHECK(strstr(b, " 55.8C "));
        CHECK(strstr(b, " UNDERVOLT THROTTLED "));
        CHECK(strstr(b, " 3/3 "));
        CHECK(strstr(b, " 3.20 "));
        CHECK(strstr(b, " 3h "));
        CHECK(strstr(b, "Raspberry Pi 3 Model B Plus Rev 1.3"));
        const char *a = row_of(&f, "alpha");
        CHECK(strstr(a, " undervolt! "));
        CHECK(strstr(a, " 512M/1.0G 50% "));
        CHECK(strstr(a, " 1/2 "));
        /* No sensor, no firmware flags: dashes. */
        const char *c = row_of(&f, "charlie");
        CHECK(strstr(c, " 7.6G/8.0G 95% "));
        CHECK(strstr(c, "x86_64"));
        CHECK(!strstr(c, "C "));
        /* NotReady: its state, for how long it has been silent, and none of
         * its stale figures. */
        const char *d = row_of(&f, "delta");
        CHECK(strstr(d, " NotReady "));
        CHECK(strstr(d, " down 2m "));
        CHECK(!strstr(d, "99.0"));
        CHECK(!strstr(d, "90.0C"));
        CHECK(!strstr(d, "0/1"));
        CHECK(strstr(d, "Raspberry Pi 4 Model B Rev 1.5"));
        /* No escape sequences unless asked. */
        for (size_t i = 0; i < f.n; i++)
                CHECK(!strchr(f.lines[i], '\033'));
        brm_top_frame_free(&f);

        v.sort = BRM_TOP_SORT_TEMP;
        f = frame(&v);
        CHECK(strstr(f.lines[0], "| sort: temp"));
        CHECK(strncmp(f.lines[2], "bravo ", 6) == 0);
        CHECK(strncmp(f.lines[3], "alpha ", 6) == 0);
        brm_top_frame_free(&f);
}

/* Columns visible in escape-free text: how many, and how wide. */
static int visible_width(const char *s)
{
        int w = 0;

        while (*s) {
                if (*s == '\033') {
                        while (*s && *s != 'm')
                                s++;
                        if (*s)
                                s++;
                        continue;
                }
                w++;
                s++;
        }
        return w;
}

static void test_width(void)
{
        struct brm_top_view v = { .sort = BRM_TOP_SORT_CPU, .now_ms = NOW };
        struct brm_top_frame f;

        /* No line is ever wider than the terminal, with or without colour. */
        for (int ansi = 0; ansi < 2; ansi++)
                for (int w = 1; w <= 160; w++) {
                        v.width = w;
                        v.ansi = ansi;
                        f = frame(&v);
                        CHECK_INT(f.n, ==, 6);
                        for (size_t i = 0; i < f.n; i++) {
                                size_t len = strlen(f.lines[i]);
                                if (visible_width(f.lines[i]) > w)
                                        CHECK_FAIL_("width %d, ansi %d: line %zu is %d wide: \"%s\"", w, ansi, i,
                                                    visible_width(f.lines[i]), f.lines[i]);
                                if (len && f.lines[i][len - 1] == ' ')
                                        CHECK_FAIL_("width %d, ansi %d: line %zu ends in a space: \"%s\"", w, ansi, i,
                                                    f.lines[i]);
                        }
                        brm_top_frame_free(&f);
                }
        v.ansi = false;

        /* 120 columns: MODEL is cut short first, everything else stays. */
        v.width = 120;
        f = frame(&v);
        CHECK(strstr(f.lines[1], "UPTIME  MODEL"));
        CHECK(strstr(row_of(&f, "bravo"), "  Raspberry Pi 3 Model B ~"));
        CHECK_INT(strlen(row_of(&f, "bravo")), ==, 120);
        brm_top_frame_free(&f);

        /* 100: too little room for a useful MODEL, so it goes whole. */
        v.width = 100;
        f = frame(&v);
        CHECK(!strstr(f.lines[1], "MODEL"));
        CHECK(strstr(f.lines[1], "LOAD1  CONTAINERS   UPTIME"));
        brm_top_frame_free(&f);

        /* 80: then UPTIME and LOAD1. */
        v.width = 80;
        f = frame(&v);
        CHECK(!strstr(f.lines[1], "UPTIME"));
        CHECK(!strstr(f.lines[1], "LOAD1"));
        CHECK(strstr(f.lines[1], "THROTTLE"));
        CHECK(strstr(f.lines[1], "CONTAINERS"));
        brm_top_frame_free(&f);

        /* 60: then CONTAINERS and MEM; the throttle flags stay. */
        v.width = 60;
        f = frame(&v);
        CHECK(!strstr(f.lines[1], "CONTAINERS"));
        CHECK(!strstr(f.lines[1], "MEM"));
        CHECK(strstr(f.lines[1], "NAME     STATE     CPU%   TEMP  THROTTLE"));
        CHECK(strstr(row_of(&f, "bravo"), "UNDERVOLT THROTTLED"));
        brm_top_frame_free(&f);

        /* Narrow: the sort key's column outlasts the less important ones. */
        v.width = 30;
        v.sort = BRM_TOP_SORT_TEMP;
        f = frame(&v);
        CHECK(strstr(f.lines[1], "NAME"));
        CHECK(strstr(f.lines[1], "TEMP"));
        CHECK(!strstr(f.lines[1], "MEM"));
        CHECK(strstr(row_of(&f, "bravo"), "55.8C"));
        brm_top_frame_free(&f);
        v.sort = BRM_TOP_SORT_MEM;
        f = frame(&v);
        CHECK(strstr(f.lines[1], "MEM"));
        CHECK(!strstr(f.lines[1], "TEMP"));
        brm_top_frame_free(&f);

        /* Four columns: only the name, cut. */
        v.width = 4;
        f = frame(&v);
        CHECK_STR(f.lines[1], "NAME");
        CHECK_STR(f.lines[2], "cha~");
        CHECK_STR(f.lines[0], "clu~");
        brm_top_frame_free(&f);
}

static void test_height(void)
{
        struct brm_top_view v = { .sort = BRM_TOP_SORT_NAME, .now_ms = NOW, .height = 5 };
        struct brm_top_frame f = frame(&v);

        /* Header, titles, two rows, and the count of the rest. */
        CHECK_INT(f.n, ==, 5);
        CHECK(strncmp(f.lines[2], "alpha ", 6) == 0);
        CHECK(strncmp(f.lines[3], "bravo ", 6) == 0);
        CHECK_STR(f.lines[4], "... 2 more nodes below");
        brm_top_frame_free(&f);

        v.height = 6;
        f = frame(&v);
        CHECK_INT(f.n, ==, 6);
        CHECK(strncmp(f.lines[5], "delta ", 6) == 0);
        brm_top_frame_free(&f);

        /* The error line takes a row. */
        v.error = "cannot reach the master: connection refused";
        f = frame(&v);
        CHECK_STR(f.lines[1], "error: cannot reach the master: connection refused");
        CHECK_STR(f.lines[5], "... 2 more nodes below");
        brm_top_frame_free(&f);

        v.height = 1;
        f = frame(&v);
        CHECK_INT(f.n, ==, 1);
        brm_top_frame_free(&f);
}

static void test_ansi(void)
{
        struct brm_top_view v = { .sort = BRM_TOP_SORT_TEMP, .now_ms = NOW, .ansi = true, .keys = true };
        struct brm_top_frame f = frame(&v);

        CHECK_INT(f.n, ==, 7);
        CHECK_STR(f.lines[6], "keys: c cpu, m mem, t temp, n name, q quit");
        brm_top_frame_free(&f);
        /* The keys keep their line when the rows do not fit. */
        v.height = 6;
        f = frame(&v);
        CHECK_INT(f.n, ==, 6);
        CHECK_STR(f.lines[4], "... 2 more nodes below");
        CHECK_STR(f.lines[5], "keys: c cpu, m mem, t temp, n name, q quit");
        brm_top_frame_free(&f);
        v.height = 0;
        f = frame(&v);
        /* The sort key's title in reverse video, current throttling and a
         * NotReady state in bold red, past throttling in yellow. */
        CHECK(strstr(f.lines[1], "\033[7mTEMP\033[0m"));
        CHECK(strstr(row_of(&f, "bravo"), "\033[1;31mUNDERVOLT THROTTLED\033[0m"));
        CHECK(strstr(row_of(&f, "alpha"), "\033[33mundervolt!\033[0m"));
        CHECK(strstr(row_of(&f, "delta"), "\033[1;31mNotReady\033[0m"));
        brm_top_frame_free(&f);
}

static void test_hostile_and_empty(void)
{
        struct brm_top_view v = { .sort = BRM_TOP_SORT_CPU, .now_ms = NOW };
        struct brm_top_frame f;

        /* A node's text reaches the terminal as printable ASCII only. */
        info[1].model = "Pi\033[2J\033]0;owned\007";
        f = frame(&v);
        CHECK(strstr(row_of(&f, "bravo"), "Pi?[2J?]0;owned?"));
        brm_top_frame_free(&f);
        info[1].model = "Raspberry Pi 3 Model B Plus Rev 1.3";

        CHECK_INT(brm_top_format(NULL, &v, &f), ==, 0);
        CHECK_INT(f.n, ==, 3);
        CHECK_STR(f.lines[0], "cluster: 0 nodes, 0 Ready | containers 0/0 running | 08:00:00 | sort: cpu");
        CHECK_STR(f.lines[2], "(no node has joined yet)");
        brm_top_frame_free(&f);
        brm_top_frame_free(&f);
        brm_top_frame_free(NULL);
}

int main(void)
{
        setenv("TZ", "UTC", 1);
        setup();
        test_sort_keys();
        test_throttle();
        test_wide_frame();
        test_width();
        test_height();
        test_ansi();
        test_hostile_and_empty();
        printf("top: ok\n");
        return 0;
}
