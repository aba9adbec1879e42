#include "heartbeat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "logstream.h"
#include "netif.h"
#include "osupdate.h"
#include "workload.h"

void brm_heartbeat_init(struct brm_heartbeat *hb, const char *root, const char *disk_path, struct brm_workload *wl,
                        struct brm_logstream *logs)
{
        memset(hb, 0, sizeof(*hb));
        hb->root = root;
        hb->disk_path = disk_path;
        hb->wl = wl;
        hb->logs = logs;
        /* The first sample now, so that the first heartbeat has a
         * cpu_percent (it is a difference of two samples). */
        hb->has_prev = brm_metrics_cpu_sample(root, &hb->prev_cpu) == 0;
}

/* The images the node holds, so the master can say which nodes have an
 * image; refs come comma-joined from the fetch module's cache and are
 * split again only when they changed. */
static void fill_images(struct brm_heartbeat *hb, Bramble__Heartbeat *msg)
{
        const char *refs = brm_fetch_refs(hb->fetch);
        size_t n = 0, len = strlen(refs);
        char *buf, *p, *save;

        if (!hb->images_buf || hb->images_len != len || memcmp(hb->images_src, refs, len) != 0) {
                if (!(buf = malloc(2 * len + 2)))
                        return;
                free(hb->images_buf);
                hb->images_buf = buf;
                hb->images_src = buf + len + 1;
                hb->images_len = len;
                memcpy(hb->images_src, refs, len + 1);
                memcpy(buf, refs, len + 1);
                hb->n_images = 0;
                for (p = strtok_r(buf, ",", &save); p && n < BRM_HEARTBEAT_MAX_IMAGES; p = strtok_r(NULL, ",", &save))
                        hb->images[n++] = p;
                hb->n_images = n;
        }
        msg->images = hb->images;
        msg->n_images = hb->n_images;
}

int brm_heartbeat_build(struct brm_heartbeat *hb)
{
        struct brm_metrics *m = &hb->m;
        Bramble__Heartbeat *msg = &hb->msg;
        int r;

        r = brm_metrics_collect(hb->root, hb->disk_path, hb->has_prev ? &hb->prev_cpu : NULL, m);
        if (r < 0)
                return r;
        /* Within one clock tick of the last sample there is no difference
         * to report: keep the older sample so that the next one has one. */
        if (m->cpu.total && (!hb->has_prev || m->cpu.total != hb->prev_cpu.total)) {
                hb->prev_cpu = m->cpu;
                hb->has_prev = true;
        }
        bramble__heartbeat__init(msg);
        msg->has_seq = 1;
        msg->seq = ++hb->seq;
        /* The agent's own footprint, so it is visible fleet-wide. */
        if (brm_metrics_proc_rss(0, &msg->agent_rss_bytes) == 0)
                msg->has_agent_rss_bytes = 1;
        /* Each metric is set only when the node has it: absent, not zero. */
        if (m->has & BRM_M_UPTIME) {
                msg->has_uptime_ms = 1;
                msg->uptime_ms = m->uptime_ms;
        }
        if (m->has & BRM_M_BOOT_ID)
                msg->boot_id = m->boot_id;
        if (m->has & BRM_M_CPU) {
                msg->has_cpu_percent = 1;
                msg->cpu_percent = m->cpu_percent;
        }
        if (m->has & BRM_M_LOAD) {
                msg->has_load1 = msg->has_load5 = msg->has_load15 = 1;
                msg->load1 = m->load[0];
                msg->load5 = m->load[1];
                msg->load15 = m->load[2];
        }
        if (m->has & BRM_M_MEM) {
                msg->has_mem_total_bytes = msg->has_mem_available_bytes = 1;
                msg->mem_total_bytes = m->mem_total;
                msg->mem_available_bytes = m->mem_available;
        }
        if (m->has & BRM_M_DISK) {
                msg->has_disk_total_bytes = msg->has_disk_free_bytes = 1;
                msg->disk_total_bytes = m->disk_total;
                msg->disk_free_bytes = m->disk_free;
        }
        if (m->has & BRM_M_NET) {
                msg->has_net_rx_bytes = msg->has_net_tx_bytes = 1;
                msg->net_rx_bytes = m->net_rx;
                msg->net_tx_bytes = m->net_tx;
        }
        if (m->has & BRM_M_TEMP) {
                msg->has_temp_celsius = 1;
                msg->temp_celsius = m->temp_c;
        }
        if (m->has & BRM_M_THROTTLE) {
                Bramble__Throttle *t = &hb->throttle;
                uint32_t raw = m->throttle_raw;
                bramble__throttle__init(t);
                t->has_raw = 1;
                t->raw = raw;
                t->has_under_voltage = t->has_freq_capped = t->has_throttled = t->has_soft_temp_limit = 1;
                t->has_under_voltage_occurred = t->has_freq_capped_occurred = t->has_throttled_occurred =
                        t->has_soft_temp_limit_occurred = 1;
                t->under_voltage = !!(raw & BRM_THR_UNDER_VOLTAGE);
                t->freq_capped = !!(raw & BRM_THR_FREQ_CAPPED);
                t->throttled = !!(raw & BRM_THR_THROTTLED);
                t->soft_temp_limit = !!(raw & BRM_THR_SOFT_TEMP_LIMIT);
                t->under_voltage_occurred = !!(raw & BRM_THR_UNDER_VOLTAGE_OCCURRED);
                t->freq_capped_occurred = !!(raw & BRM_THR_FREQ_CAPPED_OCCURRED);
                t->throttled_occurred = !!(raw & BRM_THR_THROTTLED_OCCURRED);
                t->soft_temp_limit_occurred = !!(raw & BRM_THR_SOFT_TEMP_LIMIT_OCCURRED);
                msg->throttle = t;
        }
        if (hb->wl)
                brm_workload_fill_heartbeat(hb->wl, msg);
        if (hb->logs) {
                msg->has_log_streams = 1;
                msg->log_streams = brm_logstream_active(hb->logs);
        }
        if (hb->fetch)
                fill_images(hb, msg);
        if (hb->net_iface[0]) {
                int dbm;
                msg->net_iface = hb->net_iface;
                if (hb->net_wireless && brm_netif_signal(hb->root, hb->net_iface, &dbm) == 0) {
                        msg->has_wifi_signal_dbm = 1;
                        msg->wifi_signal_dbm = dbm;
                }
        }
        if (hb->net_addr[0])
                msg->net_addr = hb->net_addr;
        if (hb->osupdate && brm_osupdate_status(hb->osupdate, &hb->update))
                msg->update = &hb->update;
        return 0;
}

