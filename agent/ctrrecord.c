/* The containers' records on disk; see ctrrecord.h for the layout. */
#include "ctrrecord.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

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
                return r == -EFBIG ? -EINVAL : r; /* not a file the shim or the runtime wrote */
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
        /* stdout.log and stderr.log: output files of older versions.
         * .pid and .health.pid: where the runtime writes a pid file
         * before renaming it, left by a runtime killed in between. */
        static const char *const files[] = { "config.json", "spec.json", "spec.json.bak", "state.json",
                                             "state.json.bak", "shim.pid", "pid", ".pid", "exit", "stdout.log",
                                             "stderr.log", "runtime.log", "health.pid", ".health.pid" };
        char path[1024];
        int r;

        DIR *d;
        struct dirent *e;

        for (size_t i = 0; i < BRM_ARRAY_SIZE(files); i++)
                if (brm_ctrrecord_path(dir, name, files[i], path, sizeof(path)) == 0)
                        unlink(path);
        if ((r = brm_ctrrecord_path(dir, name, NULL, path, sizeof(path))) < 0)
                return r;
        /* A temporary file of a write the agent was killed in (FILE.tmp.PID). */
        if ((d = opendir(path))) {
                while ((e = readdir(d)))
                        if (strstr(e->d_name, ".tmp.") && e->d_type == DT_REG)
                                unlinkat(dirfd(d), e->d_name, 0);
                closedir(d);
        }
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

/* ---- records with a spare copy ----
 * state.json and spec.json are each written twice, the file and then
 * FILE.bak with the same text, each by its own rename. A reader that finds
 * the file damaged (a torn write on a file system that lost it, a full
 * disk, someone's editor) reads the spare; killed between the two renames,
 * the file is already the newer one. */

#define SPARE ".bak"

static int write_record(const char *dir, const char *name, const char *file, const char *text)
{
        char path[1024];
        int r;

        if ((r = brm_ctrrecord_path(dir, name, file, path, sizeof(path))) < 0 || (r = write_fast(path, text)) < 0)
                return r;
        if (strlen(path) + sizeof(SPARE) > sizeof(path))
                return -ENAMETOOLONG;
        strcat(path, SPARE);
        return write_fast(path, text);
}

/* Copies TEXT into OUT, cut to SIZE at a character boundary so that a cut
 * string is still UTF-8 (and can be saved again as it is). */
static void copy_utf8(char *out, size_t size, const char *text)
{
        size_t n = strlen(text);

        if (n >= size) {
                n = size - 1;
                while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
                        n--;
        }
        memcpy(out, text, n);
        out[n] = '\0';
}

/* What jansson says, on one line of printable ASCII. */
static void printable(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
                        *s = '?';
}

/* Parses a record that must be a JSON object (or array); WHY says what is
 * wrong. */
static json_t *parse_json(const uint8_t *data, size_t len, bool array, char *why, size_t size)
{
        json_error_t e;
        json_t *o;

        if (len == 0) {
                snprintf(why, size, "empty (0 bytes)");
                return NULL;
        }
        if (!(o = json_loadb((const char *)data, len, 0, &e))) {
                bool cut = json_error_code(&e) == json_error_premature_end_of_input;
                printable(e.text);
                if (cut)
                        snprintf(why, size, "cut short (%zu bytes, the JSON ends early)", len);
                else
                        snprintf(why, size, "not JSON (%zu bytes; at byte %d: %s)", len, e.position, e.text);
                return NULL;
        }
        if (array ? !json_is_array(o) : !json_is_object(o)) {
                snprintf(why, size, "not a JSON %s (%zu bytes)", array ? "array" : "object", len);
                json_decref(o);
                return NULL;
        }
        return o;
}

typedef int (*parse_fn)(const char *name, const uint8_t *data, size_t len, void *out, char *why, size_t size);

