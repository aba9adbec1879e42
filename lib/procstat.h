/* What the agent and bramble-shim read from /proc/PID/stat. Plain libc,
 * no heap, so the shim can use it. */
#ifndef BRM_PROCSTAT_H
#define BRM_PROCSTAT_H

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot. With the pid it names a process uniquely, so a restarted
 * agent does not mistake a recycled pid for its shim. 0, or -errno (-ESRCH
 * when there is no such process, -EINVAL when the line does not parse). */
int brm_procstat_start_time(int pid, unsigned long long *ret_ticks);

#endif
