#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes the master's /metrics every second
# over HTTPS, with a metrics token as its bearer credentials and the
# cluster CA as its only trust: PromQL through its HTTP API counts the
# Ready nodes, reads the SoC temperature of a node running on the recorded
# Raspberry Pi 4 tree, and sees a killed agent turn not ready within its
# grace. A scrape passes 'promtool check metrics'.
source "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
        skip "prometheus and promtool are not installed (Debian package prometheus; scripts/bootstrap installs it)"
command -v curl >/dev/null || skip "curl is not installed (scripts/bootstrap installs it)"

start_master_http
TOKEN=$(create_token --ttl 1h --uses 3)
start_agent pi-4 --token "$TOKEN" --root "$FIXTURES/rpi4"
start_agent pi-b --token "$TOKEN"
start_agent pi-c --token "$TOKEN"
wait_for 10 all_in_state Ready pi-4 pi-b pi-c || fail "setup: not all Ready: $(states pi-4 pi-b pi-c)"
cli api-token create --role metrics --description prometheus
((CLI_RC == 0)) || fail "api-token create exited $CLI_RC: $CLI_ERR"
printf '%s' "$CLI_OUT" >"$WORK/prometheus.token"
METRICS=$CLI_OUT

# promtool's lint of one scrape: no problems at all.
expect_http 200 /metrics -H "Authorization: Bearer $METRICS"
lint=$(promtool check metrics <"$WORK/http.body" 2>&1) || fail "promtool check metrics failed: $lint"
[[ -z "$lint" ]] || fail "promtool check metrics reports: $lint"
log "a scrape of 3 nodes: $(wc -c <"$WORK/http.body") bytes, $(grep -vc '^#' "$WORK/http.body") series; promtool check metrics: clean"

PROM_PORT=$(free_port)
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bramble
    scheme: https
    authorization:
      type: Bearer
      credentials_file: $WORK/prometheus.token
    tls_config:
      ca_file: $HTTP_CA
    static_configs:
      - targets: ['127.0.0.1:$HTTP_PORT']
YML
out=$(promtool check config "$WORK/prometheus.yml" 2>&1) || fail "promtool check config: $out"
prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/tsdb" \
        --web.listen-address "127.0.0.1:$PROM_PORT" --log.level warn >"$LOGS/prometheus.log" 2>&1 &
track $! "prometheus"

# promql QUERY: the first result's value, or "" when none.
promql() {
        curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
                python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}
promql_is() { [[ "$(promql "$1")" == "$2" ]]; }

wait_for 30 promql_is 'up{job="bramble"}' 1 ||
        fail "Prometheus does not scrape the master: up=$(promql 'up{job="bramble"}'); $(tail -5 "$LOGS/prometheus.log")"
wait_for 10 promql_is 'count(bramble_node_ready == 1)' 3 ||
        fail "Prometheus counts $(promql 'count(bramble_node_ready == 1)') Ready nodes: expected 3"
temp=$(promql 'bramble_node_temperature_celsius{node="pi-4"}')
# The fixture's thermal zone reads 48686 (millidegrees).
python3 -c "import sys; sys.exit(0 if abs(float('${temp:-nan}') - 48.686) < 0.05 else 1)" ||
        fail "pi-4's temperature in Prometheus: expected 48.7, got '$temp'"
log "Prometheus: 3 Ready nodes; pi-4 at $temp °C"

kill -KILL "${AGENT_PID[pi-c]}"
t_kill=$(now_ms)
reap "${AGENT_PID[pi-c]}"
# The grace (3 x 1 s) plus a scrape interval and the liveness tick.
wait_for 10 promql_is 'bramble_node_ready{node="pi-c"}' 0 ||
        fail "pi-c not shown as not ready in Prometheus within 10 s of kill -9: $(promql 'bramble_node_ready{node="pi-c"}')"
log "pi-c not ready in Prometheus $(($(now_ms) - t_kill)) ms after kill -9"
assert_eq 2 "$(promql 'count(bramble_node_ready == 1)')" "Ready nodes in Prometheus after the kill"
pass