/* What a failed read of a record means, for a message. */
static void read_problem(int r, size_t max, char *why, size_t size)
{
        if (r == -ENOENT)
                snprintf(why, size, "missing");
        else if (r == -EFBIG)
                snprintf(why, size, "larger than %zu KiB, so not one of ours", max / 1024);
        else
                snprintf(why, size, "unreadable (%s)", strerror(-r));
}

/* Reads DIR/NAME/FILE with PARSE, or its spare when FILE is damaged. */
static int load_record(const char *dir, const char *name, const char *file, size_t max, parse_fn parse, void *out,
                       char *why, size_t why_size)
{
        char path[1024], what[2][200];
        uint8_t *data;
        size_t len;
        int r, got[2];

        if ((r = brm_ctrrecord_path(dir, name, file, path, sizeof(path))) < 0)
                return r;
        if (strlen(path) + sizeof(SPARE) > sizeof(path))
                return -ENAMETOOLONG;
        for (int i = 0; i < 2; i++) {
                if (i == 1)
                        strcat(path, SPARE);
                if ((r = brm_file_read(path, max, &data, &len)) == 0) {
                        r = parse(name, data, len, out, what[i], sizeof(what[i]));
                        free(data);
                        if (r == 0) {
                                if (i == 1)
                                        snprintf(why, why_size, "%s/%s/%s is %s; its copy %s" SPARE " was read instead",
                                                 dir, name, file, what[0], file);
                                return i;
                        }
                } else {
                        read_problem(r, max, what[i], sizeof(what[i]));
                }
                got[i] = r;
        }
        if (got[0] == -ENOENT && got[1] == -ENOENT)
                return -ENOENT;
        snprintf(why, why_size, "%s/%s/%s is %s, and its copy %s" SPARE " is %s", dir, name, file, what[0], file,
                 what[1]);
        return got[0] == -ENOENT || got[0] == -EINVAL || got[0] == -EFBIG ? -EINVAL : got[0];
}

/* ---- state.json ---- */

/* A JSON string of text that may not be UTF-8 (a reason can quote a
 * runtime's output): a stand-in then, so that the record is still saved. */
static json_t *text_value(const char *text)
{
        json_t *v = json_string(text);
        return v ? v : json_string("(text that is not UTF-8)");
}

char *brm_ctrrecord_state_text(const struct brm_ctrrecord_state *st)
{
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:i, s:o, s:o}", "restarts", (json_int_t)st->restarts,
                              "oom_kills", (json_int_t)st->oom_kills, "backoff_ms", (json_int_t)st->backoff_ms,
                              "started_ms", (json_int_t)st->started_ms, "finished_ms", (json_int_t)st->finished_ms,
                              "running", (int)st->running, "state", (int)st->state, "reason", text_value(st->reason),
                              "cgroup", text_value(st->cgroup));
        char *text;

        if (o && st->since_ms && json_object_set_new(o, "since_ms", json_integer(st->since_ms)) < 0) {
                json_decref(o);
                o = NULL;
        }
        if (o && st->has_exit && json_object_set_new(o, "exit_code", json_integer(st->exit_code)) < 0) {
                json_decref(o);
                o = NULL;
        }
        text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        return text;
}

int brm_ctrrecord_save_state(const char *dir, const char *name, const struct brm_ctrrecord_state *st)
{
        char *text = brm_ctrrecord_state_text(st);
        int r;

        if (!text)
                return -ENOMEM;
        r = write_record(dir, name, "state.json", text);
        free(text);
        return r;
}

/* A number of the record, clamped to [MIN, MAX]: a value out of range
 * must not reach a cast (that would be undefined for a double). */
static int64_t num(const json_t *o, const char *key, int64_t dflt, int64_t min, int64_t max)
{
        const json_t *v = json_object_get(o, key);
        double d;

        if (json_is_integer(v)) {
                json_int_t i = json_integer_value(v);
                return i < min ? min : i > max ? max : (int64_t)i;
        }
        if (!json_is_real(v))
                return dflt;
        d = json_real_value(v);
        return d <= (double)min ? min : d >= (double)max ? max : (int64_t)d;
}

