/* Text for the Prometheus exposition format; see mtext.h. */
#include "mtext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool brm_mtext_reserve(struct brm_mtext *b, size_t n)
{
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        if (b->oom)
                return false;
        if (b->len + n <= b->cap)
                return true;
        while (cap < b->len + n)
                cap *= 2;
        if (!(p = realloc(b->p, cap))) {
                b->oom = true;
                return false;
        }
        b->p = p;
        b->cap = cap;
        return true;
}

void brm_mtext_free(struct brm_mtext *b)
{
        free(b->p);
        memset(b, 0, sizeof(*b));
}

/* Two digits per division: numbers are most of what a scrape writes. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                 "25262728293031323334353637383940414243444546474849"
                                 "50515253545556575859606162636465666768697071727374"
                                 "75767778798081828384858687888990919293949596979899";

void brm_mtext_u64(struct brm_mtext *b, uint64_t v)
{
        char tmp[20];
        size_t i = sizeof(tmp);

        while (v >= 100) {
                unsigned d = (unsigned)(v % 100) * 2;
                v /= 100;
                tmp[--i] = digit_pairs[d + 1];
                tmp[--i] = digit_pairs[d];
        }
        if (v >= 10) {
                tmp[--i] = digit_pairs[v * 2 + 1];
                tmp[--i] = digit_pairs[v * 2];
        } else {
                tmp[--i] = (char)('0' + v);
        }
        brm_mtext_put(b, tmp + i, sizeof(tmp) - i);
}

static const uint64_t pow10_u64[10] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000 };

void brm_mtext_fixed(struct brm_mtext *b, uint64_t v, unsigned digits)
{
        uint64_t scale, frac;
        char tmp[10];
        unsigned n;

        if (digits > 9)
                digits = 9;
        scale = pow10_u64[digits];
        brm_mtext_u64(b, v / scale);
        frac = v % scale;
        if (!frac)
                return;
        for (n = digits; frac % 10 == 0; n--)
                frac /= 10;
        /* n significant decimals, with their leading zeros. */
        for (unsigned i = n; i-- > 0; frac /= 10)
                tmp[i] = (char)('0' + frac % 10);
        brm_mtext_putc(b, '.');
        brm_mtext_put(b, tmp, n);
}

void brm_mtext_float(struct brm_mtext *b, double v, unsigned digits)
{
        double scaled;

        if (isnan(v)) {
                brm_mtext_put(b, "NaN", 3);
                return;
        }
        if (isinf(v)) {
                brm_mtext_puts(b, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        if (digits > 9)
                digits = 9;
        if (v < 0) {
                brm_mtext_putc(b, '-');
                v = -v;
        }
        scaled = v * (double)pow10_u64[digits] + 0.5;
        if (scaled >= 1e19) {
                /* Beyond what the fixed form holds (never a real reading). */
                char tmp[32];
                int n = snprintf(tmp, sizeof(tmp), "%.17g", v);
                brm_mtext_put(b, tmp, (size_t)n);
                return;
        }
        brm_mtext_fixed(b, (uint64_t)scaled, digits);
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t n;

        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

/* Label values come from the nodes: a byte that is not UTF-8 would make
 * Prometheus refuse the whole scrape, so it becomes U+FFFD. */
void brm_mtext_label(struct brm_mtext *b, bool comma, const char *name, const char *value)
{
        const unsigned char *p = (const unsigned char *)(value ? value : ""), *run = p;
        size_t n;

        if (comma)
                brm_mtext_putc(b, ',');
        brm_mtext_puts(b, name);
        brm_mtext_put(b, "=\"", 2);
        for (;;) {
                if (*p >= 0x20 && *p < 0x80 && *p != '\\' && *p != '"') {
                        p++;
                        continue;
                }
                if (*p >= 0x80 && (n = utf8_len(p)) > 0) {
                        p += n;
                        continue;
                }
                brm_mtext_put(b, (const char *)run, (size_t)(p - run));
                if (!*p)
                        break;
                if (*p == '\\' || *p == '"' || *p == '\n') {
                        brm_mtext_putc(b, '\\');
                        brm_mtext_putc(b, *p == '\n' ? 'n' : (char)*p);
                } else if (*p >= 0x80) {
                        brm_mtext_put(b, "\xef\xbf\xbd", 3);
                } else {
                        brm_mtext_putc(b, (char)*p); /* other control characters are valid UTF-8 */
                }
                run = ++p;
        }
        brm_mtext_putc(b, '"');
}
