/* The container-supervision test program (supervise.c): the harness its
 * scenarios and benchmarks share (harness.c), the scenarios (scenarios.c)
 * and the benchmarks (bench.c). Private to tests/containers. */
#ifndef BRM_TEST_SUPERVISE_H
#define BRM_TEST_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "check.h"
#include "logrec.h"
#include "util.h"
#include "supervisor.h"

/* The work directory, the agent's state dir, the test root file system,
 * the snapshot file and the shim; the cgroup root under test. */
extern char sv_work[64], sv_state[128], sv_rootfs[128], sv_snap[128], sv_shim[512];
extern const char *sv_cgroup_root;

/* One container in the agent child's latest snapshot. */
struct sv_snap {
        char name[64];
        int state, pid, has_exit, exit_code;
        unsigned restarts, oom_kills;
        int has_cpu, has_mem;
        double cpu;
        unsigned long long mem;
        int has_cpu_usage;
        unsigned long long cpu_usage_usec; /* the cgroup's cumulative CPU time */
        char reason[160];
        char health[16];          /* "-" without a check */
        unsigned health_failures;
        long long since_ms;
        char health_log[200];
};

/* A container's stored output, read whole. */
struct sv_logfile {
        uint8_t *text;
        size_t len, n;
        int bad;
        struct brm_logrec *r;
};

pid_t sv_agent_start(const struct brm_container_spec *specs, long n);
/* The agent children's log lines go to sv_work/agent.log as well: whether
 * one holds TEXT; forgetting what earlier agents logged. */
bool sv_agent_log_has(const char *text);
void sv_agent_log_clear(void);
void sv_agent_kill(pid_t pid, int sig);
bool sv_get(const char *name, struct sv_snap *ret);
void sv_sleep_ms(long ms);
void sv_sh(const char *cmd);
struct brm_container_spec sv_spec(const char *name, const char *image, enum brm_restart restart, const char *script);
void sv_setup(void);
void sv_teardown(void);
void sv_cgroup_file(const char *name, const char *ctl, const char *file, char *out, size_t size);
unsigned long long sv_read_ull(const char *path);
bool sv_alive(int pid);
void sv_check_no_zombies(pid_t agent);
bool sv_log_load(const char *dir, const char *name, struct sv_logfile *lf);
void sv_log_free(struct sv_logfile *lf);

void scenario_oom(void);
void scenario_pids(void);
void scenario_cpu(void);
void scenario_readopt(void);
void scenario_desired(void);
void scenario_refuse(void);
void scenario_image(const char *image);
void scenario_logs(void);
void scenario_confine(void);
void scenario_records(void);

void scenario_health_exec(void);
void scenario_health_http(void);
void scenario_health_timeout(void);
void scenario_stopafter(void);

void bench_logs(int seconds);
void bench_start(int rounds);
void bench_memory(int n);

/* Waits until COND (over `s`, the container's snapshot) holds. */
#define WAIT_FOR(name, s, cond, timeout_ms, what)                                                           \
        do {                                                                                                 \
                uint64_t t0_ = brm_mono_ms();                                                                \
                for (;;) {                                                                                   \
                        if (sv_get(name, &s) && (cond))                                                         \
                                break;                                                                       \
                        if (brm_mono_ms() - t0_ > (timeout_ms))                                              \
                                CHECK_FAIL_("timed out after %d ms waiting for %s: %s (state %d pid %d "     \
                                            "restarts %u exit %d oom %u reason '%s' health %s log '%s')",     \
                                            (int)(timeout_ms), name, what, s.state, s.pid, s.restarts,       \
                                            s.exit_code, s.oom_kills, s.reason, s.health, s.health_log);     \
                        sv_sleep_ms(50);                                                                        \
                }                                                                                            \
        } while (0)

#endif
