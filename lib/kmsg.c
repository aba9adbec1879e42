#include "kmsg.h"

#include <errno.h>
#include <string.h>

/* A decimal number of at least one digit ending at ',' or ';'. */
static int parse_num(const char **p, const char *end, uint64_t max, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (s >= end || *s < '0' || *s > '9')
                return -EBADMSG;
        while (s < end && *s >= '0' && *s <= '9') {
                unsigned dgt = (unsigned)(*s - '0');
                if (v > (max - dgt) / 10)
                        return -EBADMSG;
                v = v * 10 + dgt;
                s++;
        }
        *ret = v;
        *p = s;
        return 0;
}

int brm_kmsg_parse(const char *buf, size_t len, struct brm_kmsg *r)
{
        const char *p = buf, *end, *semi, *nl, *flags;
        uint64_t pri, seq, ts;
        struct brm_kmsg out;

        if (!buf)
                return -EBADMSG;
        /* The header is what comes before the first ';' and may not span a line. */
        semi = memchr(buf, ';', len);
        if (!semi)
                return -EBADMSG;
        end = semi;
        if (memchr(buf, '\n', (size_t)(semi - buf)))
                return -EBADMSG;
        if (parse_num(&p, end, UINT32_MAX, &pri) < 0 || p == end || *p++ != ',')
                return -EBADMSG;
        if (parse_num(&p, end, UINT64_MAX, &seq) < 0 || p == end || *p++ != ',')
                return -EBADMSG;
        if (parse_num(&p, end, UINT64_MAX, &ts) < 0 || p == end || *p++ != ',')
                return -EBADMSG;
        /* FLAGS: one or more characters up to ',' or ';'. */
        flags = p;
        while (p < end && *p != ',')
                p++;
        if (p == flags)
                return -EBADMSG;
        memset(&out, 0, sizeof(out));
        out.continuation = memchr(flags, 'c', (size_t)(p - flags)) != NULL;
        /* Later fields (caller=..., whatever comes next) are skipped. */
        out.level = (unsigned)(pri & 7);
        out.facility = (unsigned)(pri >> 3);
        out.seq = seq;
        out.ts_us = ts;
        out.msg = semi + 1;
        nl = memchr(out.msg, '\n', len - (size_t)(out.msg - buf));
        out.msg_len = nl ? (size_t)(nl - out.msg) : len - (size_t)(out.msg - buf);
        *r = out;
        return 0;
}