void brm_heartbeat_set_link(struct brm_heartbeat *hb, const struct sockaddr *local)
{
        const void *a = NULL;

        hb->net_iface[0] = hb->net_addr[0] = '\0';
        hb->net_wireless = false;
        if (!local)
                return;
        if (local->sa_family == AF_INET)
                a = &((const struct sockaddr_in *)local)->sin_addr;
        else if (local->sa_family == AF_INET6)
                a = &((const struct sockaddr_in6 *)local)->sin6_addr;
        if (!a || !inet_ntop(local->sa_family, a, hb->net_addr, sizeof(hb->net_addr)))
                hb->net_addr[0] = '\0';
        if (brm_netif_for_addr(local, hb->net_iface, sizeof(hb->net_iface)) < 0) {
                hb->net_iface[0] = '\0';
                return;
        }
        /* Whether to read the signal in each heartbeat: a wireless
         * interface has its line (with or without a signal yet), a wired
         * one never gets one. */
        int dbm;
        hb->net_wireless = brm_netif_signal(hb->root, hb->net_iface, &dbm) != -ENOENT;
}

void brm_heartbeat_free(struct brm_heartbeat *hb)
{
        free(hb->images_buf);
        hb->images_buf = NULL;
}

int brm_heartbeat_hello(struct brm_heartbeat *hb)
{
        int r = brm_heartbeat_node_info(&hb->info, hb->root);

        if (r < 0)
                bramble__node_info__init(&hb->info.msg); /* an empty one, still a valid message */
        if (hb->wl)
                brm_workload_fill_info(hb->wl, &hb->info.msg);
        if (hb->osupdate && brm_osupdate_status(hb->osupdate, &hb->info_update))
                hb->info.msg.update = &hb->info_update;
        return r;
}

int brm_heartbeat_node_info(struct brm_node_info *info, const char *root)
{
        struct brm_node_facts *f = &info->f;
        Bramble__NodeInfo *msg = &info->msg;
        char *p, *save = NULL;
        int r;

        memset(info, 0, sizeof(*info));
        if ((r = brm_metrics_facts(root, f)) < 0)
                return r;
        bramble__node_info__init(msg);
        msg->arch = f->arch[0] ? f->arch : NULL;
        msg->model = f->model[0] ? f->model : NULL;
        msg->serial = f->serial[0] ? f->serial : NULL;
        msg->kernel = f->kernel[0] ? f->kernel : NULL;
        msg->os = f->os[0] ? f->os : NULL;
        msg->os_version = f->os_version[0] ? f->os_version : NULL;
        msg->slot = f->slot[0] ? f->slot : NULL;
        if (f->mem_total) {
                msg->has_mem_total_bytes = 1;
                msg->mem_total_bytes = f->mem_total;
        }
        if (f->cpu_count) {
                msg->has_cpu_count = 1;
                msg->cpu_count = f->cpu_count;
        }
        if (f->cgroup_version) {
                msg->has_cgroup_version = 1;
                msg->cgroup_version = f->cgroup_version;
        }
        for (p = strtok_r(f->cgroup_controllers, " ", &save); p && msg->n_cgroup_controllers < 16;
             p = strtok_r(NULL, " ", &save))
                info->controllers[msg->n_cgroup_controllers++] = p;
        msg->cgroup_controllers = info->controllers;
        msg->agent_version = BRM_VERSION;
        return 0;
}
