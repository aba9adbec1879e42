/* The damaged-records scenario run by supervise (see supervise.c): a
 * container's record damaged while the agent is stopped. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "fileio.h"
#include "supervisor.h"
#include "util.h"

#include "supervise.h"

/* ---- damaged records ---- */

static void record_path(const char *file, char *path, size_t size)
{
        snprintf(path, size, "%s/containers/keeper/%s", sv_state, file);
}

/* Replaces FILE of the container's record with TEXT (LEN bytes). */
static void damage(const char *file, const char *text, size_t len)
{
        char path[300];
        FILE *f;

        record_path(file, path, sizeof(path));
        CHECK((f = fopen(path, "w")));
        CHECK_U64(fwrite(text, 1, len, f), ==, len);
        CHECK_INT(fclose(f), ==, 0);
}

/* Cuts FILE in the middle, as a torn write would. */
static void cut(const char *file)
{
        char path[300];
        uint8_t *data;
        size_t len;

        record_path(file, path, sizeof(path));
        CHECK_INT(brm_file_read(path, 65536, &data, &len), ==, 0);
        CHECK_U64(len, >, 10);
        damage(file, (char *)data, len / 2);
        free(data);
}

/* FILE of the record is a JSON object again; its "running" member, or -1. */
static int record_good(const char *file)
{
        char path[300];
        json_error_t e;
        json_t *o, *v;
        int running;

        record_path(file, path, sizeof(path));
        if (!(o = json_load_file(path, 0, &e)) || !json_is_object(o))
                CHECK_FAIL_("%s was not written anew: %s", path, o ? "not an object" : e.text);
        v = json_object_get(o, "running");
        running = json_is_boolean(v) ? json_is_true(v) : -1;
        json_decref(o);
        return running;
}

/* Starts the agent again and checks that it kept the container: the same
 * pid, reported as re-adopted, and still the same pid two seconds later
 * (a restart for the record would have come at once). */
static pid_t restart_keeps(int pid, const char *warning)
{
        struct sv_snap x;
        char want[64];
        pid_t a;

        sv_agent_log_clear();
        a = sv_agent_start(NULL, -1);
        WAIT_FOR("keeper", x, x.state == BRM_CS_RUNNING && x.pid > 0, 10000, "re-adopted");
        CHECK_INT(x.pid, ==, pid);
        CHECK(sv_alive(pid));
        snprintf(want, sizeof(want), "keeper: re-adopted (pid %d,", pid);
        if (!sv_agent_log_has(want))
                CHECK_FAIL_("no '%s' in the agent's log (%s/agent.log)", want, sv_work);
        if (!sv_agent_log_has(warning))
                CHECK_FAIL_("no warning '%s' in the agent's log (%s/agent.log)", warning, sv_work);
        sv_sleep_ms(2000);
        WAIT_FOR("keeper", x, x.state == BRM_CS_RUNNING, 1000, "still running");
        CHECK_INT(x.pid, ==, pid);
        CHECK(sv_alive(pid));
        return a;
}

/* A container's record damaged while the agent is stopped: garbage in
 * state.json (its copy reads instead, nothing is lost); then state.json
 * and its copy emptied, cut in the middle, and spec.json and its copy
 * damaged too. Each time the agent says which file is wrong and how,
 * re-adopts the container with the same pid (never kills it for its
 * record) and writes the record anew. Last, desired.json cut short: the
 * container is left running until the desired state comes. */
