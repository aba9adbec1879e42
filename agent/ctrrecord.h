/* The containers' records on disk, below DIR (STATE/containers):
 *
 *   DIR/desired.json   the whole desired set (fsynced: it must survive a
 *                      reboot)
 *   DIR/boot_id        the boot the records below belong to
 *   DIR/NAME/          the bundle and the container's record:
 *     config.json (OCI spec), spec.json (the spec it runs), state.json
 *     (counters), spec.json.bak and state.json.bak (their copies),
 *     shim.pid ("PID STARTTIME", written by bramble-shim),
 *     pid (the container's init, written by the runtime), exit ("CODE
 *     STARTED MS", written by bramble-shim), runtime.log, health.pid
 *     (the process of the health check in flight, written by the runtime's
 *     exec); runc writes a pid file to .pid or .health.pid first, then
 *     renames it, and a runc killed in between leaves that file
 *
 * Files other than desired.json are replaced by rename without fsync: they
 * matter across agent restarts, not across power loss (after a reboot the
 * processes they describe are gone anyway), and an fsync costs tens of
 * milliseconds on an SD card on every start. A killed writer leaves the
 * old or the new file (and perhaps a FILE.tmp.PID beside it), never a
 * torn one. What cannot be learnt again from the runtime and the shim, the
 * counters (state.json) and the spec of the run (spec.json), is written
 * twice, to FILE and then to FILE.bak: a file damaged afterwards (a file
 * system that lost the data of a rename at a power cut, a full disk, a
 * hand edit) is read from its copy.
 *
 * Plain file I/O: no event loop, no logging. Functions return 0 (or what
 * they say) or -errno; ret_* outputs are untouched on failure. NAME is
 * expected to be a valid container name (brm_valid_container_name). */
#ifndef BRM_CTRRECORD_H
#define BRM_CTRRECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec.h"

/* What state.json keeps of a container across agent restarts. */
struct brm_ctrrecord_state {
        uint32_t restarts, oom_kills;
        bool has_exit;
        int exit_code;            /* 128+signal when killed */
        uint64_t backoff_ms;      /* the current restart delay */
        int64_t started_ms, finished_ms;
        bool running;             /* a run is under way (or ended unaccounted) */
        enum brm_cstate state;
        int64_t since_ms;         /* wall clock when it entered STATE; 0 = unknown */
        char reason[160];
        char cgroup[600];         /* the cgroup the run was put in */
};

/* What bramble-shim wrote to DIR/NAME/exit when the container ended. */
struct brm_ctrrecord_exit {
        int code;                 /* exit code, 128+signal, or -1 when the shim could not tell */
        bool started;             /* false: the runtime failed to start it (code is the runtime's) */
        int64_t ms;               /* wall-clock time of the exit; 0 when the file has none */
};

/* DIR/NAME/FILE, or DIR/NAME when FILE is NULL. -ENAMETOOLONG. */
int brm_ctrrecord_path(const char *dir, const char *name, const char *file, char *ret_path, size_t size);

/* Creates DIR/NAME (and DIR) if missing. */
int brm_ctrrecord_create(const char *dir, const char *name);
/* Removes DIR/NAME with every file the agent, the runtime and the shim put
 * there. 0 also when it did not exist; -errno when the directory stays. */
int brm_ctrrecord_remove(const char *dir, const char *name);
/* Calls EACH for every DIR/NAME directory whose name is a container name.
 * 0, or -errno when DIR cannot be read. */
int brm_ctrrecord_list(const char *dir, void (*each)(const char *name, void *arg), void *arg);

/* state.json (and its copy state.json.bak: see below). Saving writes
 * both. Loading replaces every counter of *STATE (0 when the file lacks
 * it), and reason and cgroup only when the file has them; a state out of
 * range reads as pending. Returns 0, or 1 when state.json was damaged or
 * missing and its copy was read (WHY then says what was wrong with which
 * file); -ENOENT when neither exists; -EINVAL when neither can be read
 * (WHY says what is wrong with each), -errno. On failure *STATE is
 * untouched. WHY is one line naming the files. */
int brm_ctrrecord_save_state(const char *dir, const char *name, const struct brm_ctrrecord_state *state);
int brm_ctrrecord_load_state(const char *dir, const char *name, struct brm_ctrrecord_state *state, char *why,
                             size_t why_size);
