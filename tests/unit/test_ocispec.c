/* The OCI runtime spec the agent writes: namespaces, security defaults,
 * cgroup path and limits (v1 and v2 forms), the process from the image's
 * defaults or the spec's args, users from the image's /etc/passwd; and the
 * persisted container spec's round trip. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <jansson.h>

#include "check.h"
#include "ctrspec.h"
#include "fileio.h"
#include "ocispec.h"
#include "util.h"

static cJSON *build(const struct brm_ocispec_params *p)
{
        char *json = NULL, why[256];
        cJSON *o;
        int r = brm_ocispec_build(p, &json, why, sizeof(why));
        if (r < 0)
                CHECK_FAIL_("brm_ocispec_build: %d %s", r, why);
        o = cJSON_Parse(json);
        CHECK(o);
        free(json);
        return o;
}

static cJSON *at(cJSON *o, const char *path)
{
        char buf[256], *save = NULL;
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
                o = cJSON_GetObjectItemCaseSensitive(o, k);
        if (!o)
                CHECK_FAIL_("no field %s", path);
        return o;
}

static bool has_str(cJSON *arr, const char *s)
{
        cJSON *v;
        cJSON_ArrayForEach(v, arr) if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0) return true;
        return false;
}

static bool has_ns(cJSON *root, const char *type)
{
        cJSON *v;
        cJSON_ArrayForEach(v, at(root, "linux.namespaces")) if (strcmp(at(v, "type")->valuestring, type) == 0) return true;
        return false;
}

/* The type of the mount at dest, or "" when there is none. */
static const char *mount_type(cJSON *root, const char *dest)
{
        cJSON *v;
        cJSON_ArrayForEach(v, at(root, "mounts")) if (strcmp(at(v, "destination")->valuestring, dest) == 0) return at(v, "type")->valuestring;
        return "";
}

static bool has_mount(cJSON *root, const char *dest)
{
        cJSON *v;
        cJSON_ArrayForEach(v, at(root, "mounts")) if (strcmp(at(v, "destination")->valuestring, dest) == 0) return true;
        return false;
}

