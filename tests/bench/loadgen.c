/* brm_loadgen: many simulated nodes against one real master, in one process
 * on one libuv loop.
 *
 * Every simulated node does what bramble-agent does, with the same library
 * code: it has its own P-256 key, joins with the token (TLS without a client
 * certificate, the CA pinned by the token's hash and the master verified
 * against it before the secret is sent, a real CSR), stores the certificate
 * it gets, reconnects with mutual TLS under its own certificate, says Hello
 * with a NodeInfo and then sends a Heartbeat every interval. Start times are
 * jittered over one interval so the heartbeats are spread. It keeps the set
 * of containers each DesiredState names and reports them running in its
 * heartbeats; on SIGUSR1 nodes can lose their power (loadgen_ctr.c).
 *
 * Phases: keys (all keys and CSRs, before anything is timed), join (first
 * join started to last certificate received), connect (first mTLS connect
 * to last HelloAck), then the steady state, which lasts --duration. With
 * --pipeline each node reconnects right after its own join, as a real agent
 * does, and the two phases overlap.
 *
 * Against a master on loopback, node i connects from its own address
 * 127.1.x.y, as distinct Pis would: the master bounds the connections
 * without a certificate per source address, and a thousand joins from one
 * address would meet that bound instead of the master's capacity.
 *
 * The program prints its figures, one "STEADY" line when the steady state
 * begins (for scripts that sample the master then) and one "RESULT k=v ..."
 * line at the end. It never asserts timings; it exits 1 only when not every
 * node reached the steady state. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "err.h"
#include "loadgen.h"
#include "pki.h"
#include "util.h"

/* ---- the start queue: at most --concurrency joins or handshakes in flight ---- */

static void start_attempt(struct node *n);

static void enqueue(struct node *n)
{
        struct lg *lg = n->lg;

        if (n->queued || lg->phase >= 3)
                return;
        n->queued = true;
        n->qnext = NULL;
        if (lg->qtail)
                lg->qtail->qnext = n;
        else
                lg->qhead = n;
        lg->qtail = n;
}

static void pump(struct lg *lg)
{
        while (lg->phase < 3 && lg->qhead &&
               lg->in_flight < (lg->qhead->state == ST_NEW ? lg->join_concurrency : lg->concurrency)) {
                struct node *n = lg->qhead;
                lg->qhead = n->qnext;
                if (!lg->qhead)
                        lg->qtail = NULL;
                n->queued = false;
                start_attempt(n);
        }
}

static void release_slot(struct node *n)
{
        if (n->holds_slot) {
                n->holds_slot = false;
                n->lg->in_flight--;
        }
}

/* ---- phases ---- */

static void enter_steady(struct lg *lg);

static void begin_connect_phase(struct lg *lg)
{
        getrusage(RUSAGE_SELF, &lg->ru_conn);
        lg->mcpu_conn = brm_lg_proc_cpu_s(lg->master_pid);
        lg->phase = 1;
        if (lg->join_last_ms)
                brm_lg_say(lg, "join: %u/%u nodes joined in %.3f s (first join started -> last certificate received), %.0f joins/s, "
                        "%u failed attempts, %u nodes gave up\n",
                    lg->joined, lg->n, brm_lg_secs(lg->join_last_ms - lg->join_first_ms),
                    lg->joined / (brm_lg_secs(lg->join_last_ms - lg->join_first_ms) + 1e-9), lg->join_errors, lg->join_failed);
        else
                brm_lg_say(lg, "join: no node joined (%u failed attempts)\n", lg->join_errors);
        brm_lg_lat_print("join", lg->join_lat, lg->n_join_lat);
        if (lg->master_pid > 0 && lg->joined)
                brm_lg_say(lg, "  master cpu in the join phase: %.2f s, %.2f ms per joined node; loadgen cpu %.2f ms per joined node\n",
                    lg->mcpu_conn - lg->mcpu_join, 1000.0 * (lg->mcpu_conn - lg->mcpu_join) / lg->joined,
                    1000.0 * brm_lg_cpu_s(&lg->ru_join, &lg->ru_conn) / lg->joined);
        brm_lg_reason_print("join errors:", &lg->join_why);
        if (lg->first_master_error[0])
                brm_lg_say(lg, "  first refusal from the master: %s\n", lg->first_master_error);
        if (!lg->pipeline)
                for (unsigned i = 0; i < lg->n; i++)
                        if (lg->nodes[i].state == ST_JOINED)
                                enqueue(&lg->nodes[i]);
        pump(lg);
}

