#!/usr/bin/env bash
# Garbage does not hurt the master: 20 connections of random bytes (no TLS)
# and 5 TLS connections announcing a 2 GiB frame are each closed promptly,
# while two agents keep heartbeating undisturbed (Ready, last_seen
# advancing, never reconnecting), and the master neither dies nor grows
# (VmRSS growth at most 20 MiB).
source "$(dirname "$0")/lib.sh"
need_probe

start_master --log-level debug
TOKEN=$(create_token --ttl 1h --uses 2)
start_agent pi-1 --token "$TOKEN"
start_agent pi-2 --token "$TOKEN"
wait_for 5 all_in_state Ready pi-1 pi-2 || fail "setup: expected pi-1=Ready pi-2=Ready, got $(states pi-1 pi-2)"
sleep 1.5 # a few heartbeats, so the master's memory use has settled

seen_of() { node_field "$1" last_seen_ms; }
SEEN1=$(seen_of pi-1)
SEEN2=$(seen_of pi-2)
RSS0=$(rss_kib "$MASTER_PID")
log "master VmRSS before: ${RSS0} KiB"

run_probe() { # MODE N
        local i rc out
        for i in $(seq 1 "$2"); do
                rc=0
                out=$("$PROBE" raw "$MASTER_ADDR" "$1" 2>&1) || rc=$?
                printf '%s #%s: %s\n' "$1" "$i" "$out" >>"$LOGS/probe-raw.out"
                [[ $rc -eq 0 ]] || fail "brm_probe raw $1 (#$i of $2) exited $rc (0 = the master closed the connection within 5 s): $out"
                alive "$MASTER_PID" || fail "the master died during 'brm_probe raw $1' #$i"
        done
}

t0=$(now_ms)
run_probe random 20
run_probe oversize 5
log "25 garbage connections took $(($(now_ms) - t0)) ms"

# Two more of each in parallel, to overlap with heartbeats and each other.
pids=()
for m in random random oversize oversize; do
        "$PROBE" raw "$MASTER_ADDR" "$m" >>"$LOGS/probe-raw.out" 2>&1 &
        pids+=($!)
done
for p in "${pids[@]}"; do
        reap "$p"
        [[ $REAP_RC -eq 0 ]] || fail "a parallel brm_probe raw exited $REAP_RC (see logs/probe-raw.out)"
done

# Both agents were not disturbed: still Ready, heartbeats still arriving.
sleep 1.5
alive "$MASTER_PID" || fail "the master is not running after the garbage"
assert_eq "pi-1=Ready pi-2=Ready" "$(states pi-1 pi-2)" "node states after the garbage"
S1=$(seen_of pi-1)
S2=$(seen_of pi-2)
((S1 > SEEN1)) || fail "pi-1 last_seen_ms did not advance: before $SEEN1, after $S1"
((S2 > SEEN2)) || fail "pi-2 last_seen_ms did not advance: before $SEEN2, after $S2"
for n in pi-1 pi-2; do
        c=$(grep -c "connected to master" "${AGENT_LOG[$n]}" || true)
        assert_eq 1 "$c" "number of 'connected to master' lines of $n (a reconnect means its session was disturbed)"
done
assert_file_lacks "$MASTER_LOG" "NotReady" "master log"

RSS1=$(rss_kib "$MASTER_PID")
log "master VmRSS after: ${RSS1} KiB (grew $((RSS1 - RSS0)) KiB)"
((RSS1 - RSS0 <= 20 * 1024)) ||
        fail "master VmRSS grew by $((RSS1 - RSS0)) KiB (from $RSS0 to $RSS1 KiB), expected at most 20480 KiB"

# The master still serves its operator.
OUT=$(cli_ok nodes)
assert_contains "$OUT" "pi-2" "bramble nodes after the garbage"

pass
