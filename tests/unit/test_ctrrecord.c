/* The containers' records on disk, without root, a runtime or a loop:
 * state.json round trips and keeps what the file lacks, desired.json round
 * trips and skips invalid entries, the run files written by the shim parse
 * (and half-written ones do not), the boot check, listing and removal. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ctrrecord.h"
#include "fileio.h"

static char dir[64];

static void put(const char *name, const char *file, const char *text)
{
        char path[256];
        CHECK_INT(brm_ctrrecord_path(dir, name, file, path, sizeof(path)), ==, 0);
        CHECK_INT(brm_file_write_atomic(path, text, strlen(text), 0600), ==, 0);
}

static bool exists(const char *name, const char *file)
{
        char path[256];
        CHECK_INT(brm_ctrrecord_path(dir, name, file, path, sizeof(path)), ==, 0);
        return access(path, F_OK) == 0;
}

static void test_path(void)
{
        char path[256], small[8];

        CHECK_INT(brm_ctrrecord_path("/s/containers", "web", "exit", path, sizeof(path)), ==, 0);
        CHECK_STR(path, "/s/containers/web/exit");
        CHECK_INT(brm_ctrrecord_path("/s/containers", "web", NULL, path, sizeof(path)), ==, 0);
        CHECK_STR(path, "/s/containers/web");
        strcpy(small, "keep");
        CHECK_INT(brm_ctrrecord_path("/s/containers", "web", "exit", small, sizeof(small)), ==, -ENAMETOOLONG);
}

static void test_state(void)
{
        struct brm_ctrrecord_state st = { 0 }, back = { 0 };
        char why[600];

        CHECK_INT(brm_ctrrecord_create(dir, "web"), ==, 0);
        st.restarts = 3;
        st.oom_kills = 2;
        st.has_exit = true;
        st.exit_code = 137;
        st.backoff_ms = 4000;
        st.started_ms = 1700000000123;
        st.finished_ms = 1700000005456;
        st.running = true;
        st.state = BRM_CS_BACKOFF;
        snprintf(st.reason, sizeof(st.reason), "OOMKilled");
        snprintf(st.cgroup, sizeof(st.cgroup), "/bramble/web");
        CHECK_INT(brm_ctrrecord_save_state(dir, "web", &st), ==, 0);
        CHECK(!exists("web", "state.json.tmp"));
        CHECK_INT(brm_ctrrecord_load_state(dir, "web", &back, why, sizeof(why)), ==, 0);
        CHECK_U64(back.restarts, ==, 3);
        CHECK_U64(back.oom_kills, ==, 2);
        CHECK_INT(back.has_exit, ==, 1);
        CHECK_INT(back.exit_code, ==, 137);
        CHECK_U64(back.backoff_ms, ==, 4000);
        CHECK_INT(back.started_ms, ==, 1700000000123);
        CHECK_INT(back.finished_ms, ==, 1700000005456);
        CHECK_INT(back.running, ==, 1);
        CHECK_INT(back.state, ==, BRM_CS_BACKOFF);
        CHECK_STR(back.reason, "OOMKilled");
        CHECK_STR(back.cgroup, "/bramble/web");

        /* Counters the file lacks become 0; strings it lacks stay. */
        put("web", "state.json", "{\"restarts\":1,\"state\":99}");
        CHECK_INT(brm_ctrrecord_load_state(dir, "web", &back, why, sizeof(why)), ==, 0);
        CHECK_U64(back.restarts, ==, 1);
        CHECK_U64(back.oom_kills, ==, 0);
        CHECK_INT(back.has_exit, ==, 0);
        CHECK_INT(back.running, ==, 0);
        CHECK_INT(back.state, ==, BRM_CS_PENDING);
        CHECK_STR(back.cgroup, "/bramble/web");

        /* Not JSON, or no file: untouched. */
        put("web", "state.json", "{\"restarts\":");
        put("web", "state.json.bak", "{\"restarts\":");
        back.restarts = 42;
        CHECK_INT(brm_ctrrecord_load_state(dir, "web", &back, why, sizeof(why)), ==, -EINVAL);
        CHECK_U64(back.restarts, ==, 42);
        CHECK_INT(brm_ctrrecord_load_state(dir, "nosuch", &back, why, sizeof(why)), ==, -ENOENT);
        CHECK_U64(back.restarts, ==, 42);
}

/* A damaged state.json is read from its copy, and what is wrong is said
 * naming the file; with both damaged, each is named. */
