/* bramble logs: one LogsRequest, then the stream of LogChunk frames the
 * master relays from the node, until LogEnd (or, with -f, until the
 * operator stops it).
 *
 * Output is the lines' bytes unchanged: a container's stdout lines go to
 * stdout and its stderr lines to stderr, each followed by a newline unless
 * the line is a part (BRM_LOG_FLAG_PARTIAL: the next part of the same
 * stream continues it). Each fd has its own buffer; the other fd's buffer
 * is written out before switching, and both at the end of every chunk, so
 * the order survives "> all 2>&1". Closing our stdout (| head) ends the
 * command quietly with 0. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "logs.h"
#include "err.h"
#include "frame.h"
#include "fileio.h"
#include "logrec.h"
#include "util.h"

#define OUT_BUF (64 * 1024)
/* Without -f the master sends frames steadily; give up after this much silence. */
#define LOGS_IDLE_MS 60000

struct out {
        int fd;
        size_t len;
        bool line_start;   /* no part of an unfinished line written */
        char buf[OUT_BUF];
};

struct outs {
        struct out o[2];   /* [0] stdout, [1] stderr */
        bool timestamps;
};

static int out_flush(struct out *o)
{
        int r = 0;

        if (o->len)
                r = brm_write_all(o->fd, o->buf, o->len);
        o->len = 0;
        return r;
}

static int outs_flush(struct outs *w)
{
        int r = out_flush(&w->o[0]);
        int r2 = out_flush(&w->o[1]);
        return r < 0 ? r : r2;
}

/* Appends to stream i's buffer; the other stream's pending bytes go out
 * first so the two fds see the lines in the order they came. */
static int out_add(struct outs *w, int i, const char *p, size_t n)
{
        struct out *o = &w->o[i];
        int r;

        if (w->o[!i].len && (r = out_flush(&w->o[!i])) < 0)
                return r;
        if (n > OUT_BUF - o->len && (r = out_flush(o)) < 0)
                return r;
        if (n >= OUT_BUF)
                return brm_write_all(o->fd, p, n);
        memcpy(o->buf + o->len, p, n);
        o->len += n;
        return 0;
}

static int out_line(struct outs *w, int i, int64_t ts_ns, bool partial, const char *p, size_t n)
{
        struct out *o = &w->o[i];
        int r;

        if (w->timestamps && o->line_start) {
                char ts[BRM_LOG_TS_LEN + 1];
                brm_log_format_ts(ts_ns, ts);
                ts[BRM_LOG_TS_LEN] = ' ';
                if ((r = out_add(w, i, ts, BRM_LOG_TS_LEN + 1)) < 0)
                        return r;
        }
        if (n && (r = out_add(w, i, p, n)) < 0)
                return r;
        o->line_start = !partial;
        if (!partial && (r = out_add(w, i, "\n", 1)) < 0)
                return r;
        return 0;
}

/* 0 printed, 1 the chunk is malformed, < 0 a write error. */
static int print_chunk(struct outs *w, const Bramble__LogChunk *ch)
{
        uint64_t total = 0;
        const char *data = (const char *)ch->data.data;
        int r;

        if (ch->n_ts_ns != ch->n_flags || ch->n_ts_ns != ch->n_len)
                return 1;
        for (size_t i = 0; i < ch->n_len; i++)
                total += ch->len[i];
        if (total != (ch->has_data ? ch->data.len : 0))
                return 1;
        if (ch->skipped > 0) {
                char msg[128];
                int n;
                /* The rest of an unfinished line was among what was skipped. */
                for (int i = 0; i < 2; i++)
                        if (!w->o[i].line_start) {
                                if ((r = out_add(w, i, "\n", 1)) < 0)
                                        return r;
                                w->o[i].line_start = true;
                        }
                n = snprintf(msg, sizeof(msg), "bramble: \xe2\x80\xa6 %" PRIu64 " lines skipped: this viewer fell behind\n",
                             ch->skipped);
                if ((r = out_add(w, 1, msg, (size_t)n)) < 0)
                        return r;
        }
        for (size_t i = 0; i < ch->n_ts_ns; i++) {
                int s = (ch->flags[i] & BRM_LOG_FLAG_STDERR) ? 1 : 0;
                if ((r = out_line(w, s, ch->ts_ns[i], ch->flags[i] & BRM_LOG_FLAG_PARTIAL, data, ch->len[i])) < 0)
                        return r;
                if (ch->len[i]) /* data is NULL when every line is empty */
                        data += ch->len[i];
        }
        return outs_flush(w);
}

