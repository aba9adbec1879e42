#include "procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int brm_procstat_start_time(int pid, unsigned long long *ret_ticks)
{
        char path[64], buf[1024], *p;
        unsigned long long t;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        buf[n] = '\0';
        /* The command name (field 2) is in parentheses and may itself hold
         * ')' or spaces: the fields are counted from the last ')'. Field 22
         * lies well within the buffer, also when the line is longer. */
        if (!(p = strrchr(buf, ')')) || p[1] != ' ' ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &t) != 1)
                return -EINVAL;
        *ret_ticks = t;
        return 0;
}