static void test_state_damaged(void)
{
        struct brm_ctrrecord_state st = { 0 }, back = { 0 };
        char why[600], path[256];

        CHECK_INT(brm_ctrrecord_create(dir, "dmg"), ==, 0);
        st.restarts = 5;
        st.state = BRM_CS_RUNNING;
        st.running = true;
        snprintf(st.reason, sizeof(st.reason), "xxx");
        CHECK_INT(brm_ctrrecord_save_state(dir, "dmg", &st), ==, 0);
        CHECK(exists("dmg", "state.json.bak"));

        put("dmg", "state.json", "garbage");
        CHECK_INT(brm_ctrrecord_load_state(dir, "dmg", &back, why, sizeof(why)), ==, 1);
        CHECK_U64(back.restarts, ==, 5);
        CHECK_INT(back.running, ==, 1);
        snprintf(path, sizeof(path), "%s/dmg/state.json is not JSON (7 bytes; at byte ", dir);
        if (strncmp(why, path, strlen(path)) != 0)
                CHECK_FAIL_("why: %s", why);
        CHECK(strstr(why, "its copy state.json.bak was read instead"));
        CHECK(!strchr(why, '\n'));

        put("dmg", "state.json", "");
        put("dmg", "state.json.bak", "{\"restarts\":5,\"oom");
        back.restarts = 42;
        CHECK_INT(brm_ctrrecord_load_state(dir, "dmg", &back, why, sizeof(why)), ==, -EINVAL);
        CHECK_U64(back.restarts, ==, 42);
        snprintf(path, sizeof(path), "%s/dmg/state.json is empty (0 bytes), and its copy state.json.bak is cut "
                                     "short (18 bytes, the JSON ends early)", dir);
        CHECK_STR(why, path);

        /* Missing file, good copy. */
        CHECK_INT(brm_ctrrecord_save_state(dir, "dmg", &st), ==, 0);
        CHECK_INT(brm_ctrrecord_path(dir, "dmg", "state.json", path, sizeof(path)), ==, 0);
        CHECK_INT(unlink(path), ==, 0);
        CHECK_INT(brm_ctrrecord_load_state(dir, "dmg", &back, why, sizeof(why)), ==, 1);
        CHECK(strstr(why, "state.json is missing; its copy"));
        CHECK_U64(back.restarts, ==, 5);
        CHECK_STR(back.reason, "xxx");

        /* A reason cut in the middle of a character stays UTF-8. */
        {
                char text[300];
                int n = snprintf(text, sizeof(text), "{\"reason\":\"");
                memset(text + n, 'x', sizeof(back.reason) - 2);
                snprintf(text + n + sizeof(back.reason) - 2, sizeof(text) - n - sizeof(back.reason) + 2, "\xc3\xa9\"}");
                put("dmg", "state.json", text);
                CHECK_INT(brm_ctrrecord_load_state(dir, "dmg", &back, why, sizeof(why)), ==, 0);
                CHECK_U64(strlen(back.reason), ==, sizeof(back.reason) - 2);
        }

        /* Numbers out of range are clamped, not cast. */
        put("dmg", "state.json", "{\"restarts\":1e300,\"oom_kills\":-4,\"state\":-1e300,\"exit_code\":99999999999}");
        CHECK_INT(brm_ctrrecord_load_state(dir, "dmg", &back, why, sizeof(why)), ==, 0);
        CHECK_U64(back.restarts, ==, UINT32_MAX);
        CHECK_U64(back.oom_kills, ==, 0);
        CHECK_INT(back.state, ==, BRM_CS_PENDING);
        CHECK_INT(back.exit_code, ==, INT32_MAX);
        /* What a runc killed between writing its pid file and renaming it
         * leaves: the directory must still go, or a container of the same
         * name later finds them (and runc's exec fails on .health.pid). */
        put("dmg", ".health.pid", "123");
        put("dmg", ".pid", "124");
        CHECK_INT(brm_ctrrecord_remove(dir, "dmg"), ==, 0);
        CHECK(!exists("dmg", NULL));
}

/* spec.json: the key as it was written; a damaged one is read from its
 * copy; one of another container or not a spec is refused. */