static void check_phase(struct lg *lg)
{
        if (lg->phase == 0 && lg->joined + lg->join_failed == lg->n)
                begin_connect_phase(lg);
        if (lg->phase == 1 && lg->up + lg->conn_failed + lg->join_failed == lg->n)
                enter_steady(lg);
}

/* ---- connections ---- */

static void on_beat(uv_timer_t *t)
{
        struct node *n = t->data;

        if (n->state == ST_UP && n->conn && n->lg->phase < 3 && !n->cut)
                brm_lg_send_heartbeat(n);
}


static void on_ready(struct brm_conn *c, int status)
{
        struct node *n = c->data;

        if (status < 0)
                return; /* the connection is closing; on_closed counts it */
        if (n->state == ST_JOINING)
                brm_lg_send_join(n);
        else
                brm_lg_send_hello(n);
}

static void on_msg(struct brm_conn *c, Bramble__Envelope *env)
{
        struct node *n = c->data;
        struct lg *lg = n->lg;
        uint64_t now = brm_mono_ms();
        int r;

        if (n->cut)
                return; /* what was read before the cut */
        switch (env->msg_case) {
        case BRAMBLE__ENVELOPE__MSG_DESIRED:
                brm_lg_take_desired(n, env->desired);
                return;
        case BRAMBLE__ENVELOPE__MSG_ERROR:
                lg->master_errors++;
                if (!lg->first_master_error[0])
                        snprintf(lg->first_master_error, sizeof(lg->first_master_error), "%s: %s", n->name,
                                 env->error->message ? env->error->message : "(no message)");
                brm_conn_close(c, env->error->has_code && env->error->code < 0 ? env->error->code : -EPROTO);
                return;
        case BRAMBLE__ENVELOPE__MSG_JOIN_RESPONSE:
                if (n->state != ST_JOINING) {
                        brm_conn_close(c, -EPROTO);
                        return;
                }
                if ((r = brm_lg_take_join_response(n, env->join_response)) < 0) {
                        brm_conn_close(c, r);
                        return;
                }
                n->op_ok = true;
                lg->join_last_ms = now;
                lg->join_lat[lg->n_join_lat++] = (uint32_t)(now - n->op_start_ms);
                brm_conn_close(c, 0);
                return;
        case BRAMBLE__ENVELOPE__MSG_HELLO_ACK:
                if (n->state != ST_CONNECTING)
                        return;
                if (env->hello_ack->has_heartbeat_interval_ms)
                        lg->hello_interval_ms = env->hello_ack->heartbeat_interval_ms;
                n->op_ok = true;
                n->state = ST_UP;
                release_slot(n);
                brm_backoff_reset(&n->backoff);
                lg->up++;
                n->attempts = 0;
                if (!n->ever_up) {
                        n->ever_up = true;
                        lg->conn_last_ms = now;
                        lg->conn_lat[lg->n_conn_lat++] = (uint32_t)(now - n->op_start_ms);
                }
                /* Like the agent: one heartbeat at once (the node turns Ready),
                 * then every interval from a random point within the first. */
                brm_lg_send_heartbeat(n);
                if (n->conn && !n->conn->closing)
                        uv_timer_start(&n->timer, on_beat, 1 + brm_lg_rnd32() % lg->interval_ms, lg->interval_ms);
                check_phase(lg);
                pump(lg);
                return;
        default:
                return;
        }
}

static void on_lag(uv_timer_t *t)
{
        struct lg *lg = t->data;
        uint64_t now = uv_now(lg->loop);

        if (lg->phase < 3 && now > lg->lag_expect_ms && now - lg->lag_expect_ms > lg->max_lag_ms[lg->phase])
                lg->max_lag_ms[lg->phase] = now - lg->lag_expect_ms;
        lg->lag_expect_ms = now + 100;
}

