/* The containers' records on disk; see ctrrecord.h for the layout. */
#include "ctrrecord.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "ocispec.h"
#include "util.h"

#define STATE_MAX (64 * 1024)
#define DESIRED_MAX (4 * 1024 * 1024)

int brm_ctrrecord_path(const char *dir, const char *name, const char *file, char *ret_path, size_t size)
{
        int r = file ? brm_path(ret_path, size, "%s/%s/%s", dir, name, file) : brm_path(ret_path, size, "%s/%s", dir, name);
        return r < 0 ? r : 0;
}

/* Up to N decimal numbers from the start of a small file; *got says how
 * many were there. */
static int read_ints(const char *dir, const char *name, const char *file, long long *v, int n, size_t *got)
{
        char path[1024];
        uint8_t *data;
        size_t len;
        char *p, *end;
        int r;

        if ((r = brm_ctrrecord_path(dir, name, file, path, sizeof(path))) < 0 ||
            (r = brm_file_read(path, 256, &data, &len)) < 0)
                return r;
        p = (char *)data;
        *got = 0;
        for (int i = 0; i < n; i++, p = end) {
                v[i] = strtoll(p, &end, 10);
                if (end == p)
                        break;
                (*got)++;
        }
        free(data);
        return 0;
}

/* Without fsync: see ctrrecord.h for why. */
static int write_fast(const char *path, const char *text)
{
        return brm_file_write_fast(path, text, strlen(text), 0644);
}

/* ---- the container's directory ---- */

int brm_ctrrecord_create(const char *dir, const char *name)
{
        char path[1024];
        int r = brm_ctrrecord_path(dir, name, NULL, path, sizeof(path));
        return r < 0 ? r : brm_mkdir_p(path, 0700);
}

int brm_ctrrecord_remove(const char *dir, const char *name)
{
        /* stdout.log and stderr.log: output files of older versions. */
        static const char *const files[] = { "config.json", "spec.json", "state.json", "shim.pid", "pid", "exit",
                                             "stdout.log", "stderr.log", "runtime.log" };
        char path[1024];
        int r;

        for (size_t i = 0; i < BRM_ARRAY_SIZE(files); i++)
                if (brm_ctrrecord_path(dir, name, files[i], path, sizeof(path)) == 0)
                        unlink(path);
        if ((r = brm_ctrrecord_path(dir, name, NULL, path, sizeof(path))) < 0)
                return r;
        return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
}

int brm_ctrrecord_list(const char *dir, void (*each)(const char *name, void *arg), void *arg)
{
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return -errno;
        while ((e = readdir(d)))
                if (e->d_type == DT_DIR && brm_valid_container_name(e->d_name))
                        each(e->d_name, arg);
        closedir(d);
        return 0;
}

/* ---- state.json ---- */

int brm_ctrrecord_save_state(const char *dir, const char *name, const struct brm_ctrrecord_state *st)
{
        char path[1024], *text;
        cJSON *o = cJSON_CreateObject();
        int r;

        if (!o)
                return -ENOMEM;
        cJSON_AddNumberToObject(o, "restarts", st->restarts);
        cJSON_AddNumberToObject(o, "oom_kills", st->oom_kills);
        if (st->has_exit)
                cJSON_AddNumberToObject(o, "exit_code", st->exit_code);
        cJSON_AddNumberToObject(o, "backoff_ms", (double)st->backoff_ms);
        cJSON_AddNumberToObject(o, "started_ms", (double)st->started_ms);
        cJSON_AddNumberToObject(o, "finished_ms", (double)st->finished_ms);
        cJSON_AddBoolToObject(o, "running", st->running);
        cJSON_AddNumberToObject(o, "state", st->state);
        cJSON_AddStringToObject(o, "reason", st->reason);
        cJSON_AddStringToObject(o, "cgroup", st->cgroup);
        text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text)
                return -ENOMEM;
        r = brm_ctrrecord_path(dir, name, "state.json", path, sizeof(path));
        if (r == 0)
                r = write_fast(path, text);
        free(text);
        return r;
}

