/* brm_loadgen: the messages a simulated node sends, shaped like a
 * Raspberry Pi 4 agent's (see loadgen.h). */
#include <errno.h>
#include <string.h>

#include "err.h"
#include "join.h"
#include "loadgen.h"
#include "pki.h"
#include "util.h"

static void fill_node_info(struct node *n, Bramble__NodeInfo *info)
{
        static char *controllers[] = { "cpuset", "cpu", "io", "memory", "pids" };

        bramble__node_info__init(info);
        info->arch = "aarch64";
        info->model = "Raspberry Pi 4 Model B Rev 1.4";
        info->serial = n->serial;
        info->kernel = "6.12.20+rpt-rpi-v8";
        info->has_mem_total_bytes = 1;
        info->mem_total_bytes = 4ULL << 30;
        info->has_cgroup_version = 1;
        info->cgroup_version = 2;
        info->n_cgroup_controllers = BRM_ARRAY_SIZE(controllers);
        info->cgroup_controllers = controllers;
        info->agent_version = BRM_VERSION "-loadgen";
        info->has_cpu_count = 1;
        info->cpu_count = 4;
        info->os = "Debian GNU/Linux 13 (trixie)";
}

void brm_lg_send_hello(struct node *n)
{
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Hello hello = BRAMBLE__HELLO__INIT;
        Bramble__NodeInfo info;
        int r;

        fill_node_info(n, &info);
        hello.info = &info;
        hello.boot_id = n->boot_id;
        env.has_id = 1;
        env.id = 1;
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HELLO;
        env.hello = &hello;
        if ((r = brm_conn_send(n->conn, &env)) < 0)
                brm_conn_close(n->conn, r);
}

/* A heartbeat shaped like a Raspberry Pi 4's: every metric present, and
 * the node's containers (loadgen_ctr.c). */
void brm_lg_send_heartbeat(struct node *n)
{
        struct lg *lg = n->lg;
        Bramble__Envelope env = BRAMBLE__ENVELOPE__INIT;
        Bramble__Heartbeat hb = BRAMBLE__HEARTBEAT__INIT;
        Bramble__Throttle th = BRAMBLE__THROTTLE__INIT;
        uint32_t r = brm_lg_rnd32();
        int rc;

        n->net_rx += 1000 + (r & 0xfff);
        n->net_tx += 800 + ((r >> 12) & 0x7ff);
        hb.has_seq = 1;
        hb.seq = ++n->seq;
        hb.has_uptime_ms = 1;
        hb.uptime_ms = 86400000ULL + brm_mono_ms() - lg->t0_ms;
        hb.boot_id = n->boot_id;
        hb.has_cpu_percent = 1;
        hb.cpu_percent = (float)(r % 1000) / 10.0f;
        hb.has_load1 = hb.has_load5 = hb.has_load15 = 1;
        hb.load1 = 0.42f;
        hb.load5 = 0.37f;
        hb.load15 = 0.30f;
        hb.has_mem_total_bytes = hb.has_mem_available_bytes = 1;
        hb.mem_total_bytes = 4ULL << 30;
        hb.mem_available_bytes = (3ULL << 30) + (r & 0xfffff);
        hb.has_disk_total_bytes = hb.has_disk_free_bytes = 1;
        hb.disk_total_bytes = 31ULL << 30;
        hb.disk_free_bytes = 24ULL << 30;
        hb.has_net_rx_bytes = hb.has_net_tx_bytes = 1;
        hb.net_rx_bytes = n->net_rx;
        hb.net_tx_bytes = n->net_tx;
        hb.has_temp_celsius = 1;
        hb.temp_celsius = 45.0f + (float)(r % 100) / 10.0f;
        th.has_raw = 1;
        th.has_under_voltage = th.has_freq_capped = th.has_throttled = th.has_soft_temp_limit = 1;
        th.has_under_voltage_occurred = th.has_freq_capped_occurred = th.has_throttled_occurred =
                th.has_soft_temp_limit_occurred = 1;
        hb.throttle = &th;
        brm_lg_fill_statuses(n, &hb);
        env.msg_case = BRAMBLE__ENVELOPE__MSG_HEARTBEAT;
        env.heartbeat = &hb;
        rc = brm_conn_send(n->conn, &env);
        if (rc < 0) {
                lg->send_errors++;
                brm_conn_close(n->conn, rc);
                return;
        }
        lg->hb_sent++;
        brm_lg_statuses_sent(n);
}

/* The agent's own join code (lib/join.c): pin and verify first, then the
 * secret. */
void brm_lg_send_join(struct node *n)
{
        int r = brm_join_send(n->conn, &n->lg->token, n->name, n->csr, n->csr_len, 1);

        if (r < 0)
                brm_conn_close(n->conn, r);
}

int brm_lg_take_join_response(struct node *n, const Bramble__JoinResponse *jr)
{
        struct lg *lg = n->lg;
        int r;

        if (!jr->has_cert_der || !jr->has_ca_der || jr->ca_der.len > sizeof(lg->ca_der))
                return -EPROTO;
        if (!lg->have_ca) {
                uint8_t h[32];
                if (brm_pki_sha256(jr->ca_der.data, jr->ca_der.len, h) < 0 || memcmp(h, lg->token.ca_hash, 32) != 0)
                        return -EACCES;
                r = mbedtls_x509_crt_parse_der(&lg->ca, jr->ca_der.data, jr->ca_der.len);
                if (r != 0)
                        return brm_err_mbedtls(r);
                memcpy(lg->ca_der, jr->ca_der.data, jr->ca_der.len);
                lg->ca_der_len = jr->ca_der.len;
                lg->have_ca = true;
        } else if (jr->ca_der.len != lg->ca_der_len || memcmp(jr->ca_der.data, lg->ca_der, lg->ca_der_len) != 0) {
                return -EACCES;
        }
        if (n->creds.has_cert) { /* an earlier attempt got this far and failed after */
                mbedtls_x509_crt_free(&n->creds.cert);
                mbedtls_x509_crt_init(&n->creds.cert);
                n->creds.has_cert = false;
        }
        if (n->conf_ready)
                mbedtls_ssl_config_free(&n->conf);
        if ((r = brm_tls_creds_add_cert(&n->creds, jr->cert_der.data, jr->cert_der.len)) < 0)
                return r;
        mbedtls_ssl_config_init(&n->conf);
        n->conf_ready = true;
        if ((r = brm_tls_config(&n->conf, false, BRM_TLS_VERIFY_REQUIRED, &n->creds)) < 0)
                return r;
        /* One parsed CA for every node instead of one copy each. */
        mbedtls_ssl_conf_ca_chain(&n->conf, &lg->ca, NULL);
        return 0;
}