int brm_ctrrecord_parse_state(const uint8_t *data, size_t len, struct brm_ctrrecord_state *state, char *why,
                              size_t why_size)
{
        struct brm_ctrrecord_state st = *state;
        json_t *o, *v;
        int64_t cs;

        if (!(o = parse_json(data, len, false, why, why_size)))
                return -EINVAL;
        st.restarts = (uint32_t)num(o, "restarts", 0, 0, UINT32_MAX);
        st.oom_kills = (uint32_t)num(o, "oom_kills", 0, 0, UINT32_MAX);
        v = json_object_get(o, "exit_code");
        st.has_exit = json_is_integer(v);
        st.exit_code = st.has_exit ? (int)num(o, "exit_code", 0, INT32_MIN, INT32_MAX) : 0;
        st.backoff_ms = (uint64_t)num(o, "backoff_ms", 0, 0, INT64_MAX);
        st.started_ms = num(o, "started_ms", 0, INT64_MIN, INT64_MAX);
        st.finished_ms = num(o, "finished_ms", 0, INT64_MIN, INT64_MAX);
        st.since_ms = num(o, "since_ms", 0, 0, INT64_MAX);
        st.running = json_is_true(json_object_get(o, "running"));
        cs = num(o, "state", BRM_CS_PENDING, -1, BRM_CS_STOPPED + 1);
        st.state = cs < 0 || cs > BRM_CS_STOPPED ? BRM_CS_PENDING : (enum brm_cstate)cs;
        if (json_is_string(v = json_object_get(o, "reason")))
                copy_utf8(st.reason, sizeof(st.reason), json_string_value(v));
        if (json_is_string(v = json_object_get(o, "cgroup")))
                copy_utf8(st.cgroup, sizeof(st.cgroup), json_string_value(v));
        json_decref(o);
        *state = st;
        return 0;
}

static int parse_state(const char *name, const uint8_t *data, size_t len, void *out, char *why, size_t size)
{
        return brm_ctrrecord_parse_state(data, len, out, why, size);
}

int brm_ctrrecord_load_state(const char *dir, const char *name, struct brm_ctrrecord_state *state, char *why,
                             size_t why_size)
{
        return load_record(dir, name, "state.json", STATE_MAX, parse_state, state, why, why_size);
}

/* ---- the bundle and the run ---- */

/* One compact JSON line, compared with spec.json (the spec a container
 * runs): its form must stay as nodes already wrote it (test_ocispec). */
char *brm_ctrrecord_spec_key(const struct brm_container_spec *s)
{
        json_t *o = brm_ocispec_encode_spec(s, false);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        return text;
}

int brm_ctrrecord_write(const char *dir, const char *name, const char *file, const char *text)
{
        char path[1024];
        int r = brm_ctrrecord_path(dir, name, file, path, sizeof(path));
        return r < 0 ? r : write_fast(path, text);
}

int brm_ctrrecord_save_run_key(const char *dir, const char *name, const char *key)
{
        return write_record(dir, name, "spec.json", key);
}

int brm_ctrrecord_parse_run_key(const char *name, const uint8_t *data, size_t len, char *why, size_t why_size)
{
        struct brm_container_spec s;
        json_t *o;
        int r = 0;

        if (memchr(data, '\0', len)) {
                snprintf(why, why_size, "not JSON (%zu bytes with a NUL byte in them)", len);
                return -EINVAL;
        }
        if (!(o = parse_json(data, len, false, why, why_size)))
                return -EINVAL;
        if (brm_ocispec_decode_spec(o, &s) < 0) {
                snprintf(why, why_size, "not a container spec (%zu bytes of JSON)", len);
                r = -EINVAL;
        } else {
                if (strcmp(s.name, name) != 0) {
                        snprintf(why, why_size, "the spec of another container (\"%s\")", s.name);
                        r = -EINVAL;
                }
                brm_ocispec_spec_free(&s);
        }
        json_decref(o);
        return r;
}

