/* Admission of unauthenticated connections (see admit.h for the design). */
#include "admit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <dirent.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include "log.h"

#define MOD "admit"
/* A legitimate peer answers each handshake flight within a LAN round trip
 * plus its own ECC work (well under a second on a Pi Zero 2 W); these
 * leave room for Wi-Fi retransmissions. */
#define FIRST_BYTES_MS 3000
#define STEP_MS 5000
#define EVICT_IDLE_MS 1000
/* A newcomer's first flight may still be on its way (a burst of
 * connections is accepted in one go, and Wi-Fi adds tens of ms): it is not
 * evicted for having sent nothing until this much later. Short, because
 * each place then turns over at most this often in a flood from many
 * addresses. */
#define EVICT_NEW_MS 100
#define REPORT_MS 10000
#define FD_WARN_MS 60000
/* Descriptors the master may open besides its base and one per session:
 * SQLite's temporary files, a token file, libuv's resolver. */
#define FD_SLACK 8

static uint64_t nofile_limit(void)
{
        struct rlimit rl;

        return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : UINT64_MAX;
}

static unsigned open_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        if (!d)
                return 32; /* no /proc: a generous guess */
        while (readdir(d))
                n++;
        closedir(d);
        return n > 3 ? n - 3 : 0; /* ".", ".." and the directory itself */
}

void brm_admit_init(struct brm_admit *a, unsigned max, unsigned max_per_source)
{
        memset(a, 0, sizeof(*a));
        a->max = max;
        a->max_per_source = max_per_source;
        a->fd_limit = nofile_limit();
        a->fd_base = open_fds();
}

/* By address (an IPv4 address mapped into IPv6 as IPv4). Not by IPv6
 * prefix: the Pis of one LAN share their /64, and a peer that can take many
 * addresses meets the total bound instead. */
static int source_of(struct brm_admit_entry *e, const struct brm_conn *c)
{
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        int r = uv_tcp_getpeername(&c->tls.tcp, (struct sockaddr *)&ss, &len);

        if (r < 0)
                return r;
        if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
                memcpy(e->src, &in->sin_addr, 4);
                e->src_len = 4;
        } else if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
                        memcpy(e->src, &in6->sin6_addr.s6_addr[12], 4);
                        e->src_len = 4;
                } else {
                        memcpy(e->src, in6->sin6_addr.s6_addr, 16);
                        e->src_len = 16;
                }
        } else {
                return -EAFNOSUPPORT;
        }
        inet_ntop(e->src_len == 4 ? AF_INET : AF_INET6, e->src, e->src_text, sizeof(e->src_text));
        return 0;
}

static void note_progress(struct brm_admit_entry *e, uint64_t now)
{
        uint32_t p = e->conn->tls.hs_steps + e->messages;

        if (p != e->progress_seen) {
                e->progress_seen = p;
                e->progress_ms = now;
        }
}

/* The peer owes us data: nothing of its waits unread in our socket. */
static bool waiting_for_peer(const struct brm_admit_entry *e)
{
        return brm_conn_pending_input(e->conn) == 0;
}

static void report(struct brm_admit *a, uint64_t now)
{
        char line[512], since[48] = "";
        size_t n = 0;

        if (!a->refused && !a->evicted && !a->timed_out && !a->fd_exhausted)
                return;
        if (a->last_report_ms && now - a->last_report_ms < REPORT_MS)
                return;
        if (a->last_report_ms)
                snprintf(since, sizeof(since), " in the last %llu s",
                         (unsigned long long)((now - a->last_report_ms) / 1000));
        line[0] = '\0';
        if (a->refused)
                n += (size_t)snprintf(line + n, sizeof(line) - n,
                                      "; %u refused, their address already holding %u (last %s; "
                                      "--max-unauthenticated-per-source)",
                                      a->refused, a->max_per_source, a->refused_from);
        if (a->evicted && n < sizeof(line))
                n += (size_t)snprintf(line + n, sizeof(line) - n, "; %u closed to make room (--max-unauthenticated %u)",
                                      a->evicted, a->max);
        if (a->timed_out && n < sizeof(line))
                n += (size_t)snprintf(line + n, sizeof(line) - n, "; %u closed for sending nothing or stalling",
                                      a->timed_out);
        if (a->fd_exhausted && n < sizeof(line))
                snprintf(line + n, sizeof(line) - n, "; %u times at the open-file limit of %llu", a->fd_exhausted,
                         (unsigned long long)a->fd_limit);
        line[0] = ':'; /* the first item follows the subject */
        brm_warn(MOD, "unauthenticated connections%s%s; %u open now", since, line, a->count);
        a->last_report_ms = now;
        a->refused = a->evicted = a->timed_out = a->fd_exhausted = 0;
        a->refused_from[0] = '\0';
}

static void close_entry(struct brm_admit *a, struct brm_admit_entry *e, const char *why)
{
        brm_debug(MOD, "closing an unauthenticated connection from %s: %s", e->src_text, why);
        /* Out of the set at once, so its place is free before the close
         * callback runs. */
        brm_admit_remove(a, e);
        brm_conn_close(e->conn, -ETIMEDOUT);
}

/* The entry to close for a newcomer, among peers we are waiting for: first
 * the oldest that never completed a handshake step (silent, or a partial
 * hello) in min_new_ms; else the one stalled longest, if for at least
 * min_idle_ms. A peer making progress keeps its place. */
