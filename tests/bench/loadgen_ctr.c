/* brm_loadgen: the containers of simulated nodes, for the scheduler
 * benchmark (see loadgen.h). A node keeps the names in the last
 * DesiredState the master sent it and reports each one in its heartbeats,
 * "pending" until --start-delay has passed since it first appeared, then
 * "running" with a made-up pid and the wall-clock time it started. Nothing
 * runs: a name, two times and a pid per container.
 *
 * Counters over the nodes that are not cut (desired containers, those
 * reported running in a heartbeat sent, the wall-clock times of the last of
 * each) go to the --stats file, rewritten at most every 100 ms. On SIGUSR1
 * the --control file is read: "cut N" silences the first N nodes that hold
 * a container, as a power cut would: no more heartbeats, nothing read, and
 * the connection is left open. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "loadgen.h"
#include "util.h"

struct lg_ctr {
        char *name;
        uint64_t due_mono; /* when it turns running */
        int64_t since_ms;  /* wall clock, once running */
        int32_t pid;
        bool reported;     /* a heartbeat said "running" */
};

static int by_name(const void *a, const void *b)
{
        return strcmp(((const struct lg_ctr *)a)->name, ((const struct lg_ctr *)b)->name);
}

static void count_out(struct node *n)
{
        struct lg *lg = n->lg;

        if (n->cut)
                return;
        lg->live_desired -= n->n_ctrs;
        lg->live_running -= n->n_running;
}

static void free_ctrs(struct lg_ctr *v, uint32_t k)
{
        for (uint32_t i = 0; i < k; i++)
                free(v[i].name);
        free(v);
}

/* The new set, merged with the old one by name (both sorted): a container
 * that stays keeps its times, pid and whether it was reported. */
void brm_lg_take_desired(struct node *n, const Bramble__DesiredState *ds)
{
        struct lg *lg = n->lg;
        uint64_t now = brm_mono_ms();
        struct lg_ctr *v = NULL;
        uint32_t k = 0, added = 0, i = 0, j = 0, running = 0;

        lg->ds_frames++;
        if (n->cut)
                return;
        if (ds->n_containers && !(v = calloc(ds->n_containers, sizeof(*v)))) {
                lg->ds_dropped++;
                return;
        }
        for (size_t x = 0; x < ds->n_containers; x++) {
                const Bramble__ContainerSpec *c = ds->containers[x];
                if (!c->name || c->stopped)
                        continue;
                if (!(v[k].name = strdup(c->name))) {
                        free_ctrs(v, k);
                        lg->ds_dropped++;
                        return;
                }
                k++;
        }
        if (k > 1)
                qsort(v, k, sizeof(*v), by_name);
        while (i < k) {
                int d = j < n->n_ctrs ? strcmp(v[i].name, n->ctrs[j].name) : -1;
                if (d > 0) {
                        j++;
                        continue;
                }
                if (d == 0) {
                        char *name = v[i].name;
                        v[i] = n->ctrs[j];
                        v[i].name = name;
                        running += v[i].reported;
                        j++;
                } else {
                        v[i].due_mono = now + lg->start_delay_ms;
                        v[i].pid = (int32_t)(1000 + lg->next_pid++ % 4000000);
                        added++;
                }
                i++;
        }
        count_out(n);
        free_ctrs(n->ctrs, n->n_ctrs);
        n->ctrs = v;
        n->n_ctrs = k;
        n->n_running = running;
        lg->live_desired += k;
        lg->live_running += running;
        if (added) {
                lg->last_desired_wall_ms = brm_now_ms();
                lg->ctrs_added += added;
        }
        lg->stats_dirty = true;
}

int brm_lg_fill_statuses(struct node *n, Bramble__Heartbeat *hb)
{
        struct lg *lg = n->lg;
        uint64_t now = brm_mono_ms();

        hb->n_containers = 0;
        if (!n->n_ctrs)
                return 0;
        if (n->n_ctrs > lg->st_cap) {
                Bramble__ContainerStatus *s = realloc(lg->st, n->n_ctrs * sizeof(*s));
                Bramble__ContainerStatus **p = s ? realloc(lg->st_ptrs, n->n_ctrs * sizeof(*p)) : NULL;
                if (s)
                        lg->st = s;
                if (p)
                        lg->st_ptrs = p;
                if (!s || !p)
                        return -ENOMEM;
                lg->st_cap = n->n_ctrs;
        }
        for (uint32_t i = 0; i < n->n_ctrs; i++) {
                struct lg_ctr *c = &n->ctrs[i];
                Bramble__ContainerStatus *s = &lg->st[i];
                bramble__container_status__init(s);
                s->name = c->name;
                if (now >= c->due_mono) {
                        if (!c->since_ms)
                                c->since_ms = brm_now_ms();
                        s->state = "running";
                        s->has_pid = 1;
                        s->pid = c->pid;
                        s->has_restarts = 1;
                        s->has_memory_bytes = 1;
                        s->memory_bytes = 2u << 20;
                        s->has_cpu_percent = 1;
                } else {
                        s->state = "pending";
                }
                if (c->since_ms) {
                        s->has_since_ms = 1;
                        s->since_ms = c->since_ms;
                }
                lg->st_ptrs[i] = s;
        }
        hb->n_containers = n->n_ctrs;
        hb->containers = lg->st_ptrs;
        return 0;
}

