/* OCI runtime detection and asynchronous calls; see runtime.h. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

#define OUT_MAX 512

static int find_in_path(const char *name, char *out, size_t size)
{
        const char *path = getenv("PATH");
        char dirs[4096];

        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        return -errno;
                return brm_path(out, size, "%s", name);
        }
        if (brm_path(dirs, sizeof(dirs), "%s", path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
                return -ENAMETOOLONG;
        for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char cand[512];
                if (brm_path(cand, sizeof(cand), "%s/%s", d, name) >= 0 && access(cand, X_OK) == 0)
                        return brm_path(out, size, "%s", cand);
        }
        return -ENOENT;
}

void brm_runtime_helper_path(const char *name, char *ret_path, size_t size)
{
        char exe[512];
        size_t n = sizeof(exe);

        if (uv_exepath(exe, &n) == 0) {
                char *slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0';
                        if (brm_path(ret_path, size, "%s/%s", exe, name) >= 0 && access(ret_path, X_OK) == 0)
                                return;
                }
        }
        snprintf(ret_path, size, "%s", name);
}

/* "<path> --version", first line, synchronously: detection runs once at
 * open, before the loop has anything to do, and --version is quick. */
static int query_version(const char *path, char *out, size_t size)
{
        char *argv[] = { (char *)path, "--version", NULL };
        posix_spawn_file_actions_t fa;
        char buf[256];
        size_t len = 0;
        int fds[2], st, r;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        if (r != 0) {
                close(fds[0]);
                return -r;
        }
        for (ssize_t n; len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) != 0;) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                len += (size_t)n;
        }
        close(fds[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        buf[len] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || len == 0)
                return -ENOEXEC;
        /* "runc version 1.1.5+ds1" -> "runc 1.1.5+ds1" */
        char *v = strstr(buf, " version ");
        if (v)
                memmove(v + 1, v + 9, strlen(v + 9) + 1);
        if (brm_path(out, size, "%s", buf) < 0)
                out[size - 1] = '\0'; /* a long version line is cut, not refused */
        return 0;
}

int brm_runtime_detect(const char *want, const struct brm_cgroup *cg, const char *root, struct brm_runtime *ret,
                       char *why, size_t why_size)
{
        static const char *const auto_order[] = { "crun", "runc" };
        const char *const *cands = want ? &want : auto_order;
        size_t n = want ? 1 : BRM_ARRAY_SIZE(auto_order);
        char reasons[512] = "";
        int last = -ENOENT;

        for (size_t i = 0; i < n; i++) {
                struct brm_runtime rt;
                const char *base;
                int r;

                memset(&rt, 0, sizeof(rt));
                if ((r = find_in_path(cands[i], rt.path, sizeof(rt.path))) < 0) {
                        snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "%s%s: not found",
                                 reasons[0] ? "; " : "", cands[i]);
                        last = r;
                        continue;
                }
                base = strrchr(rt.path, '/') ? strrchr(rt.path, '/') + 1 : rt.path;
                snprintf(rt.name, sizeof(rt.name), "%.15s", base);
                if ((r = query_version(rt.path, rt.version, sizeof(rt.version))) < 0) {
                        snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons),
                                 "%s%s: --version failed", reasons[0] ? "; " : "", rt.path);
                        last = r;
                        continue;
                }
                /* crun (1.8 at least) will not run on a hybrid host, where v1
                 * carries the controllers beside an empty unified hierarchy;
                 * runc does, and enforces the limits there. Only an explicit
                 * choice overrides this. */
                if (!want && cg && cg->hybrid && strncmp(rt.version, "crun", 4) == 0) {
                        snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons),
                                 "%s%s: refuses hybrid cgroup hierarchies", reasons[0] ? "; " : "", rt.path);
                        last = -ENOTSUP;
                        continue;
                }
                if (brm_path(rt.root, sizeof(rt.root), "%s", root) < 0)
                        return -ENAMETOOLONG;
                *ret = rt;
                return 0;
        }
        snprintf(why, why_size, "no usable OCI runtime: %s", reasons);
        return last;
}

/* ---- asynchronous runs ---- */

struct run_op {
        uv_process_t proc;
        uv_pipe_t err;
        uv_timer_t timer;
        brm_runtime_cb cb;
        void *arg;
        int status;
        int open_handles;
        bool exited, eof, timed_out;
        size_t len;
        char out[OUT_MAX];
};

static void op_closed(uv_handle_t *h)
{
        struct run_op *op = h->data;
        brm_runtime_cb cb;
        char out[OUT_MAX];
        void *arg;
        int status;

        if (--op->open_handles > 0)
                return;
        /* Free our state before calling user code (it may start another run). */
        cb = op->cb;
        arg = op->arg;
        status = op->timed_out ? -ETIMEDOUT : op->status;
        memcpy(out, op->out, op->len);
        out[op->len] = '\0';
        free(op);
        if (cb)
                cb(status, out, arg);
}