static struct brm_admit_entry *pick_victim(struct brm_admit *a, uint64_t now, uint64_t min_new_ms,
                                          uint64_t min_idle_ms)
{
        struct brm_admit_entry *never = NULL, *stalled = NULL;

        for (struct brm_admit_entry *e = a->head; e; e = e->next) {
                if (e->conn->closing)
                        continue;
                note_progress(e, now);
                if (e->progress_seen == 0) {
                        if (now - e->accepted_ms >= min_new_ms && (!never || e->accepted_ms < never->accepted_ms) &&
                            waiting_for_peer(e))
                                never = e;
                } else if (!never && now - e->progress_ms >= min_idle_ms &&
                           (!stalled || e->progress_ms < stalled->progress_ms) && waiting_for_peer(e)) {
                        stalled = e;
                }
        }
        return never ? never : stalled;
}

bool brm_admit_has_room(struct brm_admit *a, size_t sessions, uint64_t now_ms)
{
        /* The limit as it is now, not as the last sweep saw it: an operator
         * may lower it at run time (prlimit), and a connection accepted
         * against a stale limit could take the descriptor libuv's EMFILE
         * handling needs, which then drops the waiting peers unreported. */
        a->fd_limit = nofile_limit();
        if ((uint64_t)a->fd_base + sessions + FD_SLACK >= a->fd_limit) {
                a->sessions_at_limit = (unsigned)sessions;
                return brm_admit_fd_exhausted(a, now_ms);
        }
        return a->count < a->max || pick_victim(a, now_ms, EVICT_NEW_MS, EVICT_IDLE_MS) != NULL;
}

int brm_admit_add(struct brm_admit *a, struct brm_admit_entry *e, struct brm_conn *c, uint64_t now_ms)
{
        struct brm_admit_entry *victim;
        unsigned same = 0;
        int r;

        memset(e, 0, sizeof(*e));
        e->conn = c;
        if ((r = source_of(e, c)) < 0)
                return r;
        for (struct brm_admit_entry *o = a->head; o; o = o->next)
                same += o->src_len == e->src_len && memcmp(o->src, e->src, e->src_len) == 0;
        if (same >= a->max_per_source) {
                /* The newcomer is refused rather than an older one evicted:
                 * a flooding address then only churns its own places. */
                a->refused++;
                snprintf(a->refused_from, sizeof(a->refused_from), "%s", e->src_text);
                report(a, now_ms);
                return -EADDRINUSE;
        }
        if (a->count >= a->max && (victim = pick_victim(a, now_ms, EVICT_NEW_MS, EVICT_IDLE_MS))) {
                a->evicted++;
                close_entry(a, victim, "closed for a newcomer: all places taken, and it is not getting anywhere");
                report(a, now_ms);
        }
        e->accepted_ms = e->progress_ms = now_ms;
        e->next = a->head;
        if (a->head)
                a->head->prev = e;
        a->head = e;
        e->listed = true;
        a->count++;
        return 0;
}

void brm_admit_remove(struct brm_admit *a, struct brm_admit_entry *e)
{
        if (!e->listed)
                return;
        if (e->prev)
                e->prev->next = e->next;
        else
                a->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        e->prev = e->next = NULL;
        e->listed = false;
        a->count--;
}

void brm_admit_message(struct brm_admit_entry *e)
{
        e->messages++;
}

static const char *overdue(const struct brm_admit_entry *e, uint64_t now)
{
        if (e->conn->tls.rx_bytes == 0 && now - e->accepted_ms >= FIRST_BYTES_MS)
                return "sent nothing within 3 s";
        if (now - e->progress_ms >= STEP_MS)
                return e->conn->ready ? "no join request within 5 s" : "handshake stalled for 5 s";
        return NULL;
}

unsigned brm_admit_sweep(struct brm_admit *a, uint64_t now_ms)
{
        /* After a stall of our own loop, peers' data may wait unread:
         * judge nobody on this tick. */
        bool stalled = a->last_sweep_ms && now_ms - a->last_sweep_ms > 4 * BRM_ADMIT_SWEEP_MS;
        struct brm_admit_entry *e, *next;
        unsigned closed = 0;

        a->last_sweep_ms = now_ms;
        a->fd_limit = nofile_limit(); /* an operator may change it at run time (prlimit) */
        for (e = a->head; e; e = next) {
                const char *why;
                next = e->next;
                if (e->conn->closing)
                        continue;
                note_progress(e, now_ms);
                if (stalled || !(why = overdue(e, now_ms)) || !waiting_for_peer(e))
                        continue;
                a->timed_out++;
                close_entry(a, e, why);
                closed++;
        }
        report(a, now_ms);
        return closed;
}

bool brm_admit_fd_exhausted(struct brm_admit *a, uint64_t now_ms)
{
        struct brm_admit_entry *victim = pick_victim(a, now_ms, 0, 0);

        /* A limit too low for the cluster is the operator's to fix: say so
         * at once, then at most once a minute. */
        if (!a->last_fd_warn_ms || now_ms - a->last_fd_warn_ms >= FD_WARN_MS) {
                brm_warn(MOD, "the master is at its open-file limit of %llu (%u sessions): new connections wait "
                         "until one closes; raise the limit (e.g. LimitNOFILE= in its service)",
                         (unsigned long long)a->fd_limit, a->sessions_at_limit);
                a->last_fd_warn_ms = now_ms;
        }
        a->fd_exhausted++;
        if (victim) {
                a->evicted++;
                close_entry(a, victim, "out of file descriptors");
        }
        report(a, now_ms);
        return victim != NULL;
}

int brm_admit_raise_nofile(uint64_t *ret_limit)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        return -errno;
        }
        *ret_limit = (uint64_t)rl.rlim_cur;
        return 0;
}
