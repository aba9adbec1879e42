/* Layer entries written inside a root file system; see unpackfs.h.
 *
 * libarchive's own extraction cannot do this: told to be safe
 * (ARCHIVE_EXTRACT_SECURE_SYMLINKS) it refuses any path through a symbolic
 * link, also one the image itself made and that stays inside the root, which
 * breaks every merged-/usr image whose later layers say "bin/..." or
 * "lib/...". So the parent directory is resolved inside the root here and the
 * entry made relative to it. The tree being written is this process's own
 * (a fresh directory in the store), so nothing else changes it meanwhile. */
#include "unpackfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))

/* As many links as the kernel follows in one path. */
#define LINKS_MAX 40

bool brm_unpackfs_walk_only;
static bool no_openat2;

struct brm_unpackfs_dir {
        char *name;
        struct timespec ts[2]; /* atime, mtime */
};

/* The same resolution as RESOLVE_IN_ROOT, by hand. RES is the path resolved
 * so far, made of directories only (never a link), and P what remains; a
 * link's target takes the place of its name at the front (from the root
 * when absolute), ".." drops the last directory of RES but never goes above
 * the root. Only directories are looked for: anything else is ENOTDIR. */
static int walk(int rootfd, const char *path, int flags)
{
        char res[PATH_MAX] = "", todo[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
        size_t rl = 0;
        int links = 0, fd;

        if (brm_path(todo, sizeof(todo), "%s", path) < 0)
                return -ENAMETOOLONG;
        for (char *p = todo;;) {
                struct stat st;
                size_t l, before = rl;
                ssize_t n;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                l = strcspn(p, "/");
                if (l == 1 && p[0] == '.') {
                        p += l;
                        continue;
                }
                if (l == 2 && p[0] == '.' && p[1] == '.') {
                        char *s = strrchr(res, '/');
                        rl = s ? (size_t)(s - res) : 0;
                        res[rl] = '\0';
                        p += l;
                        continue;
                }
                if (rl + l + 2 > sizeof(res))
                        return -ENAMETOOLONG;
                if (rl)
                        res[rl++] = '/';
                memcpy(res + rl, p, l);
                rl += l;
                res[rl] = '\0';
                p += l;
                if (fstatat(rootfd, res, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (S_ISDIR(st.st_mode))
                        continue;
                if (!S_ISLNK(st.st_mode))
                        return -ENOTDIR;
                if (++links > LINKS_MAX)
                        return -ELOOP;
                if ((n = readlinkat(rootfd, res, target, sizeof(target) - 1)) < 0)
                        return -errno;
                target[n] = '\0';
                if (brm_path(next, sizeof(next), "%s/%s", target, p) < 0)
                        return -ENAMETOOLONG;
                memcpy(todo, next, strlen(next) + 1);
                p = todo;
                rl = target[0] == '/' ? 0 : before;
                res[rl] = '\0';
        }
        fd = openat(rootfd, res[0] ? res : ".", flags | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* The directory PATH (relative to the root; "" is the root) resolved inside
 * the root and opened with FLAGS. */
static int open_in_root(int rootfd, const char *path, int flags)
{
        struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

        if (!path[0])
                path = ".";
        for (int tries = 0; !brm_unpackfs_walk_only && !no_openat2; tries++) {
                long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int)fd;
                /* EAGAIN: a rename elsewhere on the file system raced with
                 * a "..", which the kernel then will not vouch for. */
                if (errno == EAGAIN && tries < 16)
                        continue;
                /* EPERM: a seccomp filter that does not know openat2 (as
                 * older container runtimes have) refuses it so. */
                if (errno != ENOSYS && errno != EPERM)
                        return -errno;
                no_openat2 = true;
        }
        return walk(rootfd, path, flags);
}

/* NAME's directory ("" for the root) into DIR, and its last component. */
static const char *split(const char *name, char dir[PATH_MAX])
{
        const char *slash = strrchr(name, '/');
        snprintf(dir, PATH_MAX, "%.*s", slash ? (int)(slash - name) : 0, name);
        return slash ? slash + 1 : name;
}

/* The directory DIR, resolved inside the root (O_PATH). With create,
 * missing directories on the way are made, 0755 as tar makes them: one
 * component at a time, each resolved anew from the root, so a link met on
 * the way is followed inside the root like any other. */
static int open_dir(int rootfd, const char *dir, bool create)
{
        char pre[PATH_MAX];
        int fd = open_in_root(rootfd, dir, O_PATH | O_DIRECTORY), pfd;

        if (fd != -ENOENT || !create)
                return fd;
        if ((pfd = open_in_root(rootfd, "", O_PATH | O_DIRECTORY)) < 0)
                return pfd;
        for (const char *s = dir; *s;) {
                size_t l = strcspn(s, "/");
                char comp[NAME_MAX + 1];

                if (l > NAME_MAX) {
                        close(pfd);
                        return -ENAMETOOLONG;
                }
                memcpy(comp, s, l);
                comp[l] = '\0';
                s += l;
                snprintf(pre, sizeof(pre), "%.*s", (int)(s - dir), dir);
                fd = open_in_root(rootfd, pre, O_PATH | O_DIRECTORY);
                /* EEXIST: a dangling link, which the next open reports. */
                if (fd == -ENOENT)
                        fd = mkdirat(pfd, comp, 0755) < 0 && errno != EEXIST
                                     ? -errno
                                     : open_in_root(rootfd, pre, O_PATH | O_DIRECTORY);
                close(pfd);
                if (fd < 0)
                        return fd;
                pfd = fd;
                while (*s == '/')
                        s++;
        }
        return pfd;
}

static int rm_at(int dfd, const char *name);

/* Removes everything in the directory FD (readable), never following a
 * link. */
static int empty_dir(int fd)
{
        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), r = 0;
        struct dirent *de;
        DIR *d;

        if (dfd < 0)
                return -errno;
        if (!(d = fdopendir(dfd))) {
                r = -errno;
                close(dfd);
                return r;
        }
        while (r == 0 && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        r = rm_at(fd, de->d_name);
        closedir(d);
        return r;
}

/* rm -r of NAME in DFD: a link is removed, not followed. */
static int rm_at(int dfd, const char *name)
{
        int fd, r;

        if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR)
                return -errno;
        if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return -errno;
        r = empty_dir(fd);
        close(fd);
        if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
                r = -errno;
        return r;
}

static int write_file(int pfd, const char *base, struct archive *a, struct archive_entry *e, char *why,
                      size_t why_size)
{
        const void *buf;
        size_t len;
        la_int64_t off;
        int fd, ar = ARCHIVE_EOF, r = 0;

        /* O_EXCL|O_NOFOLLOW: what was there is gone, so this creates a new
         * file and writes through nothing. */
        if ((fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
                int err = errno;
                WHY("cannot create: %s", strerror(err));
                return -err;
        }
        /* Blocks at offsets: a sparse file keeps its holes. */
        while (r == 0 && (ar = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
                for (size_t done = 0; r == 0 && done < len;) {
                        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)off + (off_t)done);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                r = n < 0 ? -errno : -EIO;
                                WHY("cannot write: %s", strerror(-r));
                        }
                        done += n > 0 ? (size_t)n : 0;
                }
        if (r == 0 && ar != ARCHIVE_EOF) {
                r = -EIO;
                WHY("%s", archive_error_string(a) ? archive_error_string(a) : "unreadable data");
        } else if (r == 0 && archive_entry_size_is_set(e) && ftruncate(fd, (off_t)archive_entry_size(e)) < 0) {
                /* A hole at the end has no block to write. */
                r = -errno;
                WHY("cannot write: %s", strerror(-r));
        }
        close(fd);
        return r;
}

/* A directory's times, for later. */
static int defer_times(struct brm_unpackfs_dirs *dirs, const char *name, const struct timespec ts[2])
{
        if (dirs->n == dirs->cap) {
                size_t cap = dirs->cap ? dirs->cap * 2 : 64;
                struct brm_unpackfs_dir *v = realloc(dirs->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                dirs->v = v;
                dirs->cap = cap;
        }
        if (!(dirs->v[dirs->n].name = strdup(name)))
                return -ENOMEM;
        memcpy(dirs->v[dirs->n++].ts, ts, sizeof(dirs->v[0].ts));
        return 0;
}

/* Owner, mode, extended attributes and times from E, on what BASE in PFD
 * names (never followed); a directory's times go on DIRS as NAME. In that
 * order: a change of owner clears the set-id bits and security.capability. */
static int set_meta(int pfd, const char *base, struct archive_entry *e, struct brm_unpackfs_dirs *dirs,
                    const char *name, char *why, size_t why_size)
{
        bool lnk = archive_entry_filetype(e) == AE_IFLNK;
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
        const char *xname;
        const void *val;
        size_t size;

        if (fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0) {
                int err = errno;
                WHY("cannot set the owner %jd:%jd: %s", (intmax_t)archive_entry_uid(e), (intmax_t)archive_entry_gid(e),
                    strerror(err));
                return -err;
        }
        /* A link's own mode means nothing on Linux. */
        if (!lnk && fchmodat(pfd, base, archive_entry_perm(e) & 07777, AT_SYMLINK_NOFOLLOW) < 0) {
                int err = errno;
                WHY("cannot set the mode: %s", strerror(err));
                return -err;
        }
        if (archive_entry_xattr_reset(e) > 0) {
                /* By path below the parent's descriptor: the one way to
                 * reach a link or device node without opening it. */
                char path[PATH_MAX + 64];
                if (brm_path(path, sizeof(path), "/proc/self/fd/%d/%s", pfd, base) < 0) {
                        WHY("cannot set extended attributes: name too long");
                        return -ENAMETOOLONG;
                }
                while (archive_entry_xattr_next(e, &xname, &val, &size) == ARCHIVE_OK)
                        if (lsetxattr(path, xname, val, size, 0) < 0) {
                                int err = errno;
                                WHY("cannot set the extended attribute %s: %s", xname, strerror(err));
                                return -err;
                        }
        }
        if (archive_entry_mtime_is_set(e)) {
                ts[1].tv_sec = archive_entry_mtime(e);
                ts[1].tv_nsec = archive_entry_mtime_nsec(e);
                ts[0] = ts[1];
        }
        if (archive_entry_atime_is_set(e)) {
                ts[0].tv_sec = archive_entry_atime(e);
                ts[0].tv_nsec = archive_entry_atime_nsec(e);
        }
        if (archive_entry_filetype(e) == AE_IFDIR) {
                if (defer_times(dirs, name, ts) < 0) {
                        WHY("out of memory");
                        return -ENOMEM;
                }
        } else if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
                int err = errno;
                WHY("cannot set the times: %s", strerror(err));
                return -err;
        }
        return 0;
}

int brm_unpackfs_open_root(const char *root)
{
        int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int create(int rootfd, int pfd, const char *base, const char *link, struct archive *a,
                  struct archive_entry *e, char *why, size_t why_size)
{
        char ldir[PATH_MAX];
        int lfd, r = 0;

        if (link) {
                /* The target's directory resolved inside the root too; the
                 * target itself is linked, not followed (linkat without
                 * AT_SYMLINK_FOLLOW), as tar means it. */
                const char *lbase = split(link, ldir);
                if ((lfd = open_dir(rootfd, ldir, false)) < 0) {
                        WHY("hard link to %s: %s", link, strerror(-lfd));
                        return lfd;
                }
                if (linkat(lfd, lbase, pfd, base, 0) < 0) {
                        r = -errno;
                        WHY("hard link to %s: %s", link, strerror(-r));
                }
                close(lfd);
                return r;
        }
        switch (archive_entry_filetype(e)) {
        case AE_IFDIR:
                r = mkdirat(pfd, base, 0700) < 0 && errno != EEXIST ? -errno : 0;
                break;
        case AE_IFREG:
                return write_file(pfd, base, a, e, why, why_size);
        case AE_IFLNK:
                /* Stored as it is: it is only ever followed inside the root,
                 * here and in the container. */
                r = symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", pfd, base) < 0 ? -errno : 0;
                break;
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
                r = mknodat(pfd, base, archive_entry_filetype(e) | 0600, archive_entry_rdev(e)) < 0 ? -errno : 0;
                break;
        default:
                /* A socket, or a type tar does not know: nothing to make. */
                return 1;
        }
        if (r < 0)
                WHY("cannot create: %s", strerror(-r));
        return r;
}

int brm_unpackfs_write(int rootfd, struct brm_unpackfs_dirs *dirs, const char *name, const char *link,
                       struct archive *a, struct archive_entry *e, char *why, size_t why_size)
{
        char dir[PATH_MAX], msg[256] = "";
        const char *base = split(name, dir);
        bool isdir = !link && archive_entry_filetype(e) == AE_IFDIR;
        struct stat st;
        int pfd, r;

        if (!isdir && (!base[0] || strcmp(base, ".") == 0)) {
                WHY("%s: names a directory but is none", name);
                return -EINVAL;
        }
        if ((pfd = open_dir(rootfd, dir, true)) < 0) {
                WHY("%s: parent directory: %s", name, strerror(-pfd));
                return pfd;
        }
        /* What is there goes, unless a directory meets a directory: their
         * contents merge. A link at BASE is replaced, never written through
         * (also a link to a directory, as overlayfs layers stack). */
        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !(isdir && S_ISDIR(st.st_mode)) &&
            (r = rm_at(pfd, base)) < 0) {
                WHY("%s: cannot replace what is there: %s", name, strerror(-r));
                goto out;
        }
        if ((r = create(rootfd, pfd, base, link, a, e, msg, sizeof(msg))) == 0 && !link)
                r = set_meta(pfd, base, e, dirs, name, msg, sizeof(msg));
        if (r < 0)
                WHY("%s: %s", name, msg);
out:
        close(pfd);
        return r < 0 ? r : 0;
}

int brm_unpackfs_whiteout(int rootfd, const char *name, char *why, size_t why_size)
{
        char dir[PATH_MAX];
        const char *base = split(name, dir), *target = base + 4;
        bool opaque = strcmp(base, ".wh..wh..opq") == 0;
        int fd, r;

        if (!opaque && (!target[0] || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)) {
                WHY("whiteout %s: names no file", name);
                return -EINVAL;
        }
        /* Opaque: nothing below the directory from lower layers. */
        fd = open_in_root(rootfd, dir, opaque ? O_RDONLY | O_DIRECTORY : O_PATH | O_DIRECTORY);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return 0; /* nothing there to hide */
        if (fd < 0) {
                WHY("whiteout %s: %s", name, strerror(-fd));
                return fd;
        }
        r = opaque ? empty_dir(fd) : rm_at(fd, target);
        close(fd);
        if (r < 0)
                WHY("whiteout %s: %s", name, strerror(-r));
        return r;
}

int brm_unpackfs_dir_times(int rootfd, struct brm_unpackfs_dirs *dirs, char *why, size_t why_size)
{
        char dir[PATH_MAX];
        int r = 0;

        for (size_t i = 0; r == 0 && i < dirs->n; i++) {
                const char *base = split(dirs->v[i].name, dir);
                struct stat st;
                int pfd = open_dir(rootfd, dir, false);
                /* Gone or replaced by a later entry of the layer: not ours. */
                if (pfd == -ENOENT || pfd == -ENOTDIR)
                        continue;
                if (pfd < 0)
                        r = pfd;
                else if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
                         utimensat(pfd, base, dirs->v[i].ts, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                if (r < 0)
                        WHY("%s: cannot set the times: %s", dirs->v[i].name, strerror(-r));
                if (pfd >= 0)
                        close(pfd);
        }
        brm_unpackfs_dirs_free(dirs);
        return r;
}

void brm_unpackfs_dirs_free(struct brm_unpackfs_dirs *dirs)
{
        for (size_t i = 0; i < dirs->n; i++)
                free(dirs->v[i].name);
        free(dirs->v);
        memset(dirs, 0, sizeof(*dirs));
}
