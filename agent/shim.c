/* bramble-shim: one tiny process per container, like conmon.
 *
 *   bramble-shim RUNTIME RUNTIME_ROOT ID DIR LOGDIR MAX_SIZE MAX_FILES [RESERVE]
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
 * Output: the runtime gets two pipes as its stdout and stderr and passes
 * them through to the container (--detach, no terminal), so the runtime's
 * own complaints land in the log too. The shim reads them (64 KiB at a
 * time, one timestamp per read) into the log directory LOGDIR, rotated at
 * MAX_SIZE bytes with MAX_FILES files kept (lib/logrec.h: one record per
 * line, with counters per stream), and writes once per poll round. A line
 * left without its newline for a second is stored as a partial record.
 * The container never waits for anyone but the shim, and the shim only
 * writes local files: when that fails (a full disk), or would leave less
 * than RESERVE bytes free on the file system (the node's state must still
 * be writable), it drops records (the counters show the gap, and a marker
 * record says how many and why once it can write again) and keeps
 * reading; if the shortage lasts it deletes its own oldest log files
 * (lib/logrec.h). When the init has exited, the
 * shim drains the pipes until both reach EOF or nothing came for 2 s (10 s
 * at most: something else may still hold them), stores the last partial
 * lines, closes the log and only then writes DIR/exit, so whoever sees the
 * exit finds every line stored.
 *
 * The shim keeps no heap beyond the log writer's buffer, no libuv and no
 * threads: its resident memory is that buffer, its static buffers and what
 * the C library maps, and that is shared with every other process. Only
 * SIGKILL ends it early; the agent then reports the container's exit code
 * as unknown. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "logrec.h"
#include "procstat.h"
#include "util.h"

#define READ_MAX (64 * 1024)
#define PIPE_SIZE (1024 * 1024)
#define PARTIAL_MS 1000    /* an unfinished line waits this long for more */
#define DRAIN_IDLE_MS 2000 /* after the init's exit: no data this long ends the drain */
#define SYNC_MS 1000       /* stored lines reach the disk at least this often */
#define DRAIN_MAX_MS 10000 /* and this long in all */

struct stream {
        int fd;            /* read end; -1 after EOF */
        int64_t last_ns;   /* when its last bytes were read */
        long long last_ms; /* the same, monotonic */
        struct brm_logsplit split;
};

static struct stream streams[2];
static struct brm_logwriter writer;
static bool have_log;
static char rbuf[READ_MAX];

static const char *dir;
static char pidfile[4096];
static pid_t runtime_pid, cpid;
static bool runtime_reaped, draining;
static int exit_code = -1, exit_started;
static long long drain_start_ms, last_data_ms, last_sync_ms;

/* Monotonic milliseconds, as the deadlines below count them. */
static long long mono_ms(void)
{
        return (long long)brm_mono_ms();
}

/* NAME in the container's directory, replaced whole. No fsync: the file
 * matters across agent restarts, not across power loss (containers do not
 * survive a reboot). */
static int write_file(const char *name, const char *text)
{
        char path[4096];

        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        return brm_file_write_fast(path, text, strlen(text), 0644);
}

static int code_of(int st)
{
        if (WIFEXITED(st))
                return WEXITSTATUS(st);
        if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
        return -1;
}

static void finish(int code, int started)
{
        char text[96];

        snprintf(text, sizeof(text), "%d %d %lld\n", code, started, (long long)brm_now_ms());
        if (write_file("exit", text) < 0)
                _exit(1);
        _exit(0);
}

/* ---- output ---- */