static void test_run_key(void)
{
        struct brm_container_spec s;
        char *key, *other, *back = NULL, why[600];

        memset(&s, 0, sizeof(s));
        snprintf(s.name, sizeof(s.name), "job");
        snprintf(s.image, sizeof(s.image), "/images/job");
        CHECK((key = brm_ctrrecord_spec_key(&s)));
        CHECK_INT(brm_ctrrecord_create(dir, "job"), ==, 0);
        CHECK_INT(brm_ctrrecord_read_run_key(dir, "job", &back, why, sizeof(why)), ==, -ENOENT);
        CHECK_INT(brm_ctrrecord_save_run_key(dir, "job", key), ==, 0);
        CHECK_INT(brm_ctrrecord_read_run_key(dir, "job", &back, why, sizeof(why)), ==, 0);
        CHECK_STR(back, key);
        free(back);
        back = NULL;
        put("job", "spec.json", "{\"name\":\"job\",\"ima");
        CHECK_INT(brm_ctrrecord_read_run_key(dir, "job", &back, why, sizeof(why)), ==, 1);
        CHECK_STR(back, key);
        CHECK(strstr(why, "/job/spec.json is cut short (18 bytes, the JSON ends early); its copy spec.json.bak"));
        free(back);
        back = NULL;
        snprintf(s.name, sizeof(s.name), "other");
        CHECK((other = brm_ctrrecord_spec_key(&s)));
        put("job", "spec.json.bak", other);
        free(other);
        CHECK_INT(brm_ctrrecord_read_run_key(dir, "job", &back, why, sizeof(why)), ==, -EINVAL);
        CHECK(!back);
        if (!strstr(why, "its copy spec.json.bak is the spec of another container (\"other\")"))
                CHECK_FAIL_("why: %s", why);
        put("job", "spec.json.bak", "{\"name\":\"job\"}");
        CHECK_INT(brm_ctrrecord_read_run_key(dir, "job", &back, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "is not a container spec"));
        CHECK_INT(brm_ctrrecord_remove(dir, "job"), ==, 0);
        CHECK(!exists("job", NULL));
        free(key);
}

static void test_run_files(void)
{
        struct brm_ctrrecord_exit ex = { .code = 7 };
        unsigned long long start = 5;
        char line[32] = "keep", *key = NULL;
        int pid = 9;

        CHECK_INT(brm_ctrrecord_create(dir, "run"), ==, 0);
        CHECK_INT(brm_ctrrecord_read_exit(dir, "run", &ex), ==, -ENOENT);
        CHECK_INT(ex.code, ==, 7);
        /* As bramble-shim writes them. */
        put("run", "exit", "137 1 1700000000999\n");
        CHECK_INT(brm_ctrrecord_read_exit(dir, "run", &ex), ==, 0);
        CHECK_INT(ex.code, ==, 137);
        CHECK_INT(ex.started, ==, 1);
        CHECK_INT(ex.ms, ==, 1700000000999);
        put("run", "exit", "-1 0\n");
        CHECK_INT(brm_ctrrecord_read_exit(dir, "run", &ex), ==, 0);
        CHECK_INT(ex.code, ==, -1);
        CHECK_INT(ex.started, ==, 0);
        CHECK_INT(ex.ms, ==, 0);
        put("run", "exit", "1");
        ex.code = 7;
        CHECK_INT(brm_ctrrecord_read_exit(dir, "run", &ex), ==, -EINVAL);
        CHECK_INT(ex.code, ==, 7);

        put("run", "pid", "4242");
        CHECK_INT(brm_ctrrecord_read_pid(dir, "run", &pid), ==, 0);
        CHECK_INT(pid, ==, 4242);
        put("run", "pid", "0");
        CHECK_INT(brm_ctrrecord_read_pid(dir, "run", &pid), ==, -EINVAL);
        CHECK_INT(pid, ==, 4242);

        put("run", "shim.pid", "77 123456789\n");
        CHECK_INT(brm_ctrrecord_read_shim(dir, "run", &pid, &start), ==, 0);
        CHECK_INT(pid, ==, 77);
        CHECK_U64(start, ==, 123456789);
        put("run", "shim.pid", "77\n");
        CHECK_INT(brm_ctrrecord_read_shim(dir, "run", &pid, &start), ==, -EINVAL);
        CHECK_U64(start, ==, 123456789);

        /* The image the bundle runs: its root file system and digest. */
        {
                char rootfs[256] = "x", digest[80] = "y";
                CHECK_INT(brm_ctrrecord_read_image(dir, "run", rootfs, sizeof(rootfs), digest, sizeof(digest)), ==, -ENOENT);
                put("run", "config.json",
                    "{\"root\":{\"path\":\"/s/images/rootfs/abc/rootfs\",\"readonly\":true},"
                    "\"annotations\":{\"org.opencontainers.image.digest\":\"sha256:abc\"}}");
                CHECK_INT(brm_ctrrecord_read_image(dir, "run", rootfs, sizeof(rootfs), digest, sizeof(digest)), ==, 0);
                CHECK_STR(rootfs, "/s/images/rootfs/abc/rootfs");
                CHECK_STR(digest, "sha256:abc");
                put("run", "config.json", "{\"root\":{\"path\":\"/srv/app\"}}");
                CHECK_INT(brm_ctrrecord_read_image(dir, "run", rootfs, sizeof(rootfs), digest, sizeof(digest)), ==, 0);
                CHECK_STR(rootfs, "/srv/app");
                CHECK_STR(digest, "");
                put("run", "config.json", "{\"process\":{}}");
                CHECK_INT(brm_ctrrecord_read_image(dir, "run", rootfs, sizeof(rootfs), digest, sizeof(digest)), ==, -EINVAL);
                CHECK_STR(rootfs, "/srv/app");
        }

        /* The runtime's complaint is its last line. */
        put("run", "runtime.log", "first\nno such file: /bin/app\n\n");
        CHECK_INT(brm_ctrrecord_runtime_error(dir, "run", line, sizeof(line)), ==, 0);
        CHECK_STR(line, "no such file: /bin/app");
        put("run", "runtime.log", "\n");
        strcpy(line, "keep");
        CHECK_INT(brm_ctrrecord_runtime_error(dir, "run", line, sizeof(line)), ==, -ENODATA);
        CHECK_STR(line, "keep");

        {
                struct brm_container_spec s;
                char *want, why[300];

                memset(&s, 0, sizeof(s));
                snprintf(s.name, sizeof(s.name), "run");
                snprintf(s.image, sizeof(s.image), "/i");
                CHECK((want = brm_ctrrecord_spec_key(&s)));
                CHECK_INT(brm_ctrrecord_save_run_key(dir, "run", want), ==, 0);
                CHECK_INT(brm_ctrrecord_read_run_key(dir, "run", &key, why, sizeof(why)), ==, 0);
                CHECK_STR(key, want);
                free(key);
                free(want);
        }
        /* A write the agent was killed in leaves a temporary file: removal
         * takes it too. */
        put("run", "state.json.tmp.4242", "{");

        brm_ctrrecord_clear_run(dir, "run");
        CHECK(!exists("run", "exit"));
        CHECK(!exists("run", "pid"));
        CHECK(!exists("run", "shim.pid"));
        CHECK(exists("run", "spec.json"));
        CHECK_INT(brm_ctrrecord_remove(dir, "run"), ==, 0);
        CHECK(!exists("run", NULL));
        CHECK_INT(brm_ctrrecord_remove(dir, "run"), ==, 0);
}

