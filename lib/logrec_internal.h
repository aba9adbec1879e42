/* What the record format (logrec.c) and the writer (logwriter.c) share:
 * the hot path's fixed-width formatting. Private to lib/. */
#ifndef BRM_LOGREC_INTERNAL_H
#define BRM_LOGREC_INTERNAL_H

#include <stdint.h>

/* V in WIDTH decimal digits at P, zero-padded, no NUL. */
void brm_logrec_put_digits(char *p, uint64_t v, int width);
/* "YYYY-MM-DDTHH:MM:SS." for SEC (UTC), no NUL. */
void brm_logrec_ts_prefix(int64_t sec, char out[20]);
/* TS_NS into whole seconds and nanoseconds (0..999999999), also before 1970. */
void brm_logrec_split_ns(int64_t ts_ns, int64_t *sec, int64_t *nsec);

#endif
