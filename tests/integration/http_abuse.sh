#!/usr/bin/env bash
# 1,000 idle connections and a slowloris client on the master's HTTPS port
# while agents heartbeat: the agents stay Ready, a real request is still
# answered during the attack (a new connection closes the oldest idle one),
# the slowloris client is cut at the 10 s request deadline, and the master's
# memory stays bounded (its figures are printed).
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed (scripts/bootstrap installs it)"

# Under AddressSanitizer, freed memory waits in a 256 MiB quarantine before
# it is reused, which would read as growth here; a small one keeps the
# figure about the master. (Ignored by other builds.)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
start_master_http
TOKEN=$(create_token --ttl 1h --uses 3)
for n in pi-1 pi-2 pi-3; do start_agent "$n" --token "$TOKEN"; done
wait_for 10 all_in_state Ready pi-1 pi-2 pi-3 || fail "setup: not all Ready: $(states pi-1 pi-2 pi-3)"
cli api-token create --role metrics
METRICS=$CLI_OUT
expect_http 200 /metrics -H "Authorization: Bearer $METRICS"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$MASTER_PID/status"; }
fds() { find "/proc/$MASTER_PID/fd" -mindepth 1 | wc -l; }
rss0=$(rss_kib)
fd0=$(fds)
python3 "$(dirname "$0")/http_flood.py" "$HTTP_PORT" "$HTTP_CA" 1000 16 >"$WORK/flood.out" 2>&1 &
FLOOD=$!
track "$FLOOD" "http_flood.py"
sleep 2
peak=$rss0
fdpeak=$fd0
not_ready=""
answered=0
for i in $(seq 1 12); do
        r=$(rss_kib)
        ((r > peak)) && peak=$r
        f=$(fds)
        ((f > fdpeak)) && fdpeak=$f
        s=$(states pi-1 pi-2 pi-3)
        [[ "$s" == "pi-1=Ready pi-2=Ready pi-3=Ready" ]] || not_ready+=" [$s]"
        http /metrics -H "Authorization: Bearer $METRICS"
        [[ "$HTTP_CODE" == 200 ]] && answered=$((answered + 1))
        sleep 1
done
wait "$FLOOD" || fail "the flood client failed: $(cat "$WORK/flood.out")"
cat "$WORK/flood.out" >&2
log "master RSS: $((rss0 / 1024)) MiB before, at most $((peak / 1024)) MiB during the attack, $(($(rss_kib) / 1024)) MiB after"
log "/metrics requests answered during the attack: $answered of 12"
[[ -z "$not_ready" ]] || fail "nodes left Ready during the attack:$not_ready"
((answered >= 10)) || fail "only $answered of 12 /metrics requests were answered during the attack"
grep -q "idle connections opened 1000" "$WORK/flood.out" || fail "the flood did not open 1000 connections"
log "master file descriptors: $fd0 before, at most $fdpeak during the attack"
# 128 connections at most (the one /metrics request among them), and the
# one accepted just before it closes the oldest.
((fdpeak - fd0 <= 129)) || fail "the master held $((fdpeak - fd0)) more descriptors under the attack: expected at most 129"
slow=$(sed -n 's/^slowloris closed after \([0-9.]*\) s$/\1/p' "$WORK/flood.out")
[[ -n "$slow" ]] || fail "the slowloris connection was never closed: $(cat "$WORK/flood.out")"
# Cut at the 10 s request deadline (+ 1 s tick + scheduling), not by
# eviction: connections still in their handshake go first.
python3 -c "import sys; sys.exit(0 if 8.5 <= $slow <= 14 * $BRM_SLOW else 1)" ||
        fail "the slowloris connection was closed after $slow s: expected at the 10 s request deadline"
# Bounded: 128 connections' TLS state is a few MiB.
((peak - rss0 < 48 * 1024)) || fail "the master grew by $(((peak - rss0) / 1024)) MiB under the attack"
expect_http 200 /metrics -H "Authorization: Bearer $METRICS"
assert_eq "pi-1=Ready pi-2=Ready pi-3=Ready" "$(states pi-1 pi-2 pi-3)" "states after the attack"
pass
