/* bramble top: the node list, asked for again every interval on the one
 * connection of the invocation and drawn on the terminal's alternate
 * screen with plain ANSI sequences. The layout is topfmt.c's; this file
 * owns the flags, the terminal (raw mode, the alternate screen, the
 * cursor, all given back on every way out) and the refresh loop. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "statusjson.h"
#include "util.h"

#include "common.h"
#include "nodes.h"
#include "top.h"
#include "topfmt.h"

#define USAGE "usage: bramble top [--sort cpu|mem|temp|name] [--interval 2s] [--once]"
/* Refreshing faster than this only loads the master. */
#define INTERVAL_MIN_MS 200
#define INTERVAL_MAX_MS (3600 * 1000)

#define ESC_ENTER "\033[?1049h\033[?25l"
#define ESC_LEAVE "\033[?25h\033[?1049l"

struct top {
        struct brm_cli *c;
        enum brm_top_sort sort;
        uint64_t interval_ms;
        bool once;
        Bramble__Envelope *resp; /* the last answer, drawn until the next */
        int64_t fetched_ms;      /* when it came */
        char error[700];         /* why the last refresh failed; "" when it did not */
        /* The terminal as it was, to give it back. */
        struct termios saved;
        bool raw, screen;
        struct sigaction old_act[5];
};

static const int quit_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static volatile sig_atomic_t got_quit, got_winch;

static void on_quit(int sig)
{
        got_quit = sig;
}

static void on_winch(int sig)
{
        got_winch = 1;
}

/* ---- flags ---- */

/* The value of --NAME V or --NAME=V at argv[*i] (advancing *i past it);
 * NULL when argv[*i] is another flag. *ret_missing when it has no value. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, bool *ret_missing)
{
        size_t len = strlen(name);

        if (strncmp(argv[*i], name, len) != 0)
                return NULL;
        if (argv[*i][len] == '=')
                return argv[*i] + len + 1;
        if (argv[*i][len] != '\0')
                return NULL;
        if (*i + 1 >= argc) {
                *ret_missing = true;
                return NULL;
        }
        return argv[++*i];
}

static int parse_flags(struct top *t, int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                bool missing = false;
                const char *v;

                if ((v = flag_value(argc, argv, &i, "--sort", &missing))) {
                        if (brm_top_sort_parse(v, &t->sort) < 0)
                                return brm_cli_usage_error("invalid --sort '%s': expected cpu, mem, temp or name", v);
                } else if (missing) {
                        return brm_cli_usage_error("--sort needs a value: cpu, mem, temp or name");
                } else if ((v = flag_value(argc, argv, &i, "--interval", &missing))) {
                        if (brm_parse_duration_ms(v, &t->interval_ms) < 0 || t->interval_ms < INTERVAL_MIN_MS ||
                            t->interval_ms > INTERVAL_MAX_MS)
                                return brm_cli_usage_error("invalid --interval '%s': expected a duration like 2s (200ms to 1h)", v);
                } else if (missing) {
                        return brm_cli_usage_error("--interval needs a value, like 2s");
                } else if (strcmp(argv[i], "--once") == 0) {
                        t->once = true;
                } else if (argv[i][0] == '-') {
                        return brm_cli_usage_error("unknown option '%s' (" USAGE ")", argv[i]);
                } else {
                        return brm_cli_usage_error("unexpected argument '%s' (" USAGE ")", argv[i]);
                }
        }
        return 0;
}

/* ---- one frame, no terminal ---- */

static const Bramble__NodeListResponse *nodes_of(const Bramble__Envelope *resp)
{
        return resp ? resp->nodes : NULL;
}

/* The nodes as 'bramble nodes -o json' prints them, in the order asked. */
static int print_json(const struct top *t)
{
        const Bramble__NodeListResponse *l = nodes_of(t->resp);
        size_t n = l ? l->n_nodes : 0, *order = NULL;
        cJSON *arr;

        if ((n && !(order = calloc(n, sizeof(*order)))) || brm_top_order(l, t->sort, order) < 0 ||
            !(arr = cJSON_CreateArray())) {
                free(order);
                fprintf(stderr, "bramble: out of memory\n");
                return EXIT_FAIL;
        }
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(arr, brm_json_node(l->nodes[order[i]]));
        free(order);
        brm_cli_print_json(arr);
        return 0;
}

static int print_frame(const struct top *t)
{
        struct brm_top_view v = { .sort = t->sort, .now_ms = t->fetched_ms };
        struct brm_top_frame f = { 0 };
        struct winsize ws;
        const char *cols;
        uint64_t w;

        /* A terminal's width; else $COLUMNS, if set; else the whole rows. */
        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                v.width = ws.ws_col;
        else if ((cols = getenv("COLUMNS")) && brm_parse_u64(cols, 1, 10000, &w) == 0)
                v.width = (int)w;
        if (brm_top_format(nodes_of(t->resp), &v, &f) < 0) {
                fprintf(stderr, "bramble: out of memory\n");
                return EXIT_FAIL;
        }
        for (size_t i = 0; i < f.n; i++)
                puts(f.lines[i]);
        brm_top_frame_free(&f);
        return 0;
}

