/* bramble-agent: the node daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "err.h"
#include "fileio.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define MOD "agent"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: bramble-agent [--config FILE] [--master HOST:PORT|auto]... [--token TOKEN] [--name NAME]\n"
                "                     [--state-dir DIR] [--heartbeat-interval 5s] [--log-level LEVEL]\n"
                "                     [--runtime RUNTIME] [--log-max-size 10M] [--log-max-files 3]\n"
                "                     [--log-budget 512M] [--log-retention 1h] [--log-reserve 4M]\n"
                "                     [--image-gc-free 512M] [--os-update-hook PATH]\n"
                "\n"
                "The config file is JSON with the fields master (string or list), token, name, state_dir,\n"
                "heartbeat_interval, log_level, runtime (crun, runc or a path; default: the first that works\n"
                "here), seccomp_profile (default /usr/share/containers/seccomp.json), log_max_size, log_max_files,\n"
                "log_budget, log_retention, log_reserve, image_gc_free (unused images are removed when free space\n"
                "on the images' file system is below it; 0: never), os_update_hook (the Bramble image's slot\n"
                "writer; without it the node refuses OS updates). Flags override the file. The token is needed\n"
                "only for the first start; later starts use the identity stored in the state dir. master \"auto\"\n"
                "(also when master is missing and a token is set) finds the master on the LAN by mDNS; a master\n"
                "whose CA is not the one pinned by the token (or the stored ca.crt) is refused.\n");
}

/* ---- wiring ---- */

/* A removed container's followers finish; its log now counts as removed. */
static void container_removed(const char *name, const char *moved_to, void *arg)
{
        struct brm_agent *a = arg;

        if (a->logs)
                brm_logstream_container_removed(a->logs, name, moved_to);
        if (a->retention)
                brm_logretention_sweep(a->retention);
}

/* What the image collection must keep: every container's image (its
 * cluster reference, its bundle's root file system and digest) and the
 * blobs of fetches under way. */
static void keep_container(const char *ref, const char *rootfs, const char *digest, bool starting, void *arg)
{
        struct brm_imagegc_keep *k = arg;

        if (ref && ref[0] != '/')
                brm_imagegc_keep_ref(k, ref);
        else if (ref && starting)
                k->hold_rootfs = true; /* which root file system it unpacks is known only after */
        brm_imagegc_keep_digest(k, rootfs);
        brm_imagegc_keep_digest(k, digest);
}

static void keep_blob(const char *hex, void *arg)
{
        brm_imagegc_keep_digest(arg, hex);
}

static void images_in_use(struct brm_imagegc_keep *k, void *arg)
{
        struct brm_agent *a = arg;

        /* Without a supervisor the containers' needs are not known (their
         * records were not loaded): nothing is collected. */
        if (!a->wl.sup) {
                k->error = -EAGAIN;
                return;
        }
        brm_supervisor_images(a->wl.sup, keep_container, k);
        brm_fetch_blobs(a->fetch, keep_blob, k);
        brm_osupdate_blobs(a->osupdate, keep_blob, k);
}

/* Log streams go out on the session while there is one. */
static void session(void *arg, struct brm_conn *conn)
{
        struct brm_agent *a = arg;

        if (a->wl.sup)
                brm_supervisor_set_master(a->wl.sup, conn != NULL);
        if (a->logs)
                brm_logstream_attach(a->logs, conn);
        brm_fetch_attach(a->fetch, conn);
        brm_osupdate_session(a->osupdate, conn);
}

static void drained(void *arg)
{
        struct brm_agent *a = arg;

        if (a->logs)
                brm_logstream_drained(a->logs);
}

/* The log directory, the stream server, the sweep and the agent's own
 * log; without a usable directory the agent runs without them. */