static void on_retry(uv_timer_t *t)
{
        struct node *n = t->data;

        enqueue(n);
        pump(n->lg);
}

static void attempt_failed(struct node *n, int reason)
{
        struct lg *lg = n->lg;
        bool joining = n->state == ST_JOINING;

        if (joining) {
                lg->join_errors++;
                brm_lg_reason_add(&lg->join_why, reason);
        } else {
                lg->conn_errors++;
                brm_lg_reason_add(&lg->conn_why, reason);
        }
        if (n->attempts >= lg->retries + 1 || lg->phase >= 3) {
                n->state = ST_FAILED;
                if (joining)
                        lg->join_failed++;
                else
                        lg->conn_failed++;
                check_phase(lg);
                return;
        }
        n->state = joining ? ST_NEW : ST_JOINED;
        uv_timer_start(&n->timer, on_retry, brm_backoff_next(&n->backoff), 0);
}

static void on_closed(struct brm_conn *c)
{
        struct node *n = c->data;
        struct lg *lg = n->lg;
        int reason = c->close_reason ? c->close_reason : -ECONNRESET;

        free(c);
        n->conn = NULL;
        release_slot(n);
        switch (n->state) {
        case ST_JOINING:
                if (n->op_ok) {
                        n->state = ST_JOINED;
                        n->attempts = 0;
                        brm_backoff_reset(&n->backoff);
                        lg->joined++;
                        if (lg->pipeline)
                                enqueue(n);
                        check_phase(lg);
                } else {
                        attempt_failed(n, reason);
                }
                break;
        case ST_CONNECTING:
                attempt_failed(n, reason);
                break;
        case ST_UP:
                uv_timer_stop(&n->timer);
                lg->up--;
                n->state = ST_JOINED;
                if (lg->phase >= 3 || n->cut)
                        break; /* a cut node stays silent */
                /* The master dropped a working session: count it and
                 * reconnect with backoff, as the agent does. */
                lg->drops++;
                if (lg->phase == 2)
                        lg->drops_steady++;
                lg->reconnects++;
                brm_lg_reason_add(&lg->drop_why, reason);
                uv_timer_start(&n->timer, on_retry, brm_backoff_next(&n->backoff), 0);
                break;
        default:
                break;
        }
        pump(lg);
}

/* Node i speaks from 127.1.x.y (y from 1 to 250), its own address. */
static int bind_source(struct brm_conn *c, unsigned idx)
{
        struct sockaddr_in src = { .sin_family = AF_INET };

        src.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((idx / 250) % 256) << 8 | (idx % 250 + 1));
        return uv_tcp_bind(&c->tls.tcp, (const struct sockaddr *)&src, 0);
}

static void start_attempt(struct node *n)
{
        struct lg *lg = n->lg;
        bool join = n->state == ST_NEW;
        struct brm_conn *c;
        uint64_t now = brm_mono_ms();
        int r;

        if (n->state != ST_NEW && n->state != ST_JOINED)
                return;
        c = calloc(1, sizeof(*c));
        if (!c) {
                attempt_failed(n, -ENOMEM);
                return;
        }
        r = brm_conn_init(lg->loop, c, join ? &lg->pin_conf : &n->conf, 0);
        if (r < 0) {
                free(c);
                n->state = join ? ST_JOINING : ST_CONNECTING;
                n->attempts++;
                attempt_failed(n, r);
                return;
        }
        c->handshake_timeout_ms = lg->handshake_timeout_ms;
        c->data = n;
        n->conn = c;
        n->op_ok = false;
        n->holds_slot = true;
        lg->in_flight++;
        n->attempts++;
        n->op_start_ms = now;
        if (join) {
                n->state = ST_JOINING;
                if (!lg->join_first_ms)
                        lg->join_first_ms = now;
        } else {
                n->state = ST_CONNECTING;
                if (!lg->conn_first_ms)
                        lg->conn_first_ms = now;
        }
        if (lg->spread_sources && (r = bind_source(c, n->idx)) < 0) {
                brm_conn_close(c, r);
                return;
        }
        r = brm_conn_connect(c, (const struct sockaddr *)&lg->addr, on_ready, on_msg, on_closed);
        if (r < 0)
                brm_conn_close(c, r); /* on_closed counts the failure */
}

