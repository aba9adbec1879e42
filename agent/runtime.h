/* The OCI runtime command line (crun, runc): detection and asynchronous
 * calls. The agent never links a runtime; it runs the binary, so any
 * runtime that speaks the OCI command line works. All state of our
 * containers lives in a runtime root of our own (--root), so the agent's
 * containers never mix with anybody else's. Nothing here logs. */
#ifndef BRM_RUNTIME_H
#define BRM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cgroup.h"

struct brm_runtime {
        char name[16];            /* "runc", "crun", or the binary's base name */
        char path[256];           /* absolute path of the binary */
        char version[64];         /* "runc 1.1.5+ds1" */
        char root[512];           /* --root */
};

/* Where the agent's own helper NAME (bramble-shim, bramble-unpack) is:
 * beside the agent's binary (an installed or a build tree), else NAME to
 * be found on PATH. */
void brm_runtime_helper_path(const char *name, char *ret_path, size_t size);

/* Picks the runtime: WANT ("crun", "runc" or a path) if given, else the
 * first of crun and runc that is installed, answers --version, and works
 * with this cgroup hierarchy (crun refuses hybrid v1/v2 hosts, so there it
 * is passed over for runc). 0, or -errno and a one-line reason. */
int brm_runtime_detect(const char *want, const struct brm_cgroup *cg, const char *root, struct brm_runtime *ret,
                       char *why, size_t why_size);

/* Called once per brm_runtime_run: STATUS is the exit code (>= 0), or
 * -ETIMEDOUT (killed after the timeout), -EINTR (killed by a signal), or
 * another -errno; OUTPUT is the tail of what it wrote to stderr. */
typedef void (*brm_runtime_cb)(int status, const char *output, void *arg);

/* Runs RUNTIME --root ROOT ARGS... (ARGS NULL-terminated) without blocking
 * the loop. Returns 0 and calls CB exactly once later, or -errno and never
 * calls it. */
int brm_runtime_run(uv_loop_t *loop, const struct brm_runtime *rt, const char *const *args, uint64_t timeout_ms,
                    brm_runtime_cb cb, void *arg);

/* Starts SHIM (bramble-shim) for container ID: it runs the runtime in the
 * background, waits for the container and stores its output in LOG_DIR,
 * rotated at LOG_MAX_SIZE bytes, LOG_MAX_FILES files kept, never taking the
 * last LOG_RESERVE bytes of the file system (see shim.c). PROC is the
 * caller's handle; EXIT_CB fires when the shim exits. 0 or -errno. */
int brm_runtime_spawn_shim(uv_loop_t *loop, const struct brm_runtime *rt, const char *shim, const char *id,
                           const char *dir, const char *log_dir, uint64_t log_max_size, unsigned log_max_files,
                           uint64_t log_reserve, uv_process_t *proc, uv_exit_cb exit_cb);

#endif