static void op_maybe_done(struct run_op *op)
{
        if (!op->exited || !op->eof)
                return;
        uv_close((uv_handle_t *)&op->proc, op_closed);
        uv_close((uv_handle_t *)&op->err, op_closed);
        uv_close((uv_handle_t *)&op->timer, op_closed);
}

static void op_exit(uv_process_t *p, int64_t status, int sig)
{
        struct run_op *op = p->data;

        op->status = sig ? -EINTR : (int)status;
        op->exited = true;
        uv_timer_stop(&op->timer);
        op_maybe_done(op);
}

static void op_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
        static char scratch[OUT_MAX];
        *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void op_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct run_op *op = s->data;

        if (n < 0) {
                uv_read_stop(s);
                op->eof = true;
                op_maybe_done(op);
                return;
        }
        /* Keep the tail: runtimes put the reason on their last line. */
        for (ssize_t i = 0; i < n; i++) {
                if (op->len == sizeof(op->out) - 1) {
                        memmove(op->out, op->out + 1, op->len - 1);
                        op->len--;
                }
                op->out[op->len++] = buf->base[i];
        }
        while (op->len && (op->out[op->len - 1] == '\n' || op->out[op->len - 1] == '\r'))
                op->len--;
}

static void op_timeout(uv_timer_t *t)
{
        struct run_op *op = t->data;

        op->timed_out = true;
        uv_process_kill(&op->proc, SIGKILL);
}

int brm_runtime_run(uv_loop_t *loop, const struct brm_runtime *rt, const char *const *args, uint64_t timeout_ms,
                    brm_runtime_cb cb, void *arg)
{
        struct run_op *op = calloc(1, sizeof(*op));
        uv_process_options_t o;
        uv_stdio_container_t stdio[3];
        char *argv[32];
        size_t n = 0;
        int r;

        if (!op)
                return -ENOMEM;
        argv[n++] = (char *)rt->path;
        argv[n++] = "--root";
        argv[n++] = (char *)rt->root;
        for (size_t i = 0; args[i]; i++) {
                if (n + 2 > BRM_ARRAY_SIZE(argv)) {
                        free(op);
                        return -E2BIG;
                }
                argv[n++] = (char *)args[i];
        }
        argv[n] = NULL;
        op->cb = cb;
        op->arg = arg;
        uv_pipe_init(loop, &op->err, 0);
        uv_timer_init(loop, &op->timer);
        op->err.data = op->timer.data = op->proc.data = op;
        memset(&o, 0, sizeof(o));
        stdio[0].flags = UV_IGNORE;
        stdio[1].flags = UV_IGNORE;
        stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[2].data.stream = (uv_stream_t *)&op->err;
        o.file = rt->path;
        o.args = argv;
        o.exit_cb = op_exit;
        o.stdio = stdio;
        o.stdio_count = 3;
        r = uv_spawn(loop, &op->proc, &o);
        if (r < 0) {
                /* A failed uv_spawn still initialized the handle: close all
                 * three; the last close frees the op without a callback. */
                op->open_handles = 3;
                op->cb = NULL;
                uv_close((uv_handle_t *)&op->proc, op_closed);
                uv_close((uv_handle_t *)&op->err, op_closed);
                uv_close((uv_handle_t *)&op->timer, op_closed);
                return r;
        }
        op->open_handles = 3;
        uv_read_start((uv_stream_t *)&op->err, op_alloc, op_read);
        if (timeout_ms)
                uv_timer_start(&op->timer, op_timeout, timeout_ms, 0);
        return 0;
}

int brm_runtime_spawn_shim(uv_loop_t *loop, const struct brm_runtime *rt, const char *shim, const char *id,
                           const char *dir, const char *log_dir, uint64_t log_max_size, unsigned log_max_files,
                           uint64_t log_reserve, uv_process_t *proc, uv_exit_cb exit_cb)
{
        char size[24], files[16], reserve[24];
        char *argv[] = { (char *)shim, (char *)rt->path, (char *)rt->root, (char *)id, (char *)dir, (char *)log_dir,
                         size, files, reserve, NULL };
        uv_process_options_t o;
        uv_stdio_container_t stdio[3] = { { .flags = UV_IGNORE }, { .flags = UV_IGNORE }, { .flags = UV_IGNORE } };

        snprintf(size, sizeof(size), "%llu", (unsigned long long)log_max_size);
        snprintf(files, sizeof(files), "%u", log_max_files);
        snprintf(reserve, sizeof(reserve), "%llu", (unsigned long long)log_reserve);
        memset(&o, 0, sizeof(o));
        o.file = shim;
        o.args = argv;
        o.exit_cb = exit_cb;
        o.stdio = stdio;
        o.stdio_count = 3;
        /* Its own session: a signal to the agent's process group (Ctrl-C on
         * a terminal, an init script stopping the agent) must not reach the
         * containers. */
        o.flags = UV_PROCESS_DETACHED;
        return uv_spawn(loop, proc, &o);
}