/* The text state.json holds (malloc'd; NULL when out of memory), and its
 * reader: 0, or -EINVAL with WHY saying what is wrong ("empty (0 bytes)",
 * "cut short (...)", "not JSON (...)"); *STATE is untouched then. */
char *brm_ctrrecord_state_text(const struct brm_ctrrecord_state *state);
int brm_ctrrecord_parse_state(const uint8_t *data, size_t len, struct brm_ctrrecord_state *state, char *why,
                              size_t why_size);

/* The spec as compared for "needs a new container" (JSON without the
 * stopped flag); this text is also what spec.json holds. A malloc'd string,
 * or NULL when out of memory. */
char *brm_ctrrecord_spec_key(const struct brm_container_spec *spec);
/* Replaces DIR/NAME/FILE with TEXT (rename, no fsync). */
int brm_ctrrecord_write(const char *dir, const char *name, const char *file, const char *text);
/* spec.json, the spec key of the last run, and its copy spec.json.bak. */
int brm_ctrrecord_save_run_key(const char *dir, const char *name, const char *key);
/* The spec key of the last run as a malloc'd string, exactly as stored.
 * Returns as brm_ctrrecord_load_state does (0, 1 from the copy, -ENOENT,
 * -EINVAL with WHY). */
int brm_ctrrecord_read_run_key(const char *dir, const char *name, char **ret_key, char *why, size_t why_size);
/* Whether DATA (NUL-terminated after LEN) is a spec key of container NAME:
 * a JSON object that is a valid spec with that name. 0, or -EINVAL with
 * WHY. */
int brm_ctrrecord_parse_run_key(const char *name, const uint8_t *data, size_t len, char *why, size_t why_size);

/* Removes exit, pid and shim.pid: what one run leaves behind. */
void brm_ctrrecord_clear_run(const char *dir, const char *name);
/* The exit file: -ENOENT, or -EINVAL when it does not hold at least CODE
 * and STARTED. */
int brm_ctrrecord_read_exit(const char *dir, const char *name, struct brm_ctrrecord_exit *ret);
/* The pid file: the container's init, > 0. -ENOENT, -EINVAL. */
int brm_ctrrecord_read_pid(const char *dir, const char *name, int *ret_pid);
/* What the bundle (config.json) runs: the root file system's path
 * (root.path) and the image's manifest digest (annotation
 * org.opencontainers.image.digest; "" when the image is a directory).
 * -ENOENT when there is no bundle, -EINVAL when it says neither. */
int brm_ctrrecord_read_image(const char *dir, const char *name, char *ret_rootfs, size_t rootfs_size,
                             char *ret_digest, size_t digest_size);
/* shim.pid: the shim's pid (> 0) and start time (field 22 of
 * /proc/PID/stat, which tells it from a later process with the same pid).
 * -ENOENT, -EINVAL. */
int brm_ctrrecord_read_shim(const char *dir, const char *name, int *ret_pid, unsigned long long *ret_start_time);
/* The last line of runtime.log (why the runtime could not start the
 * container), truncated to SIZE. -ENOENT, -ENODATA when it is empty. */
int brm_ctrrecord_runtime_error(const char *dir, const char *name, char *ret_line, size_t size);

/* desired.json: the whole desired set, fsynced. */
int brm_ctrrecord_save_desired(const char *dir, const struct brm_container_spec *specs, size_t n);
/* Calls EACH for every valid entry of desired.json (the spec lives for the
 * call only) and counts the invalid ones in *RET_INVALID (may be NULL).
 * 0 without a file; -EINVAL when it is damaged (not a JSON array, or too
 * large; EACH is then not called), -errno; WHY then names the file and
 * says what is wrong, on one line. */
int brm_ctrrecord_load_desired(const char *dir, void (*each)(const struct brm_container_spec *spec, void *arg),
                               void *arg, size_t *ret_invalid, char *why, size_t why_size);

/* Whether the records belong to the running boot: compares DIR/boot_id
 * with BOOT_ID_FILE (/proc/sys/kernel/random/boot_id) and records the
 * current one there. True when DIR/boot_id cannot be read (a first start:
 * nothing says otherwise). */
bool brm_ctrrecord_same_boot(const char *dir, const char *boot_id_file);

#endif