void scenario_records(void)
{
        struct brm_container_spec s = sv_spec("keeper", sv_rootfs, BRM_RESTART_ALWAYS, "exec sleep 1000");
        char want[400];
        struct sv_snap x;
        int pid;
        pid_t a;

        a = sv_agent_start(&s, 1);
        WAIT_FOR("keeper", x, x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "running");
        /* One restart, so that there is a count to keep or to lose. */
        kill(x.pid, SIGKILL);
        WAIT_FOR("keeper", x, x.restarts == 1 && x.state == BRM_CS_RUNNING && x.pid > 0, 20000, "restarted once");
        pid = x.pid;
        sv_agent_kill(a, SIGTERM);

        /* Garbage in state.json: read from its copy, the count kept. */
        damage("state.json", "garbage\n", 8);
        snprintf(want, sizeof(want), "%s/containers/keeper/state.json is not JSON (8 bytes; at byte ", sv_state);
        a = restart_keeps(pid, want);
        CHECK(sv_agent_log_has("its copy state.json.bak was read instead"));
        WAIT_FOR("keeper", x, x.restarts == 1, 1000, "the restart count kept");
        printf("records: garbage in state.json: re-adopted pid %d, restarts %u, read from its copy\n", x.pid,
               x.restarts);
        sv_agent_kill(a, SIGTERM);

        /* Both emptied: re-adopted from the shim and the runtime. */
        damage("state.json", "", 0);
        damage("state.json.bak", "", 0);
        snprintf(want, sizeof(want),
                 "%s/containers/keeper/state.json is empty (0 bytes), and its copy state.json.bak is empty (0 bytes): "
                 "taken over from its shim and the runtime (still running, re-adopted)",
                 sv_state);
        a = restart_keeps(pid, want);
        WAIT_FOR("keeper", x, strstr(x.reason, "re-adopted"), 1000, "reported as re-adopted");
        CHECK_INT(x.restarts, ==, 0);
        CHECK_INT(record_good("state.json"), ==, 1);
        CHECK_INT(record_good("state.json.bak"), ==, 1);
        printf("records: both copies empty: re-adopted pid %d, reason '%s'\n", x.pid, x.reason);
        sv_agent_kill(a, SIGTERM);

        /* Both cut in the middle. */
        cut("state.json");
        cut("state.json.bak");
        snprintf(want, sizeof(want), "%s/containers/keeper/state.json is cut short (", sv_state);
        a = restart_keeps(pid, want);
        CHECK_INT(record_good("state.json"), ==, 1);
        sv_agent_kill(a, SIGTERM);

        /* The spec of the run lost as well: taken as the desired spec, not
         * restarted as a changed one. */
        damage("state.json", "\x01\x02garbage", 9);
        damage("state.json.bak", "{\"restarts\":", 12);
        damage("spec.json", "{}", 2);
        cut("spec.json.bak");
        snprintf(want, sizeof(want),
                 "%s/containers/keeper/spec.json is not a container spec (2 bytes of JSON), and its copy spec.json.bak "
                 "is cut short (",
                 sv_state);
        a = restart_keeps(pid, want);
        CHECK(sv_agent_log_has("state.json is not JSON (9 bytes; at byte "));
        CHECK_INT(record_good("state.json"), ==, 1);
        CHECK_INT(record_good("spec.json"), ==, -1);
        CHECK_INT(record_good("spec.json.bak"), ==, -1);
        printf("records: state.json and spec.json and their copies damaged: re-adopted pid %d\n", pid);
        sv_check_no_zombies(a);
        sv_agent_kill(a, SIGTERM);
        CHECK(sv_alive(pid));

        /* desired.json damaged: the container is left running until the
         * desired state comes, not removed as undesired. */
        {
                char path[300];
                FILE *f;
                snprintf(path, sizeof(path), "%s/containers/desired.json", sv_state);
                CHECK((f = fopen(path, "w")));
                fputs("[{\"name\":\"keeper\",\"ima", f);
                CHECK_INT(fclose(f), ==, 0);
                /* The run's spec too: it is taken as the desired one when
                 * that comes. */
                damage("spec.json", "garbage", 7);
                damage("spec.json.bak", "", 0);
                sv_agent_log_clear();
                a = sv_agent_start(NULL, -1);
                snprintf(want, sizeof(want), "%s is cut short (22 bytes, the JSON ends early): the containers found are "
                                             "left as they are", path);
                {
                        uint64_t t0 = brm_mono_ms();
                        while (!sv_agent_log_has(want)) {
                                if (brm_mono_ms() - t0 > 10000)
                                        CHECK_FAIL_("no warning '%s' in the agent's log (%s/agent.log)", want, sv_work);
                                sv_sleep_ms(50);
                        }
                }
                sv_sleep_ms(2000);
                CHECK(sv_alive(pid));
                sv_agent_kill(a, SIGTERM);
                CHECK(sv_alive(pid));
                /* The desired state comes: the same container, kept. */
                a = sv_agent_start(&s, 1);
                WAIT_FOR("keeper", x, x.state == BRM_CS_RUNNING && x.pid > 0, 10000, "running");
                CHECK_INT(x.pid, ==, pid);
                sv_sleep_ms(1000);
                CHECK(sv_alive(pid));
                CHECK_INT(record_good("state.json"), ==, 1);
                CHECK_INT(record_good("spec.json"), ==, -1);
                printf("records: desired.json and spec.json damaged: pid %d left running, kept when the desired "
                       "state came\n", pid);
                sv_agent_kill(a, SIGTERM);
        }
        sv_teardown();
}