static double num(const cJSON *o, const char *key, double dflt)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int brm_ctrrecord_load_state(const char *dir, const char *name, struct brm_ctrrecord_state *state)
{
        struct brm_ctrrecord_state st = *state;
        char path[1024];
        uint8_t *data;
        size_t len;
        cJSON *o, *v;
        int r;

        if ((r = brm_ctrrecord_path(dir, name, "state.json", path, sizeof(path))) < 0 ||
            (r = brm_file_read(path, STATE_MAX, &data, &len)) < 0)
                return r;
        o = cJSON_Parse((char *)data);
        free(data);
        if (!o)
                return -EINVAL;
        st.restarts = (uint32_t)num(o, "restarts", 0);
        st.oom_kills = (uint32_t)num(o, "oom_kills", 0);
        v = cJSON_GetObjectItemCaseSensitive(o, "exit_code");
        st.has_exit = cJSON_IsNumber(v);
        st.exit_code = st.has_exit ? v->valueint : 0;
        st.backoff_ms = (uint64_t)num(o, "backoff_ms", 0);
        st.started_ms = (int64_t)num(o, "started_ms", 0);
        st.finished_ms = (int64_t)num(o, "finished_ms", 0);
        st.running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "running"));
        st.state = (enum brm_cstate)num(o, "state", BRM_CS_PENDING);
        if (st.state > BRM_CS_STOPPED)
                st.state = BRM_CS_PENDING;
        if ((v = cJSON_GetObjectItemCaseSensitive(o, "reason")) && cJSON_IsString(v))
                snprintf(st.reason, sizeof(st.reason), "%s", v->valuestring);
        if ((v = cJSON_GetObjectItemCaseSensitive(o, "cgroup")) && cJSON_IsString(v))
                snprintf(st.cgroup, sizeof(st.cgroup), "%s", v->valuestring);
        cJSON_Delete(o);
        *state = st;
        return 0;
}

/* ---- the bundle and the run ---- */

char *brm_ctrrecord_spec_key(const struct brm_container_spec *s)
{
        cJSON *o = brm_ocispec_encode_spec(s, false);
        char *text = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        return text;
}

int brm_ctrrecord_write(const char *dir, const char *name, const char *file, const char *text)
{
        char path[1024];
        int r = brm_ctrrecord_path(dir, name, file, path, sizeof(path));
        return r < 0 ? r : write_fast(path, text);
}

int brm_ctrrecord_read_run_key(const char *dir, const char *name, char **ret_key)
{
        char path[1024];
        uint8_t *data;
        size_t len;
        int r;

        if ((r = brm_ctrrecord_path(dir, name, "spec.json", path, sizeof(path))) < 0 ||
            (r = brm_file_read(path, STATE_MAX, &data, &len)) < 0)
                return r;
        *ret_key = (char *)data;
        return 0;
}

void brm_ctrrecord_clear_run(const char *dir, const char *name)
{
        static const char *const files[] = { "exit", "pid", "shim.pid" };
        char path[1024];

        for (size_t i = 0; i < BRM_ARRAY_SIZE(files); i++)
                if (brm_ctrrecord_path(dir, name, files[i], path, sizeof(path)) == 0)
                        unlink(path);
}

int brm_ctrrecord_read_exit(const char *dir, const char *name, struct brm_ctrrecord_exit *ret)
{
        long long v[3];
        size_t got = 0;
        int r;

        if ((r = read_ints(dir, name, "exit", v, 3, &got)) < 0)
                return r;
        if (got < 2)
                return -EINVAL;
        ret->code = (int)v[0];
        ret->started = v[1] != 0;
        ret->ms = got >= 3 ? v[2] : 0;
        return 0;
}

int brm_ctrrecord_read_pid(const char *dir, const char *name, int *ret_pid)
{
        long long v[1];
        size_t got = 0;
        int r;

        if ((r = read_ints(dir, name, "pid", v, 1, &got)) < 0)
                return r;
        if (got != 1 || v[0] <= 0 || v[0] > INT32_MAX)
                return -EINVAL;
        *ret_pid = (int)v[0];
        return 0;
}

