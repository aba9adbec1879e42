/* Apply files: a full YAML file and its JSON twin give the same specs;
 * each bad file is refused with one line naming the file, the line of the
 * value at fault and its path, and gives back no services. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "applyfile.h"
#include "check.h"
#include "util.h"

static const char full_yaml[] =
        "# every key\n"
        "services:\n"
        "  web:\n"
        "    image: registry.local/web:2\n"
        "    replicas: 3\n"
        "    command: [\"/bin/web\", \"--port\", \"8080\"]\n"
        "    env: {K: V, PORT: 8080}\n"
        "    memory: 256M\n"
        "    memory_high: 200M\n"
        "    cpus: 0.5\n"
        "    pids: 100\n"
        "    restart: on-failure\n"
        "    network: host\n"
        "    workdir: /app\n"
        "    cap_add: [NET_ADMIN]\n"
        "    cap_drop: [CHOWN]\n"
        "    constraints: [\"arch=arm64\", \"board!=pi3\"]\n"
        "    max_per_node: 1\n"
        "    health: {cmd: \"wget -q -O- localhost:8080/healthz\", interval: 10s, timeout: 2s, retries: 3, start_period: 5s}\n"
        "    update: {parallelism: 2, monitor: 30s, max_failures: 1, order: stop-first}\n"
        "    on_disconnect: stop-after 30s\n"
        "  db:\n"
        "    image: db:1\n"
        "    env:\n"
        "      - A=1\n"
        "    health:\n"
        "      http: 5432/ready\n";

static const char full_json[] =
        "{\"services\": {\n"
        " \"web\": {\"image\": \"registry.local/web:2\", \"replicas\": 3, \"command\": [\"/bin/web\", \"--port\", \"8080\"],\n"
        "   \"env\": {\"K\": \"V\", \"PORT\": 8080}, \"memory\": \"256M\", \"memory_high\": \"200M\", \"cpus\": 0.5,\n"
        "   \"pids\": 100, \"restart\": \"on-failure\", \"network\": \"host\", \"workdir\": \"/app\",\n"
        "   \"cap_add\": [\"NET_ADMIN\"], \"cap_drop\": [\"CHOWN\"], \"constraints\": [\"arch=arm64\", \"board!=pi3\"],\n"
        "   \"max_per_node\": 1,\n"
        "   \"health\": {\"cmd\": \"wget -q -O- localhost:8080/healthz\", \"interval\": \"10s\", \"timeout\": \"2s\", \"retries\": 3, \"start_period\": \"5s\"},\n"
        "   \"update\": {\"parallelism\": 2, \"monitor\": \"30s\", \"max_failures\": 1, \"order\": \"stop-first\"},\n"
        "   \"on_disconnect\": \"stop-after 30s\"},\n"
        " \"db\": {\"image\": \"db:1\", \"env\": [\"A=1\"], \"health\": {\"http\": \"5432/ready\"}}\n"
        "}}\n";

static void check_full(const char *name, const char *text)
{
        struct brm_applyfile f;
        char err[512] = "";

        if (brm_applyfile_parse(name, text, strlen(text), &f, err, sizeof(err)) != 0)
                CHECK_FAIL_("%s refused: %s", name, err);
        CHECK_INT(f.n, ==, 2);
        const Bramble__ServiceSpec *w = f.services[0], *d = f.services[1];
        const Bramble__ContainerSpec *c = w->container;
        CHECK_STR(w->name, "web");
        CHECK_INT(w->replicas, ==, 3);
        CHECK_STR(c->image, "registry.local/web:2");
        CHECK_INT(c->n_args, ==, 3);
        CHECK_STR(c->args[2], "8080");
        CHECK_INT(c->n_env, ==, 2);
        CHECK_STR(c->env[0], "K=V");
        CHECK_STR(c->env[1], "PORT=8080");
        CHECK_U64(c->memory_max, ==, 256u << 20);
        CHECK_U64(c->memory_high, ==, 200u << 20);
        CHECK_INT(c->cpu_millis, ==, 500);
        CHECK_INT(c->pids_max, ==, 100);
        CHECK_STR(c->restart, "on-failure");
        CHECK_STR(c->network, "host");
        CHECK_STR(c->workdir, "/app");
        CHECK_STR(c->cap_add[0], "NET_ADMIN");
        CHECK_STR(c->cap_drop[0], "CHOWN");
        CHECK_INT(w->n_constraints, ==, 2);
        CHECK_STR(w->constraints[1], "board!=pi3");
        CHECK_INT(w->max_per_node, ==, 1);
        CHECK(c->health);
        CHECK_STR(c->health->cmd, "wget -q -O- localhost:8080/healthz");
        CHECK_INT(c->health->interval_ms, ==, 10000);
        CHECK_INT(c->health->timeout_ms, ==, 2000);
        CHECK_INT(c->health->retries, ==, 3);
        CHECK_INT(c->health->start_period_ms, ==, 5000);
        CHECK(w->update);
        CHECK_INT(w->update->parallelism, ==, 2);
        CHECK_INT(w->update->monitor_ms, ==, 30000);
        CHECK_INT(w->update->max_failures, ==, 1);
        CHECK_STR(w->update->order, "stop-first");
        CHECK_U64(c->disconnect_stop_ms, ==, 30000);
        CHECK_STR(d->name, "db");
        CHECK_INT(d->replicas, ==, 1); /* the default */
        CHECK_STR(d->container->env[0], "A=1");
        CHECK_INT(d->container->health->http_port, ==, 5432);
        CHECK_STR(d->container->health->http_path, "/ready");
        CHECK(!d->update);
        brm_applyfile_free(&f);
}

