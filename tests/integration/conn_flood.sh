#!/usr/bin/env bash
# A connection flood does not lock the operator out. While another loopback
# address (127.0.0.2) opens 1,800 connections to the master port over 10 s,
# most sending nothing and every fourth a truncated TLS ClientHello:
#   - every 'bramble nodes' succeeds (each call is timed and printed),
#   - a fresh agent joins with a token and turns Ready,
#   - the two agents already connected stay Ready and never reconnect,
#   - the per-source bound holds: the flood side never sees more than
#     --max-unauthenticated-per-source of its connections kept open by the
#     master for 2 s or longer, and the master closes the excess.
# Bounds are generous (the CLI's own 10 s timeout per call, 20 s for the
# join) so a busy machine or the sanitizer build does not make it flaky.
source "$(dirname "$0")/lib.sh"

FLOOD=$BRM_BIN/brm_flood
[[ -x "$FLOOD" ]] || fail "$FLOOD is missing: build the brm_flood target (tests/integration/CMakeLists.txt)"
FLOOD_FROM=127.0.0.2
python3 - "$FLOOD_FROM" <<'EOF' 2>/dev/null || skip "cannot bind a socket to $FLOOD_FROM (loopback is not 127.0.0.0/8 here)"
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.close()
EOF

PER_SOURCE=8
CONNECTIONS=1800
start_master --max-unauthenticated-per-source "$PER_SOURCE"
TOKEN=$(create_token --ttl 1h --uses 3)
start_agent pi-1 --token "$TOKEN"
start_agent pi-2 --token "$TOKEN"
wait_for 10 all_in_state Ready pi-1 pi-2 || fail "setup: expected pi-1=Ready pi-2=Ready, got $(states pi-1 pi-2)"
RSS0=$(rss_kib "$MASTER_PID")

FLOOD_OUT=$LOGS/flood.out
"$FLOOD" "$MASTER_ADDR" --from "$FLOOD_FROM" --connections "$CONNECTIONS" --spread 10s --duration 16s \
        --truncated-every 4 --held-after 2s >"$FLOOD_OUT" 2>&1 &
FLOOD_PID=$!
track "$FLOOD_PID" "brm_flood from $FLOOD_FROM"

_no_flooder() { ! any_flooder_alive; }
cli_succeeds() {
        cli "$@"
        [[ $CLI_RC -eq 0 ]]
}
flood_field() { # KEY: the latest value the flooder printed
        sed -n 's/.*\b'"$1"'=\([0-9.]*\).*/\1/p' "$FLOOD_OUT" | tail -1
}
flood_opened_at_least() { [[ "$(flood_field opened)" -ge "$1" ]] 2>/dev/null; }
# Wait until the flood is well under way (a few hundred connections, more
# than the old 64 handshake slots), so every check below runs inside it.
wait_for 10 flood_opened_at_least 300 || fail "the flooder did not get going: $(tail -3 "$FLOOD_OUT")"
log "flood under way: $(tail -1 "$FLOOD_OUT")"

start_agent pi-3 --token "$TOKEN"
JOIN_T0=$(now_ms)
JOIN_MS=