/* Follows the stream until it ends; returns the exit code. */
static int stream(struct brm_cli *c, bool follow, bool timestamps)
{
        static struct outs w; /* 128 KiB: not on the stack */
        int idle_ms = c->timeout_ms > LOGS_IDLE_MS ? c->timeout_ms : LOGS_IDLE_MS;
        int rc = -1, r;

        w.o[0] = (struct out){ .fd = STDOUT_FILENO, .line_start = true };
        w.o[1] = (struct out){ .fd = STDERR_FILENO, .line_start = true };
        w.timestamps = timestamps;
        if (follow) {
                /* A followed log may be silent for hours: no read timeout, but
                 * TCP keepalive notices a master that vanished (about 2 min). */
                int on = 1, idle = 60, intvl = 15, cnt = 4;
                brm_client_set_timeout(&c->client, 0);
                setsockopt(c->client.fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
                setsockopt(c->client.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
                setsockopt(c->client.fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
                setsockopt(c->client.fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        } else {
                brm_client_set_timeout(&c->client, idle_ms);
        }
        while (rc < 0) {
                Bramble__Envelope *env;
                r = brm_client_recv(&c->client, &env);
                if (r < 0) {
                        if (outs_flush(&w) == -EPIPE)
                                return 0;
                        if (r == -ETIMEDOUT)
                                fprintf(stderr, "bramble: connection to the master lost: nothing received for %d s\n",
                                        idle_ms / 1000);
                        else if (r == -ECONNRESET)
                                fprintf(stderr, "bramble: connection to the master lost: the connection was closed\n");
                        else
                                fprintf(stderr, "bramble: connection to the master lost: %s\n", brm_strerror(r));
                        return EXIT_CONNECT;
                }
                switch (env->msg_case) {
                case BRAMBLE__ENVELOPE__MSG_ERROR:
                        /* The only request on this connection is ours: any
                         * Error is about it (id 0: the master refused us). */
                        if ((r = outs_flush(&w)) == -EPIPE) {
                                rc = 0;
                                break;
                        }
                        rc = brm_cli_print_error(env);
                        break;
                case BRAMBLE__ENVELOPE__MSG_LOG_CHUNK:
                        r = print_chunk(&w, env->log_chunk);
                        if (r == 1) {
                                if (outs_flush(&w) == -EPIPE) {
                                        rc = 0;
                                        break;
                                }
                                fprintf(stderr, "bramble: malformed log data from the master\n");
                                rc = EXIT_CONNECT;
                        } else if (r == -EPIPE) {
                                rc = 0;
                        } else if (r < 0) {
                                fprintf(stderr, "bramble: writing the output failed: %s\n", strerror(-r));
                                rc = EXIT_FAIL;
                        }
                        break;
                case BRAMBLE__ENVELOPE__MSG_LOG_END:
                        r = outs_flush(&w);
                        if (r == -EPIPE) {
                                rc = 0;
                        } else if (r < 0) {
                                fprintf(stderr, "bramble: writing the output failed: %s\n", strerror(-r));
                                rc = EXIT_FAIL;
                        } else if (env->log_end->error && *env->log_end->error) {
                                fprintf(stderr, "bramble: %s\n", env->log_end->error);
                                rc = EXIT_FAIL;
                        } else {
                                /* A followed log that ends says why. */
                                const char *why = env->log_end->reason;
                                if (follow && why && *why)
                                        fprintf(stderr, "bramble: log ended: %s\n", why);
                                rc = 0;
                        }
                        break;
                default:
                        break; /* nothing else concerns this command */
                }
                brm_msg_free(env);
        }
        return rc;
}

int brm_cli_logs(struct brm_cli *c, int argc, char **argv)
{
        enum { OPT_TAIL = 256, OPT_SINCE, OPT_STDOUT, OPT_STDERR, OPT_AGENT, OPT_KERNEL };
        static const struct option opts[] = {
                { "follow", no_argument, NULL, 'f' },         { "timestamps", no_argument, NULL, 't' },
                { "tail", required_argument, NULL, OPT_TAIL }, { "since", required_argument, NULL, OPT_SINCE },
                { "stdout", no_argument, NULL, OPT_STDOUT },   { "stderr", no_argument, NULL, OPT_STDERR },
                { "agent", no_argument, NULL, OPT_AGENT },     { "kernel", no_argument, NULL, OPT_KERNEL },
                { 0 },
        };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT;
        Bramble__LogsRequest lr = BRAMBLE__LOGS_REQUEST__INIT;
        bool follow = false, timestamps = false, want_out = false, want_err = false, agent = false, kernel = false;
        bool has_tail = false, has_since = false;
        uint64_t tail = 0;
        int64_t since = 0;
        char node[64];
        const char *target, *slash;
        int o, rc;

        /* 0, not 1: getopt must start afresh (main's "+" would otherwise
         * stay in force), so options may also follow NODE/NAME. */
        optind = 0;
        opterr = 0; /* our own one-line messages */
        while ((o = getopt_long(argc, argv, ":ft", opts, NULL)) != -1) {
                switch (o) {
                case 'f':
                        follow = true;
                        break;
                case 't':
                        timestamps = true;
                        break;
                case OPT_TAIL:
                        if (brm_parse_u64(optarg, 0, INT64_MAX, &tail) < 0)
                                return brm_cli_usage_error("--tail must be a whole number >= 0, not '%s'", optarg);
                        has_tail = true;
                        break;
                case OPT_SINCE:
                        if (brm_parse_since(optarg, brm_now_ns(), &since) < 0)
                                return brm_cli_usage_error("invalid --since '%s': expected a duration like 90s, 15m, 2h or 7d, "
                                                           "or a time like 2026-11-22T10:00:00Z or 2026-11-22",
                                                           optarg);
                        has_since = true;
                        break;
                case OPT_STDOUT:
                        want_out = true;
                        break;
                case OPT_STDERR:
                        want_err = true;
                        break;
                case OPT_AGENT:
                        agent = true;
                        break;
                case OPT_KERNEL:
                        kernel = true;
                        break;
                case ':':
                        return brm_cli_usage_error("%s needs a value", argv[optind - 1]);
                default:
                        if (optopt == 'f' || optopt == 't' || optopt >= 256) /* "--follow=yes" */
                                return brm_cli_usage_error("option '%s' takes no value", argv[optind - 1]);
                        if (optopt) {
                                char opt[3] = { '-', (char)optopt, '\0' };
                                return brm_cli_usage_error("unknown option '%s' for logs", opt);
                        }
                        return brm_cli_usage_error("unknown option '%s' for logs", argv[optind - 1]);
                }
        }
        if (want_out && want_err)
                return brm_cli_usage_error("%s", "--stdout and --stderr exclude each other (give neither for both)");
        if (agent && kernel)
                return brm_cli_usage_error("%s", "--agent and --kernel exclude each other");
        if (optind >= argc)
                return brm_cli_usage_error("%s", agent || kernel ? "missing NODE (usage: bramble logs [options] NODE --agent|--kernel)"
                                                                  : "missing NODE/NAME (usage: bramble logs [options] NODE/NAME)");
        target = argv[optind];
        if (optind + 1 < argc)
                return brm_cli_usage_error("unexpected argument '%s' (logs takes one NODE/NAME or NODE)", argv[optind + 1]);
        slash = strchr(target, '/');
        if (agent || kernel) {
                if (slash)
                        return brm_cli_usage_error(agent ? "--agent takes a node, not NODE/NAME: '%s'"
                                                         : "--kernel takes a node, not NODE/NAME: '%s'",
                                                   target);
                if (!brm_valid_node_name(target))
                        return brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", target);
                snprintf(node, sizeof(node), "%s", target);
        } else {
                if (!slash)
                        return brm_cli_usage_error("'%s' is not NODE/NAME (for a node's own logs add --agent or --kernel)",
                                                   target);
                if ((size_t)(slash - target) >= sizeof(node)) {
                        /* Longer than any node name; say which part is wrong. */
                        char part[128];
                        snprintf(part, sizeof(part), "%.*s", (int)(slash - target), target);
                        return brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", part);
                }
                memcpy(node, target, (size_t)(slash - target));
                node[slash - target] = '\0';
                if (!brm_valid_node_name(node))
                        return brm_cli_usage_error("'%s' is not a node name (1-63 characters of a-z, 0-9 and '-')", node);
                if (!brm_valid_container_name(slash + 1))
                        return brm_cli_usage_error("'%s' is not a valid container name: use 1-63 characters of a-z, 0-9, "
                                                   "'-', '_' and '.', starting with a letter or digit",
                                                   slash + 1);
                lr.container = (char *)slash + 1;
        }

        lr.node = node;
        lr.has_source = 1;
        lr.source = agent ? BRAMBLE__LOG_SOURCE__LOG_AGENT : kernel ? BRAMBLE__LOG_SOURCE__LOG_KERNEL : BRAMBLE__LOG_SOURCE__LOG_CONTAINER;
        if (has_tail) {
                lr.has_tail = 1;
                lr.tail = (int64_t)tail;
        }
        if (has_since) {
                lr.has_since_ns = 1;
                lr.since_ns = since;
        }
        lr.has_follow = 1;
        lr.follow = follow;
        if (want_out || want_err) {
                lr.has_streams = 1;
                lr.streams = want_out ? 1 : 2;
        }
        req.msg_case = BRAMBLE__ENVELOPE__MSG_LOGS;
        req.logs = &lr;

        /* Output errors are handled where they happen (EPIPE: the reader is gone). */
        signal(SIGPIPE, SIG_IGN);
        if ((rc = brm_cli_connect(c)) != 0)
                return rc;
        if (brm_client_send(&c->client, &req) < 0) {
                fprintf(stderr, "bramble: %s\n", c->client.error);
                return EXIT_CONNECT;
        }
        return stream(c, follow, timestamps);
}