/* ---- start and stop ---- */

static void timer_closed(uv_handle_t *h)
{
}

static void stop_all(struct lg *lg)
{
        if (lg->phase >= 3)
                return;
        lg->phase = 3;
        for (unsigned i = 0; i < lg->n; i++) {
                struct node *n = &lg->nodes[i];
                uv_timer_stop(&n->timer);
                uv_close((uv_handle_t *)&n->timer, timer_closed);
                if (n->conn)
                        brm_conn_close(n->conn, 0);
        }
        uv_close((uv_handle_t *)&lg->setup_timer, timer_closed);
        uv_close((uv_handle_t *)&lg->stop_timer, timer_closed);
        uv_close((uv_handle_t *)&lg->lag_timer, timer_closed);
        uv_close((uv_handle_t *)&lg->sigint, NULL);
        uv_close((uv_handle_t *)&lg->sigterm, NULL);
        brm_lg_ctr_stop(lg);
}

static void finish(struct lg *lg)
{
        if (lg->phase >= 3)
                return;
        lg->steady_end_ms = brm_mono_ms();
        getrusage(RUSAGE_SELF, &lg->ru_end);
        lg->mcpu_end = brm_lg_proc_cpu_s(lg->master_pid);
        if (lg->phase < 2) {
                /* Stopped before the steady state: report what got done. */
                getrusage(RUSAGE_SELF, &lg->ru_steady);
                if (lg->phase == 0)
                        lg->ru_conn = lg->ru_steady;
        }
        lg->up_at_end = lg->up;
        brm_lg_report(lg);
        stop_all(lg);
}

static void on_stop(uv_timer_t *t)
{
        finish(t->data);
}

static void enter_steady(struct lg *lg)
{
        if (lg->phase != 1)
                return;
        lg->phase = 2;
        getrusage(RUSAGE_SELF, &lg->ru_steady);
        lg->mcpu_steady = brm_lg_proc_cpu_s(lg->master_pid);
        uv_timer_stop(&lg->setup_timer);
        if (lg->conn_last_ms)
                brm_lg_say(lg, "connect: %u/%u mTLS sessions up in %.3f s (first connect started -> last HelloAck), %.0f/s, "
                        "%u failed attempts, %u nodes gave up\n",
                    lg->up, lg->joined, brm_lg_secs(lg->conn_last_ms - lg->conn_first_ms),
                    lg->up / (brm_lg_secs(lg->conn_last_ms - lg->conn_first_ms) + 1e-9), lg->conn_errors, lg->conn_failed);
        else
                brm_lg_say(lg, "connect: no session came up (%u failed attempts)\n", lg->conn_errors);
        brm_lg_lat_print("connect", lg->conn_lat, lg->n_conn_lat);
        if (lg->master_pid > 0 && lg->up)
                brm_lg_say(lg, "  master cpu in the connect phase: %.2f s, %.2f ms per session; loadgen cpu %.2f ms per session\n",
                    lg->mcpu_steady - lg->mcpu_conn, 1000.0 * (lg->mcpu_steady - lg->mcpu_conn) / lg->up,
                    1000.0 * brm_lg_cpu_s(&lg->ru_conn, &lg->ru_steady) / lg->up);
        brm_lg_reason_print("connect errors:", &lg->conn_why);
        if (lg->hello_interval_ms && lg->hello_interval_ms != lg->interval_ms)
                brm_lg_say(lg, "note: the master asks for a heartbeat every %u ms; this run sends every %llu ms (--interval)\n",
                    lg->hello_interval_ms, (unsigned long long)lg->interval_ms);
        lg->steady_start_ms = brm_mono_ms();
        lg->hb_sent_steady_base = lg->hb_sent;
        brm_lg_say(lg, "STEADY nodes=%u interval_ms=%llu duration_s=%.1f\n", lg->up, (unsigned long long)lg->interval_ms,
            brm_lg_secs(lg->duration_ms));
        uv_timer_start(&lg->stop_timer, on_stop, lg->duration_ms, 0);
}