struct seen {
        int n;
        char names[4][64];
        char args0[4][32];
        bool stopped[4];
};

static void each_spec(const struct brm_container_spec *s, void *arg)
{
        struct seen *v = arg;
        CHECK(v->n < 4);
        snprintf(v->names[v->n], sizeof(v->names[0]), "%s", s->name);
        snprintf(v->args0[v->n], sizeof(v->args0[0]), "%s", s->args[0] ? s->args[0] : "");
        v->stopped[v->n] = s->stopped;
        v->n++;
}

static void test_desired(void)
{
        struct brm_container_spec specs[2];
        struct seen v = { 0 };
        size_t invalid = 99;
        char *key1, *key2, why[600];

        memset(specs, 0, sizeof(specs));
        snprintf(specs[0].name, sizeof(specs[0].name), "web");
        snprintf(specs[0].image, sizeof(specs[0].image), "/images/web");
        specs[0].args[0] = "httpd";
        specs[0].memory_max = 64u << 20;
        snprintf(specs[1].name, sizeof(specs[1].name), "db");
        snprintf(specs[1].image, sizeof(specs[1].image), "/images/db");
        specs[1].stopped = true;

        /* No file yet: an empty set. */
        CHECK_INT(brm_ctrrecord_load_desired(dir, each_spec, &v, &invalid, why, sizeof(why)), ==, 0);
        CHECK_INT(v.n, ==, 0);
        CHECK_U64(invalid, ==, 0);

        CHECK_INT(brm_ctrrecord_save_desired(dir, specs, 2), ==, 0);
        CHECK_INT(brm_ctrrecord_load_desired(dir, each_spec, &v, &invalid, why, sizeof(why)), ==, 0);
        CHECK_INT(v.n, ==, 2);
        CHECK_STR(v.names[0], "web");
        CHECK_STR(v.args0[0], "httpd");
        CHECK_INT(v.stopped[0], ==, 0);
        CHECK_STR(v.names[1], "db");
        CHECK_INT(v.stopped[1], ==, 1);
        CHECK_U64(invalid, ==, 0);

        /* The change key leaves out "stopped": stopping is not a new spec. */
        key1 = brm_ctrrecord_spec_key(&specs[1]);
        specs[1].stopped = false;
        key2 = brm_ctrrecord_spec_key(&specs[1]);
        CHECK(key1 && key2);
        CHECK_STR(key1, key2);
        free(key1);
        free(key2);

        /* An invalid entry is counted and skipped; the rest still loads. */
        put("", "desired.json",
            "[{\"name\":\"ok\",\"image\":\"/i\",\"memory_max\":0,\"memory_high\":0,\"cpu_millis\":0,"
            "\"pids_max\":0,\"restart\":\"always\",\"network\":\"host\",\"workdir\":\"\",\"args\":[],"
            "\"env\":[]},{\"name\":5},\"x\"]");
        memset(&v, 0, sizeof(v));
        CHECK_INT(brm_ctrrecord_load_desired(dir, each_spec, &v, &invalid, why, sizeof(why)), ==, 0);
        CHECK_INT(v.n, ==, 1);
        CHECK_STR(v.names[0], "ok");
        CHECK_U64(invalid, ==, 2);

        /* Not an array: refused whole. */
        put("", "desired.json", "{\"name\":\"ok\"}");
        memset(&v, 0, sizeof(v));
        invalid = 99;
        CHECK_INT(brm_ctrrecord_load_desired(dir, each_spec, &v, &invalid, why, sizeof(why)), ==, -EINVAL);
        CHECK_INT(v.n, ==, 0);
        CHECK_U64(invalid, ==, 99);
        CHECK(strstr(why, "/desired.json is not a JSON array (13 bytes)"));
        put("", "desired.json", "[{\"name\":\"ok\"");
        CHECK_INT(brm_ctrrecord_load_desired(dir, each_spec, &v, &invalid, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "/desired.json is cut short (13 bytes, the JSON ends early)"));
}

