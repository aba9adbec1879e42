/* bramble-master: the control plane. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "announce.h"
#include "upgrade.h"
#include "containers.h"
#include "datadir.h"
#include "err.h"
#include "fileio.h"
#include "imagestore.h"
#include "http.h"
#include "log.h"
#include "relay.h"
#include "restore.h"
#include "server.h"
#include "token.h"
#include "util.h"

#define MOD "master"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: bramble-master --data-dir DIR [--listen HOST:PORT] [--advertise NAME]...\n"
                "                      [--heartbeat-interval 2s] [--grace 4] [--cert-validity 720h]\n"
                "                      [--reschedule-after 0s] [--memory-reserve 64M]\n"
                "                      [--max-frame BYTES] [--max-unauthenticated N]\n"
                "                      [--max-unauthenticated-per-source N] [--snapshot-interval SECONDS]\n"
                "                      [--snapshot-keep N] [--http-listen HOST:PORT] [--http-max-connections N]\n"
                "                      [--no-announce] [--mdns-name NAME] [--log-level error|warn|info|debug]\n"
                "       bramble-master --data-dir DIR --restore SNAPSHOT\n"
                "\n"
                "  --data-dir DIR            state: cluster CA, SQLite database, admin.json (created on first start)\n"
                "  --listen HOST:PORT        address to serve nodes and operators on (default 0.0.0.0:7443)\n"
                "  --advertise NAME          a name or IP nodes and operators use to reach this master; repeatable.\n"
                "                            The first one goes into admin.json; all go into the server certificate\n"
                "  --heartbeat-interval DUR  interval agents are told to use (default 2s)\n"
                "  --grace N                 missed intervals before a node is NotReady (default 4)\n"
                "  --reschedule-after DUR    how long a node stays NotReady before its service replicas are\n"
                "                            placed elsewhere (default 0s: at once)\n"
                "  --memory-reserve SIZE     of each node's memory, kept out of the replicas' --memory\n"
                "                            reservations (default 64M)\n"
                "  --cert-validity DUR       lifetime of node certificates; agents renew at 2/3 (default 720h)\n"
                "  --max-frame BYTES         largest accepted frame (default 1048576)\n"
                "  --max-unauthenticated N   connections without a client certificate yet (in their handshake,\n"
                "                            or joining) the master serves at once (default 64)\n"
                "  --max-unauthenticated-per-source N\n"
                "                            of those, from one address (default 8)\n"
                "  --snapshot-interval SECONDS\n"
                "                            copy the database and CA into DIR/snapshots/TIME at start and then this\n"
                "                            often (default 3600; 0: never)\n"
                "  --snapshot-keep N         snapshots kept, the newest (default 24)\n"
                "  --http-listen HOST:PORT   also serve HTTPS here, with the master's certificate: /metrics for\n"
                "                            Prometheus and the dashboard (API tokens: 'bramble api-token', sign-in\n"
                "                            links: 'bramble dashboard'). Off by default\n"
                "  --http-max-connections N  HTTPS connections at once; a new one closes the oldest idle (default 128)\n"
                "  --no-announce             do not announce this master on mDNS (_bramble._tcp.local), which agents\n"
                "                            with \"master\": \"auto\" browse for\n"
                "  --mdns-name NAME          the announced instance name (default: the host name)\n"
                "  --restore SNAPSHOT        check SNAPSHOT (a directory in DIR/snapshots), move the current database\n"
                "                            and CA to DIR/before-restore-TIME, put the snapshot's in place and exit;\n"
                "                            the master must not be running\n");
}

static int die_arg(const char *opt, const char *val, const char *expected)
{
        fprintf(stderr, "bramble-master: invalid %s '%s': expected %s\n", opt, val, expected);
        return 2;
}

/* The one line a master prints when its state is damaged or missing:
 * what, which file, and what to do. */
