/* Small utilities shared by every binary. All functions return >= 0 on
 * success and a negative errno value on failure; ret_* outputs are untouched
 * on failure. */
#ifndef BRM_UTIL_H
#define BRM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Wall-clock and monotonic time in milliseconds. */
int64_t brm_now_ms(void);
uint64_t brm_mono_ms(void);

/* Parses "90s", "15m", "24h", "7d", "500ms" or a bare number of seconds.
 * Returns 0, or -EINVAL for anything else (including overflow). */
int brm_parse_duration_ms(const char *s, uint64_t *ret_ms);

/* Parses a --since value into a wall-clock time in nanoseconds: either a
 * duration as brm_parse_duration_ms takes it ("90s", "15m", "2h", "7d",
 * "500ms", a bare number of seconds), meaning now_ns minus that, or an
 * RFC 3339 time "2026-11-22T10:00:00Z" with an optional fraction of up to 9
 * digits and "Z"/"z" or a numeric offset "+02:00" / "-0530"; 't' or a space
 * may stand for the 'T', and a bare date "2026-11-22" means its midnight
 * UTC. -EINVAL for anything else, out-of-range fields (month 13, Feb 30,
 * hour 24, ...) and times that do not fit in int64 nanoseconds. */
int brm_parse_since(const char *s, int64_t now_ns, int64_t *ret_ns);

/* Parses a decimal unsigned integer that must fit in [min, max]. */
int brm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Parses a byte size: a whole number with an optional binary unit K, M, G
 * or T (also written Ki/KiB/k/...): "64M" = 64 MiB. -EINVAL otherwise. */
int brm_parse_size(const char *s, uint64_t *ret_bytes);

/* Parses a CPU count with up to three decimals ("0.5", "2") into
 * thousandths of a core; must be > 0 and at most 1024. */
int brm_parse_cpus(const char *s, uint32_t *ret_millis);

/* Splits "host:port" or "[v6]:port" into host and port. */
int brm_parse_hostport(const char *s, char *ret_host, size_t host_size, uint16_t *ret_port);

/* A node name: 1-63 chars of [a-z0-9-], not starting or ending with '-'
 * (a DNS label, so it is also a valid hostname). */
bool brm_valid_node_name(const char *s);

/* A container name: 1-63 chars of [a-z0-9_.-] starting with a letter or
 * digit (so it is also a safe file name in the state dir). */
bool brm_valid_container_name(const char *s);

/* The OCI platform of a machine as uname(2) names it: "aarch64" ->
 * "linux/arm64", "x86_64" -> "linux/amd64", "armv7l" -> "linux/arm/v7",
 * "armv6l" -> "linux/arm/v6"; any other name is taken as the architecture
 * ("linux/riscv64"). The node asks the master for this platform and the
 * master checks images against it, so both use this one table. 0, or
 * -EINVAL for an empty name, -ENAMETOOLONG when buf is too small. */
int brm_oci_platform_of(const char *machine, char *buf, size_t size);

/* Fills buf with cryptographically secure random bytes (getrandom). */
int brm_random(void *buf, size_t len);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void brm_hex(const uint8_t *in, size_t len, char *out);
/* Parses exactly 2*len hex chars; -EINVAL otherwise. */
int brm_unhex(const char *in, uint8_t *out, size_t len);

/* Formats a duration as "3s", "5m", "2h", "4d" (for human output). */
void brm_format_age(int64_t ms, char *out, size_t size);

/* Constant-time comparison; returns 0 when equal. */
int brm_memeq_ct(const void *a, const void *b, size_t len);

/* snprintf that returns -ENAMETOOLONG on truncation. */
int brm_path(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Returns the heap's free memory to the kernel (glibc's malloc_trim);
 * nothing elsewhere. For after a burst of small allocations, all freed. */
void brm_heap_trim(void);

#endif