void brm_lg_statuses_sent(struct node *n)
{
        struct lg *lg = n->lg;
        uint32_t newly = 0;

        for (uint32_t i = 0; i < n->n_ctrs; i++)
                if (n->ctrs[i].since_ms && !n->ctrs[i].reported) {
                        n->ctrs[i].reported = true;
                        newly++;
                }
        if (!newly)
                return;
        n->n_running += newly;
        if (!n->cut)
                lg->live_running += newly;
        lg->last_running_wall_ms = brm_now_ms();
        lg->stats_dirty = true;
}

void brm_lg_free_ctrs(struct node *n)
{
        free_ctrs(n->ctrs, n->n_ctrs);
        n->ctrs = NULL;
        n->n_ctrs = n->n_running = 0;
}

/* ---- the power cut ---- */

static void cut_node(struct node *n)
{
        struct lg *lg = n->lg;

        count_out(n);
        n->cut = true;
        lg->n_cut++;
        lg->cut_ctrs += n->n_ctrs;
        uv_timer_stop(&n->timer);
        if (n->conn && n->conn->tls.reading) {
                uv_read_stop((uv_stream_t *)&n->conn->tls.tcp);
                n->conn->tls.reading = false;
        }
}

static void cut(struct lg *lg, unsigned want)
{
        unsigned done = 0;

        for (unsigned i = 0; i < lg->n && done < want; i++) {
                struct node *n = &lg->nodes[i];
                if (n->cut || n->state != ST_UP || !n->conn || !n->n_ctrs)
                        continue;
                cut_node(n);
                done++;
        }
        lg->cut_wall_ms = brm_now_ms();
        lg->stats_dirty = true;
        brm_lg_say(lg, "CUT nodes=%u containers=%u wall_ms=%lld (asked for %u)\n", done, lg->cut_ctrs,
                   (long long)lg->cut_wall_ms, want);
}

static void on_control(uv_signal_t *s, int signum)
{
        struct lg *lg = s->data;
        char buf[128] = "";
        unsigned long v;
        char *end;
        FILE *f;

        (void)signum;
        if (!lg->control_path || !(f = fopen(lg->control_path, "r"))) {
                brm_lg_say(lg, "control: SIGUSR1 but no --control file to read\n");
                return;
        }
        if (!fgets(buf, sizeof(buf), f))
                buf[0] = 0;
        fclose(f);
        if (strncmp(buf, "cut ", 4) == 0 && (v = strtoul(buf + 4, &end, 10)) > 0 && (*end == '\n' || !*end)) {
                cut(lg, (unsigned)v);
                return;
        }
        brm_lg_say(lg, "control: cannot read '%.60s' (expected: cut N)\n", buf);
}

/* ---- the stats file ---- */

static void write_stats(struct lg *lg)
{
        char line[400];
        int len = snprintf(line, sizeof(line),
                           "desired=%llu running=%llu up=%u cut=%u cut_containers=%u ds_frames=%llu ds_dropped=%llu "
                           "added=%llu last_desired_ms=%lld last_running_ms=%lld cut_ms=%lld\n",
                           (unsigned long long)lg->live_desired, (unsigned long long)lg->live_running, lg->up, lg->n_cut,
                           lg->cut_ctrs, (unsigned long long)lg->ds_frames, (unsigned long long)lg->ds_dropped,
                           (unsigned long long)lg->ctrs_added, (long long)lg->last_desired_wall_ms,
                           (long long)lg->last_running_wall_ms, (long long)lg->cut_wall_ms);

        if (brm_file_write_fast(lg->stats_path, line, (size_t)len, 0644) < 0 && !lg->stats_warned) {
                lg->stats_warned = true;
                brm_lg_say(lg, "stats: cannot write %s\n", lg->stats_path);
        }
}

static void on_stats(uv_timer_t *t)
{
        struct lg *lg = t->data;
        unsigned up = lg->up;

        if (!lg->stats_dirty && up == lg->stats_up)
                return;
        lg->stats_dirty = false;
        lg->stats_up = up;
        write_stats(lg);
}

void brm_lg_ctr_start(struct lg *lg)
{
        uv_signal_init(lg->loop, &lg->sigusr1);
        lg->sigusr1.data = lg;
        uv_signal_start(&lg->sigusr1, on_control, SIGUSR1);
        uv_timer_init(lg->loop, &lg->stats_timer);
        lg->stats_timer.data = lg;
        if (lg->stats_path) {
                write_stats(lg);
                uv_timer_start(&lg->stats_timer, on_stats, 100, 100);
        }
}

void brm_lg_ctr_stop(struct lg *lg)
{
        if (lg->stats_path)
                write_stats(lg);
        uv_close((uv_handle_t *)&lg->sigusr1, NULL);
        uv_close((uv_handle_t *)&lg->stats_timer, NULL);
}

void brm_lg_ctr_report(struct lg *lg)
{
        if (!lg->ds_frames && !lg->n_cut)
                return;
        brm_lg_say(lg, "containers: %llu DesiredState frames (%llu could not be kept), %llu containers added; on the nodes "
                "not cut: %llu desired, %llu reported running; %u nodes cut holding %u\n",
            (unsigned long long)lg->ds_frames, (unsigned long long)lg->ds_dropped, (unsigned long long)lg->ctrs_added,
            (unsigned long long)lg->live_desired, (unsigned long long)lg->live_running, lg->n_cut, lg->cut_ctrs);
}
