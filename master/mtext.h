/* A growing text buffer with the writers the Prometheus text format needs:
 * integers and fixed-point numbers without printf, and label values
 * escaped as the format says (backslash, double quote, newline). A failed
 * allocation sets oom and makes every later write a no-op, so a caller
 * checks once at the end. */
#ifndef BRM_MTEXT_H
#define BRM_MTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct brm_mtext {
        char *p;
        size_t len, cap;
        bool oom;
};

/* Room for n more bytes; false (and oom set) when there is none. */
bool brm_mtext_reserve(struct brm_mtext *b, size_t n);
void brm_mtext_free(struct brm_mtext *b);

static inline void brm_mtext_put(struct brm_mtext *b, const char *s, size_t n)
{
        if (b->len + n > b->cap && !brm_mtext_reserve(b, n))
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
}

static inline void brm_mtext_putc(struct brm_mtext *b, char c)
{
        if (b->len + 1 > b->cap && !brm_mtext_reserve(b, 1))
                return;
        b->p[b->len++] = c;
}

static inline void brm_mtext_puts(struct brm_mtext *b, const char *s)
{
        brm_mtext_put(b, s, strlen(s));
}

/* v in decimal. */
void brm_mtext_u64(struct brm_mtext *b, uint64_t v);
/* v / 10^digits exactly, without trailing zeros ("1.5", "2"); digits <= 9. */
void brm_mtext_fixed(struct brm_mtext *b, uint64_t v, unsigned digits);
/* v rounded to digits decimals (<= 9), without trailing zeros; NaN, +Inf
 * and -Inf as the format spells them. */
void brm_mtext_float(struct brm_mtext *b, double v, unsigned digits);
/* [,]name="value" with value escaped; NULL value: "". */
void brm_mtext_label(struct brm_mtext *b, bool comma, const char *name, const char *value);

#endif
