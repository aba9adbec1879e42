/* brm_confine_probe: run inside a container, tries what a confined
 * container must not be able to do and prints one line per attempt:
 *
 *   ok   NAME: refused (Operation not permitted)
 *   FAIL NAME: allowed[: what it then managed]
 *
 * and exits 0 when every attempt was refused, 1 otherwise. The attempts:
 * the kernel keyrings (add_key, keyctl), a new user namespace (unshare and
 * clone; when one is made, the probe goes on to write its uid_map and
 * mount a tmpfs in it, as an attacker would), perf_event_open, userfaultfd
 * (the user-mode form), mount, writing /proc/sys, opening /dev/mem, making
 * a device node, writing the container's cgroup limits and creating a
 * cgroup, sethostname, writing the root file system, and writing anywhere
 * under /sys, every file system mounted below it included.
 *
 *   brm_confine_probe try NAME   one attempt; prints "NAME allowed" or
 *                                "NAME refused: ERROR" and exits 0
 *
 * Statically linked: it runs in any root file system (busybox, an empty
 * one), under runc on the development host and crun on the Pi image. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define KEY_SPEC_PROCESS_KEYRING -2
#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_GET_KEYRING_ID 0
#define CGROUP_SUPER_MAGIC 0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270
#define TMPFS_MAGIC 0x01021994

static int failures;

static void report(const char *name, int r, int err, const char *extra)
{
        if (r < 0)
                printf("ok   %s: refused (%s)\n", name, strerror(err));
        else {
                printf("FAIL %s: allowed%s%s\n", name, extra && *extra ? ": " : "", extra ? extra : "");
                failures++;
        }
        fflush(stdout);
}

/* Inside a new user namespace: what an attacker does next. */
static void after_userns(char *out, size_t size)
{
        char map[64];
        int fd = open("/proc/self/uid_map", O_WRONLY), w = -1;

        snprintf(map, sizeof(map), "0 %d 1", 0);
        if (fd >= 0) {
                w = (int)write(fd, map, strlen(map));
                close(fd);
        }
        snprintf(out, size, "uid_map %s, tmpfs mount %s", w > 0 ? "written" : "refused",
                 unshare(CLONE_NEWNS) == 0 && mount("none", "/tmp", "tmpfs", 0, NULL) == 0 ? "made" : "refused");
}

static int try_add_key(void)
{
        return (int)syscall(SYS_add_key, "user", "brm-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
}

static int try_keyctl(void)
{
        return (int)syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1);
}

static int try_perf(void)
{
        struct perf_event_attr a;
        int fd;

        memset(&a, 0, sizeof(a));
        a.type = PERF_TYPE_SOFTWARE;
        a.size = sizeof(a);
        a.config = PERF_COUNT_SW_CPU_CLOCK;
        a.disabled = 1;
        a.exclude_kernel = 1;
        a.exclude_hv = 1;
        fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
        if (fd >= 0)
                close(fd);
        return fd;
}

static int try_userfaultfd(void)
{
        int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
        if (fd >= 0)
                close(fd);
        return fd;
}

static int try_unshare_user(char *extra, size_t size)
{
        pid_t pid = fork();
        int st = 0;

        /* In a child: a process that made a user namespace stays in it. */
        if (pid == 0) {
                char what[128];
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(errno == EPERM ? 10 : errno == ENOSYS ? 11 : 12);
                after_userns(what, sizeof(what));
                printf("  (in the namespace: %s)\n", what);
                fflush(stdout);
                _exit(0);
        }
        if (pid < 0 || waitpid(pid, &st, 0) < 0)
                return -1;
        if (WIFEXITED(st) && WEXITSTATUS(st) >= 10) {
                errno = WEXITSTATUS(st) == 10 ? EPERM : WEXITSTATUS(st) == 11 ? ENOSYS : EINVAL;
                return -1;
        }
        snprintf(extra, size, "a new user namespace was made");
        return 0;
}

static int try_clone_user(void)
{
        long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);

        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t)pid, NULL, 0);
        return pid < 0 ? -1 : 0;
}

/* Writes back what a file holds, so that success would change nothing. */
static int try_rewrite(const char *path)
{
        char buf[256];
        int fd = open(path, O_RDWR);
        ssize_t n;

        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf));
        if (n <= 0 || lseek(fd, 0, SEEK_SET) < 0) {
                close(fd);
                errno = EIO;
                return -1;
        }
        n = write(fd, buf, (size_t)n);
        int e = errno;
        close(fd);
        errno = e;
        return n < 0 ? -1 : 0;
}

static int try_mkdir_rm(const char *dir)
{
        char p[4200];
        snprintf(p, sizeof(p), "%s/brm-probe-%d", dir, (int)getpid());
        if (mkdir(p, 0700) < 0)
                return -1;
        rmdir(p);
        return 0;
}

static int try_create(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
                return -1;
        close(fd);
        unlink(path);
        return 0;
}

