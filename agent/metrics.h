/* Node metrics and facts read from /proc and /sys.
 *
 * Every reader takes a root prefix ("" or "/" for the live system, a fixture
 * directory in tests) so that the same code runs against recorded Raspberry Pi
 * trees. A metric the node does not have is reported absent (its BRM_M_* bit
 * clear), never as zero. Readers do not log; they return negative errno. */
#ifndef BRM_METRICS_H
#define BRM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Presence bits for struct brm_metrics.has. */
enum {
        BRM_M_UPTIME = 1u << 0,
        BRM_M_BOOT_ID = 1u << 1,
        BRM_M_CPU = 1u << 2,        /* cpu_percent valid (needs a previous sample) */
        BRM_M_LOAD = 1u << 3,
        BRM_M_MEM = 1u << 4,        /* mem_total and mem_available */
        BRM_M_DISK = 1u << 5,
        BRM_M_NET = 1u << 6,
        BRM_M_TEMP = 1u << 7,
        BRM_M_THROTTLE = 1u << 8,   /* throttle_raw valid (get_throttled bit layout) */
};

/* Raspberry Pi firmware get_throttled bits. */
enum {
        BRM_THR_UNDER_VOLTAGE = 1u << 0,
        BRM_THR_FREQ_CAPPED = 1u << 1,
        BRM_THR_THROTTLED = 1u << 2,
        BRM_THR_SOFT_TEMP_LIMIT = 1u << 3,
        BRM_THR_UNDER_VOLTAGE_OCCURRED = 1u << 16,
        BRM_THR_FREQ_CAPPED_OCCURRED = 1u << 17,
        BRM_THR_THROTTLED_OCCURRED = 1u << 18,
        BRM_THR_SOFT_TEMP_LIMIT_OCCURRED = 1u << 19,
};

/* Aggregate CPU jiffies from the "cpu " line of /proc/stat. */
struct brm_cpu_times {
        uint64_t busy;  /* user+nice+system+irq+softirq+steal */
        uint64_t total; /* busy + idle + iowait */
};

struct brm_metrics {
        uint32_t has;
        uint64_t uptime_ms;
        char boot_id[40];
        struct brm_cpu_times cpu; /* always filled when /proc/stat is readable */
        float cpu_percent;        /* 0..100 across all cores */
        float load[3];
        uint64_t mem_total;
        uint64_t mem_available;
        uint64_t disk_total;
        uint64_t disk_free;       /* available to unprivileged users (f_bavail) */
        uint64_t net_rx;          /* sum over interfaces other than lo */
        uint64_t net_tx;
        float temp_c;
        uint32_t throttle_raw;
};

/* What the node is: sent once per connection. Empty string = unknown. */
struct brm_node_facts {
        char arch[32];            /* uname machine, e.g. aarch64 */
        char model[128];          /* /proc/device-tree/model, NUL stripped */
        char serial[64];          /* device-tree serial-number or cpuinfo Serial */
        char kernel[128];         /* /proc/sys/kernel/osrelease */
        char os[128];             /* /etc/os-release PRETTY_NAME */
        char os_version[64];      /* os-release IMAGE_VERSION: the Bramble image's version */
        char slot[8];             /* bramble.slot= of /proc/cmdline: the root slot booted (a, b) */
        bool tryboot;             /* bramble.tryboot=1: this boot is the one try of that slot */
        uint64_t mem_total;       /* 0 = unknown */
        unsigned cpu_count;       /* 0 = unknown */
        unsigned cgroup_version;  /* 2, 1, or 0 = unknown */
        char cgroup_controllers[256]; /* space-separated available controllers */
};

/* Text parsers: pure functions over a buffer, used by the readers and fuzzed.
 * Each returns 0 on success, -EINVAL when the text has no usable value. */
int brm_metrics_parse_stat(const char *text, struct brm_cpu_times *ret);
int brm_metrics_parse_meminfo(const char *text, uint64_t *ret_total, uint64_t *ret_available);
int brm_metrics_parse_loadavg(const char *text, float ret_load[3]);
int brm_metrics_parse_uptime(const char *text, uint64_t *ret_ms);
int brm_metrics_parse_netdev(const char *text, uint64_t *ret_rx, uint64_t *ret_tx);
int brm_metrics_parse_cpuinfo_serial(const char *text, char *ret, size_t size);
int brm_metrics_parse_os_release(const char *text, char *ret, size_t size);
/* Any os-release(5) field, e.g. "IMAGE_VERSION". */
int brm_metrics_parse_os_release_field(const char *text, const char *key, char *ret, size_t size);
/* The value of KEY=VALUE on a kernel command line (/proc/cmdline); the
 * last one wins. -EINVAL when absent, empty or too long for ret. */
int brm_metrics_parse_cmdline_param(const char *text, const char *key, char *ret, size_t size);

/* CPU use between two samples in percent (0..100); -EINVAL if no time passed
 * or the counters went backwards. */
/* The resident memory (VmRSS) of process pid, 0 for this one, from
 * /proc/PID/statm of the running system: 0, or -errno (ret untouched). */
int brm_metrics_proc_rss(int pid, uint64_t *ret_bytes);

/* Reads the CPU counters of /proc/stat under root: 0, or -errno (ret
 * untouched). A first sample at start gives the first heartbeat a
 * cpu_percent. */
int brm_metrics_cpu_sample(const char *root, struct brm_cpu_times *ret);
int brm_metrics_cpu_percent(const struct brm_cpu_times *prev, const struct brm_cpu_times *cur,
                            float *ret_percent);

/* Reads everything available under root. disk_path is the file system whose
 * size is reported (the state dir), read with statvfs and not root-prefixed.
 * prev may be NULL (then BRM_M_CPU stays clear). Returns 0 even when some
 * metrics are absent; -errno only if nothing at all could be read. */
int brm_metrics_collect(const char *root, const char *disk_path, const struct brm_cpu_times *prev,
                        struct brm_metrics *ret);

/* Reads the node facts under root; arch comes from uname(2) unless
 * root/proc/sys/kernel/arch exists (fixtures provide it). Returns 0. */
int brm_metrics_facts(const char *root, struct brm_node_facts *ret);

#endif