/* One read from a stream: its bytes, or its end. */
static void pump(struct stream *s, long long mono)
{
        ssize_t n = read(s->fd, rbuf, sizeof(rbuf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n > 0) {
                s->last_ns = brm_now_ns();
                s->last_ms = last_data_ms = mono;
                if (have_log)
                        brm_logsplit_feed(&s->split, &writer, s->last_ns, rbuf, (size_t)n);
                return;
        }
        /* EOF (every writer is gone), or an error that will not pass. */
        if (have_log)
                brm_logsplit_flush(&s->split, &writer, s->last_ns);
        s->split.len = 0;
        close(s->fd);
        s->fd = -1;
}

/* Everything still held goes out and the log is closed. */
static void close_log(void)
{
        if (!have_log)
                return;
        for (int i = 0; i < 2; i++)
                brm_logsplit_flush(&streams[i].split, &writer, streams[i].last_ns);
        brm_logwriter_close(&writer);
        have_log = false;
}

/* ---- children ---- */

static void start_drain(int code, int started)
{
        exit_code = code;
        exit_started = started;
        draining = true;
        drain_start_ms = mono_ms();
        if (last_data_ms < drain_start_ms)
                last_data_ms = drain_start_ms;
}

/* Reaps every child that has ended (a subreaper must, or zombies pile up):
 * the runtime first, then whatever is re-parented to us, noting the
 * container's init among them. */
static void reap(void)
{
        pid_t w;
        int st;

        while (!runtime_reaped) {
                /* Only the runtime until it is gone: the init may be
                 * re-parented to us before, and we know its pid after. */
                w = waitpid(runtime_pid, &st, WNOHANG);
                if (w == 0)
                        return;
                if (w < 0 && errno == EINTR)
                        continue;
                runtime_reaped = true;
                if (w < 0 || code_of(st) != 0) {
                        start_drain(w < 0 ? -1 : code_of(st), 0);
                        break;
                }
                int fd = open(pidfile, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        char text[64];
                        ssize_t n = read(fd, text, sizeof(text) - 1);
                        if (n > 0) {
                                text[n] = '\0';
                                cpid = (pid_t)atoi(text);
                        }
                        close(fd);
                }
                if (cpid <= 0)
                        start_drain(-1, 1);
        }
        for (;;) {
                w = waitpid(-1, &st, WNOHANG);
                if (w == 0)
                        return;
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        /* ECHILD: the init was never ours, we cannot tell. */
                        if (!draining)
                                start_drain(-1, 1);
                        return;
                }
                if (w == cpid && !draining)
                        start_drain(code_of(st), 1);
        }
}

