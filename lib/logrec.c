/* The on-node log record: its timestamps and its text form, formatted and
 * parsed (logrec.h). The writer is logwriter.c. */
#include "logrec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logrec_internal.h"
#include "util.h"


int64_t brm_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Days since 1970-01-01 to a proleptic Gregorian date and back (the usual
 * era-based arithmetic; valid for every year 0..9999). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t yy = (int64_t)yoe + era * 400;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int)(yy + (*m <= 2));
}

int64_t brm_days_from_civil(int y, unsigned m, unsigned d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

void brm_logrec_put_digits(char *p, uint64_t v, int width)
{
        for (int i = width - 1; i >= 0; i--) {
                p[i] = (char)('0' + v % 10);
                v /= 10;
        }
}

void brm_logrec_ts_prefix(int64_t sec, char out[20])
{
        int64_t days = sec >= 0 ? sec / 86400 : (sec - 86399) / 86400;
        int64_t rem = sec - days * 86400;
        unsigned m, d;
        int y;

        civil_from_days(days, &y, &m, &d);
        if (y < 0)
                y = 0;
        if (y > 9999)
                y = 9999;
        brm_logrec_put_digits(out, (uint64_t)y, 4);
        out[4] = '-';
        brm_logrec_put_digits(out + 5, m, 2);
        out[7] = '-';
        brm_logrec_put_digits(out + 8, d, 2);
        out[10] = 'T';
        brm_logrec_put_digits(out + 11, (uint64_t)(rem / 3600), 2);
        out[13] = ':';
        brm_logrec_put_digits(out + 14, (uint64_t)(rem / 60 % 60), 2);
        out[16] = ':';
        brm_logrec_put_digits(out + 17, (uint64_t)(rem % 60), 2);
        out[19] = '.';
}

void brm_logrec_split_ns(int64_t ts_ns, int64_t *sec, int64_t *nsec)
{
        *sec = ts_ns / 1000000000;
        *nsec = ts_ns % 1000000000;
        if (*nsec < 0) {
                *nsec += 1000000000;
                (*sec)--;
        }
}

void brm_log_format_ts(int64_t ts_ns, char out[BRM_LOG_TS_LEN + 1])
{
        int64_t sec, nsec;
        char prefix[20];

        brm_logrec_split_ns(ts_ns, &sec, &nsec);
        brm_logrec_ts_prefix(sec, prefix);
        memcpy(out, prefix, 20);
        brm_logrec_put_digits(out + 20, (uint64_t)nsec, 9);
        out[29] = 'Z';
        out[30] = '\0';
}

int brm_fixed_digits(const char *s, int n, unsigned *ret)
{
        unsigned v = 0;
        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        *ret = v;
        return 0;
}

unsigned brm_days_in_month(unsigned y, unsigned m)
{
        static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        if (m < 1 || m > 12)
                return 0;
        return mdays[m - 1] + (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

int brm_log_parse_ts(const char *s, size_t len, int64_t *ret_ns)
{
        unsigned y, mo, d, h, mi, se, ns;

        if (len != BRM_LOG_TS_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
            s[19] != '.' || s[29] != 'Z')
                return -EBADMSG;
        if (brm_fixed_digits(s, 4, &y) || brm_fixed_digits(s + 5, 2, &mo) || brm_fixed_digits(s + 8, 2, &d) ||
            brm_fixed_digits(s + 11, 2, &h) || brm_fixed_digits(s + 14, 2, &mi) || brm_fixed_digits(s + 17, 2, &se) ||
            brm_fixed_digits(s + 20, 9, &ns))
                return -EBADMSG;
        if (mo < 1 || mo > 12 || d < 1 || d > brm_days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
                return -EBADMSG;
        /* Nanoseconds since 1970 in an int64_t reach from 1677 to 2262. */
        int64_t sec = brm_days_from_civil((int)y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
        if (sec < INT64_MIN / 1000000000 || sec > (INT64_MAX - (int64_t)ns) / 1000000000)
                return -EBADMSG;
        *ret_ns = sec * 1000000000 + ns;
        return 0;
}

static int parse_u64(const char **p, const char *end, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (s >= end || *s < '0' || *s > '9')
                return -EBADMSG;
        while (s < end && *s >= '0' && *s <= '9') {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t)(*s - '0');
                s++;
        }
        *ret = v;
        *p = s;
        return 0;
}

int brm_logrec_parse(const char *line, size_t len, struct brm_logrec *r)
{
        const char *p = line + BRM_LOG_TS_LEN, *end = line + len;
        struct brm_logrec out;

        /* The shortest record: "TIMESTAMP stdout F 1 0" (43 bytes). */
        if (len < BRM_LOG_TS_LEN + 1 + 6 + 1 + 1 + 1 + 1 + 1 + 1 ||
            brm_log_parse_ts(line, BRM_LOG_TS_LEN, &out.ts_ns) < 0 || *p++ != ' ')
                return -EBADMSG;
        if (memcmp(p, "stdout", 6) == 0)
                out.stream = BRM_LOG_STDOUT;
        else if (memcmp(p, "stderr", 6) == 0)
                out.stream = BRM_LOG_STDERR;
        else
                return -EBADMSG;
        p += 6;
        if (*p++ != ' ' || (*p != 'F' && *p != 'P'))
                return -EBADMSG;
        out.partial = *p++ == 'P';
        if (p >= end || *p++ != ' ' || parse_u64(&p, end, &out.n[0]) < 0 || p >= end || *p++ != ' ' ||
            parse_u64(&p, end, &out.n[1]) < 0)
                return -EBADMSG;
        /* The record's own counter includes it. */
        if (out.n[out.stream] == 0)
                return -EBADMSG;
        if (p == end) {
                out.data = p;
                out.len = 0;
        } else {
                if (*p++ != ' ')
                        return -EBADMSG;
                out.data = p;
                out.len = (size_t)(end - p);
        }
        if (out.len > BRM_LOG_LINE_MAX || memchr(out.data, '\n', out.len))
                return -EBADMSG;
        *r = out;
        return 0;
}
