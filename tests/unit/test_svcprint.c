/* Service listings from canned answers of the master: the tables of
 * 'service ls' and 'service ps', the JSON of a ServiceInfo, and what
 * 'node drain' counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "svcprint.h"

#define NOW 1800000000000LL

static Bramble__ContainerStatus st1 = BRAMBLE__CONTAINER_STATUS__INIT, st2 = BRAMBLE__CONTAINER_STATUS__INIT;
static Bramble__ServiceReplica r1 = BRAMBLE__SERVICE_REPLICA__INIT, r2 = BRAMBLE__SERVICE_REPLICA__INIT,
                               r3 = BRAMBLE__SERVICE_REPLICA__INIT;
static Bramble__ServiceReplica *reps[] = { &r1, &r2, &r3 };
static Bramble__HealthCheck hc = BRAMBLE__HEALTH_CHECK__INIT;
static Bramble__ContainerSpec cs = BRAMBLE__CONTAINER_SPEC__INIT;
static Bramble__ServiceSpec ss = BRAMBLE__SERVICE_SPEC__INIT;
static Bramble__ServiceInfo si = BRAMBLE__SERVICE_INFO__INIT;
static Bramble__ServiceInfo *infos[] = { &si };
static Bramble__ServiceListResponse list = BRAMBLE__SERVICE_LIST_RESPONSE__INIT;
static char *cons[] = { "arch=arm64" };

static void setup(void)
{
        st1.state = "running";
        st1.health = "healthy";
        st1.has_since_ms = 1;
        st1.since_ms = NOW - 180000;
        st1.restarts = 2;
        st2.state = "running";
        st2.health = "starting";
        st2.reason = "new replica of version 4";
        r1.name = "web.1";
        r1.node = "pi-a";
        r1.status = &st1;
        r1.has_version = 1;
        r1.version = 3;
        r2.name = "web.2";
        r2.node = "pi-b";
        r2.status = &st2;
        r3.name = "web.3"; /* pending: no node, no status */
        hc.cmd = "true";
        cs.image = "registry.local/web:2";
        cs.health = &hc;
        ss.name = "web";
        ss.has_replicas = 1;
        ss.replicas = 3;
        ss.container = &cs;
        ss.constraints = cons;
        ss.n_constraints = 1;
        si.spec = &ss;
        si.version = 4;
        si.running = 2;
        si.healthy = 1;
        si.update_state = "updating";
        si.replicas = reps;
        si.n_replicas = 3;
        si.pending_reason = "no node satisfies arch=arm64";
        list.services = infos;
        list.n_services = 1;
}

static char *capture(void (*fn)(FILE *))
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        CHECK(f);
        fn(f);
        fclose(f);
        return buf;
}

static void ls(FILE *f)
{
        brm_svc_print_ls(f, &list);
}

static void ps(FILE *f)
{
        brm_svc_print_ps(f, &si, NOW);
}

static void inspect(FILE *f)
{
        brm_svc_print_inspect(f, &si, NOW);
}

int main(void)
{
        char *out, ago[32], first[32], reason[128];
        cJSON *j;

        setup();
        out = capture(ls);
        CHECK(strstr(out, "NAME"));
        CHECK(strstr(out, "REPLICAS"));
        CHECK(strstr(out, "web "));
        CHECK(strstr(out, " 3/2/1 "));
        CHECK(strstr(out, "updating\n"));
        free(out);

        out = capture(ps);
        CHECK(strstr(out, "REPLICA"));
        CHECK(strstr(out, "SINCE"));
        const char *row = strstr(out, "web.1");
        CHECK(row);
        CHECK(strstr(row, "pi-a"));
        CHECK(strstr(row, "healthy"));
        CHECK(strstr(row, "3m ago"));
        row = strstr(out, "web.3");
        CHECK(row && strstr(row, "pending"));
        CHECK(strstr(out, "PENDING: no node satisfies arch=arm64\n"));
        free(out);

        out = capture(inspect);
        CHECK(strstr(out, "service web (version 4)\n"));
        CHECK(strstr(out, "health           cmd true (every 10000ms, timeout 2000ms, 3 retries"));
        CHECK(strstr(out, "constraints      arch=arm64\n"));
        free(out);

        j = brm_svc_json(&si);
        CHECK_STR(cJSON_GetObjectItem(j, "name")->valuestring, "web");
        CHECK_INT(cJSON_GetObjectItem(j, "desired")->valueint, ==, 3);
        CHECK_INT(cJSON_GetObjectItem(j, "healthy")->valueint, ==, 1);
        CHECK_STR(cJSON_GetObjectItem(j, "update_state")->valuestring, "updating");
        cJSON *spec = cJSON_GetObjectItem(j, "spec"), *c = cJSON_GetObjectItem(spec, "container");
        CHECK_STR(cJSON_GetObjectItem(c, "image")->valuestring, "registry.local/web:2");
        CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "health"), "retries")->valueint, ==, 3);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "previous")));
        cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "replicas"), 0);
        CHECK_STR(cJSON_GetObjectItem(r, "node")->valuestring, "pi-a");
        CHECK_STR(cJSON_GetObjectItem(r, "health")->valuestring, "healthy");
        CHECK_INT(cJSON_GetObjectItem(r, "restarts")->valueint, ==, 2);
        r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "replicas"), 2);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "node")));
        CHECK_STR(cJSON_GetObjectItem(r, "state")->valuestring, "pending");
        cJSON_Delete(j);

        brm_svc_ago(NOW - 180000, NOW, ago, sizeof(ago));
        CHECK_STR(ago, "3m ago");
        brm_svc_ago(0, NOW, ago, sizeof(ago));
        CHECK_STR(ago, "-");

        CHECK_INT(brm_svc_replicas_on(&list, "pi-b", first, sizeof(first), reason, sizeof(reason)), ==, 1);
        CHECK_STR(first, "web.2");
        CHECK_STR(reason, "web: no node satisfies arch=arm64");
        CHECK_INT(brm_svc_replicas_on(&list, "pi-z", first, sizeof(first), reason, sizeof(reason)), ==, 0);
        CHECK_STR(first, "");
        printf("ok\n");
        return 0;
}