int main(int argc, char **argv)
{
        char logfile[4096], text[64];
        const char *runtime, *root, *id, *logdir;
        unsigned long long start = 0;
        uint64_t max_size, max_files, reserve = 0;
        int out[2], err[2], fd, sfd;
        sigset_t chld, old;

        if ((argc != 8 && argc != 9) || brm_parse_u64(argv[6], 0, UINT64_MAX, &max_size) < 0 ||
            brm_parse_u64(argv[7], 1, UINT64_MAX, &max_files) < 0 ||
            (argc == 9 && brm_parse_u64(argv[8], 0, UINT64_MAX, &reserve) < 0)) {
                fprintf(stderr, "usage: bramble-shim RUNTIME RUNTIME_ROOT ID DIR LOGDIR MAX_SIZE MAX_FILES [RESERVE]\n");
                return 2;
        }
        runtime = argv[1];
        root = argv[2];
        id = argv[3];
        dir = argv[4];
        logdir = argv[5];
        if (max_size < 4096)
                max_size = 4096;
        if (max_files > BRM_LOG_MAX_FILES)
                max_files = BRM_LOG_MAX_FILES;
        setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGCHLD, SIG_DFL); /* ignored, it would reap our children for us and lose the codes */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return 1;
        /* 0-2 open (on /dev/null), so that no pipe end below lands there. */
        for (int i = 0; i < 3; i++)
                if (fcntl(i, F_GETFD) < 0 && open("/dev/null", O_RDWR) != i)
                        return 1;
        /* Our start time tells a restarted agent that this pid is still us
         * (0 if it cannot be read, which the agent's reading will not match: it
         * then does not adopt us). */
        brm_procstat_start_time((int)getpid(), &start);
        snprintf(text, sizeof(text), "%d %llu\n", (int)getpid(), start);
        if (write_file("shim.pid", text) < 0)
                return 1;
        if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(fd, 0) < 0)
                return 1;
        close(fd);
        /* The container's output. Without a log (it cannot be created) the
         * pipes are still read, and what comes is dropped. */
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                return 1;
        fcntl(out[0], F_SETPIPE_SZ, PIPE_SIZE);
        fcntl(err[0], F_SETPIPE_SZ, PIPE_SIZE);
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        fcntl(err[0], F_SETFL, O_NONBLOCK);
        streams[0].fd = out[0];
        streams[1].fd = err[0];
        streams[0].split.stream = BRM_LOG_STDOUT;
        streams[1].split.stream = BRM_LOG_STDERR;
        streams[0].last_ns = streams[1].last_ns = brm_now_ns();
        have_log = brm_logwriter_open(&writer, logdir, max_size, (unsigned)max_files) == 0;
        if (have_log)
                brm_logwriter_set_reserve(&writer, reserve);
        /* Children's exits come through a signalfd, beside the pipes. */
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &chld, &old) < 0 || (sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
                return 1;
        snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
        unlink(pidfile);
        /* runc's own first copy of it (written, then renamed), left by a
         * runtime killed in between: its O_EXCL create would fail on it. */
        snprintf(logfile, sizeof(logfile), "%s/.pid", dir);
        unlink(logfile);
        snprintf(logfile, sizeof(logfile), "%s/runtime.log", dir);

        runtime_pid = fork();
        if (runtime_pid < 0) {
                close_log();
                finish(-1, 0);
        }
        if (runtime_pid == 0) {
                /* Ignored signals stay ignored across exec, and so does the
                 * signal mask: the runtime and the container must get the
                 * defaults back. The write ends become stdout and stderr
                 * (dup2 clears close-on-exec); every other fd of ours is
                 * close-on-exec. */
                signal(SIGINT, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGPIPE, SIG_DFL);
                sigprocmask(SIG_SETMASK, &old, NULL);
                if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(127);
                execl(runtime, runtime, "--root", root, "--log", logfile, "run", "--detach", "--bundle", dir,
                      "--pid-file", pidfile, id, (char *)NULL);
                /* Into the container's log, as stderr. */
                dprintf(2, "bramble-shim: cannot run %s: %s\n", runtime, strerror(errno));
                _exit(127);
        }
        /* Only the runtime and the container hold the write ends: EOF comes
         * when they are all gone. */
        close(out[1]);
        close(err[1]);

        for (;;) {
                struct pollfd pfd[3];
                long long mono = mono_ms(), deadline = -1;
                int timeout, n;

                for (int i = 0; i < 2; i++) {
                        struct stream *s = &streams[i];
                        pfd[i].fd = s->fd;
                        pfd[i].events = POLLIN;
                        pfd[i].revents = 0;
                        if (s->fd >= 0 && s->split.len > 0 && (deadline < 0 || s->last_ms + PARTIAL_MS < deadline))
                                deadline = s->last_ms + PARTIAL_MS;
                }
                pfd[2].fd = sfd;
                pfd[2].events = POLLIN;
                pfd[2].revents = 0;
                /* Stored lines become durable within SYNC_MS: a Pi's power is
                 * often simply pulled. */
                if (have_log && writer.dirty && (deadline < 0 || last_sync_ms + SYNC_MS < deadline))
                        deadline = last_sync_ms + SYNC_MS;
                if (draining) {
                        long long end = last_data_ms + DRAIN_IDLE_MS;
                        if (end > drain_start_ms + DRAIN_MAX_MS)
                                end = drain_start_ms + DRAIN_MAX_MS;
                        if (deadline < 0 || end < deadline)
                                deadline = end;
                }
                timeout = deadline < 0 ? -1 : deadline <= mono ? 0 : (int)(deadline - mono);
                n = poll(pfd, 3, timeout);
                if (n < 0 && errno != EINTR)
                        usleep(10000); /* ENOMEM: try again, without spinning */
                mono = mono_ms();
                for (int i = 0; i < 2; i++)
                        if (n > 0 && streams[i].fd >= 0 && pfd[i].revents)
                                pump(&streams[i], mono);
                /* A line without its newline waited long enough. */
                for (int i = 0; i < 2; i++) {
                        struct stream *s = &streams[i];
                        if (s->fd >= 0 && s->split.len > 0 && mono - s->last_ms >= PARTIAL_MS) {
                                if (have_log)
                                        brm_logsplit_flush(&s->split, &writer, s->last_ns);
                                s->split.len = 0;
                        }
                }
                if (have_log)
                        brm_logwriter_flush(&writer);
                if (have_log && writer.dirty && mono - last_sync_ms >= SYNC_MS) {
                        brm_logwriter_sync(&writer);
                        last_sync_ms = mono;
                }
                if (n > 0 && pfd[2].revents) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                                ;
                        reap();
                }
                if (draining && ((streams[0].fd < 0 && streams[1].fd < 0) || mono - last_data_ms >= DRAIN_IDLE_MS ||
                                 mono - drain_start_ms >= DRAIN_MAX_MS))
                        break;
        }
        close_log();
        finish(exit_code, exit_started);
}
