/* brm_loadgen: options, and every node's key before anything is timed
 * (see loadgen.h). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "loadgen.h"
#include "pki.h"
#include "util.h"

int brm_lg_make_nodes(struct lg *lg)
{
        uint64_t t = brm_mono_ms();

        lg->nodes = calloc(lg->n, sizeof(*lg->nodes));
        lg->join_lat = calloc(lg->n, sizeof(*lg->join_lat));
        lg->conn_lat = calloc(lg->n, sizeof(*lg->conn_lat));
        if (!lg->nodes || !lg->join_lat || !lg->conn_lat)
                return -ENOMEM;
        for (unsigned i = 0; i < lg->n; i++) {
                struct node *n = &lg->nodes[i];
                uint8_t b[16];
                int r;

                n->lg = lg;
                n->idx = i;
                snprintf(n->name, sizeof(n->name), "%s-%u", lg->prefix, i);
                brm_random(b, sizeof(b));
                brm_hex(b, 8, n->serial);
                snprintf(n->boot_id, sizeof(n->boot_id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
                brm_tls_creds_init(&n->creds);
                if ((r = brm_pki_key_generate(&n->creds.key)) < 0)
                        return r;
                if ((r = brm_pki_csr_create(&n->creds.key, n->name, n->csr, sizeof(n->csr))) < 0)
                        return r;
                n->csr_len = (size_t)r;
                brm_backoff_init(&n->backoff, 1000, 30000);
                uv_timer_init(lg->loop, &n->timer);
                n->timer.data = n;
        }
        t = brm_mono_ms() - t;
        brm_lg_say(lg, "keys: %u P-256 keys and CSRs in %.2f s (%.2f ms each; not part of any phase below)\n", lg->n, brm_lg_secs(t),
            lg->n ? (double)t / lg->n : 0.0);
        return 0;
}

void brm_lg_free_nodes(struct lg *lg)
{
        for (unsigned i = 0; lg->nodes && i < lg->n; i++) {
                struct node *n = &lg->nodes[i];
                if (n->conf_ready)
                        mbedtls_ssl_config_free(&n->conf);
                brm_tls_creds_free(&n->creds);
                brm_lg_free_ctrs(n);
        }
        free(lg->st);
        free(lg->st_ptrs);
        free(lg->nodes);
        free(lg->join_lat);
        free(lg->conn_lat);
}

void brm_lg_raise_nofile(struct lg *lg)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
                getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)lg->n + 64)
                fprintf(stderr,
                        "brm_loadgen: warning: the open-file limit is %llu but %u sessions need about %u descriptors; "
                        "raise the hard limit (ulimit -Hn)\n",
                        (unsigned long long)rl.rlim_cur, lg->n, lg->n + 64);
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: brm_loadgen --master HOST:PORT --token TOKEN [--nodes N] [--interval 1s] [--duration 30s]\n"
                "                   [--concurrency C] [--prefix load] [--retries 5] [--setup-timeout 300s] [--pipeline]\n"
                "                   [--start-delay DUR] [--stats FILE] [--control FILE]\n"
                "\n"
                "  --nodes N            simulated nodes, each with its own key, certificate and session (default 100)\n"
                "  --interval DUR       heartbeat interval (default 1s)\n"
                "  --duration DUR       length of the steady state, after every session is up (default 30s)\n"
                "  --concurrency C      joins or handshakes in flight at once (default 64; N = all at once)\n"
                "  --join-concurrency C joins in flight at once, if different (e.g. N: every node joins at once)\n"
                "  --prefix P           node names are P-0 .. P-(N-1) (default load)\n"
                "  --retries R          failed attempts a node retries, with backoff, before it gives up (default 5)\n"
                "  --setup-timeout DUR  longest the join and connect phases may take together (default 300s)\n"
                "  --pipeline           reconnect each node right after its join, as an agent does, instead of\n"
                "                       joining every node first\n"
                "  --handshake-timeout DUR  connect + TLS handshake limit per attempt (default 10s, as the agent)\n"
                "  --master-pid PID     also report the master's CPU time per phase (from /proc/PID/stat)\n"
                "  --start-delay DUR    a container the master asks for is reported running this long after\n"
                "                       its DesiredState arrived (default 0: in the next heartbeat)\n"
                "  --stats FILE         counters of desired and running containers, rewritten as they change\n"
                "  --control FILE       read on SIGUSR1: 'cut N' silences N nodes holding containers, as a\n"
                "                       power cut would (no heartbeat, nothing read, the connection left open)\n"
                "\n"
                "Against a master on 127.0.0.0/8 each node connects from its own address 127.1.x.y. Against\n"
                "one elsewhere all nodes share this host's address: start that master with a high enough\n"
                "--max-unauthenticated-per-source (and --max-unauthenticated) for the joins in flight.\n");
}

static int die_arg(const char *opt, const char *val, const char *expected)
{
        fprintf(stderr, "brm_loadgen: invalid %s '%s': expected %s\n", opt, val, expected);
        return 2;
}

int brm_lg_options(struct lg *lg, int argc, char **argv)
{
        static const struct option opts[] = {
                { "master", required_argument, NULL, 'm' },     { "token", required_argument, NULL, 't' },
                { "nodes", required_argument, NULL, 'n' },      { "interval", required_argument, NULL, 'i' },
                { "duration", required_argument, NULL, 'd' },   { "concurrency", required_argument, NULL, 'c' },
                { "prefix", required_argument, NULL, 'p' },     { "retries", required_argument, NULL, 'r' },
                { "setup-timeout", required_argument, NULL, 's' }, { "pipeline", no_argument, NULL, 'P' },
                { "handshake-timeout", required_argument, NULL, 'H' }, { "join-concurrency", required_argument, NULL, 'J' }, { "master-pid", required_argument, NULL, 'M' },
                { "start-delay", required_argument, NULL, 'D' }, { "stats", required_argument, NULL, 'S' },
                { "control", required_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },             { 0 },
        };
        const char *token = NULL;
        char host[256];
        uint16_t port = 0;
        uint64_t v;
        int c;

        memset(lg, 0, sizeof(*lg));
        lg->n = 100;
        lg->concurrency = 64;
        lg->interval_ms = 1000;
        lg->duration_ms = 30000;
        lg->setup_timeout_ms = 300000;
        lg->retries = 5;
        lg->handshake_timeout_ms = 10000;
        lg->prefix = "load";
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        if (brm_parse_hostport(optarg, host, sizeof(host), &port) < 0 || strlen(optarg) >= sizeof(lg->master))
                                return die_arg("--master", optarg, "HOST:PORT with a numeric address, e.g. 127.0.0.1:7443");
                        snprintf(lg->master, sizeof(lg->master), "%s", optarg);
                        break;
                case 't':
                        token = optarg;
                        break;
                case 'n':
                        if (brm_parse_u64(optarg, 1, 1000000, &v) < 0)
                                return die_arg("--nodes", optarg, "a number from 1 to 1000000");
                        lg->n = (unsigned)v;
                        break;
                case 'i':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 10 || v > 3600000)
                                return die_arg("--interval", optarg, "a duration from 10ms to 1h, e.g. 1s");
                        lg->interval_ms = v;
                        break;
                case 'd':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v > 86400000)
                                return die_arg("--duration", optarg, "a duration up to 24h, e.g. 30s");
                        lg->duration_ms = v;
                        break;
                case 'c':
                        if (brm_parse_u64(optarg, 1, 1000000, &v) < 0)
                                return die_arg("--concurrency", optarg, "a number from 1 to 1000000");
                        lg->concurrency = (unsigned)v;
                        break;
                case 'J':
                        if (brm_parse_u64(optarg, 1, 1000000, &v) < 0)
                                return die_arg("--join-concurrency", optarg, "a number from 1 to 1000000");
                        lg->join_concurrency = (unsigned)v;
                        break;
                case 'p':
                        lg->prefix = optarg;
                        break;
                case 'r':
                        if (brm_parse_u64(optarg, 0, 100, &v) < 0)
                                return die_arg("--retries", optarg, "a number from 0 to 100");
                        lg->retries = (unsigned)v;
                        break;
                case 's':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 1000)
                                return die_arg("--setup-timeout", optarg, "a duration of at least 1s");
                        lg->setup_timeout_ms = v;
                        break;
                case 'P':
                        lg->pipeline = true;
                        break;
                case 'H':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v < 100 || v > 3600000)
                                return die_arg("--handshake-timeout", optarg, "a duration from 100ms to 1h, e.g. 10s");
                        lg->handshake_timeout_ms = v;
                        break;
                case 'M':
                        if (brm_parse_u64(optarg, 1, 4194304, &v) < 0)
                                return die_arg("--master-pid", optarg, "a process id");
                        lg->master_pid = (int)v;
                        break;
                case 'D':
                        if (brm_parse_duration_ms(optarg, &v) < 0 || v > 3600000)
                                return die_arg("--start-delay", optarg, "a duration up to 1h, e.g. 2s");
                        lg->start_delay_ms = v;
                        break;
                case 'S':
                        lg->stats_path = optarg;
                        break;
                case 'C':
                        lg->control_path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!lg->join_concurrency)
                lg->join_concurrency = lg->concurrency;
        if (!lg->master[0] || !token) {
                usage(stderr);
                return 2;
        }
        if (brm_token_parse(token, &lg->token) < 0)
                return die_arg("--token", token, brm_token_problem(token));
        {
                char probe[80];
                snprintf(probe, sizeof(probe), "%s-%u", lg->prefix, lg->n - 1);
                if (!brm_valid_node_name(probe))
                        return die_arg("--prefix", lg->prefix, "a node-name prefix of a-z, 0-9 and '-' (names are PREFIX-N)");
        }
        if (uv_ip4_addr(host, port, (struct sockaddr_in *)&lg->addr) != 0 &&
            uv_ip6_addr(host, port, (struct sockaddr_in6 *)&lg->addr) != 0)
                return die_arg("--master", lg->master, "a numeric IPv4 or IPv6 address and a port");
        lg->spread_sources = lg->addr.ss_family == AF_INET &&
                             (ntohl(((struct sockaddr_in *)&lg->addr)->sin_addr.s_addr) >> 24) == 127;
        if (lg->spread_sources && lg->n > 250 * 256) {
                fprintf(stderr, "brm_loadgen: at most 64000 --nodes against a loopback master (one address each)\n");
                return 2;
        }
        return -1;
}