/* ---- the master ---- */

/* How long a refresh waits for the master: a view that froze for the
 * whole --timeout on a master gone without a word (a power cut) would not
 * even take q. Twice the interval, at least 3 s, at most --timeout. */
static int wait_ms(const struct top *t)
{
        uint64_t w = t->interval_ms * 2 < 3000 ? 3000 : t->interval_ms * 2;

        return w < (uint64_t)t->c->timeout_ms ? (int)w : t->c->timeout_ms;
}

/* Asks for the node list again on the open connection; a connection that
 * has gone is opened again once. On failure t->error says why and the
 * last answer stays. Returns 0 or -1. */
static int refresh(struct top *t)
{
        struct brm_cli *c = t->c;
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp = NULL;
        Bramble__NodeListRequest nl = BRAMBLE__NODE_LIST_REQUEST__INIT;

        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LIST;
        req.node_list = &nl;
        for (int attempt = 0; attempt < 2 && !resp && !got_quit; attempt++) {
                if (!c->connected) {
                        if (brm_client_connect(&c->client, c->master, &c->creds, BRM_TLS_VERIFY_REQUIRED, wait_ms(t)) < 0) {
                                snprintf(t->error, sizeof(t->error), "%s", c->client.error);
                                return -1;
                        }
                        c->connected = true;
                }
                int r = brm_client_call(&c->client, &req, &resp);
                if (r < 0) {
                        snprintf(t->error, sizeof(t->error), "lost the master: %s", c->client.error);
                        brm_client_close(&c->client);
                        c->connected = false;
                        resp = NULL;
                        /* A master that is there but silent would only make
                         * a new connection wait as long: the next refresh
                         * tries. */
                        if (r == -ETIMEDOUT)
                                break;
                }
        }
        if (!resp)
                return -1;
        if (resp->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                const char *msg = resp->error->message;
                snprintf(t->error, sizeof(t->error), "%s", msg && *msg ? msg : "the master refused the request");
                /* Id 0: the master refusing the connection, which it closes. */
                if (resp->id == 0) {
                        brm_client_close(&c->client);
                        c->connected = false;
                }
                brm_msg_free(resp);
                return -1;
        }
        if (resp->msg_case != BRAMBLE__ENVELOPE__MSG_NODES || !resp->nodes) {
                snprintf(t->error, sizeof(t->error), "unexpected reply from the master");
                brm_msg_free(resp);
                return -1;
        }
        if (t->resp)
                brm_msg_free(t->resp);
        t->resp = resp;
        t->fetched_ms = brm_now_ms();
        t->error[0] = '\0';
        return 0;
}

/* ---- the terminal ---- */

static int write_all(const char *p, size_t len)
{
        while (len) {
                ssize_t n = write(STDOUT_FILENO, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static void signals_set(struct top *t)
{
        struct sigaction sa = { 0 };

        /* No SA_RESTART: a signal also ends a wait for the master. */
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_quit;
        for (size_t i = 0; i < BRM_ARRAY_SIZE(quit_signals); i++)
                sigaction(quit_signals[i], &sa, &t->old_act[i]);
        sa.sa_handler = on_winch;
        sigaction(SIGWINCH, &sa, &t->old_act[BRM_ARRAY_SIZE(quit_signals)]);
}

static void signals_reset(struct top *t)
{
        for (size_t i = 0; i < BRM_ARRAY_SIZE(quit_signals); i++)
                sigaction(quit_signals[i], &t->old_act[i], NULL);
        sigaction(SIGWINCH, &t->old_act[BRM_ARRAY_SIZE(quit_signals)], NULL);
}

/* Keys one at a time, no echo, no line editing; Ctrl-C is a key too (it
 * quits the same way as q). Output processing stays as it was. */
static int term_enter(struct top *t)
{
        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
                struct termios raw = t->saved;
                raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
                raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
                raw.c_cc[VMIN] = 1;
                raw.c_cc[VTIME] = 0;
                if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
                        return -errno;
                t->raw = true;
        }
        t->screen = true;
        return write_all(ESC_ENTER, sizeof(ESC_ENTER) - 1);
}

/* Gives the terminal back; safe to call more than once. */
static void term_leave(struct top *t)
{
        if (t->screen)
                write_all(ESC_LEAVE, sizeof(ESC_LEAVE) - 1);
        t->screen = false;
        if (t->raw)
                tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
        t->raw = false;
}

static int draw(struct top *t)
{
        struct brm_top_view v = { .sort = t->sort, .width = 80, .height = 24, .now_ms = t->fetched_ms, .ansi = true, .keys = true };
        struct brm_top_frame f = { 0 };
        char err[sizeof(t->error) + 64], every[24];
        struct winsize ws;
        char *buf, *p;
        size_t size = 16;
        int r;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
                v.width = ws.ws_col;
                v.height = ws.ws_row;
        }
        if (t->error[0]) {
                if (t->interval_ms % 1000)
                        snprintf(every, sizeof(every), "%llums", (unsigned long long)t->interval_ms);
                else
                        snprintf(every, sizeof(every), "%llus", (unsigned long long)t->interval_ms / 1000);
                snprintf(err, sizeof(err), "%s (retrying every %s)", t->error, every);
                v.error = err;
        }
        if ((r = brm_top_format(nodes_of(t->resp), &v, &f)) < 0)
                return r;
        for (size_t i = 0; i < f.n; i++)
                size += strlen(f.lines[i]) + 8;
        if (!(buf = malloc(size))) {
                brm_top_frame_free(&f);
                return -ENOMEM;
        }
        /* Home, then every line cleared before it is written (clearing
         * after a line as wide as the terminal would take its last
         * character), then the rest of the screen. */
        p = buf + sprintf(buf, "\033[H");
        for (size_t i = 0; i < f.n; i++)
                p += sprintf(p, "\033[2K%s%s", f.lines[i], i + 1 < f.n ? "\r\n" : "");
        if (v.height <= 0 || f.n < (size_t)v.height)
                p += sprintf(p, "\r\n\033[J");
        brm_top_frame_free(&f);
        r = write_all(buf, (size_t)(p - buf));
        free(buf);
        return r;
}

/* Acts on the keys waiting: 1 when one of them quits, -1 when the
 * terminal has no more to read, else 0 (*ret_redraw set on a change). */
static int keys(struct top *t, bool *ret_redraw)
{
        char in[64];
        ssize_t n = read(STDIN_FILENO, in, sizeof(in));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n <= 0)
                return -1;
        for (ssize_t i = 0; i < n; i++) {
                switch (in[i]) {
                case 'q':
                case 3: /* Ctrl-C */
                        return 1;
                case 'c':
                        t->sort = BRM_TOP_SORT_CPU;
                        break;
                case 'm':
                        t->sort = BRM_TOP_SORT_MEM;
                        break;
                case 't':
                        t->sort = BRM_TOP_SORT_TEMP;
                        break;
                case 'n':
                        t->sort = BRM_TOP_SORT_NAME;
                        break;
                default:
                        continue;
                }
                *ret_redraw = true;
        }
        return 0;
}

