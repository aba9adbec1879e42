/* Watching a container's shim; see shimwatch.h. */
#include "shimwatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procstat.h"
#include "util.h"

void brm_shimwatch_init(struct brm_shimwatch *w, brm_shimwatch_cb on_exit, brm_shimwatch_cb on_closed, void *data)
{
        memset(w, 0, sizeof(*w));
        w->pidfd = -1;
        w->on_exit = on_exit;
        w->on_closed = on_closed;
        w->data = data;
}

static void handle_closed(uv_handle_t *h)
{
        struct brm_shimwatch *w = h->data;
        w->on_closed(w);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig)
{
        struct brm_shimwatch *w = p->data;
        w->on_exit(w);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
        struct brm_shimwatch *w = h->data;

        /* The shim is a child of ours only if this process spawned it before
         * a supervisor restart in the same process; reap it then. */
        waitpid(w->pid, NULL, WNOHANG);
        w->on_exit(w);
}

int brm_shimwatch_spawn(struct brm_shimwatch *w, uv_loop_t *loop, const struct brm_runtime *rt, const char *shim,
                        const char *id, const char *dir, const char *log_dir, uint64_t log_max_size,
                        unsigned log_max_files, uint64_t log_reserve)
{
        int r;

        w->proc.data = w;
        r = brm_runtime_spawn_shim(loop, rt, shim, id, dir, log_dir, log_max_size, log_max_files, log_reserve, &w->proc,
                                   on_proc_exit);
        if (r < 0) {
                /* libuv wants a handle that failed to spawn closed too. */
                uv_close((uv_handle_t *)&w->proc, handle_closed);
                return r;
        }
        w->proc_open = true;
        w->pid = w->proc.pid;
        return 0;
}

int brm_shimwatch_adopt(struct brm_shimwatch *w, uv_loop_t *loop, int pid, unsigned long long start_time)
{
        unsigned long long now = 0;
        int fd, r;

        if ((fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0)) < 0)
                return -errno;
        /* The pidfd pins the process; the start time tells a recycled pid
         * from our shim. */
        brm_procstat_start_time(pid, &now);
        if (now != start_time) {
                close(fd);
                return -ESRCH;
        }
        if ((r = uv_poll_init(loop, &w->poll, fd)) < 0) {
                close(fd);
                return r;
        }
        w->pidfd = fd;
        w->pid = pid;
        w->poll.data = w;
        w->poll_open = true;
        uv_poll_start(&w->poll, UV_READABLE, on_pidfd);
        return 0;
}

void brm_shimwatch_stop(struct brm_shimwatch *w)
{
        if (w->proc_open) {
                w->proc_open = false;
                uv_close((uv_handle_t *)&w->proc, handle_closed);
        }
        if (w->poll_open) {
                w->poll_open = false;
                uv_close((uv_handle_t *)&w->poll, handle_closed);
                close(w->pidfd);
                w->pidfd = -1;
        }
}

bool brm_shimwatch_active(const struct brm_shimwatch *w)
{
        return w->pid > 0 && (w->proc_open || w->poll_open);
}