struct bad_case {
        const char *name;
        const char *text;
        const char *err; /* the whole message, or its start when it ends in '*' */
};

static const struct bad_case bad[] = {
        { "a.yaml", "services:\n  web:\n    image: x\n    replicas: 3000\n",
          "a.yaml:4: services.web.replicas: must be a whole number from 0 to 1000" },
        { "a.yaml", "services:\n  web:\n    image: x\n    replicas: \"3\"\n",
          "a.yaml:4: services.web.replicas: must be a whole number from 0 to 1000" },
        { "a.yaml", "services:\n  web:\n    image: x\n    colour: red\n", "a.yaml:4: services.web.colour: unknown key*" },
        { "a.yaml", "services:\n  web:\n    replicas: 2\n", "a.yaml:3: services.web: image is required" },
        { "a.yaml", "services:\n  web:\n    image: x\n    image: y\n", "a.yaml:4: key 'image' is given twice" },
        { "a.yaml", "services:\n  web:\n    image: x\n   replicas: 2\n", "a.yaml:4: not valid YAML*" },
        { "a.yaml", "services:\n  web:\n    image: [x]\n", "a.yaml:3: services.web.image: must be a string" },
        { "a.yaml", "services:\n  Web:\n    image: x\n", "a.yaml:3: services.Web: 'Web' is not a valid service name*" },
        { "a.yaml", "services:\n  web:\n    image: x\n    command: /bin/web --port 80\n",
          "a.yaml:4: services.web.command: must be a list*" },
        { "a.yaml", "services:\n  web:\n    image: x\n    constraints:\n      - arch=arm64\n      - board\n",
          "a.yaml:6: services.web.constraints[1]: --constraint 'board': expected key=value, key!=value or key~substring" },
        { "a.yaml", "services:\n  web:\n    image: x\n    health:\n      cmd: true\n      tcp: 80\n",
          "a.yaml:5: services.web.health: give exactly one of cmd, http and tcp" },
        { "a.yaml", "services:\n  web:\n    image: x\n    health: {cmd: ok, interval: soon}\n",
          "a.yaml:4: services.web.health.interval: must be a duration like 10s, 500ms or 5m" },
        { "a.yaml", "services:\n  web:\n    image: x\n    health: {tcp: 80}\n    network: none\n",
          "a.yaml:3: services.web: --health-http and --health-tcp reach the container*" },
        { "a.yaml", "services:\n  web:\n    image: x\n    memory: lots\n",
          "a.yaml:4: services.web.memory: must be a size like 64M, 512K or 1G (at least 4K)" },
        { "a.yaml", "services:\n  web:\n    image: x\n    restart: sometimes\n",
          "a.yaml:4: services.web.restart: must be always, on-failure or never" },
        { "a.yaml", "services:\n  web:\n    image: x\n    on_disconnect: stop\n",
          "a.yaml:4: services.web.on_disconnect: must be keep or \"stop-after D\"*" },
        { "a.yaml", "services:\n  web:\n    image: x\n    update: {order: sideways}\n",
          "a.yaml:4: services.web.update.order: must be start-first or stop-first" },
        { "a.yaml", "services:\n  web:\n    image: x\n    env: [\"=x\"]\n", "a.yaml:4: services.web.env[0]: '=x' is not KEY=VALUE" },
        { "a.yaml", "services:\n  web: &a\n    image: x\n  db: *a\n", "a.yaml:4: aliases (*name) are not supported" },
        { "a.yaml", "services: {}\n---\nservices: {}\n", "a.yaml:2: only one YAML document is allowed" },
        { "a.yaml", "", "a.yaml:1: the file is empty" },
        { "a.yaml", "service:\n  web: {image: x}\n", "a.yaml:2: service: unknown key (expected services)" },
        { "a.yaml", "- a\n", "a.yaml:1: top level: must be a map with the key services" },
        { "a.json", "{\"services\": {\n  \"web\": {\n    \"image\": \"x\",\n    \"replicas\": -1\n  }\n}}\n",
          "a.json:4: services.web.replicas: must be a whole number from 0 to 1000" },
        { "a.json", "{\"services\": {\n  \"web\": {\n    \"image\": \"x\",\n    \"replicas\": 2,\n}}}\n", "a.json:5: not valid JSON" },
        { "b.txt", "  {\"services\": {\"web\": {\"image\": \"x\", \"cpus\": 0}}}", "b.txt:1: services.web.cpus: must be a number*" },
};

static void check_bad(void)
{
        for (size_t i = 0; i < BRM_ARRAY_SIZE(bad); i++) {
                struct brm_applyfile f = { (void *)1, 7 };
                char err[512] = "";
                size_t n = strlen(bad[i].err);
                int r = brm_applyfile_parse(bad[i].name, bad[i].text, strlen(bad[i].text), &f, err, sizeof(err));
                if (r != -EINVAL)
                        CHECK_FAIL_("case %zu accepted (%d), expected: %s", i, r, bad[i].err);
                if (bad[i].err[n - 1] == '*' ? strncmp(err, bad[i].err, n - 1) != 0 : strcmp(err, bad[i].err) != 0)
                        CHECK_FAIL_("case %zu: got '%s', expected '%s'", i, err, bad[i].err);
                CHECK(!strchr(err, '\n'));
                CHECK(f.services == NULL && f.n == 0);
        }
}

int main(void)
{
        check_full("web.yaml", full_yaml);
        check_full("web.json", full_json);
        check_bad();
        printf("ok\n");
        return 0;
}