DURATIONS=()
calls=0
while alive "$FLOOD_PID" && ((calls < 20)); do
        t0=$(now_ms)
        cli -o json nodes
        dt=$(($(now_ms) - t0))
        calls=$((calls + 1))
        DURATIONS+=("$dt")
        [[ $CLI_RC -eq 0 ]] ||
                fail "'bramble nodes' call $calls during the flood failed after $dt ms (exit $CLI_RC): $CLI_ERR $(master_status); flood: $(tail -1 "$FLOOD_OUT")"
        st=$(printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
st = {n.get("name"): n.get("state") for n in json.load(sys.stdin)}
print(" ".join("%s=%s" % (a, st.get(a, "absent")) for a in sys.argv[1:]))' pi-1 pi-2 pi-3)
        log "bramble nodes #$calls during the flood: $dt ms ($st)"
        [[ "$st" == "pi-1=Ready pi-2=Ready "* ]] || fail "a connected agent left Ready during the flood: $st"
        if [[ -z "$JOIN_MS" && "$st" == *"pi-3=Ready" ]]; then
                JOIN_MS=$(($(now_ms) - JOIN_T0))
                alive "$FLOOD_PID" || fail "pi-3 turned Ready only after the flood had ended"
                log "fresh agent pi-3 joined and turned Ready ${JOIN_MS} ms after it started, during the flood"
        fi
        sleep 0.4
done
((calls >= 5)) || fail "only $calls 'bramble nodes' calls fitted in the flood (expected at least 5)"
log "'bramble nodes' durations during the flood (ms): ${DURATIONS[*]}"
if [[ -z "$JOIN_MS" ]]; then
        alive "$FLOOD_PID" || fail "pi-3 was not Ready before the flood ended: $(states pi-1 pi-2 pi-3)"
        wait_for 20 node_is pi-3 Ready || fail "pi-3 did not join within 20 s during the flood: $(states pi-3)"
        alive "$FLOOD_PID" || fail "pi-3 turned Ready only after the flood had ended"
        JOIN_MS=$(($(now_ms) - JOIN_T0))
        log "fresh agent pi-3 joined and turned Ready ${JOIN_MS} ms after it started, during the flood"
fi

wait_for 30 _not_alive "$FLOOD_PID" || fail "the flooder did not stop by itself"
reap "$FLOOD_PID"
[[ $REAP_RC -eq 0 ]] || fail "brm_flood exited $REAP_RC: $(cat "$FLOOD_OUT")"
RESULT=$(grep '^RESULT' "$FLOOD_OUT") || fail "the flooder printed no RESULT: $(cat "$FLOOD_OUT")"
log "flood side: $RESULT"
OPENED=$(flood_field opened)
ESTABLISHED=$(flood_field established)
CLOSED=$(flood_field closed_by_master)
MAX_HELD=$(flood_field max_held)
LOCAL_ERR=$(flood_field local_errors)
assert_eq "$CONNECTIONS" "$OPENED" "connections the flooder opened"
assert_eq 0 "$LOCAL_ERR" "local errors of the flooder (descriptors or binding)"
# The master must have taken the flood, not left it in a full accept queue.
((ESTABLISHED >= CONNECTIONS * 9 / 10)) ||
        fail "only $ESTABLISHED of $CONNECTIONS flood connections were established (expected at least 90 %): $RESULT"
# The per-source bound: at no sample did the master keep more than
# PER_SOURCE of the flood's connections for 2 s or longer, and it closed the
# rest itself. (Two more are allowed for connections accepted while this
# busy machine stalled the master for 2 s; the old master kept ~1,700.)
((MAX_HELD <= PER_SOURCE + 2)) ||
        fail "the master kept up to $MAX_HELD flood connections open for >= 2 s; the per-source bound is $PER_SOURCE: $RESULT"
((CLOSED >= ESTABLISHED - PER_SOURCE)) ||
        fail "the master closed only $CLOSED of $ESTABLISHED established flood connections (expected all but at most $PER_SOURCE): $RESULT"
assert_file_contains "$MASTER_LOG" "$FLOOD_FROM" "master log (the refused source is named)"

alive "$MASTER_PID" || fail "the master died during the flood"
assert_eq "pi-1=Ready pi-2=Ready pi-3=Ready" "$(states pi-1 pi-2 pi-3)" "node states after the flood"
for n in pi-1 pi-2; do
        c=$(grep -c "connected to master" "${AGENT_LOG[$n]}" || true)
        assert_eq 1 "$c" "number of 'connected to master' lines of $n (a reconnect means its session was disturbed)"
done
RSS1=$(rss_kib "$MASTER_PID")
log "master VmRSS ${RSS0} KiB before the flood, ${RSS1} KiB after"
PHASE1="$calls 'bramble nodes' calls during the flood, durations (ms): ${DURATIONS[*]}; pi-3 Ready after ${JOIN_MS} ms"

# 2. Many addresses at once, against a second master with the default
#    bounds (64 in total, 8 per address): 12 addresses want 96 places, so
#    peers that get nowhere are evicted for newcomers, the master's socket
#    count stays bounded and the operator still gets in.
OTHER_DIR=$WORK/other
launch_master other "$OTHER_DIR" "$(free_port)" ||
        fail "the second master did not start (see ${LAUNCH_LOG#"$WORK"/})"
OTHER_PID=$LAUNCH_PID
OTHER_LOG=$LAUNCH_LOG
OTHER_ADDR=$(json_query "d['master']" <"$OTHER_DIR/admin.json")
sockets_of() { { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null || true; } | wc -l; }
BASE_SOCKETS=$(sockets_of "$OTHER_PID")
FLOODERS=()
flood_from() { # FIRST_HOST_BYTE COUNT CONNECTIONS DURATION
        local i
        for ((i = $1; i < $1 + $2; i++)); do
                "$FLOOD" "$OTHER_ADDR" --from "127.0.0.$i" --connections "$3" --spread 3s --duration "$4" \
                        --truncated-every 4 >"$LOGS/flood-127.0.0.$i.out" 2>&1 &
                track "$!" "brm_flood from 127.0.0.$i"
                FLOODERS+=("$!")
        done
}
any_flooder_alive() {
        local p
        for p in "${FLOODERS[@]}"; do alive "$p" && return 0; done
        return 1
}
flood_from 3 12 80 6s
MAX_SOCKETS=0
DURATIONS=()
sleep 1
while any_flooder_alive; do
        n=$(sockets_of "$OTHER_PID")
        ((n > MAX_SOCKETS)) && MAX_SOCKETS=$n
        t0=$(now_ms)
        cli --config "$OTHER_DIR/admin.json" nodes
        DURATIONS+=("$(($(now_ms) - t0))")
        [[ $CLI_RC -eq 0 ]] || fail "'bramble nodes' against the second master failed during the many-address flood (exit $CLI_RC): $CLI_ERR"
        sleep 0.3
done
log "many-address flood: 'bramble nodes' durations (ms): ${DURATIONS[*]}; master sockets: $BASE_SOCKETS idle, at most $MAX_SOCKETS"
# 64 places, the listener, and a few closing or being refused at the moment
# of the sample.
((MAX_SOCKETS <= BASE_SOCKETS + 64 + 8)) ||
        fail "the second master held up to $MAX_SOCKETS sockets (idle: $BASE_SOCKETS; bound 64 unauthenticated)"
wait_for 5 log_has "$OTHER_LOG" "closed to make room" || fail "the second master evicted no stalled peer for a newcomer"
for p in "${FLOODERS[@]}"; do reap "$p"; done

# 3. Out of descriptors: the second master's open-file limit is lowered
#    under it to a few more than it holds, and 4 addresses flood it. It must
#    keep its listener: once the flood is over the operator gets in again.
idle_again() { (($(sockets_of "$OTHER_PID") <= BASE_SOCKETS)); }
wait_for 10 idle_again || fail "the second master still holds $(sockets_of "$OTHER_PID") sockets 10 s after the flood (idle: $BASE_SOCKETS)"
if ! python3 -c 'import resource, sys; p = int(sys.argv[1]); n = int(sys.argv[2]); resource.prlimit(p, resource.RLIMIT_NOFILE, (n, n))' \
        "$OTHER_PID" "$(($(ls "/proc/$OTHER_PID/fd" | wc -l) + 12))"; then
        log "cannot lower the master's open-file limit here (prlimit refused): the descriptor part is not run"
        pass "$PHASE1"
fi
FLOODERS=()
flood_from 15 4 60 5s
wait_for 15 _no_flooder || fail "the descriptor flood did not stop by itself"
for p in "${FLOODERS[@]}"; do reap "$p"; done
alive "$OTHER_PID" || fail "the second master died when it ran out of descriptors"
wait_for 5 log_has "$OTHER_LOG" "at its open-file limit" || fail "the second master did not report reaching its open-file limit"
t0=$(now_ms)
wait_for 10 cli_succeeds --config "$OTHER_DIR/admin.json" nodes ||
        fail "the second master does not serve 'bramble nodes' after running out of descriptors: $CLI_ERR"
log "after the descriptor flood 'bramble nodes' works again within $(($(now_ms) - t0)) ms"

pass "$PHASE1"
