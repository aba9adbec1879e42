/* File helpers that never leave a half-written file behind. */
#ifndef BRM_FILEIO_H
#define BRM_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes data to path atomically: a temporary file in the same directory is
 * written, fsynced, renamed over path, and the directory is fsynced. A crash
 * leaves either the old or the new content. Returns 0 or -errno. */
int brm_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* The same without any fsync: for files that must outlive the writer
 * (the page cache survives a killed process) but not a power loss, where
 * an fsync would cost tens of milliseconds on an SD card each time. A
 * reader still sees either the old or the new content. Returns 0 or
 * -errno. Plain libc: bramble-shim uses it. */
int brm_file_write_fast(const char *path, const void *data, size_t len, mode_t mode);

/* Reads a whole file of at most max bytes; the buffer is NUL-terminated
 * (not counted in *ret_len) and must be freed. -EFBIG when larger. */
int brm_file_read(const char *path, size_t max, uint8_t **ret_data, size_t *ret_len);

/* Writes all of len bytes, through EINTR, short writes and (for an fd
 * that is non-blocking) EAGAIN. Returns 0 or -errno. */
int brm_write_all(int fd, const void *data, size_t len);

/* Copies src to dst, which must not exist, with the given mode, and
 * fsyncs dst (not its directory: see brm_fsync_dir). A failure removes
 * dst. Returns 0 or -errno. */
int brm_file_copy(const char *src, const char *dst, mode_t mode);

/* fsyncs the directory itself, so entries created or renamed in it last.
 * Returns 0 or -errno. */
int brm_fsync_dir(const char *dir);

/* mkdir -p with the given mode for created directories. */
int brm_mkdir_p(const char *path, mode_t mode);

#endif
