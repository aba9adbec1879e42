/* The node's reports to the master, assembled: the Heartbeat (metrics from
 * /proc and /sys, the containers' statuses, the log streams being served)
 * and the NodeInfo of the Hello (the node's facts and its container
 * runtime). The link sends them; the modules that know the parts are
 * given at init. Does not log. */
#ifndef BRM_HEARTBEAT_H
#define BRM_HEARTBEAT_H

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "bramble.pb-c.h"
#include "metrics.h"

struct brm_workload;
struct brm_logstream;

struct brm_node_info {
        struct brm_node_facts f;
        char *controllers[16];
        Bramble__NodeInfo msg;
};

#define BRM_HEARTBEAT_MAX_IMAGES 64

struct brm_fetch;
struct brm_osupdate;

struct brm_heartbeat {
        const char *root;
        const char *disk_path;
        struct brm_workload *wl;   /* container statuses and runtime facts */
        struct brm_logstream *logs; /* NULL when the node's logs are unusable */
        struct brm_cpu_times prev_cpu;
        bool has_prev;
        uint64_t seq;
        struct brm_metrics m;      /* storage the message points into */
        Bramble__Heartbeat msg;
        Bramble__Throttle throttle;
        struct brm_node_info info; /* storage the Hello's NodeInfo points into */
        struct brm_fetch *fetch;   /* the images the node holds; NULL: none told */
        char *images_buf;          /* storage msg.images points into, then images_src */
        char *images_src;          /* the refs as the fetch module gave them */
        size_t images_len, n_images;
        char *images[BRM_HEARTBEAT_MAX_IMAGES];
        char net_iface[IF_NAMESIZE];  /* the link's interface; "" = unknown */
        char net_addr[INET6_ADDRSTRLEN];
        bool net_wireless;         /* /proc/net/wireless has a line for net_iface */
        struct brm_osupdate *osupdate; /* the OS update's state; NULL: none told */
        Bramble__UpdateStatus update, info_update;
};

/* WL and LOGS may be NULL; they are only read while building. */
void brm_heartbeat_init(struct brm_heartbeat *hb, const char *root, const char *disk_path, struct brm_workload *wl,
                        struct brm_logstream *logs);
/* Samples now and fills hb->msg (valid until the next call); returns 0 or
 * -errno. */
int brm_heartbeat_build(struct brm_heartbeat *hb);
/* Fills hb->info.msg for the Hello; returns 0, or -errno when the node
 * facts could not be read (the message then holds what could). */
int brm_heartbeat_hello(struct brm_heartbeat *hb);
/* The link to the master now runs from local address LOCAL (NULL: no
 * link): its interface and address go into the heartbeats, with the Wi-Fi
 * signal when the interface is wireless. */
void brm_heartbeat_set_link(struct brm_heartbeat *hb, const struct sockaddr *local);
/* Frees what building kept (accepts a heartbeat never built). */
void brm_heartbeat_free(struct brm_heartbeat *hb);

/* Fills info->msg from the node facts under root. */
int brm_heartbeat_node_info(struct brm_node_info *info, const char *root);

#endif