/* Draws and refreshes until q, Ctrl-C or a signal to quit. Returns the
 * exit code: 0 for a key, 128 + the signal for a signal. */
static int run_loop(struct top *t)
{
        uint64_t next = brm_mono_ms() + t->interval_ms;
        bool redraw = true, tty_in = t->raw;
        int r = 0, k;

        while (!got_quit) {
                if (redraw || got_winch) {
                        got_winch = 0;
                        redraw = false;
                        if ((r = draw(t)) < 0)
                                break;
                }
                uint64_t now = brm_mono_ms();
                if (now >= next) {
                        /* From when this one starts: a slow master does not
                         * make the refreshes pile up. */
                        next = now + t->interval_ms;
                        refresh(t);
                        redraw = true;
                        continue;
                }
                struct pollfd p = { .fd = tty_in ? STDIN_FILENO : -1, .events = POLLIN };
                int ready = poll(&p, 1, (int)(next - now));
                if (ready < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                if (ready <= 0)
                        continue;
                /* A terminal gone quiet for good: refresh on, without keys. */
                if (!(p.revents & POLLIN) || (k = keys(t, &redraw)) < 0)
                        tty_in = false;
                else if (k > 0)
                        return 0;
        }
        if (r < 0)
                return r;
        return got_quit ? 128 + got_quit : 0;
}

static int interactive(struct top *t)
{
        int rc, r;

        got_quit = got_winch = 0;
        if (t->c->connected)
                brm_client_set_timeout(&t->c->client, wait_ms(t));
        signals_set(t);
        if ((r = term_enter(t)) < 0) {
                term_leave(t);
                signals_reset(t);
                fprintf(stderr, "bramble: cannot set up the terminal: %s\n", strerror(-r));
                return EXIT_FAIL;
        }
        rc = run_loop(t);
        term_leave(t);
        signals_reset(t);
        if (rc < 0) {
                fprintf(stderr, "bramble: terminal: %s\n", strerror(-rc));
                return EXIT_FAIL;
        }
        return rc;
}

int brm_cli_top(struct brm_cli *c, int argc, char **argv)
{
        struct top t = { .c = c, .sort = BRM_TOP_SORT_CPU, .interval_ms = 2000 };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT;
        Bramble__NodeListRequest nl = BRAMBLE__NODE_LIST_REQUEST__INIT;
        int rc;

        if ((rc = parse_flags(&t, argc, argv)) != 0)
                return rc;
        /* The first answer comes before the terminal changes: a master that
         * cannot be reached is an error on the plain terminal, with its exit
         * code, as for every other command. */
        req.msg_case = BRAMBLE__ENVELOPE__MSG_NODE_LIST;
        req.node_list = &nl;
        if (!(t.resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_NODES, &rc)))
                return rc;
        t.fetched_ms = brm_now_ms();
        if (c->json)
                rc = print_json(&t);
        else if (t.once || !isatty(STDOUT_FILENO))
                rc = print_frame(&t);
        else
                rc = interactive(&t);
        brm_msg_free(t.resp);
        return rc;
}
