#!/usr/bin/env bash
# What a Prometheus scrape costs the master, end to end: a fresh
# bramble-master with --http-listen on loopback, brm_loadgen simulating
# NODES nodes that report the containers their DesiredState names, a
# 'bramble apply' of NODES services x CTRS replicas (CTRS containers on each
# node, spread), then SCRAPES sequential GET /metrics over one keep-alive
# HTTPS connection (curl, a metrics token, the cluster CA). Prints the
# scrape's size and series, curl's time per scrape, and the master's CPU per
# scrape (its threads' CPU time from /proc/PID/task/*/schedstat over the
# scrapes, less the same over as long without them: TLS, parsing and
# rendering). Then the same
# for NODES2 nodes without containers. A benchmark: it prints figures and
# asserts no timings.
#
#   tests/bench/scrape_bench.sh           100 nodes x 20 containers, then 1,000 nodes x 0
#   tests/bench/scrape_bench.sh --smoke   20 nodes x 5, then 50 x 0, 5 scrapes; exit 1 unless
#                                         every scrape is answered with every container (CTest)
#
# Environment (all optional): BRM_BIN, NODES, CTRS, NODES2, SCRAPES (default 50), IDLE (seconds of
# the master's CPU rate sampled without scrapes, default 10), CURL_OPTS (e.g. --ciphers NAME),
# BRM_KEEP=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
MASTER=$BRM_BIN/bramble-master
CLI=$BRM_BIN/bramble
LOADGEN=$BRM_BIN/brm_loadgen
SMOKE=0
for a in "$@"; do
        case $a in
        --smoke) SMOKE=1 ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "scrape_bench.sh: unknown argument '$a' (expected --smoke)" >&2; exit 2 ;;
        esac
done
if ((SMOKE)); then
        NODES=${NODES:-20} CTRS=${CTRS:-5} NODES2=${NODES2:-50} SCRAPES=${SCRAPES:-5} IDLE=${IDLE:-2}