int brm_ctrrecord_read_shim(const char *dir, const char *name, int *ret_pid, unsigned long long *ret_start_time)
{
        long long v[2];
        size_t got = 0;
        int r;

        if ((r = read_ints(dir, name, "shim.pid", v, 2, &got)) < 0)
                return r;
        if (got != 2 || v[0] <= 0 || v[0] > INT32_MAX)
                return -EINVAL;
        *ret_pid = (int)v[0];
        *ret_start_time = (unsigned long long)v[1];
        return 0;
}

int brm_ctrrecord_runtime_error(const char *dir, const char *name, char *ret_line, size_t size)
{
        char path[1024], *end, *line;
        uint8_t *data;
        size_t len;
        int r;

        if ((r = brm_ctrrecord_path(dir, name, "runtime.log", path, sizeof(path))) < 0 ||
            (r = brm_file_read(path, 1 << 20, &data, &len)) < 0)
                return r;
        end = (char *)data + len;
        while (end > (char *)data && (end[-1] == '\n' || end[-1] == '\r'))
                *--end = '\0';
        line = strrchr((char *)data, '\n');
        line = line ? line + 1 : (char *)data;
        r = line[0] ? 0 : -ENODATA;
        if (r == 0)
                snprintf(ret_line, size, "%s", line);
        free(data);
        return r;
}

/* ---- desired.json ----
 * The desired set as JSON through cJSON, in this section only. */

int brm_ctrrecord_save_desired(const char *dir, const struct brm_container_spec *specs, size_t n)
{
        cJSON *arr = cJSON_CreateArray();
        char path[600], *text;
        int r;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                cJSON *o = brm_ocispec_encode_spec(&specs[i], true);
                if (!o || !cJSON_AddItemToArray(arr, o)) {
                        cJSON_Delete(o);
                        cJSON_Delete(arr);
                        return -ENOMEM;
                }
        }
        text = cJSON_PrintUnformatted(arr);
        cJSON_Delete(arr);
        if (!text)
                return -ENOMEM;
        r = brm_path(path, sizeof(path), "%s/desired.json", dir);
        if (r >= 0)
                r = brm_file_write_atomic(path, text, strlen(text), 0600);
        free(text);
        return r;
}

int brm_ctrrecord_load_desired(const char *dir, void (*each)(const struct brm_container_spec *spec, void *arg),
                               void *arg, size_t *ret_invalid)
{
        char path[600];
        uint8_t *data;
        size_t len, invalid = 0;
        cJSON *arr, *o;
        int r;

        if (brm_path(path, sizeof(path), "%s/desired.json", dir) < 0)
                return -ENAMETOOLONG;
        r = brm_file_read(path, DESIRED_MAX, &data, &len);
        if (r == -ENOENT)
                goto out;
        if (r < 0)
                return r;
        arr = cJSON_Parse((char *)data);
        free(data);
        if (!cJSON_IsArray(arr)) {
                cJSON_Delete(arr);
                return -EINVAL;
        }
        cJSON_ArrayForEach(o, arr) {
                struct brm_container_spec s;
                if (brm_ocispec_decode_spec(o, &s) < 0) {
                        invalid++;
                        continue;
                }
                each(&s, arg);
                brm_ocispec_spec_free(&s);
        }
        cJSON_Delete(arr);
out:
        if (ret_invalid)
                *ret_invalid = invalid;
        return 0;
}

/* ---- end of desired.json ---- */

bool brm_ctrrecord_same_boot(const char *dir, const char *boot_id_file)
{
        char path[600], now[64] = "";
        uint8_t *old = NULL, *cur;
        size_t len;
        bool same;

        if (brm_file_read(boot_id_file, 64, &cur, &len) == 0) {
                snprintf(now, sizeof(now), "%s", (char *)cur);
                free(cur);
        }
        if (brm_path(path, sizeof(path), "%s/boot_id", dir) < 0)
                return true;
        same = brm_file_read(path, 64, &old, &len) < 0 || strcmp((char *)old, now) == 0;
        free(old);
        if (!same || access(path, F_OK) < 0)
                brm_file_write_atomic(path, now, strlen(now), 0644);
        return same;
}
