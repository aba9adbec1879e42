#!/usr/bin/env bash
# Following logs: -f across container restarts and across rotation (tiny
# log files), two viewers getting the same lines, a viewer that goes away
# freeing its stream on master and node, -f ending when the container is
# removed, and a stalled viewer (SIGSTOP) that makes neither the container
# nor the heartbeats wait and later sees a marker whose count is exact.
source "$(dirname "$0")/lib.sh"

# Small files so rotation happens within the test.
container_node --log-max-size 64K --log-max-files 3
LOGDIR=$WORK/agents/pi-1/logs/containers

run() { # NAME ARGS... (after the image)
        local name=$1
        shift
        cli run pi-1 "$name" --image "$ROOTFS" "$@"
        [[ $CLI_RC -eq 0 ]] || fail "bramble run $name: exit $CLI_RC: $CLI_ERR"
}
# viewer OUT ARGS...: a background 'bramble logs' writing stdout and stderr
# to OUT (in order); sets VIEWER.
viewer() {
        local out=$1
        shift
        "$BRM_BIN/bramble" logs "$@" >"$out" 2>&1 &
        VIEWER=$!
        track "$VIEWER" "bramble logs $*"
}
lines_in() { [[ -f "$1" ]] && [[ $(grep -c . "$1" || true) -ge $2 ]]; }
streams_open() { # MASTER_COUNT NODE_COUNT: as the master and the node's last heartbeat report them
        local got
        got=$(nodes_json | python3 -c '
import json, sys
n = [x for x in json.load(sys.stdin) if x["name"] == "pi-1"][0]
print(n.get("log_streams", -1), n.get("node_log_streams", -1))')
        [[ "$got" == "$1 $2" ]]
}

# -f across restarts: two runs of the same five lines, in order.
run tick --restart always -- sh -c 'for i in 1 2 3 4 5; do echo run-$i; usleep 50000; done; exit 3'
viewer "$WORK/tick.out" -f pi-1/tick
wait_for 30 lines_in "$WORK/tick.out" 10 || fail "-f saw $(grep -c . "$WORK/tick.out") lines, expected 10 across a restart: $(cat "$WORK/tick.out")"
expected=$(for r in 1 2; do for i in 1 2 3 4 5; do echo "run-$i"; done; done)
[[ "$(head -n 10 "$WORK/tick.out")" == "$expected" ]] || fail "-f across a restart: got $(head -n 10 "$WORK/tick.out" | tr '\n' ' ')"
restarted() { (($(ps_field tick 'c["restarts"]') >= 1)); }
wait_for 5 restarted || fail "tick should have restarted: $(ps_field tick c)"

# -f ends when the container is removed.
cli rm pi-1/tick
[[ $CLI_RC -eq 0 ]] || fail "rm tick: $CLI_ERR"
wait_for 20 _not_alive "$VIEWER" || fail "-f did not end within 20 s of removing the container"
wait "$VIEWER" && rc=0 || rc=$?
[[ $rc -eq 0 ]] || fail "-f of a removed container exited $rc: $(tail -3 "$WORK/tick.out")"
assert_file_contains "$WORK/tick.out" "bramble: log ended: container removed" "the end of -f"

# Rotation while two viewers follow: 20,000 lines through 64 KiB files (the
# container waits for its viewers, which read from its first line).
run rot --restart never -- sh -c 'sleep 3; for i in $(seq 1 20); do seq $((i*1000-999)) $((i*1000)); usleep 50000; done'
viewer "$WORK/rot1.out" -f --stdout pi-1/rot
v1=$VIEWER
viewer "$WORK/rot2.out" -f --stdout pi-1/rot
v2=$VIEWER
wait_for 3 streams_open 2 2 || fail "two viewers: expected 2 streams on master and node, got $(nodes_dump)"
wait_for 30 lines_in "$WORK/rot1.out" 20000 || fail "viewer 1 got $(grep -c . "$WORK/rot1.out") of 20000 lines"
wait_for 10 lines_in "$WORK/rot2.out" 20000 || fail "viewer 2 got $(grep -c . "$WORK/rot2.out") of 20000 lines"
[[ "$(cat "$WORK/rot1.out")" == "$(seq 1 20000)" ]] || fail "viewer 1 across rotation: not exactly 1..20000 ($(grep -v '^[0-9]*$' "$WORK/rot1.out" | head -3))"
cmp -s "$WORK/rot1.out" "$WORK/rot2.out" || fail "the two viewers got different lines"
[[ -f $LOGDIR/rot/log.1 && -f $LOGDIR/rot/log.2 && ! -f $LOGDIR/rot/log.3 ]] || fail "expected rotation to log.1 and log.2: $(ls "$LOGDIR/rot")"
size=$(stat -c %s "$LOGDIR/rot/log.1")
((size <= 65536 + 70000)) || fail "log.1 is $size bytes, over the 64K rotation size by more than a write"

# A viewer that goes away frees its stream on the master and the node.
kill -KILL "$v1"
wait_for 10 streams_open 1 1 || fail "after one viewer was killed: $(nodes_dump)"
kill -TERM "$v2"
wait_for 10 streams_open 0 0 || fail "after both viewers left: $(nodes_dump)"

# A stalled viewer. The container writes 100-byte numbered lines as fast as
# it can; one viewer is stopped for 6 s.
run fast -- sh -c 'i=0; pad=$(head -c 90 /dev/zero | tr "\0" .); while true; do i=$((i+1)); echo "$i $pad"; done'
wait_for 10 ps_is fast running || fail "fast not running"
viewer "$WORK/stall.out" -f --tail 0 pi-1/fast
stalled=$VIEWER
wait_for 10 lines_in "$WORK/stall.out" 1000 || fail "the viewer got no lines from fast"
# disk_count: stdout lines stored so far (the newest record's counter). The
# 64 KiB "log" is replaced many times a second: look again if it is between
# files.
disk_count() {
        local n
        for _ in $(seq 1 50); do
                n=$(tail -n 1 "$LOGDIR/fast/log" 2>/dev/null | cut -d' ' -f4) && [[ -n "$n" ]] && break
                sleep 0.01
        done
        echo "${n:?no record in $LOGDIR/fast/log}"
}
# worst_hb_age N: the oldest pi-1's last heartbeat looked in N looks 0.5 s apart.
worst_hb_age() {
        local worst=0 age
        for _ in $(seq 1 "$1"); do
                sleep 0.5
                age=$(nodes_json | python3 -c '
import json, sys, time
n = [x for x in json.load(sys.stdin) if x["name"] == "pi-1"][0]
print(int(time.time() * 1000) - n["last_seen_ms"])')
                ((age > worst)) && worst=$age
        done
        echo "$worst"
}
# First with the viewer reading: the node link is full of log data, yet
# heartbeats keep their pace and a command relayed to the node gets through.
worst=$(worst_hb_age 6)
t0=$(now_ms)
cli run pi-1 probe --image "$ROOTFS" -- sleep 1000
[[ $CLI_RC -eq 0 ]] || fail "bramble run (checked by the node) failed while logs streamed: $CLI_ERR"
log "while a viewer follows flat-out output: oldest heartbeat $worst ms; 'bramble run' answered in $(($(now_ms) - t0)) ms"
((worst < 3000)) || fail "a heartbeat was $worst ms old while logs streamed (interval 1 s)"
kill -STOP "$stalled"
n0=$(disk_count)
worst=$(worst_hb_age 12)
n1=$(disk_count)
kill -CONT "$stalled"
log "during a 6 s stall the container wrote $((n1 - n0)) lines; oldest heartbeat seen was $worst ms old"
# The pipe holds about 10,000 such lines: far more means nothing blocked it.
((n1 - n0 > 30000)) || fail "the container wrote only $((n1 - n0)) lines while a viewer was stalled"
((worst < 3000)) || fail "a heartbeat was $worst ms old while a viewer was stalled (interval 1 s)"
wait_for 20 grep -q "lines skipped" "$WORK/stall.out" || fail "no skip marker after the stall: $(grep -v '^[0-9]' "$WORK/stall.out" | head -3)"
sleep 1
kill -TERM "$stalled"
wait "$stalled" 2>/dev/null || true
# Every marker's count equals the gap in the numbers around it.
python3 - "$WORK/stall.out" <<'EOF' || fail "skip markers do not match the gaps (see above)"
import re, sys
prev, pending, markers, bad = None, None, 0, 0
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"(\d+) lines? skipped", line)
    if m:
        pending = (pending or 0) + int(m.group(1))
        markers += 1
        continue
    m = re.match(r"^(\d+) \.{90}$", line.rstrip("\n"))
    if not m:
        continue  # a line cut by the viewer's end
    n = int(m.group(1))
    if prev is not None:
        want = n - prev - 1
        if want != (pending or 0):
            print(f"after {prev}: next {n}, gap {want}, marker said {pending}")
            bad += 1
    prev, pending = n, None
print(f"{markers} marker(s)")
sys.exit(1 if bad or markers == 0 else 0)
EOF
wait_for 10 streams_open 0 0 || fail "the stalled viewer's stream was not freed: $(nodes_dump)"

check_sanitizers
pass