static void each_name(const char *name, void *arg)
{
        struct seen *v = arg;
        CHECK(v->n < 4);
        snprintf(v->names[v->n++], sizeof(v->names[0]), "%s", name);
}

static void test_list(void)
{
        char sub[128];
        struct seen v = { 0 };

        CHECK_INT(brm_ctrrecord_create(dir, "listed"), ==, 0);
        snprintf(sub, sizeof(sub), "%s/Not-A-Name", dir);
        CHECK_INT(mkdir(sub, 0700), ==, 0);
        CHECK_INT(brm_ctrrecord_list(dir, each_name, &v), ==, 0);
        /* web (test_state) and listed; not the bad name nor the files. */
        CHECK_INT(v.n, ==, 2);
        CHECK((strcmp(v.names[0], "listed") == 0 && strcmp(v.names[1], "web") == 0) ||
              (strcmp(v.names[0], "web") == 0 && strcmp(v.names[1], "listed") == 0));
        CHECK_INT(brm_ctrrecord_list("/nonexistent/brm", each_name, &v), ==, -ENOENT);
}

static void test_same_boot(void)
{
        char bootfile[128];

        snprintf(bootfile, sizeof(bootfile), "%s/fake_boot_id", dir);
        CHECK_INT(brm_file_write_atomic(bootfile, "aaaa\n", 5, 0600), ==, 0);
        /* First start: nothing says otherwise, and the boot is recorded. */
        CHECK_INT(brm_ctrrecord_same_boot(dir, bootfile), ==, 1);
        CHECK(exists("", "boot_id"));
        CHECK_INT(brm_ctrrecord_same_boot(dir, bootfile), ==, 1);
        CHECK_INT(brm_file_write_atomic(bootfile, "bbbb\n", 5, 0600), ==, 0);
        CHECK_INT(brm_ctrrecord_same_boot(dir, bootfile), ==, 0);
        /* The new boot is recorded: the next start is the same boot. */
        CHECK_INT(brm_ctrrecord_same_boot(dir, bootfile), ==, 1);
}

int main(void)
{
        char cmd[128];

        snprintf(dir, sizeof(dir), "/tmp/brm-ctrrecord.XXXXXX");
        CHECK(mkdtemp(dir));
        test_path();
        test_state();
        test_state_damaged();
        test_run_key();
        test_run_files();
        test_desired();
        test_list();
        test_same_boot();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INT(system(cmd), ==, 0);
        printf("ctrrecord: ok\n");
        return 0;
}
