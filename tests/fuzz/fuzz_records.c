/* A container's records (STATE/containers/NAME) read back by
 * agent/ctrrecord.c, on arbitrary bytes: a file may be cut by a power cut
 * or a full disk, or edited by hand. The first byte picks the reader:
 *
 *   0  state.json's parser: a refusal says why on one line and leaves the
 *      state alone; a state it read is in range, and saved and read again
 *      it is the same
 *   1  spec.json's parser (the run's spec key): a refusal says why on one
 *      line; a key it accepts is a spec of that container
 *   2  state.json and its copy state.json.bak (the second byte says where
 *      the rest is split between them): 0 or 1 with the state read, or a
 *      refusal naming the file
 *   3  the files the shim and the runtime write (exit, pid, shim.pid):
 *      what is read is in range, a refusal leaves the output alone */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctrrecord.h"
#include "fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz"

static char dir[64];

static void remove_dir(void)
{
        brm_ctrrecord_remove(dir, NAME);
        rmdir(dir);
}

static void put(const char *file, const uint8_t *data, size_t len)
{
        char path[256];

        if (brm_ctrrecord_path(dir, NAME, file, path, sizeof(path)) < 0 ||
            brm_file_write_fast(path, data, len, 0600) < 0)
                abort();
}

/* A reason for a refusal: there is one, and it is one line. */
static void check_why(const char *why)
{
        if (!why[0] || strchr(why, '\n') || !memchr(why, '\0', 600))
                abort();
}

static bool same_state(const struct brm_ctrrecord_state *a, const struct brm_ctrrecord_state *b)
{
        return a->restarts == b->restarts && a->oom_kills == b->oom_kills && a->has_exit == b->has_exit &&
               a->exit_code == b->exit_code && a->backoff_ms == b->backoff_ms && a->started_ms == b->started_ms &&
               a->finished_ms == b->finished_ms && a->running == b->running && a->state == b->state &&
               strcmp(a->reason, b->reason) == 0 && strcmp(a->cgroup, b->cgroup) == 0;
}

static void check_state(const struct brm_ctrrecord_state *st)
{
        struct brm_ctrrecord_state back;
        char why[600] = "";
        char *text;

        if ((unsigned)st->state > BRM_CS_STOPPED || !memchr(st->reason, '\0', sizeof(st->reason)) ||
            !memchr(st->cgroup, '\0', sizeof(st->cgroup)))
                abort();
        /* Saved and read again: the same (strings stay UTF-8 when cut). */
        if (!(text = brm_ctrrecord_state_text(st)))
                abort();
        memset(&back, 0, sizeof(back));
        if (brm_ctrrecord_parse_state((const uint8_t *)text, strlen(text), &back, why, sizeof(why)) != 0 ||
            !same_state(st, &back))
                abort();
        free(text);
}

static void fuzz_parse_state(const uint8_t *data, size_t size)
{
        struct brm_ctrrecord_state st, before;
        char why[600] = "";
        int r;

        memset(&st, 0x5a, sizeof(st));
        st.reason[sizeof(st.reason) - 1] = st.cgroup[sizeof(st.cgroup) - 1] = '\0';
        before = st;
        r = brm_ctrrecord_parse_state(data, size, &st, why, sizeof(why));
        if (r < 0) {
                if (r != -EINVAL || memcmp(&st, &before, sizeof(st)) != 0)
                        abort();
                check_why(why);
                return;
        }
        if (r != 0)
                abort();
        check_state(&st);
}

static void fuzz_parse_key(const uint8_t *data, size_t size)
{
        char why[600] = "";
        uint8_t *text = malloc(size + 1);
        json_t *o;
        int r;

        if (!text)
                abort();
        memcpy(text, data, size);
        text[size] = '\0';
        r = brm_ctrrecord_parse_run_key(NAME, text, size, why, sizeof(why));
        if (r < 0) {
                if (r != -EINVAL)
                        abort();
                check_why(why);
        } else if (r != 0 || !(o = json_loads((char *)text, 0, NULL)) ||
                   !json_is_string(json_object_get(o, "name")) ||
                   strcmp(json_string_value(json_object_get(o, "name")), NAME) != 0) {
                abort();
        } else {
                json_decref(o);
        }
        free(text);
}

static void fuzz_load_state(const uint8_t *data, size_t size)
{
        struct brm_ctrrecord_state st, before;
        char why[1200] = "";
        size_t k;
        int r;

        if (size < 1)
                return;
        k = data[0] % (size);
        put("state.json", data + 1, k);
        put("state.json.bak", data + 1 + k, size - 1 - k);
        memset(&st, 0, sizeof(st));
        before = st;
        r = brm_ctrrecord_load_state(dir, NAME, &st, why, sizeof(why));
        if (r < 0) {
                if (r != -EINVAL || memcmp(&st, &before, sizeof(st)) != 0 || !strstr(why, "/state.json is "))
                        abort();
                check_why(why);
                return;
        }
        if (r == 1 && (!strstr(why, "/state.json is ") || !strstr(why, "state.json.bak was read instead")))
                abort();
        if (r > 1)
                abort();
        check_state(&st);
}

static void fuzz_run_files(const uint8_t *data, size_t size)
{
        struct brm_ctrrecord_exit ex = { .code = 12345 };
        unsigned long long start = 777;
        int pid = 4242, r;

        put("exit", data, size);
        r = brm_ctrrecord_read_exit(dir, NAME, &ex);
        if ((r < 0 && (r != -EINVAL || ex.code != 12345)) || r > 0)
                abort();
        put("pid", data, size);
        r = brm_ctrrecord_read_pid(dir, NAME, &pid);
        if ((r < 0 && (r != -EINVAL || pid != 4242)) || r > 0 || pid <= 0)
                abort();
        put("shim.pid", data, size);
        r = brm_ctrrecord_read_shim(dir, NAME, &pid, &start);
        if ((r < 0 && (r != -EINVAL || pid <= 0)) || r > 0 || pid <= 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "/tmp/brm-fuzz-records.XXXXXX");
                if (!mkdtemp(dir) || brm_ctrrecord_create(dir, NAME) < 0)
                        abort();
                atexit(remove_dir);
        }
        if (size < 1)
                return 0;
        switch (data[0] % 4) {
        case 0:
                fuzz_parse_state(data + 1, size - 1);
                break;
        case 1:
                fuzz_parse_key(data + 1, size - 1);
                break;
        case 2:
                fuzz_load_state(data + 1, size - 1);
                break;
        default:
                fuzz_run_files(data + 1, size - 1);
                break;
        }
        return 0;
}