static void open_logs(struct brm_agent *a)
{
        char logdir[1100], kmsg[1100];
        int r;

        snprintf(logdir, sizeof(logdir), "%s/logs", a->cfg.state_dir);
        snprintf(kmsg, sizeof(kmsg), "%s/dev/kmsg", a->cfg.root);
        struct brm_logstream_opts lo = {
                .loop = a->loop, .dir = &a->logdir, .kmsg = kmsg, .max_files = a->cfg.log_max_files,
        };
        struct brm_logretention_opts ro = {
                .loop = a->loop, .dir = &a->logdir, .budget = a->cfg.log_budget, .retention_ms = a->cfg.log_retention_ms,
                .reserve = a->cfg.log_reserve,
        };
        if ((r = brm_logdir_init(&a->logdir, logdir)) < 0 || (r = brm_logdir_create(&a->logdir)) < 0 ||
            (r = brm_logstream_open(&lo, &a->logs)) < 0 || (r = brm_logretention_open(&ro, &a->retention)) < 0)
                brm_warn(MOD, "logs directory %s unusable: %s; logs cannot be streamed", logdir, brm_strerror(r));
        else
                brm_agentlog_open(&a->agentlog, &a->logdir, a->cfg.log_max_size, a->cfg.log_max_files,
                                  a->cfg.log_reserve);
}

/* Cluster images come into STATE/images/layout; without it the node runs
 * only images given by path. */
static void open_fetch(struct brm_agent *a)
{
        char images[1100];
        int r;

        snprintf(images, sizeof(images), "%s/images", a->cfg.state_dir);
        const struct brm_fetch_opts o = { .loop = a->loop, .images_dir = images };
        if ((r = brm_fetch_open(&o, &a->fetch)) < 0)
                brm_warn(MOD, "image layout in %s unusable: %s; images from the master cannot be fetched", images,
                         brm_strerror(r));
}

/* OS updates: what the node booted, and what an update under way left. */
static int open_osupdate(struct brm_agent *a)
{
        struct brm_node_facts f;

        if (brm_metrics_facts(a->cfg.root, &f) < 0)
                memset(&f, 0, sizeof(f));
        const struct brm_osupdate_opts o = {
                .loop = a->loop, .state_dir = a->cfg.state_dir, .hook = a->cfg.os_update_hook, .fetch = a->fetch,
                .id = &a->id, .machine = f.arch, .slot = f.slot, .tryboot = f.tryboot, .os_version = f.os_version,
        };
        return brm_osupdate_open(&o, &a->osupdate);
}

/* The link, with the modules that take the master's messages. */
static int start_link(struct brm_agent *a)
{
        const struct brm_link_handler handlers[] = {
                { BRAMBLE__ENVELOPE__MSG_DESIRED, brm_workload_handle_desired, &a->wl },
                { BRAMBLE__ENVELOPE__MSG_CONTAINER_CHECK, brm_workload_handle_check, &a->wl },
                { BRAMBLE__ENVELOPE__MSG_LOGS, brm_logstream_handle, a->logs },
                { BRAMBLE__ENVELOPE__MSG_LOG_CREDIT, brm_logstream_handle, a->logs },
                { BRAMBLE__ENVELOPE__MSG_LOG_CLOSE, brm_logstream_handle, a->logs },
                { BRAMBLE__ENVELOPE__MSG_IMAGE_RESOLVED, brm_fetch_handle, a->fetch },
                { BRAMBLE__ENVELOPE__MSG_BLOB_DATA, brm_fetch_handle, a->fetch },
                { BRAMBLE__ENVELOPE__MSG_BLOB_END, brm_fetch_handle, a->fetch },
                { BRAMBLE__ENVELOPE__MSG_NODE_UPGRADE, brm_osupdate_handle, a->osupdate },
                /* Refusals of the fetch's requests (link.h). */
                { BRAMBLE__ENVELOPE__MSG_ERROR, brm_fetch_handle, a->fetch },
        };
        const struct brm_link_opts o = {
                .loop = a->loop, .cfg = &a->cfg, .id = &a->id, .token = &a->token, .hb = &a->hb,
                .handlers = handlers, .n_handlers = BRM_ARRAY_SIZE(handlers),
                .on_session = session, .on_drained = drained, .arg = a,
        };

        return brm_link_start(&o, &a->link);
}