fi
NODES=${NODES:-100}
CTRS=${CTRS:-20}
NODES2=${NODES2:-1000}
SCRAPES=${SCRAPES:-50}
IDLE=${IDLE:-10}
for b in "$MASTER" "$CLI" "$LOADGEN"; do
        [[ -x $b ]] || { echo "scrape_bench.sh: $b not found; build first or set BRM_BIN" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "scrape_bench.sh: needs curl (scripts/bootstrap installs it)" >&2; exit 77; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export BRM_BIN
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"

log() { printf '[scrape_bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
        _BRM_FAILED=1
        log "FAILED: $*"
        tail -n 20 "$WORK/master.log" 2>/dev/null | sed 's/^/    /'
        exit 1
}
# CPU time of every thread of PID in ns (schedstat: nanosecond resolution,
# where /proc/PID/stat counts 10 ms ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%.0f", t }'; }
stat_field() { sed -n 's/.*\b'"$1"'=\([-0-9]*\).*/\1/p' "$WORK/stats" 2>/dev/null; }

# run NODES CTRS: one master, NODES simulated nodes, NODES services of CTRS
# replicas (one per node each, spread: CTRS containers on every node), then
# the scrapes; adds one row.
ROWS=()
run() {
        local nodes=$1 ctrs=$2 total=$(($1 * $2)) port hport token mpid lgpid c0 c1 t0 t1 idle_ns
        rm -rf "$WORK/master" "$WORK/stats"
        port=$(free_port)
        hport=$(free_port)
        "$MASTER" --data-dir "$WORK/master" --listen "127.0.0.1:$port" --http-listen "127.0.0.1:$hport" \
                --heartbeat-interval 2s >"$WORK/master.out" 2>"$WORK/master.log" &
        mpid=$!
        track "$mpid" bramble-master
        for _ in $(seq 1 100); do grep -q "listening on" "$WORK/master.log" && break; sleep 0.1; done
        export BRAMBLE_CONFIG=$WORK/master/admin.json
        "$CLI" dashboard --ca >"$WORK/ca.pem"
        "$CLI" api-token create --role metrics >"$WORK/token"
        token=$("$CLI" token create --ttl 1h)
        "$LOADGEN" --master "127.0.0.1:$port" --token "$token" --nodes "$nodes" --interval 2s --duration 24h \
                --concurrency 64 --prefix sim --master-pid "$mpid" --stats "$WORK/stats" \
                >"$WORK/loadgen.out" 2>"$WORK/loadgen.err" &
        lgpid=$!
        track "$lgpid" brm_loadgen
        for _ in $(seq 1 600); do grep -q '^STEADY' "$WORK/loadgen.out" && break; sleep 0.2; done
        grep -q '^STEADY' "$WORK/loadgen.out" || fail "$nodes nodes were not up within 120 s"
        if ((ctrs > 0)); then
                python3 - "$nodes" "$ctrs" >"$WORK/services.json" <<'PY'
import json, sys
n, r = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({"services": {"s%04d" % i: {"image": "/srv/bench/rootfs", "replicas": r, "max_per_node": 1,
                                              "command": ["sleep", "1000"]} for i in range(n)}}))
PY
                "$CLI" apply -f "$WORK/services.json" >/dev/null 2>"$WORK/apply.err" ||
                        fail "bramble apply failed: $(cat "$WORK/apply.err")"
                for _ in $(seq 1 600); do [[ $(stat_field running) == "$total" ]] && break; sleep 0.2; done
                [[ $(stat_field running) == "$total" ]] || fail "only $(stat_field running) of $total containers running"
        fi
        sleep 4 # two heartbeats, so every node has reported its containers
        local urls=()
        for _ in $(seq 1 "$SCRAPES"); do urls+=(-o "$WORK/scrape" "https://127.0.0.1:$hport/metrics"); done
        # The master's rate without scrapes (its nodes' heartbeats), over
        # IDLE seconds, then the scrapes; a scrape costs what the master used
        # over the scrapes beyond that rate.
        c0=$(cpu_ns "$mpid")
        t0=$(date +%s%N)
        sleep "$IDLE"
        c1=$(cpu_ns "$mpid")
        t1=$(date +%s%N)
        local idle_rate
        idle_rate=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.6f", c / t }')
        c0=$(cpu_ns "$mpid")
        t0=$(date +%s%N)
        # shellcheck disable=SC2086
        curl -sS --cacert "$WORK/ca.pem" -H "Authorization: Bearer $(cat "$WORK/token")" ${CURL_OPTS:-} \
                "${urls[@]}" -w '%{http_code}\n' >"$WORK/codes" 2>"$WORK/curl.err" ||
                fail "curl failed: $(cat "$WORK/curl.err")"
        t1=$(date +%s%N)
        c1=$(cpu_ns "$mpid")
        local busy=$((c1 - c0)) dur_ns=$((t1 - t0))
        idle_ns=$(awk -v r="$idle_rate" -v t="$dur_ns" 'BEGIN { printf "%.0f", r * t }')
        [[ $(grep -c '^200$' "$WORK/codes") == "$SCRAPES" ]] || fail "not every scrape answered 200: $(sort "$WORK/codes" | uniq -c)"
        local bytes series ctr_series
        bytes=$(stat -c %s "$WORK/scrape")
        series=$(grep -vc '^#' "$WORK/scrape")
        ctr_series=$(grep -c '^bramble_container_state{' "$WORK/scrape" || true)
        ((ctr_series == total)) || fail "the scrape lists $ctr_series containers: expected $total"
        ROWS+=("$(printf '%-26s %10s %8s %14s %16s' "$nodes nodes x $ctrs" "$bytes" "$series" \
                "$(awk -v n="$dur_ns" -v s="$SCRAPES" 'BEGIN { printf "%.1f", n / 1e6 / s }')" \
                "$(awk -v b="$busy" -v i="$idle_ns" -v s="$SCRAPES" \
                        'BEGIN { v = (b - i) / 1e6 / s; printf "%.2f", v < 0 ? 0 : v }')")")
        log "$nodes nodes x $ctrs: $bytes bytes, $series series; master $((busy / 1000000)) ms over the scrapes, $((idle_ns / 1000000)) ms idle as long"
        kill -TERM "$lgpid" "$mpid" 2>/dev/null || true
        { wait "$lgpid"; wait "$mpid"; } 2>/dev/null || true
}

run "$NODES" "$CTRS"
run "$NODES2" 0
echo
echo "== a Prometheus scrape of the master over HTTPS ($SCRAPES in a row on one connection; $(nproc) cores, $(uname -m)) =="
printf '%-26s %10s %8s %14s %16s\n' "cluster" "bytes" "series" "ms per scrape" "master cpu ms"
for r in "${ROWS[@]}"; do echo "$r"; done
echo
echo "master cpu ms: the CPU time of the master's threads (schedstat) over the scrapes, less its rate without"
echo "scrapes (its nodes' heartbeats, over $IDLE s before) times their duration, per scrape: TLS, reading the"
echo "request, rendering, writing."
exit 0
