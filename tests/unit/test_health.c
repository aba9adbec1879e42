/* The health check state machine (agent/health.h, the pure part):
 * starting until the first success, healthy after one, unhealthy after
 * RETRIES consecutive counted failures; failures in the start period do
 * not count but a success in it counts; the first delay; the last line of
 * a check's output. Also the persisted spec's health check and
 * on-disconnect time, which must come back as they were written. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "health.h"
#include "ocispec.h"

static void test_states(void)
{
        struct brm_health_sm sm;

        brm_health_sm_init(&sm);
        CHECK_STR(brm_health_state_name(sm.state), "starting");
        /* Two failures of three: still starting, counted. */
        CHECK(!brm_health_sm_record(&sm, false, "exit 1: no", false, 3));
        CHECK(!brm_health_sm_record(&sm, false, "exit 1: no", false, 3));
        CHECK_INT(sm.failures, ==, 2);
        CHECK_STR(brm_health_state_name(sm.state), "starting");
        CHECK_STR(sm.log, "exit 1: no");
        /* A success: healthy, the count reset; the log of the last failure kept. */
        CHECK(!brm_health_sm_record(&sm, true, NULL, false, 3));
        CHECK_STR(brm_health_state_name(sm.state), "healthy");
        CHECK_INT(sm.failures, ==, 0);
        /* Three in a row: unhealthy, said once. */
        CHECK(!brm_health_sm_record(&sm, false, "GET /healthz: 503", false, 3));
        CHECK(!brm_health_sm_record(&sm, false, "GET /healthz: 503", false, 3));
        CHECK_STR(brm_health_state_name(sm.state), "healthy");
        CHECK(brm_health_sm_record(&sm, false, "GET /healthz: 500", false, 3));
        CHECK_STR(brm_health_state_name(sm.state), "unhealthy");
        CHECK_STR(sm.log, "GET /healthz: 500");
        CHECK_INT(sm.failures, ==, 3);
        CHECK(!brm_health_sm_record(&sm, false, "again", false, 3));
        CHECK_INT(sm.failures, ==, 3);
        /* Retries 0 counts as 1. */
        brm_health_sm_init(&sm);
        CHECK(brm_health_sm_record(&sm, false, NULL, false, 0));
        CHECK_STR(sm.log, "failed");
}

static void test_start_period(void)
{
        struct brm_health_sm sm;

        brm_health_sm_init(&sm);
        for (int i = 0; i < 10; i++)
                CHECK(!brm_health_sm_record(&sm, false, "timed out after 2s", true, 1));
        CHECK_INT(sm.failures, ==, 0);
        CHECK_STR(brm_health_state_name(sm.state), "starting");
        CHECK_STR(sm.log, "timed out after 2s");
        /* A success in the start period makes it healthy. */
        CHECK(!brm_health_sm_record(&sm, true, NULL, true, 1));
        CHECK_STR(brm_health_state_name(sm.state), "healthy");
        /* After it, one failure of one is enough. */
        CHECK(brm_health_sm_record(&sm, false, "exit 2", false, 1));
        CHECK_STR(brm_health_state_name(sm.state), "unhealthy");
}

static void test_first_delay(void)
{
        CHECK_U64(brm_health_first_delay(10000), ==, 1000);
        CHECK_U64(brm_health_first_delay(1000), ==, 1000);
        CHECK_U64(brm_health_first_delay(300), ==, 300);
}

static void test_last_line(void)
{
        char out[16];
        const char *text = "one\ntwo\nthe last one\n\n  \n";

        brm_health_last_line(text, strlen(text), out, sizeof(out));
        CHECK_STR(out, "the last one");
        brm_health_last_line("single", 6, out, sizeof(out));
        CHECK_STR(out, "single");
        brm_health_last_line("", 0, out, sizeof(out));
        CHECK_STR(out, "");
        brm_health_last_line("\n\n", 2, out, sizeof(out));
        CHECK_STR(out, "");
        /* Cut to fit; control bytes shown as '?'. */
        brm_health_last_line("x\na\tvery long line indeed", 26, out, sizeof(out));
        CHECK_STR(out, "a?very long lin");
}

static void test_spec_roundtrip(void)
{
        struct brm_container_spec s, d;
        json_t *o;

        memset(&s, 0, sizeof(s));
        strcpy(s.name, "web.1");
        strcpy(s.image, "/images/web");
        s.has_health = true;
        s.health.cmd = strdup("wget -q -O- localhost/ || exit 1");
        s.health.interval_ms = 500;
        s.health.timeout_ms = 2000;
        s.health.retries = 2;
        s.health.start_period_ms = 3000;
        s.disconnect_stop_ms = 30000;
        CHECK((o = brm_ocispec_encode_spec(&s, true)) != NULL);
        CHECK_INT(brm_ocispec_decode_spec(o, &d), ==, 0);
        json_decref(o);
        CHECK(d.has_health);
        CHECK_STR(d.health.cmd, s.health.cmd);
        CHECK_INT(d.health.interval_ms, ==, 500);
        CHECK_INT(d.health.retries, ==, 2);
        CHECK_INT(d.health.start_period_ms, ==, 3000);
        CHECK_U64(d.disconnect_stop_ms, ==, 30000);
        brm_ocispec_spec_free(&d);
        /* HTTP, and no check at all. */
        free(s.health.cmd);
        s.health.cmd = NULL;
        s.health.http_port = 8080;
        strcpy(s.health.http_path, "/healthz");
        CHECK((o = brm_ocispec_encode_spec(&s, true)) != NULL);
        CHECK_INT(brm_ocispec_decode_spec(o, &d), ==, 0);
        json_decref(o);
        CHECK(d.health.cmd == NULL);
        CHECK_INT(d.health.http_port, ==, 8080);
        CHECK_STR(d.health.http_path, "/healthz");
        brm_ocispec_spec_free(&d);
        s.has_health = false;
        s.disconnect_stop_ms = 0;
        CHECK((o = brm_ocispec_encode_spec(&s, true)) != NULL);
        CHECK(json_object_get(o, "health") == NULL && json_object_get(o, "disconnect_stop_ms") == NULL);
        CHECK_INT(brm_ocispec_decode_spec(o, &d), ==, 0);
        json_decref(o);
        CHECK(!d.has_health);
        CHECK_U64(d.disconnect_stop_ms, ==, 0);
        brm_ocispec_spec_free(&d);
}

int main(void)
{
        test_states();
        test_start_period();
        test_first_delay();
        test_last_line();
        test_spec_roundtrip();
        return 0;
}