/* Unused images go when the images' file system runs short. Opened also
 * with image_gc_free 0: what a collection before left is swept then too. */
static void open_imagegc(struct brm_agent *a)
{
        char images[1100];
        int r;

        snprintf(images, sizeof(images), "%s/images", a->cfg.state_dir);
        const struct brm_imagegc_opts o = {
                .loop = a->loop, .images_dir = images, .threshold = a->cfg.image_gc_free, .in_use = images_in_use, .arg = a,
        };
        if ((r = brm_imagegc_open(&o, &a->imagegc)) < 0)
                brm_warn(MOD, "unused images cannot be collected: %s", brm_strerror(r));
}

static void on_signal(uv_signal_t *sig, int signum)
{
        struct brm_agent *a = sig->data;

        brm_info(MOD, "signal %d: stopping", signum);
        a->stopping = true;
        brm_link_stop(a->link);
        a->link = NULL;
        brm_agentlog_close(&a->agentlog);
        brm_logstream_close(a->logs);
        a->logs = NULL;
        brm_logretention_close(a->retention);
        a->retention = NULL;
        brm_imagegc_close(a->imagegc);
        a->imagegc = NULL;
        /* Containers keep running: they belong to the node, not to us. */
        brm_workload_close(&a->wl);
        a->hb.osupdate = NULL;
        brm_osupdate_close(a->osupdate);
        a->osupdate = NULL;
        /* After the supervisor: its pulls end as the agent stopping, not
         * as failed containers. */
        a->hb.fetch = NULL;
        brm_fetch_close(a->fetch);
        a->fetch = NULL;
        uv_close((uv_handle_t *)&a->sigint, NULL);
        uv_close((uv_handle_t *)&a->sigterm, NULL);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "master", required_argument, NULL, 'm' },
                { "token", required_argument, NULL, 't' },
                { "name", required_argument, NULL, 'n' },
                { "state-dir", required_argument, NULL, 's' },
                { "heartbeat-interval", required_argument, NULL, 'i' },
                { "log-level", required_argument, NULL, 'L' },
                { "root", required_argument, NULL, 'r' },
                { "runtime", required_argument, NULL, 'R' },
                { "log-max-size", required_argument, NULL, 1001 },
                { "log-max-files", required_argument, NULL, 1002 },
                { "log-budget", required_argument, NULL, 1003 },
                { "log-retention", required_argument, NULL, 1004 },
                { "log-reserve", required_argument, NULL, 1005 },
                { "image-gc-free", required_argument, NULL, 1006 },
                { "os-update-hook", required_argument, NULL, 1007 },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        static const struct {
                int opt;
                const char *field;
                const char *flag;
        } flag_fields[] = {
                { 'm', "master", "--master" },
                { 't', "token", "--token" },
                { 'n', "name", "--name" },
                { 's', "state_dir", "--state-dir" },
                { 'i', "heartbeat_interval", "--heartbeat-interval" },
                { 'L', "log_level", "--log-level" },
                { 'r', "root", "--root" },
                { 'R', "runtime", "--runtime" },
                { 1001, "log_max_size", "--log-max-size" },
                { 1002, "log_max_files", "--log-max-files" },
                { 1003, "log_budget", "--log-budget" },
                { 1004, "log_retention", "--log-retention" },
                { 1005, "log_reserve", "--log-reserve" },
                { 1006, "image_gc_free", "--image-gc-free" },
                { 1007, "os_update_hook", "--os-update-hook" },
        };
        struct brm_agent a;
        const char *config_path = NULL;
        char err[1600];
        enum brm_log_level level;
        bool flag_masters = false;
        int c, r;

        memset(&a, 0, sizeof(a));
        brm_agent_config_defaults(&a.cfg);
        /* The file first, so flags can override it. */
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
                        config_path = argv[i + 1];
                else if (strncmp(argv[i], "--config=", 9) == 0)
                        config_path = argv[i] + 9;
        }
        if (config_path) {
                uint8_t *text;
                size_t len;
                r = brm_file_read(config_path, 1 << 20, &text, &len);
                if (r < 0) {
                        fprintf(stderr, "bramble-agent: cannot read config %s: %s\n", config_path, brm_strerror(r));
                        return 2;
                }
                r = brm_agent_config_parse_json(&a.cfg, (char *)text, err, sizeof(err));
                free(text);
                if (r < 0) {
                        fprintf(stderr, "bramble-agent: config %s: %s\n", config_path, err);
                        return 2;
                }
        }
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'h') {
                        usage(stdout);
                        return 0;
                }
                if (c == 'c')
                        continue;
                if (c == '?') {
                        usage(stderr);
                        return 2;
                }
                if (c == 'm' && !flag_masters) {
                        a.cfg.n_masters = 0; /* flags replace the file's list */
                        a.cfg.master_auto = false;
                        flag_masters = true;
                }
                for (size_t i = 0; i < BRM_ARRAY_SIZE(flag_fields); i++) {
                        if (flag_fields[i].opt != c)
                                continue;
                        if (brm_agent_config_set(&a.cfg, flag_fields[i].field, optarg, err, sizeof(err)) < 0) {
                                fprintf(stderr, "bramble-agent: %s: %s\n", flag_fields[i].flag, err);
                                return 2;
                        }
                }
        }
        if (optind < argc) {
                fprintf(stderr, "bramble-agent: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (brm_agent_config_finish(&a.cfg, err, sizeof(err)) < 0) {
                fprintf(stderr, "bramble-agent: config: %s\n", err);
                return 2;
        }
        if (brm_log_parse_level(a.cfg.log_level, &level) == 0)
                brm_log_set_level(level);
        signal(SIGPIPE, SIG_IGN);
        umask(077);
        if (brm_pki_init() < 0) {
                fprintf(stderr, "bramble-agent: crypto initialisation failed\n");
                return 1;
        }
        if ((r = brm_identity_load(&a.id, a.cfg.state_dir, err, sizeof(err))) < 0) {
                fprintf(stderr, "bramble-agent: %s\n", err);
                brm_identity_free(&a.id);
                return 1;
        }
        if (!a.id.joined) {
                if (!a.cfg.token[0]) {
                        fprintf(stderr,
                                "bramble-agent: not joined yet and no join token: set \"token\" in the config or pass --token\n");
                        brm_identity_free(&a.id);
                        return 2;
                }
                brm_token_parse(a.cfg.token, &a.token);
                a.has_token = true;
        }
        a.loop = uv_default_loop();
        open_logs(&a);
        open_fetch(&a);
        brm_heartbeat_init(&a.hb, a.cfg.root, a.cfg.state_dir, &a.wl, a.logs);
        a.hb.fetch = a.fetch;
        if ((r = open_osupdate(&a)) < 0) {
                fprintf(stderr, "bramble-agent: %s\n", brm_strerror(r));
                return 1;
        }
        a.hb.osupdate = a.osupdate;
        uv_signal_init(a.loop, &a.sigint);
        uv_signal_init(a.loop, &a.sigterm);
        a.sigint.data = a.sigterm.data = &a;
        uv_signal_start(&a.sigint, on_signal, SIGINT);
        uv_signal_start(&a.sigterm, on_signal, SIGTERM);
        if ((r = start_link(&a)) < 0) {
                fprintf(stderr, "bramble-agent: %s\n", brm_strerror(r));
                return 1;
        }
        brm_workload_open(&a.wl, a.loop, &a.cfg, a.fetch, container_removed, &a);
        if (a.logs)
                brm_logstream_set_known(a.logs, brm_workload_has, &a.wl);
        open_imagegc(&a);
        brm_info(MOD, "node %s starting (%s), master %s%s", a.cfg.name, a.id.joined ? "joined" : "will join",
                 a.cfg.master_auto ? "auto (found by mDNS)" : a.cfg.masters[0], a.cfg.n_masters > 1 ? " and others" : "");
        uv_run(a.loop, UV_RUN_DEFAULT);
        uv_loop_close(a.loop);
        brm_heartbeat_free(&a.hb);
        brm_identity_free(&a.id);
        return 0;
}
