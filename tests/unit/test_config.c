/* Agent config: every field through the table, errors naming the field,
 * nothing applied from a document that has any error. */
#include <errno.h>

#include "check.h"
#include "config.h"

static void expect_error(const char *json, const char *needle)
{
        struct brm_agent_config cfg;
        char err[512] = "";

        brm_agent_config_defaults(&cfg);
        CHECK_INT(brm_agent_config_parse_json(&cfg, json, err, sizeof(err)), ==, -EINVAL);
        if (!strstr(err, needle)) {
                fprintf(stderr, "for %s: error \"%s\" does not mention \"%s\"\n", json, err, needle);
                exit(1);
        }
        /* Nothing of a bad document is applied. */
        CHECK_INT(cfg.n_masters, ==, 0);
        CHECK_STR(cfg.state_dir, "/var/lib/bramble");
}

int main(void)
{
        struct brm_agent_config cfg;
        char err[512], json[1024];

        const char *valid = "bramble1:0000000000000000000000000000000000000000000000000000000000000000:abc123.0123456789abcdefghijklmnopqrstuv";

        brm_agent_config_defaults(&cfg);
        CHECK_U64(cfg.heartbeat_interval_ms, ==, 5000);
        CHECK_U64(cfg.log_reserve, ==, 4u << 20);
        CHECK_INT(brm_agent_config_set(&cfg, "log_reserve", "8M", err, sizeof(err)), ==, 0);
        CHECK_U64(cfg.log_reserve, ==, 8u << 20);
        CHECK_U64(cfg.image_gc_free, ==, 512u << 20);
        CHECK_INT(brm_agent_config_set(&cfg, "image_gc_free", "2G", err, sizeof(err)), ==, 0);
        CHECK_U64(cfg.image_gc_free, ==, 2ull << 30);
        CHECK_INT(brm_agent_config_set(&cfg, "image_gc_free", "0", err, sizeof(err)), ==, 0);
        CHECK_U64(cfg.image_gc_free, ==, 0);
        snprintf(json, sizeof(json),
                 "{\"master\": [\"10.0.0.1:7443\", \"master.local:7443\"], \"token\": \"%s\", \"name\": \"pi-7\","
                 " \"state_dir\": \"/data/bramble\", \"heartbeat_interval\": \"2s\", \"log_level\": \"debug\"}",
                 valid);
        CHECK_INT(brm_agent_config_parse_json(&cfg, json, err, sizeof(err)), ==, 0);
        CHECK_INT(cfg.n_masters, ==, 2);
        CHECK_STR(cfg.masters[1], "master.local:7443");
        CHECK_STR(cfg.token, valid);
        CHECK_STR(cfg.name, "pi-7");
        CHECK_STR(cfg.state_dir, "/data/bramble");
        CHECK_U64(cfg.heartbeat_interval_ms, ==, 2000);
        CHECK_STR(cfg.log_level, "debug");
        CHECK_INT(brm_agent_config_finish(&cfg, err, sizeof(err)), ==, 0);

        /* A single master string, and a number of seconds. */
        brm_agent_config_defaults(&cfg);
        CHECK_INT(brm_agent_config_parse_json(&cfg, "{\"master\": \"m:1\", \"heartbeat_interval\": 7}", err, sizeof(err)), ==, 0);
        CHECK_INT(cfg.n_masters, ==, 1);
        CHECK_U64(cfg.heartbeat_interval_ms, ==, 7000);
        /* Flags override. */
        CHECK_INT(brm_agent_config_set(&cfg, "heartbeat_interval", "500ms", err, sizeof(err)), ==, 0);
        CHECK_U64(cfg.heartbeat_interval_ms, ==, 500);
        CHECK_INT(brm_agent_config_set(&cfg, "heartbeat_interval", "0s", err, sizeof(err)), ==, -EINVAL);
        CHECK(strstr(err, "heartbeat_interval"));
        CHECK_INT(brm_agent_config_set(&cfg, "bogus", "x", err, sizeof(err)), ==, -EINVAL);
        CHECK(strstr(err, "bogus"));

        expect_error("{\"heartbeat_interval\": \"5x\"}", "heartbeat_interval");
        expect_error("{\"heartbeat_interval\": -1}", "heartbeat_interval");
        expect_error("{\"master\": \"nohostport\"}", "master");
        expect_error("{\"master\": []}", "master");
        expect_error("{\"master\": [1]}", "master");
        expect_error("{\"token\": \"K10abc::node:secret\"}", "token");
        expect_error("{\"name\": \"Bad_Name\"}", "name");
        expect_error("{\"state_dir\": \"relative/path\"}", "state_dir");
        expect_error("{\"log_level\": \"loud\"}", "log_level");
        expect_error("{\"log_reserve\": \"512K\"}", "log_reserve");
        expect_error("{\"log_reserve\": \"2G\"}", "log_reserve");
        expect_error("{\"image_gc_free\": \"lots\"}", "image_gc_free");
        expect_error("{\"colour\": \"blue\"}", "unknown field 'colour'");
        expect_error("{\"name\": 5}", "name");
        expect_error("{\n\"master\": \"m:1\",\n\"name\": }", "not valid JSON (near line 3)");
        expect_error("{\"name\": \"a\",\n\"name\": \"b\"}", "field 'name' is given more than once (line 2)");
        expect_error("[1, 2]", "JSON object");
        expect_error("{\"master\": \"m:1\", \"name\": \"ok\", \"heartbeat_interval\": \"soon\"}", "heartbeat_interval");

        /* finish: a master is required. */
        brm_agent_config_defaults(&cfg);
        CHECK_INT(brm_agent_config_set(&cfg, "name", "pi-1", err, sizeof(err)), ==, 0);
        CHECK_INT(brm_agent_config_finish(&cfg, err, sizeof(err)), ==, -EINVAL);
        CHECK(strstr(err, "master"));

        /* "auto": found by mDNS; alone, never beside an address; a missing
         * or empty master with a token means the same. */
        brm_agent_config_defaults(&cfg);
        CHECK_INT(brm_agent_config_parse_json(&cfg, "{\"master\": \"auto\", \"name\": \"pi-1\"}", err, sizeof(err)), ==, 0);
        CHECK(cfg.master_auto);
        CHECK_INT(cfg.n_masters, ==, 0);
        CHECK_INT(brm_agent_config_finish(&cfg, err, sizeof(err)), ==, 0);
        CHECK_INT(brm_agent_config_parse_json(&cfg, "{\"master\": \"m:1\"}", err, sizeof(err)), ==, 0);
        CHECK(!cfg.master_auto);
        CHECK_INT(cfg.n_masters, ==, 1);
        expect_error("{\"master\": [\"auto\", \"m:1\"]}", "\"auto\" cannot be combined with addresses");
        expect_error("{\"master\": [\"m:1\", \"auto\"]}", "\"auto\" cannot be combined with addresses");
        brm_agent_config_defaults(&cfg);
        snprintf(json, sizeof(json), "{\"master\": \"\", \"token\": \"%s\", \"name\": \"pi-1\"}", valid);
        CHECK_INT(brm_agent_config_parse_json(&cfg, json, err, sizeof(err)), ==, 0);
        CHECK(!cfg.master_auto);
        CHECK_INT(brm_agent_config_finish(&cfg, err, sizeof(err)), ==, 0);
        CHECK(cfg.master_auto);
        printf("config: ok\n");
        return 0;
}
