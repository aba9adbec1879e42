#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <poll.h>
#include <stdbool.h>
#include <unistd.h>

int brm_write_all(int fd, const void *data, size_t len)
{
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK) {
                                struct pollfd pf = { .fd = fd, .events = POLLOUT };
                                poll(&pf, 1, -1);
                                continue;
                        }
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int fsync_dir_of(const char *path)
{
        char copy[4096];
        int fd, r = 0;

        if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
                return -ENAMETOOLONG;
        fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

/* Writes a temporary file beside PATH and renames it over PATH; fsyncs the
 * file before the rename when DURABLE. */
static int replace(const char *path, const void *data, size_t len, mode_t mode, bool durable)
{
        char tmp[4096];
        int fd, r;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = brm_write_all(fd, data, len);
        if (r == 0 && durable && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

int brm_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        int r = replace(path, data, len, mode, true);
        return r < 0 ? r : fsync_dir_of(path);
}

int brm_file_write_fast(const char *path, const void *data, size_t len, mode_t mode)
{
        return replace(path, data, len, mode, false);
}

int brm_file_read(const char *path, size_t max, uint8_t **ret_data, size_t *ret_len)
{
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;
                if (len + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 4096;
                        uint8_t *nb;
                        if (ncap > max + 2)
                                ncap = max + 2;
                        if (ncap <= len + 1) {
                                r = -EFBIG;
                                break;
                        }
                        nb = realloc(buf, ncap);
                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = nb;
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max) {
                        r = -EFBIG;
                        break;
                }
        }
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[len] = '\0';
        *ret_data = buf;
        *ret_len = len;
        return 0;
}

int brm_file_copy(const char *src, const char *dst, mode_t mode)
{
        char buf[65536];
        int in, out, r = 0;

        if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
                return -errno;
        if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
                r = -errno;
                close(in);
                return r;
        }
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                if ((r = brm_write_all(out, buf, (size_t)n)) < 0)
                        break;
        }
        /* The umask may have narrowed mode; a key's copy must be as
         * private as the key, and no wider either. */
        if (r == 0 && fchmod(out, mode) < 0)
                r = -errno;
        if (r == 0 && fsync(out) < 0)
                r = -errno;
        if (close(out) < 0 && r == 0)
                r = -errno;
        close(in);
        if (r < 0)
                unlink(dst);
        return r;
}

int brm_fsync_dir(const char *dir)
{
        int fd, r = 0;

        if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int brm_mkdir_p(const char *path, mode_t mode)
{
        char buf[4096];
        size_t n = strlen(path);

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, path, n + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}
