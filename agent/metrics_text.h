/* Scanning helpers shared by the /proc parsers (metrics_text.c) and the
 * readers of metrics.c. Private to those two files. */
#ifndef BRM_METRICS_TEXT_H
#define BRM_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool brm_mtext_is_digit(char c);
/* End of a value: NUL, newline or blank. */
bool brm_mtext_is_end(char c);
const char *brm_mtext_skip_blank(const char *p);
/* The start of the next line, or NULL at the end of the text. */
const char *brm_mtext_next_line(const char *p);
/* A decimal number with overflow check; *p moves past it. 0 or -EINVAL. */
int brm_mtext_scan_u64(const char **p, uint64_t *ret);
/* Copies a value, trimmed of blanks, into dst (size bytes with the NUL):
 * 0, or -EINVAL when empty, for control bytes, or when it does not fit and
 * !allow_cut (else it is cut at a UTF-8 character boundary). */
int brm_mtext_copy_text(char *dst, size_t size, const char *src, size_t len, bool allow_cut);

#endif