static void on_setup_timeout(uv_timer_t *t)
{
        struct lg *lg = t->data;

        brm_lg_say(lg, "setup timeout: %u joined, %u up after %.0f s; going on with what is up\n", lg->joined, lg->up,
            brm_lg_secs(lg->setup_timeout_ms));
        if (lg->phase == 0)
                begin_connect_phase(lg);
        /* Nodes still queued or in flight keep going; the steady state starts now. */
        enter_steady(lg);
}

static void on_signal(uv_signal_t *s, int signum)
{
        struct lg *lg = s->data;

        brm_lg_say(lg, "signal %d: stopping\n", signum);
        finish(lg);
}

int main(int argc, char **argv)
{
        struct lg lg;
        int r, rc = 1;

        if ((rc = brm_lg_options(&lg, argc, argv)) >= 0)
                return rc;
        rc = 1;
        signal(SIGPIPE, SIG_IGN);
        brm_lg_raise_nofile(&lg);
        if (brm_pki_init() < 0) {
                fprintf(stderr, "brm_loadgen: crypto init failed\n");
                return 1;
        }
        lg.loop = uv_default_loop();
        mbedtls_x509_crt_init(&lg.ca);
        mbedtls_ssl_config_init(&lg.pin_conf);
        if ((r = brm_tls_config(&lg.pin_conf, false, BRM_TLS_VERIFY_PIN, NULL)) < 0) {
                fprintf(stderr, "brm_loadgen: TLS setup failed: %s\n", brm_strerror(r));
                goto out;
        }
        brm_lg_say(&lg, "loadgen: %u nodes -> %s, joins in flight %u, handshakes in flight %u, heartbeat every %llu ms, steady state %.0f s%s\n", lg.n, lg.master,
            lg.join_concurrency, lg.concurrency, (unsigned long long)lg.interval_ms, brm_lg_secs(lg.duration_ms),
            lg.pipeline ? ", pipelined (join then connect per node)" : "");
        if ((r = brm_lg_make_nodes(&lg)) < 0) {
                fprintf(stderr, "brm_loadgen: making keys failed: %s\n", brm_strerror(r));
                goto out;
        }
        uv_timer_init(lg.loop, &lg.setup_timer);
        uv_timer_init(lg.loop, &lg.stop_timer);
        lg.setup_timer.data = lg.stop_timer.data = &lg;
        uv_signal_init(lg.loop, &lg.sigint);
        uv_signal_init(lg.loop, &lg.sigterm);
        lg.sigint.data = lg.sigterm.data = &lg;
        uv_signal_start(&lg.sigint, on_signal, SIGINT);
        uv_signal_start(&lg.sigterm, on_signal, SIGTERM);
        brm_lg_ctr_start(&lg);
        /* Making keys took a while: refresh the loop's clock first. */
        uv_update_time(lg.loop);
        uv_timer_start(&lg.setup_timer, on_setup_timeout, lg.setup_timeout_ms, 0);
        uv_timer_init(lg.loop, &lg.lag_timer);
        lg.lag_timer.data = &lg;
        lg.lag_expect_ms = uv_now(lg.loop) + 100;
        uv_timer_start(&lg.lag_timer, on_lag, 100, 100);
        lg.t0_ms = brm_mono_ms();
        getrusage(RUSAGE_SELF, &lg.ru_join);
        lg.mcpu_join = brm_lg_proc_cpu_s(lg.master_pid);
        for (unsigned i = 0; i < lg.n; i++)
                enqueue(&lg.nodes[i]);
        pump(&lg);
        uv_run(lg.loop, UV_RUN_DEFAULT);
        /* Not a timing assertion: 1 only when some node never got a session. */
        rc = lg.steady_start_ms && lg.up_at_end == lg.n ? 0 : 1;
out:
        brm_lg_free_nodes(&lg);
        mbedtls_ssl_config_free(&lg.pin_conf);
        mbedtls_x509_crt_free(&lg.ca);
        uv_loop_close(lg.loop);
        return rc;
}
