/* bramble-shim: one tiny process per container, like conmon.
 *
 *   bramble-shim RUNTIME RUNTIME_ROOT ID DIR
 *
 * Exit codes survive the agent only if something other than the agent is
 * the container's parent. The shim starts the container with
 * "RUNTIME --root RUNTIME_ROOT --log DIR/runtime.log run --detach --bundle
 * DIR --pid-file DIR/pid ID" as a child subreaper, so the container's init
 * is re-parented to it when the runtime exits; it waits for that init, and
 * writes DIR/exit atomically ("CODE STARTED MS": the exit code, 128+signal
 * when killed, -1 when it could not be told; STARTED 0 when the runtime
 * failed to start the container, CODE being the runtime's exit code; MS the
 * wall-clock time). It does not delete the container: the agent reads the
 * cgroup (OOM kills) first and deletes it after, also when it learns of the
 * exit only after a restart.
 *
 * The shim keeps no heap, no libuv and no threads: its resident memory is
 * what the C library maps, and that is shared with every other process.
 * Only SIGKILL ends it early; the agent then reports the container's exit
 * code as unknown. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_atomic(const char *dir, const char *name, const char *text)
{
        char tmp[4096], path[4096];
        int fd, r = 0;
        size_t len = strlen(text);

        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        if (write(fd, text, len) != (ssize_t)len)
                r = -1;
        /* No fsync: the file matters across agent restarts, not across power
         * loss (containers do not survive a reboot), and rename is atomic. */
        if (close(fd) < 0)
                r = -1;
        if (r == 0 && rename(tmp, path) < 0)
                r = -1;
        if (r < 0)
                unlink(tmp);
        return r;
}

/* Field 22 of /proc/PID/stat: with the pid it names a process uniquely, so a
 * restarted agent does not mistake a recycled pid for its shim. */
static unsigned long long start_time(pid_t pid)
{
        char path[64], buf[1024];
        unsigned long long t = 0;
        ssize_t n;
        char *p;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        if (!(p = strrchr(buf, ')')))
                return 0;
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &t) != 1)
                return 0;
        return t;
}

static long long now_ms(void)
{
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int code_of(int st)
{
        if (WIFEXITED(st))
                return WEXITSTATUS(st);
        if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
        return -1;
}

static void finish(const char *dir, int code, int started)
{
        char text[96];

        snprintf(text, sizeof(text), "%d %d %lld\n", code, started, now_ms());
        if (write_atomic(dir, "exit", text) < 0)
                _exit(1);
        _exit(0);
}

static int open_log(const char *dir, const char *name, int target)
{
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0)
                return -1;
        if (fd != target && dup2(fd, target) < 0)
                return -1;
        if (fd != target)
                close(fd);
        return 0;
}

int main(int argc, char **argv)
{
        char pidfile[4096], logfile[4096], text[64];
        const char *runtime, *root, *id, *dir;
        pid_t child, cpid = 0, w;
        int st, fd;

        if (argc != 5) {
                fprintf(stderr, "usage: bramble-shim RUNTIME RUNTIME_ROOT ID DIR\n");
                return 2;
        }
        runtime = argv[1];
        root = argv[2];
        id = argv[3];
        dir = argv[4];
        setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return 1;
        snprintf(text, sizeof(text), "%d %llu\n", (int)getpid(), start_time(getpid()));
        if (write_atomic(dir, "shim.pid", text) < 0)
                return 1;
        /* The container inherits these (no terminal: the runtime passes its
         * stdio through). Files now; the log issue swaps them for pipes. */
        if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(fd, 0) < 0)
                return 1;
        close(fd);
        if (open_log(dir, "stdout.log", 1) < 0 || open_log(dir, "stderr.log", 2) < 0)
                return 1;
        snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
        snprintf(logfile, sizeof(logfile), "%s/runtime.log", dir);
        unlink(pidfile);

        child = fork();
        if (child < 0)
                finish(dir, -1, 0);
        if (child == 0) {
                /* Ignored signals stay ignored across exec: the runtime and
                 * the container must get the defaults back. */
                signal(SIGINT, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGPIPE, SIG_DFL);
                execl(runtime, runtime, "--root", root, "--log", logfile, "run", "--detach", "--bundle", dir,
                      "--pid-file", pidfile, id, (char *)NULL);
                _exit(127);
        }
        while ((w = waitpid(child, &st, 0)) < 0 && errno == EINTR)
                ;
        if (w < 0 || code_of(st) != 0)
                finish(dir, w < 0 ? -1 : code_of(st), 0);

        fd = open(pidfile, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                ssize_t n = read(fd, text, sizeof(text) - 1);
                if (n > 0) {
                        text[n] = '\0';
                        cpid = (pid_t)atoi(text);
                }
                close(fd);
        }
        if (cpid <= 0)
                finish(dir, -1, 1);
        /* Reap everything re-parented to us (a subreaper must, or zombies
         * pile up) until the container's init is among them. */
        for (;;) {
                w = waitpid(-1, &st, 0);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        finish(dir, -1, 1); /* ECHILD: never ours, cannot tell */
                if (w == cpid)
                        finish(dir, code_of(st), 1);
        }
}