static int die_state(const char *data_dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die_state(const char *data_dir, const char *fmt, ...)
{
        char hint[1200];
        va_list ap;

        brm_datadir_recovery_hint(data_dir, hint, sizeof(hint));
        fputs("bramble-master: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, ": %s\n", hint);
        return 1;
}

/* Before anything is opened (which would create what is missing): the
 * database must be sound, and the database and the CA must both exist or
 * both be new. A lost half is never replaced by an empty one, which would
 * silently make a new cluster nobody trusts. */
static int check_state(const char *dir)
{
        char detail[600], key[1100], crt[1100], db[1100];
        bool have_ca;
        int r;

        snprintf(key, sizeof(key), "%s/ca.key", dir);
        snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
        snprintf(db, sizeof(db), "%s/bramble.db", dir);
        have_ca = access(key, F_OK) == 0 || access(crt, F_OK) == 0;
        r = brm_store_verify(&brm_store_sqlite, dir, detail, sizeof(detail));
        if (r == BRM_STORE_DAMAGED)
                return die_state(dir, "database %s is damaged (quick_check: %s)", db, detail);
        if ((r == -ENOENT || r == -ENODATA) && have_ca)
                return die_state(dir, "database %s is %s but the cluster CA in %s exists, so its nodes and tokens "
                                 "are lost", db, r == -ENOENT ? "missing" : "empty", dir);
        if (r == 0 && !have_ca)
                return die_state(dir, "the cluster CA (%s, %s) is missing but database %s holds a cluster", key, crt,
                                 db);
        if (r < 0 && r != -ENOENT && r != -ENODATA) {
                fprintf(stderr, "bramble-master: cannot read database %s: %s (%s)\n", db, detail, brm_strerror(r));
                return 1;
        }
        return 0;
}

static int load_node(void *arg, const struct brm_node_rec *rec)
{
        return brm_registry_put(arg, rec, NULL);
}

static int first_token(struct brm_master *m)
{
        struct brm_token tok;
        struct brm_token_rec rec = { 0 };
        char text[BRM_TOKEN_MAX_LEN], path[1100], line[BRM_TOKEN_MAX_LEN + 2];
        int r;

        if ((r = brm_token_generate(m->ca.hash, &tok)) < 0)
                return r;
        snprintf(rec.id, sizeof(rec.id), "%s", tok.id);
        brm_token_hash_secret(tok.secret, rec.secret_hash);
        rec.created_ms = brm_now_ms();
        rec.expires_ms = rec.created_ms + 24LL * 3600 * 1000;
        snprintf(rec.description, sizeof(rec.description), "created at first start");
        if ((r = brm_store_token_add(m->store, &rec)) < 0)
                return r;
        brm_token_format(&tok, text);
        snprintf(line, sizeof(line), "%s\n", text);
        snprintf(path, sizeof(path), "%s/join-token", m->cfg.data_dir);
        return brm_file_write_atomic(path, line, strlen(line), 0600);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "data-dir", required_argument, NULL, 'd' },
                { "listen", required_argument, NULL, 'l' },
                { "advertise", required_argument, NULL, 'a' },
                { "heartbeat-interval", required_argument, NULL, 'i' },
                { "grace", required_argument, NULL, 'g' },
                { "cert-validity", required_argument, NULL, 'c' },
                { "max-frame", required_argument, NULL, 'f' },
                { "max-unauthenticated", required_argument, NULL, 'U' },
                { "max-unauthenticated-per-source", required_argument, NULL, 'S' },
                { "snapshot-interval", required_argument, NULL, 'I' },
                { "snapshot-keep", required_argument, NULL, 'K' },
                { "restore", required_argument, NULL, 'R' },
                { "reschedule-after", required_argument, NULL, 'A' },
                { "memory-reserve", required_argument, NULL, 'M' },
                { "log-level", required_argument, NULL, 'L' },
                { "http-listen", required_argument, NULL, 'H' },
                { "http-max-connections", required_argument, NULL, 'X' },
                { "no-announce", no_argument, NULL, 'N' },
                { "mdns-name", required_argument, NULL, 'D' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        struct brm_master m;
        struct brm_master_config *cfg = &m.cfg;
        char host[256], addr[300], detail[600], marker[1100], snap[BRM_SNAPSHOT_NAME_LEN + 1];
        const char *restore = NULL;
        long holder = 0;
        int lock_fd = -1;
        enum brm_log_level level;
        uint16_t port;
        uint64_t v;
        bool created = false;
        int c, r, rc = 1;

        memset(&m, 0, sizeof(m));
        snprintf(cfg->listen, sizeof(cfg->listen), "0.0.0.0:7443");
        /* A node that loses power is NotReady 6-8 s after its last heartbeat
         * (README, "Services": detection plus a restart within 15 s, and
         * three heartbeats lost in a row before an alarm). */
        cfg->heartbeat_interval_ms = 2000;
        cfg->grace_intervals = 4;
        cfg->memory_reserve = 64ull << 20;
        cfg->cert_validity_ms = 720ULL * 3600 * 1000;
        cfg->max_frame = BRM_FRAME_MAX_DEFAULT;
        cfg->max_unauth = BRM_ADMIT_MAX_DEFAULT;
        cfg->max_unauth_per_source = BRM_ADMIT_PER_SOURCE_DEFAULT;
        cfg->snapshot_interval_ms = 3600 * 1000;
        cfg->snapshot_keep = 24;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        if (strlen(optarg) >= sizeof(cfg->data_dir))
                                return die_arg("--data-dir", optarg, "a shorter path");
                        snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", optarg);
                        break;
                case 'l':
                        if (brm_parse_hostport(optarg, host, sizeof(host), &port) < 0 || strlen(optarg) >= sizeof(cfg->listen))
                                return die_arg("--listen", optarg, "HOST:PORT, e.g. 0.0.0.0:7443");
                        snprintf(cfg->listen, sizeof(cfg->listen), "%s", optarg);
                        break;
                case 'a':
                        if (cfg->n_advertise >= BRM_ARRAY_SIZE(cfg->advertise) || !*optarg || strlen(optarg) > 253 ||
                            strchr(optarg, ','))
                                return die_arg("--advertise", optarg, "a host name or IP address (at most 16)");
                        cfg->advertise[cfg->n_advertise++] = optarg;
                        break;
                case 'i':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 100 || v > 3600000)
                                return die_arg("--heartbeat-interval", optarg, "a duration between 100ms and 1h, e.g. 5s");
                        cfg->heartbeat_interval_ms = v;
                        break;
                case 'g':
                        if (brm_parse_u64(optarg, 1, 100, &v) < 0)
                                return die_arg("--grace", optarg, "a whole number of intervals from 1 to 100");
                        cfg->grace_intervals = (unsigned)v;
                        break;
                case 'c':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 60000 || v > 10ULL * 365 * 86400000)
                                return die_arg("--cert-validity", optarg, "a duration between 1m and 10 years, e.g. 720h");
                        cfg->cert_validity_ms = v;
                        break;
                case 'f':
                        if (brm_parse_u64(optarg, 1024, 64u << 20, &v) < 0)
                                return die_arg("--max-frame", optarg, "a byte count between 1024 and 67108864");
                        cfg->max_frame = (uint32_t)v;
                        break;
                case 'U':
                        if (brm_parse_u64(optarg, 1, 65536, &v) < 0)
                                return die_arg("--max-unauthenticated", optarg, "a number from 1 to 65536");
                        cfg->max_unauth = (unsigned)v;
                        break;
                case 'S':
                        if (brm_parse_u64(optarg, 1, 65536, &v) < 0)
                                return die_arg("--max-unauthenticated-per-source", optarg, "a number from 1 to 65536");
                        cfg->max_unauth_per_source = (unsigned)v;
                        break;
                case 'I':
                        if (brm_parse_u64(optarg, 0, 7 * 86400, &v) < 0)
                                return die_arg("--snapshot-interval", optarg,
                                               "whole seconds from 0 (never) to 604800 (a week), e.g. 3600");
                        cfg->snapshot_interval_ms = v * 1000;
                        break;
                case 'K':
                        if (brm_parse_u64(optarg, 1, 10000, &v) < 0)
                                return die_arg("--snapshot-keep", optarg, "a number of snapshots from 1 to 10000");
                        cfg->snapshot_keep = (unsigned)v;
                        break;
                case 'A':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v > 7 * 86400000ull)
                                return die_arg("--reschedule-after", optarg, "a duration from 0s to 7 days, e.g. 30s");
                        cfg->reschedule_after_ms = v;
                        break;
                case 'M':
                        if (brm_parse_size(optarg, &v) < 0 || v > (1ull << 40))
                                return die_arg("--memory-reserve", optarg, "a size such as 64M or 1G");
                        cfg->memory_reserve = v;
                        break;
                case 'H':
                        if (brm_parse_hostport(optarg, host, sizeof(host), &port) < 0 ||
                            strlen(optarg) >= sizeof(cfg->http_listen))
                                return die_arg("--http-listen", optarg, "HOST:PORT, e.g. 0.0.0.0:8443");
                        snprintf(cfg->http_listen, sizeof(cfg->http_listen), "%s", optarg);
                        break;
                case 'X':
                        if (brm_parse_u64(optarg, 4, 100000, &v) < 0)
                                return die_arg("--http-max-connections", optarg, "a number from 4 to 100000");
                        cfg->http_max_conns = (unsigned)v;
                        break;
                case 'N':
                        cfg->no_announce = true;
                        break;
                case 'D':
                        if (!brm_valid_node_name(optarg))
                                return die_arg("--mdns-name", optarg, "1-63 characters of a-z, 0-9 and '-'");
                        snprintf(cfg->mdns_name, sizeof(cfg->mdns_name), "%s", optarg);
                        break;
                case 'R':
                        if (!*optarg)
                                return die_arg("--restore", optarg, "a snapshot directory, e.g. DIR/snapshots/20260101T000000Z");
                        restore = optarg;
                        break;
                case 'L':
                        if (brm_log_parse_level(optarg, &level) < 0)
                                return die_arg("--log-level", optarg, "error, warn, info or debug");
                        brm_log_set_level(level);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "bramble-master: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (!cfg->data_dir[0]) {
                fprintf(stderr, "bramble-master: --data-dir is required\n");
                usage(stderr);
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        umask(077);
        if ((r = brm_mkdir_p(cfg->data_dir, 0700)) < 0) {
                fprintf(stderr, "bramble-master: cannot create data dir %s: %s\n", cfg->data_dir, brm_strerror(r));
                return 1;
        }
        if ((r = brm_pki_init()) < 0) {
                fprintf(stderr, "bramble-master: crypto initialisation failed\n");
                return 1;
        }
        /* One process at a time on a data dir: two masters would both write
         * the database, and a restore must not pull it from under one. */
        if ((r = brm_datadir_lock(cfg->data_dir, &lock_fd, &holder)) < 0) {
                if (r == -EBUSY && holder > 0)
                        fprintf(stderr, "bramble-master: %s is in use by a running bramble-master (pid %ld)%s\n",
                                cfg->data_dir, holder, restore ? ": stop it before --restore" : "");
                else if (r == -EBUSY)
                        fprintf(stderr, "bramble-master: %s is in use by a running bramble-master%s\n", cfg->data_dir,
                                restore ? ": stop it before --restore" : "");
                else
                        fprintf(stderr, "bramble-master: cannot lock %s/master.lock: %s\n", cfg->data_dir,
                                brm_strerror(r));
                return 1;
        }
        if (restore) {
                rc = brm_restore(&brm_store_sqlite, cfg->data_dir, restore);
                close(lock_fd);
                return rc;
        }
        snprintf(marker, sizeof(marker), "%s/" BRM_RESTORE_MARKER, cfg->data_dir);
        if (access(marker, F_OK) == 0) {
                fprintf(stderr, "bramble-master: %s: a restore into %s was interrupted: run bramble-master "
                        "--data-dir %s --restore with the same snapshot again (it is named in that file)\n", marker,
                        cfg->data_dir, cfg->data_dir);
                close(lock_fd);
                return 1;
        }
        brm_snapshot_cleanup(cfg->data_dir);
        if (check_state(cfg->data_dir) != 0) {
                close(lock_fd);
                return 1;
        }
        /* One descriptor per session: take what the system allows. */
        if ((r = brm_admit_raise_nofile(&v)) < 0)
                brm_warn(MOD, "cannot raise the open-file limit, keeping it: %s", brm_strerror(r));
        else
                brm_debug(MOD, "open-file limit %llu", (unsigned long long)v);
        m.loop = uv_default_loop();
        if ((r = brm_ca_open(&m.ca, cfg->data_dir, cfg->advertise, cfg->n_advertise, &created, detail,
                             sizeof(detail))) < 0) {
                if (r == -ENOENT || r == -EINVAL)
                        die_state(cfg->data_dir, "cluster CA unusable: %s", detail);
                else
                        fprintf(stderr, "bramble-master: cluster CA in %s unusable: %s\n", cfg->data_dir, detail);
                goto out_ca;
        }
        if ((r = brm_store_open(&brm_store_sqlite, cfg->data_dir, &m.store)) < 0) {
                if (r == BRM_STORE_DAMAGED)
                        die_state(cfg->data_dir, "database %s/bramble.db is damaged", cfg->data_dir);
                else
                        fprintf(stderr, "bramble-master: database %s/bramble.db unusable: %s%s\n", cfg->data_dir,
                                brm_strerror(r), r == -EPROTONOSUPPORT ? " (written by a newer bramble-master)" : "");
                goto out_ca;
        }
        if ((r = brm_imagestore_open(&m.images, cfg->data_dir, detail, sizeof(detail))) < 0) {
                fprintf(stderr, "bramble-master: %s\n", detail);
                goto out_store;
        }
        if ((r = brm_registry_init(&m.reg)) < 0 || (r = brm_store_node_list(m.store, load_node, &m.reg)) < 0) {
                if (r == BRM_STORE_DAMAGED)
                        die_state(cfg->data_dir, "database %s/bramble.db is damaged (reading its nodes failed)",
                                  cfg->data_dir);
                else
                        fprintf(stderr, "bramble-master: reading the nodes from %s/bramble.db failed: %s\n",
                                cfg->data_dir, brm_strerror(r));
                goto out_store;
        }
        if ((r = brm_services_open(&m)) < 0) {
                fprintf(stderr, "bramble-master: reading the services from %s/bramble.db failed: %s\n", cfg->data_dir,
                        brm_strerror(r));
                goto out_store;
        }
        brm_parse_hostport(cfg->listen, host, sizeof(host), &port);
        if (cfg->n_advertise)
                snprintf(addr, sizeof(addr), strchr(cfg->advertise[0], ':') ? "[%s]:%u" : "%s:%u", cfg->advertise[0], port);
        else
                snprintf(addr, sizeof(addr), "%s:%u",
                         strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ? "127.0.0.1" : host, port);
        if (created) {
                if ((r = brm_ca_write_admin(&m.ca, cfg->data_dir, addr)) < 0 || (r = first_token(&m)) < 0) {
                        fprintf(stderr, "bramble-master: writing admin credentials failed: %s\n", brm_strerror(r));
                        goto out_store;
                }
        }
        /* A snapshot of what was just checked and loaded, before anything
         * changes it: the first thing to go back to. */
        if (cfg->snapshot_interval_ms) {
                uint64_t t0 = brm_mono_ms();
                if ((r = brm_snapshot_take(m.store, cfg->data_dir, cfg->snapshot_keep, snap, detail,
                                           sizeof(detail))) < 0 && r != -EEXIST)
                        brm_warn(MOD, "snapshot at start failed, continuing without: %s", detail);
                else if (r == 0)
                        brm_info(MOD, "%s/" BRM_SNAPSHOT_DIR "/%s written in %llu ms", cfg->data_dir, snap,
                                 (unsigned long long)(brm_mono_ms() - t0));
        }
        mbedtls_ssl_config_init(&m.tls);
        if ((r = brm_tls_config(&m.tls, true, BRM_TLS_VERIFY_OPTIONAL, &m.ca.server)) < 0) {
                fprintf(stderr, "bramble-master: TLS setup failed: %s\n", brm_strerror(r));
                goto out_tls;
        }
        if (cfg->http_listen[0]) {
                if (!(m.http = calloc(1, sizeof(*m.http)))) {
                        fprintf(stderr, "bramble-master: out of memory\n");
                        goto out_tls;
                }
                m.http->max_conns = cfg->http_max_conns;
                if ((r = brm_webauth_load(&m.http->auth, m.store)) < 0) {
                        fprintf(stderr, "bramble-master: reading the API tokens from %s/bramble.db failed: %s\n",
                                cfg->data_dir, brm_strerror(r));
                        goto out_tls;
                }
        }
        if ((r = brm_server_start(&m)) < 0) {
                fprintf(stderr, "bramble-master: cannot listen on %s: %s\n", cfg->listen, uv_strerror(r));
                goto out_tls;
        }
        if ((r = brm_http_start(&m)) < 0) {
                fprintf(stderr, "bramble-master: cannot serve HTTPS on %s: %s\n", cfg->http_listen,
                        r == -EINVAL ? "not an address" : r > -4096 ? uv_strerror(r) : brm_strerror(r));
                brm_server_stop(&m);
                uv_run(m.loop, UV_RUN_DEFAULT);
                goto out_tls;
        }
        if ((r = brm_snapshots_start(&m.snap, m.loop, m.store, cfg->data_dir, cfg->snapshot_interval_ms,
                                     cfg->snapshot_keep)) < 0) {
                fprintf(stderr, "bramble-master: cannot start the snapshot timer: %s\n", uv_strerror(r));
                brm_server_stop(&m);
                uv_run(m.loop, UV_RUN_DEFAULT);
                goto out_tls;
        }
        if (created)
                printf("bramble-master: created a new cluster in %s\n"
                       "  operator credentials: %s/admin.json   (export BRAMBLE_CONFIG=%s/admin.json)\n"
                       "  a join token valid for 24h is in %s/join-token; make more with 'bramble token create'\n",
                       cfg->data_dir, cfg->data_dir, cfg->data_dir, cfg->data_dir);
        fflush(stdout);
        brm_info(MOD, "listening on %s (%zu nodes known, heartbeat %llums, grace %u; at most %u unauthenticated "
                 "connections, %u per address)", cfg->listen, m.reg.count, (unsigned long long)cfg->heartbeat_interval_ms,
                 cfg->grace_intervals, cfg->max_unauth, cfg->max_unauth_per_source);
        brm_announce_start(&m);
        if ((r = brm_upgrade_open(&m, &m.upgrade)) < 0) {
                fprintf(stderr, "bramble-master: %s\n", brm_strerror(r));
                goto out_tls;
        }
        uv_run(m.loop, UV_RUN_DEFAULT);
        brm_info(MOD, "stopped");
        rc = 0;
out_tls:
        if (m.http) {
                brm_http_free(&m);
                free(m.http);
        }
        mbedtls_ssl_config_free(&m.tls);
out_store:
        brm_services_close(&m);
        brm_containers_free(&m);
        brm_relay_free(&m);
        brm_registry_free(&m.reg);
        brm_store_close(m.store);
out_ca:
        brm_ca_close(&m.ca);
        uv_loop_close(m.loop);
        close(lock_fd);
        return rc;
}
