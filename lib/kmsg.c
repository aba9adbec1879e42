#include "kmsg.h"

#include <errno.h>
#include <stdlib.h>
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

int brm_kmsg_tail(brm_kmsg_read_fn rd, void *rd_arg, brm_kmsg_want_fn want, void *want_arg,
                  char *buf, size_t buf_len, uint64_t n, struct brm_kmsg_window *ret)
{
        struct brm_kmsg_window w = { 0 };
        uint64_t *seqs = NULL, have = 0, pos = 0, cap = 0;
        int r = 0;

        for (;;) {
                ssize_t got = rd(rd_arg, buf, buf_len);
                struct brm_kmsg k;
                if (got == -EPIPE || got == -EINTR)
                        continue;
                if (got == -EAGAIN || got == 0)
                        break;
                if (got < 0) {
                        r = (int)got;
                        goto out;
                }
                if (brm_kmsg_parse(buf, (size_t)got, &k) < 0)
                        continue;
                w.end_seq = k.seq;
                w.any = true;
                if (n == 0 || !want(want_arg, &k))
                        continue;
                /* The sequence numbers of the last n wanted records: an
                 * array that grows until it holds n, then a ring. */
                if (have < n) {
                        if (have == cap) {
                                uint64_t ncap = cap ? cap * 2 : 64;
                                uint64_t *t;
                                if (ncap > n)
                                        ncap = n;
                                if (!(t = realloc(seqs, ncap * sizeof(*seqs)))) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                seqs = t;
                                cap = ncap;
                        }
                        seqs[have++] = k.seq;
                } else {
                        seqs[pos] = k.seq;
                        pos = (pos + 1) % n;
                }
        }
        /* Fewer wanted records than asked for: show them all. */
        w.first_seq = have == n && n > 0 ? seqs[pos] : 0;
        if (n == 0 && w.any)
                w.first_seq = w.end_seq + 1;
        *ret = w;
out:
        free(seqs);
        return r;
}

enum brm_kmsg_verdict brm_kmsg_window_check(const struct brm_kmsg_window *w, uint64_t seq, bool follow)
{
        if (!follow && (!w->any || seq > w->end_seq))
                return BRM_KMSG_END;
        return seq < w->first_seq ? BRM_KMSG_SKIP : BRM_KMSG_SHOW;
}