int main(void)
{
        struct brm_container_spec s;
        struct brm_image_config img;
        struct brm_ocispec_params p;
        char work[64] = "/tmp/brm-test-ocispec.XXXXXX", path[200], *json, why[256];
        cJSON *o, *e;

        CHECK(mkdtemp(work));
        memset(&s, 0, sizeof(s));
        memset(&img, 0, sizeof(img));
        strcpy(s.name, "web");
        strcpy(s.image, "/images/web");
        s.memory_max = 32u << 20;
        s.memory_high = 24u << 20;
        s.cpu_millis = 200;
        s.pids_max = 32;
        s.env[0] = "A=override";
        s.env[1] = "B=2";
        snprintf(img.rootfs, sizeof(img.rootfs), "%s", work);
        strcpy(img.digest, "sha256:0123");
        img.entrypoint[0] = "/bin/app";
        img.cmd[0] = "--serve";
        img.env[0] = "A=image";
        img.env[1] = "PATH=/app/bin";
        strcpy(img.workdir, "/srv");
        p = (struct brm_ocispec_params){
                .spec = &s, .image = &img, .cgroups_path = "/bramble/web", .cgroup_version = 2, .swap = true,
        };

        /* v2, host network, image defaults. */
        o = build(&p);
        CHECK_STR(at(o, "root.path")->valuestring, work);
        CHECK(cJSON_IsTrue(at(o, "root.readonly")));
        CHECK_STR(at(o, "hostname")->valuestring, "web");
        CHECK(has_ns(o, "pid") && has_ns(o, "mount") && has_ns(o, "uts") && has_ns(o, "ipc"));
        CHECK(!has_ns(o, "network"));
        /* No network namespace: a fresh sysfs cannot be mounted (crun), so
         * the host's /sys is bound read-only. */
        CHECK_STR(mount_type(o, "/sys"), "bind");
        CHECK(!has_ns(o, "user"));
        CHECK(cJSON_IsTrue(at(o, "process.noNewPrivileges")));
        CHECK(!cJSON_IsTrue(at(o, "process.terminal")));
        CHECK_INT(at(o, "process.oomScoreAdj")->valueint, ==, 0);
        CHECK(has_str(at(o, "process.capabilities.bounding"), "CAP_CHOWN"));
        CHECK(has_str(at(o, "process.capabilities.effective"), "CAP_NET_BIND_SERVICE"));
        CHECK(!has_str(at(o, "process.capabilities.bounding"), "CAP_SYS_ADMIN"));
        CHECK(!has_str(at(o, "process.capabilities.bounding"), "CAP_NET_RAW"));
        CHECK(!has_str(at(o, "process.capabilities.bounding"), "CAP_SYS_MODULE"));
        CHECK(has_str(at(o, "linux.maskedPaths"), "/proc/kcore"));
        CHECK(has_str(at(o, "linux.maskedPaths"), "/sys/firmware"));
        CHECK(has_str(at(o, "linux.readonlyPaths"), "/proc/sys"));
        CHECK(has_str(at(o, "linux.readonlyPaths"), "/proc/sysrq-trigger"));
        CHECK(has_mount(o, "/proc") && has_mount(o, "/dev") && has_mount(o, "/sys") && has_mount(o, "/tmp"));
        CHECK_STR(at(o, "linux.cgroupsPath")->valuestring, "/bramble/web");
        CHECK_U64(at(o, "linux.resources.memory.limit")->valuedouble, ==, 32u << 20);
        CHECK_U64(at(o, "linux.resources.memory.swap")->valuedouble, ==, 32u << 20);
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(at(o, "linux.resources.unified"), "memory.high")->valuestring, "25165824");
        CHECK(!cJSON_GetObjectItemCaseSensitive(at(o, "linux.resources.memory"), "reservation"));
        CHECK_U64(at(o, "linux.resources.cpu.quota")->valuedouble, ==, 20000);
        CHECK_U64(at(o, "linux.resources.cpu.period")->valuedouble, ==, 100000);
        CHECK_U64(at(o, "linux.resources.pids.limit")->valuedouble, ==, 32);
        e = at(o, "process.args");
        CHECK_INT(cJSON_GetArraySize(e), ==, 2);
        CHECK_STR(cJSON_GetArrayItem(e, 0)->valuestring, "/bin/app");
        CHECK_STR(cJSON_GetArrayItem(e, 1)->valuestring, "--serve");
        e = at(o, "process.env");
        CHECK(has_str(e, "A=override") && !has_str(e, "A=image"));
        CHECK(has_str(e, "B=2") && has_str(e, "PATH=/app/bin"));
        CHECK_STR(at(o, "process.cwd")->valuestring, "/srv");
        CHECK_INT(at(o, "process.user.uid")->valueint, ==, 0);
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(at(o, "annotations"), "org.opencontainers.image.digest")->valuestring, "sha256:0123");
        cJSON_Delete(o);

        /* Confinement: a cgroup namespace; /sys read-only recursively (the
         * kernels here have mount_setattr); the node's default seccomp
         * profile, translated and hardened. */
        o = build(&p);
        CHECK(has_ns(o, "cgroup"));
        {
                cJSON *m;
                bool rro = false;
                cJSON_ArrayForEach(m, at(o, "mounts")) if (strcmp(at(m, "destination")->valuestring, "/sys") == 0) rro =
                        has_str(at(m, "options"), "rro");
                CHECK(rro);
        }
        CHECK_STR(at(o, "linux.seccomp.defaultAction")->valuestring, "SCMP_ACT_ERRNO");
        CHECK(cJSON_GetArraySize(at(o, "linux.seccomp.architectures")) >= 1);
        CHECK(cJSON_GetArraySize(at(o, "linux.seccomp.syscalls")) > 10);
        cJSON_Delete(o);

        /* --cap-add SYS_ADMIN --cap-drop CHOWN */
        s.cap_add = UINT64_C(1) << 21;
        s.cap_drop = UINT64_C(1) << 0;
        o = build(&p);
        CHECK(has_str(at(o, "process.capabilities.bounding"), "CAP_SYS_ADMIN"));
        CHECK(has_str(at(o, "process.capabilities.permitted"), "CAP_SYS_ADMIN"));
        CHECK(!has_str(at(o, "process.capabilities.bounding"), "CAP_CHOWN"));
        CHECK(has_str(at(o, "process.capabilities.bounding"), "CAP_KILL"));
        cJSON_Delete(o);
        /* --cap-drop ALL --cap-add NET_ADMIN: that one alone. */
        s.cap_drop = BRM_CTRSPEC_CAPS_ALL;
        s.cap_add = UINT64_C(1) << 12;
        o = build(&p);
        CHECK_INT(cJSON_GetArraySize(at(o, "process.capabilities.bounding")), ==, 1);
        CHECK(has_str(at(o, "process.capabilities.bounding"), "CAP_NET_ADMIN"));
        cJSON_Delete(o);
        s.cap_add = s.cap_drop = 0;

        /* seccomp=unconfined: no filter; a profile of the container's own:
         * that one, as written; a broken one: refused, saying where. */
        s.seccomp = "unconfined";
        o = build(&p);
        CHECK(!cJSON_GetObjectItemCaseSensitive(at(o, "linux"), "seccomp"));
        cJSON_Delete(o);
        s.seccomp = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"chmod\"],"
                    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}";
        o = build(&p);
        CHECK_STR(at(o, "linux.seccomp.defaultAction")->valuestring, "SCMP_ACT_ALLOW");
        CHECK_INT(cJSON_GetArraySize(at(o, "linux.seccomp.syscalls")), ==, 1);
        cJSON_Delete(o);
        {
                s.seccomp = "{\"defaultAction\":\"SCMP_ACT_MAYBE\"}";
                CHECK_INT(brm_ocispec_build(&p, &json, why, sizeof(why)), ==, -EPROTO);
                CHECK(strstr(why, "defaultAction"));
                CHECK_INT(brm_ocispec_seccomp_check(&s, NULL, why, sizeof(why)), ==, -EINVAL);
                s.seccomp = NULL;
                p.seccomp_profile = "/nonexistent/seccomp.json";
                CHECK_INT(brm_ocispec_build(&p, &json, why, sizeof(why)), ==, -EPROTO);
                CHECK(strstr(why, "/nonexistent/seccomp.json") && strstr(why, "not found"));
                p.seccomp_profile = NULL;
        }

        /* v1: memory.high becomes the soft limit; no swap accounting; args
         * replace the image's; --network none; a named user. */
        p.cgroup_version = 1;
        p.swap = false;
        s.network = BRM_NET_NONE;
        s.args[0] = "/bin/sh";
        s.args[1] = "-c";
        s.args[2] = "true";
        strcpy(s.workdir, "/work");
        strcpy(img.user, "app");
        snprintf(path, sizeof(path), "%s/etc", work);
        CHECK_INT(brm_mkdir_p(path, 0755), ==, 0);
        snprintf(path, sizeof(path), "%s/etc/passwd", work);
        CHECK_INT(brm_file_write_atomic(path, "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n", 56, 0644), ==, 0);
        o = build(&p);
        CHECK(has_ns(o, "network"));
        CHECK_STR(mount_type(o, "/sys"), "sysfs");
        CHECK_U64(at(o, "linux.resources.memory.reservation")->valuedouble, ==, 24u << 20);
        CHECK(!cJSON_GetObjectItemCaseSensitive(at(o, "linux.resources.memory"), "swap"));
        CHECK(!cJSON_GetObjectItemCaseSensitive(at(o, "linux.resources"), "unified"));
        e = at(o, "process.args");
        CHECK_INT(cJSON_GetArraySize(e), ==, 3);
        CHECK_STR(cJSON_GetArrayItem(e, 0)->valuestring, "/bin/sh");
        CHECK_STR(at(o, "process.cwd")->valuestring, "/work");
        CHECK_INT(at(o, "process.user.uid")->valueint, ==, 1000);
        CHECK_INT(at(o, "process.user.gid")->valueint, ==, 1001);
        cJSON_Delete(o);

        /* An unknown user and nothing to run are refused. */
        strcpy(img.user, "nobody-here");
        CHECK_INT(brm_ocispec_build(&p, &json, why, sizeof(why)), ==, -EINVAL);
        img.user[0] = '\0';
        memset(s.args, 0, sizeof(s.args));
        img.entrypoint[0] = img.cmd[0] = NULL;
        CHECK_INT(brm_ocispec_build(&p, &json, why, sizeof(why)), ==, -EINVAL);

        /* No limits: no resource sections but the device rule. */
        s.memory_max = s.memory_high = 0;
        s.cpu_millis = s.pids_max = 0;
        s.args[0] = "/bin/true";
        o = build(&p);
        CHECK(!cJSON_GetObjectItemCaseSensitive(at(o, "linux.resources"), "memory"));
        CHECK(!cJSON_GetObjectItemCaseSensitive(at(o, "linux.resources"), "cpu"));
        CHECK(!cJSON_IsTrue(at(o, "linux.resources.devices")->child->child));
        cJSON_Delete(o);

        /* The persisted spec: round trip, and the key without "stopped". */
        {
                struct brm_container_spec d;
                json_t *enc, *k1, *k2;
                char *t1, *t2;
                s.restart = BRM_RESTART_ON_FAILURE;
                s.stopped = true;
                s.memory_max = 1u << 30;
                enc = brm_ocispec_encode_spec(&s, true);
                CHECK(enc);
                CHECK_INT(brm_ocispec_decode_spec(enc, &d), ==, 0);
                CHECK_STR(d.name, "web");
                CHECK_STR(d.args[0], "/bin/true");
                CHECK_STR(d.env[1], "B=2");
                CHECK(d.stopped);
                CHECK_INT(d.restart, ==, BRM_RESTART_ON_FAILURE);
                CHECK_INT(d.network, ==, BRM_NET_NONE);
                CHECK_U64(d.memory_max, ==, 1u << 30);
                CHECK(!d.seccomp && !d.cap_add && !d.cap_drop);
                {
                        struct brm_container_spec d2;
                        json_t *e2;
                        s.cap_add = UINT64_C(1) << 12;
                        s.cap_drop = BRM_CTRSPEC_CAPS_ALL;
                        s.seccomp = "unconfined";
                        CHECK((e2 = brm_ocispec_encode_spec(&s, true)));
                        CHECK_INT(brm_ocispec_decode_spec(e2, &d2), ==, 0);
                        CHECK_U64(d2.cap_add, ==, UINT64_C(1) << 12);
                        CHECK_U64(d2.cap_drop, ==, BRM_CTRSPEC_CAPS_ALL);
                        CHECK_STR(d2.seccomp, "unconfined");
                        brm_ocispec_spec_free(&d2);
                        json_object_set_new(e2, "cap_add", json_pack("[s]", "NOT_A_CAP"));
                        CHECK_INT(brm_ocispec_decode_spec(e2, &d2), ==, -EINVAL);
                        json_decref(e2);
                        s.cap_add = s.cap_drop = 0;
                        s.seccomp = NULL;
                }
                k1 = brm_ocispec_encode_spec(&s, false);
                d.stopped = false;
                k2 = brm_ocispec_encode_spec(&d, false);
                t1 = json_dumps(k1, JSON_COMPACT);
                t2 = json_dumps(k2, JSON_COMPACT);
                CHECK_STR(t1, t2);
                /* The key's form is what spec.json holds on nodes already
                 * running containers: it must not change, or every
                 * container restarts on an agent upgrade. */
                CHECK_STR(t1, "{\"name\":\"web\",\"image\":\"/images/web\",\"memory_max\":1073741824,"
                              "\"memory_high\":0,\"cpu_millis\":0,\"pids_max\":0,\"restart\":\"on-failure\","
                              "\"network\":\"none\",\"workdir\":\"/work\",\"args\":[\"/bin/true\"],"
                              "\"env\":[\"A=override\",\"B=2\"]}");
                free(t1);
                free(t2);
                json_decref(k1);
                json_decref(k2);
                brm_ocispec_spec_free(&d);
                json_object_set_new(enc, "restart", json_string("sometimes"));
                CHECK_INT(brm_ocispec_decode_spec(enc, &d), ==, -EINVAL);
                /* A string with a NUL inside is refused, not cut short. */
                json_object_set_new(enc, "restart", json_string("never"));
                json_object_set_new(enc, "name", json_stringn("web\0x", 5));
                CHECK_INT(brm_ocispec_decode_spec(enc, &d), ==, -EINVAL);
                json_decref(enc);
        }
        CHECK(brm_valid_container_name("web-1.a_b"));
        CHECK(!brm_valid_container_name("_agent"));
        CHECK(!brm_valid_container_name("Web"));
        CHECK(!brm_valid_container_name("a/b"));
        CHECK(!brm_valid_container_name(""));

        snprintf(path, sizeof(path), "rm -rf %s", work);
        CHECK_INT(system(path), ==, 0);
        printf("test_ocispec: passed\n");
        return 0;
}
