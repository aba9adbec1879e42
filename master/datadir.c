#include "datadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util.h"

int brm_datadir_lock(const char *dir, int *ret_fd, long *ret_holder)
{
        char path[4096], text[32];
        ssize_t n;
        int fd, r;

        if (brm_path(path, sizeof(path), "%s/master.lock", dir) < 0)
                return -ENAMETOOLONG;
        if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                n = pread(fd, text, sizeof(text) - 1, 0);
                text[n > 0 ? n : 0] = '\0';
                *ret_holder = strtol(text, NULL, 10);
                close(fd);
                return r;
        }
        /* The pid is only for the message another process prints; the
         * lock itself goes with the process, also when it is killed. */
        n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
                r = -errno;
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

void brm_snapshot_name(time_t t, char *buf)
{
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, BRM_SNAPSHOT_NAME_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

bool brm_snapshot_name_valid(const char *name)
{
        if (strlen(name) != BRM_SNAPSHOT_NAME_LEN || name[8] != 'T' || name[15] != 'Z')
                return false;
        for (int i = 0; i < 15; i++)
                if (i != 8 && (name[i] < '0' || name[i] > '9'))
                        return false;
        return true;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void brm_snapshot_list_free(char **names, size_t n)
{
        for (size_t i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
}

int brm_snapshot_list(const char *data_dir, char ***ret_names, size_t *ret_n)
{
        char path[4096], **names = NULL, **nn;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (brm_path(path, sizeof(path), "%s/" BRM_SNAPSHOT_DIR, data_dir) < 0)
                return -ENAMETOOLONG;
        if (!(d = opendir(path))) {
                if (errno != ENOENT)
                        return -errno;
                *ret_names = NULL;
                *ret_n = 0;
                return 0;
        }
        /* Temporary directories start with a dot and never match. */
        while ((de = readdir(d))) {
                if (!brm_snapshot_name_valid(de->d_name))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        if (!(nn = realloc(names, cap * sizeof(*names)))) {
                                r = -ENOMEM;
                                break;
                        }
                        names = nn;
                }
                if (!(names[n] = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r < 0) {
                brm_snapshot_list_free(names, n);
                return r;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret_names = names;
        *ret_n = n;
        return 0;
}

void brm_datadir_recovery_hint(const char *data_dir, char *buf, size_t size)
{
        char **names = NULL;
        size_t n = 0;

        if (brm_snapshot_list(data_dir, &names, &n) < 0 || n == 0) {
                brm_snapshot_list_free(names, n);
                snprintf(buf, size,
                         "no snapshot to restore from in %s/" BRM_SNAPSHOT_DIR
                         " (the sqlite3 shell's .recover may save part of a damaged database)", data_dir);
                return;
        }
        snprintf(buf, size, "restore the newest snapshot (of %zu) with: bramble-master --data-dir %s --restore %s/"
                 BRM_SNAPSHOT_DIR "/%s", n, data_dir, data_dir, names[n - 1]);
        brm_snapshot_list_free(names, n);
}

int brm_rmdir_flat(const char *path)
{
        char child[4096];
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!(d = opendir(path)))
                return -errno;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (brm_path(child, sizeof(child), "%s/%s", path, de->d_name) < 0)
                        r = r ? r : -ENAMETOOLONG;
                else if (unlink(child) < 0)
                        r = r ? r : -errno;
        }
        closedir(d);
        if (rmdir(path) < 0 && r == 0)
                r = -errno;
        return r;
}