struct key_out {
        char *key;
};

static int parse_key(const char *name, const uint8_t *data, size_t len, void *out, char *why, size_t size)
{
        struct key_out *k = out;
        int r = brm_ctrrecord_parse_run_key(name, data, len, why, size);

        if (r == 0 && !(k->key = strdup((const char *)data)))
                r = -ENOMEM;
        return r;
}

int brm_ctrrecord_read_run_key(const char *dir, const char *name, char **ret_key, char *why, size_t why_size)
{
        struct key_out k = { NULL };
        int r = load_record(dir, name, "spec.json", STATE_MAX, parse_key, &k, why, why_size);

        if (r >= 0)
                *ret_key = k.key;
        return r;
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

int brm_ctrrecord_read_image(const char *dir, const char *name, char *ret_rootfs, size_t rootfs_size,
                             char *ret_digest, size_t digest_size)
{
        char path[1100];
        uint8_t *text;
        size_t len;
        json_t *spec;
        const char *root, *digest;
        int r;

        if ((r = brm_ctrrecord_path(dir, name, "config.json", path, sizeof(path))) < 0 ||
            (r = brm_file_read(path, 1u << 20, &text, &len)) < 0)
                return r;
        spec = json_loadb((const char *)text, len, 0, NULL);
        free(text);
        root = json_string_value(json_object_get(json_object_get(spec, "root"), "path"));
        digest = json_string_value(json_object_get(json_object_get(spec, "annotations"), "org.opencontainers.image.digest"));
        r = -EINVAL;
        if (root && strlen(root) < rootfs_size && (!digest || strlen(digest) < digest_size)) {
                snprintf(ret_rootfs, rootfs_size, "%s", root);
                snprintf(ret_digest, digest_size, "%s", digest ? digest : "");
                r = 0;
        }
        json_decref(spec);
        return r;
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
 * The desired set as a JSON array of persisted specs (ocispec.c). */

int brm_ctrrecord_save_desired(const char *dir, const struct brm_container_spec *specs, size_t n)
{
        json_t *arr = json_array();
        char path[600], *text;
        int r;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (json_array_append_new(arr, brm_ocispec_encode_spec(&specs[i], true)) < 0) {
                        json_decref(arr);
                        return -ENOMEM;
                }
        }
        text = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        if (!text)
                return -ENOMEM;
        r = brm_path(path, sizeof(path), "%s/desired.json", dir);
        if (r >= 0)
                r = brm_file_write_atomic(path, text, strlen(text), 0600);
        free(text);
        return r;
}

int brm_ctrrecord_load_desired(const char *dir, void (*each)(const struct brm_container_spec *spec, void *arg),
                               void *arg, size_t *ret_invalid, char *why, size_t why_size)
{
        char what[300];
        char path[600];
        uint8_t *data;
        size_t len, invalid = 0, i;
        json_t *arr, *o;
        int r;

        if (brm_path(path, sizeof(path), "%s/desired.json", dir) < 0)
                return -ENAMETOOLONG;
        r = brm_file_read(path, DESIRED_MAX, &data, &len);
        if (r == -ENOENT)
                goto out;
        if (r < 0) {
                read_problem(r, DESIRED_MAX, what, sizeof(what));
                snprintf(why, why_size, "%s is %s", path, what);
                return r == -EFBIG ? -EINVAL : r;
        }
        arr = parse_json(data, len, true, what, sizeof(what));
        free(data);
        if (!arr) {
                snprintf(why, why_size, "%s is %s", path, what);
                return -EINVAL;
        }
        json_array_foreach(arr, i, o) {
                struct brm_container_spec s;
                if (brm_ocispec_decode_spec(o, &s) < 0) {
                        invalid++;
                        continue;
                }
                each(&s, arg);
                brm_ocispec_spec_free(&s);
        }
        json_decref(arr);
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
