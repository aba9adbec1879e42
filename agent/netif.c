#include "netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
        if (!a || !b || a->sa_family != b->sa_family)
                return false;
        if (a->sa_family == AF_INET)
                return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
        if (a->sa_family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                              sizeof(struct in6_addr)) == 0;
        return false;
}

int brm_netif_for_addr(const struct sockaddr *addr, char *ret, size_t size)
{
        struct ifaddrs *list, *i;
        int r = -ENOENT;

        if (!addr || size == 0)
                return -EINVAL;
        if (getifaddrs(&list) < 0)
                return -errno;
        for (i = list; i; i = i->ifa_next)
                if (same_addr(i->ifa_addr, addr)) {
                        r = strlen(i->ifa_name) < size ? 0 : -ENAMETOOLONG;
                        if (r == 0)
                                memcpy(ret, i->ifa_name, strlen(i->ifa_name) + 1);
                        break;
                }
        freeifaddrs(list);
        return r;
}

/* One integer with an optional sign and the "updated" dot the kernel
 * appends ("-61."); moves *p past it. */
static int scan_level(const char **p, long *ret)
{
        const char *s = *p;
        bool neg = false;
        long v = 0;
        int digits = 0;

        while (*s == ' ' || *s == '\t')
                s++;
        if (*s == '-' || *s == '+')
                neg = *s++ == '-';
        for (; *s >= '0' && *s <= '9'; s++, digits++)
                if (digits < 6)
                        v = v * 10 + (*s - '0');
        if (digits == 0 || digits > 6)
                return -EINVAL;
        if (*s == '.')
                s++;
        if (*s && *s != ' ' && *s != '\t' && *s != '\n')
                return -EINVAL;
        *p = s;
        *ret = neg ? -v : v;
        return 0;
}

int brm_netif_parse_wireless(const char *text, const char *iface, int *ret_dbm)
{
        size_t ilen = iface ? strlen(iface) : 0;
        const char *line;

        if (!text || ilen == 0)
                return -EINVAL;
        for (line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
                const char *p = line;
                long link, level;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (strncmp(p, iface, ilen) != 0 || p[ilen] != ':')
                        continue;
                p += ilen + 1;
                /* status (hex), link quality, signal level */
                while (*p == ' ' || *p == '\t')
                        p++;
                if (strspn(p, "0123456789abcdefABCDEF") == 0)
                        return -EINVAL;
                p += strspn(p, "0123456789abcdefABCDEF");
                if (scan_level(&p, &link) < 0 || scan_level(&p, &level) < 0)
                        return -EINVAL;
                /* dBm is negative; a positive figure is a driver's own
                 * scale, 0 (or below -120) means no signal measured. */
                if (level >= 0 || level < -120)
                        return -EINVAL;
                *ret_dbm = (int)level;
                return 0;
        }
        return -ENOENT;
}

int brm_netif_signal(const char *root, const char *iface, int *ret_dbm)
{
        char path[PATH_MAX], buf[4096];
        size_t len = 0;
        ssize_t n;
        int fd;

        if (!root || strcmp(root, "/") == 0)
                root = "";
        if (snprintf(path, sizeof(path), "%s/proc/net/wireless", root) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return -errno;
        while (len + 1 < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = -errno;
                        close(fd);
                        return e;
                }
                len += (size_t)n;
        }
        close(fd);
        buf[len] = '\0';
        return brm_netif_parse_wireless(buf, iface, ret_dbm);
}