/* Every mount at or below /sys from mountinfo: none may be writable. */
static void sys_mounts(void)
{
        FILE *f = fopen("/proc/self/mountinfo", "r");
        static char seen[64][4096];
        char line[4096], name[4200];
        int n = 0;

        if (!f) {
                report("read /proc/self/mountinfo", 0, 0, "cannot read it");
                return;
        }
        while (fgets(line, sizeof(line), f)) {
                char mnt[4096];
                struct statfs sf;
                bool dup = false;
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
                        continue;
                if (strcmp(mnt, "/sys") != 0 && strncmp(mnt, "/sys/", 5) != 0)
                        continue;
                /* A path stacked with mounts reaches the top one only. */
                for (int i = 0; i < n && !dup; i++)
                        dup = strcmp(seen[i], mnt) == 0;
                if (dup || n >= 64)
                        continue;
                snprintf(seen[n++], sizeof(seen[0]), "%s", mnt);
                /* cgroup file systems take mkdir as "make a cgroup". */
                snprintf(name, sizeof(name), "create under %s", mnt);
                if (statfs(mnt, &sf) == 0 && (sf.f_type == CGROUP_SUPER_MAGIC || sf.f_type == CGROUP2_SUPER_MAGIC))
                        snprintf(name, sizeof(name), "make a cgroup under %s", mnt);
                int r = try_mkdir_rm(mnt);
                /* runc's cgroup v1 view: a tmpfs of the container's own at
                 * /sys/fs/cgroup holding the read-only controllers; runc
                 * 1.1 leaves that tmpfs itself writable. It reaches nothing
                 * outside the container: said, not counted. */
                if (r == 0 && strcmp(mnt, "/sys/fs/cgroup") == 0 && statfs(mnt, &sf) == 0 && sf.f_type == TMPFS_MAGIC) {
                        printf("note %s: a writable tmpfs of the container's own (runc's cgroup v1 view)\n", mnt);
                        continue;
                }
                report(name, r, errno, NULL);
        }
        fclose(f);
        if (n == 0)
                printf("     (no /sys in this container)\n");
}

static void cgroup_limits(void)
{
        static const char *const files[] = {
                "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/cpu.max",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max",
                "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        };
        int seen = 0;

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                char name[128];
                if (access(files[i], F_OK) < 0)
                        continue;
                seen++;
                snprintf(name, sizeof(name), "write %s", files[i]);
                report(name, try_rewrite(files[i]), errno, NULL);
        }
        if (!seen)
                printf("     (no cgroup limit files in view)\n");
}

static int one(const char *name, char *extra, size_t size)
{
        extra[0] = '\0';
        if (strcmp(name, "add_key") == 0)
                return try_add_key();
        if (strcmp(name, "keyctl") == 0)
                return try_keyctl();
        if (strcmp(name, "unshare-user") == 0)
                return try_unshare_user(extra, size);
        if (strcmp(name, "clone-user") == 0)
                return try_clone_user();
        if (strcmp(name, "perf_event_open") == 0)
                return try_perf();
        if (strcmp(name, "userfaultfd") == 0)
                return try_userfaultfd();
        if (strcmp(name, "mount") == 0)
                return mount("none", "/tmp", "tmpfs", 0, NULL);
        if (strcmp(name, "write-proc-sys") == 0)
                return try_rewrite("/proc/sys/vm/overcommit_ratio");
        if (strcmp(name, "open-dev-mem") == 0) {
                int fd = open("/dev/mem", O_RDONLY);
                if (fd >= 0)
                        close(fd);
                return fd;
        }
        if (strcmp(name, "mknod") == 0) {
                int r = mknod("/tmp/brm-probe-null", S_IFCHR | 0600, makedev(1, 3));
                if (r == 0)
                        unlink("/tmp/brm-probe-null");
                return r;
        }
        if (strcmp(name, "sethostname") == 0)
                return sethostname("brm-probe", 9);
        if (strcmp(name, "write-root") == 0)
                return try_create("/brm-probe-file");
        if (strcmp(name, "write-sys") == 0)
                return try_rewrite("/sys/kernel/mm/ksm/run");
        fprintf(stderr, "brm_confine_probe: unknown attempt '%s'\n", name);
        exit(2);
}

int main(int argc, char **argv)
{
        static const char *const all[] = {
                "add_key", "keyctl", "unshare-user", "clone-user", "perf_event_open", "userfaultfd", "mount",
                "write-proc-sys", "open-dev-mem", "mknod", "sethostname", "write-root", "write-sys",
        };
        char extra[128];

        if (argc == 3 && strcmp(argv[1], "try") == 0) {
                int r = one(argv[2], extra, sizeof(extra));
                if (r < 0)
                        printf("%s refused: %s\n", argv[2], strerror(errno));
                else
                        printf("%s allowed\n", argv[2]);
                return 0;
        }
        if (argc != 1) {
                fprintf(stderr, "usage: brm_confine_probe [try NAME]\n");
                return 2;
        }
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
                int r = one(all[i], extra, sizeof(extra));
                report(all[i], r, errno, extra);
        }
        cgroup_limits();
        sys_mounts();
        printf("%s: %d allowed\n", failures ? "FAILED" : "confined", failures);
        return failures ? 1 : 0;
}
