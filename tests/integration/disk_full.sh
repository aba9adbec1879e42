#!/usr/bin/env bash
# A full data partition costs nothing. The node's state dir is a 16 MiB
# tmpfs; a container writes its output into it flat out:
#  1. the file system never runs out (the log writers keep the 4 MiB
#     reserve), the node keeps heartbeating, bramble logs tells of what
#     was dropped, 'bramble rm' stops the container within a couple of
#     heartbeats, its logs are deleted as soon as space is short (their
#     retention of 1 h notwithstanding), and the space comes back;
#  2. with the records directory read-only, 'bramble rm' still stops its
#     container, and 'bramble nodes' and 'bramble ps' (table and JSON) say
#     that the node cannot persist its state and why, until it can again.
source "$(dirname "$0")/lib.sh"

need_containers
FS=$WORK/agents/pi-1
FS_BYTES=$((16 << 20))
RESERVE=$((4 << 20))
small_tmpfs "$FS" 16 "the node's state dir"
# The records directory is bind-mounted read-only over itself in part 2.
eval "_orig$(declare -f _brm_remove_containers)"
_brm_remove_containers() {
        _orig_brm_remove_containers
        mountpoint -q "$FS/containers" && umount "$FS/containers"
        return 0
}

# Free bytes on the state dir's file system: the lowest seen, sampled every
# 10 ms by a watcher, and now.
python3 - "$FS" "$WORK/min_free" <<'EOF' &
import os, sys, time
path, out, low = sys.argv[1], sys.argv[2], None
while True:
    try:
        s = os.statvfs(path)
    except OSError:
        break
    free = s.f_bavail * s.f_frsize
    if low is None or free < low:
        low = free
        with open(out + ".tmp", "w") as f:
            f.write("%d\n" % low)
        os.replace(out + ".tmp", out)
    time.sleep(0.01)
EOF
track $! "free-space watcher"
min_free() { cat "$WORK/min_free"; }
free_now() { python3 -c 'import os, sys; s = os.statvfs(sys.argv[1]); print(s.f_bavail * s.f_frsize)' "$FS"; }

# Heartbeats arrive every second; "keeps heartbeating" is: seen within 3 s.
heartbeat_age() {
        cli -o json nodes
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys, time
n = [x for x in json.load(sys.stdin) if x["name"] == "pi-1"][0]
print(int(time.time() * 1000) - int(n.get("last_seen_ms", 0)) if n["state"] == "Ready" else 999999)'
}
check_heartbeats() { # WHEN
        local age
        age=$(heartbeat_age)
        ((age < 3000)) || fail "$1: pi-1's last heartbeat is $age ms old (or it is not Ready)"
}

# Two files of the flood are more than the file system holds.
container_node --log-max-size 8M --log-max-files 3 --log-budget 1G --log-reserve 4M

# ---- 1. flooded ----

FLOOD='trap "exit 0" TERM; while :; do echo "flood: one line of output written flat out until the disk is full 0123456789"; done'
cli run pi-1 flood --image "$ROOTFS" --restart never -- sh -c "$FLOOD"
[[ $CLI_RC -eq 0 ]] || fail "bramble run flood: $CLI_ERR"
wait_for 20 ps_is flood running || fail "flood not running: $(ps_field flood c)"
pid=$(ps_field flood 'c["pid"]')
# Filled up to the reserve...
at_reserve() { (($(min_free) < RESERVE + (1 << 20))); }
wait_for 20 at_reserve || fail "the flood did not fill the file system: lowest free $(min_free) bytes"
log "filled: $(min_free) bytes free at the lowest"
# ...and kept there for a while: sweeps, the shim freeing its own, markers.
for _ in 1 2 3 4 5 6; do
        sleep 1
        check_heartbeats "while the disk is full"
done
low=$(min_free)
((low > RESERVE / 2)) || fail "the file system went down to $low bytes free; the reserve is $RESERVE"
log "lowest free space while flooded: $low bytes (reserve $RESERVE)"
# bramble logs answers, and the drops are told on stderr (the flood
# writes stdout only, so its stderr holds nothing but the markers). A
# marker lives in the file its drops were in, and the sweep deletes that
# file a cycle later (8 MiB written, 8 MiB removed), so between a
# deletion and the next drop there may be none: look until one shows.
MARKER="lines of output dropped here: the disk is full"
marker_told() {
        cli logs --tail 3 --stderr pi-1/flood
        [[ $CLI_RC -eq 0 ]] || fail "bramble logs while the disk is full: $CLI_ERR"
        [[ "$CLI_ERR" == *"$MARKER"* ]]
}
wait_for 20 marker_told || assert_contains "$CLI_ERR" "$MARKER" "the flood's stderr"
log "the flood's stderr: $(tail -n 1 <<<"$CLI_ERR")"
cli logs --tail 2 --stdout pi-1/flood
[[ $CLI_RC -eq 0 && "$CLI_OUT" == *"flood: one line"* ]] || fail "the flood's newest lines: $CLI_OUT $CLI_ERR"
assert_file_contains "${AGENT_LOG[pi-1]}" "disk short of space" "the agent's log"

# rm stops it within a couple of heartbeats.
t0=$(now_ms)
cli rm pi-1/flood
[[ $CLI_RC -eq 0 ]] || fail "bramble rm flood: $CLI_ERR"
gone_pid() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 3 gone_pid || fail "the flood (pid $pid) still runs $(($(now_ms) - t0)) ms after 'bramble rm'"
log "the flood stopped $(($(now_ms) - t0)) ms after 'bramble rm'"
absent() { [[ "$(ps_field "$1" c)" == absent ]]; }
wait_for 5 absent flood || fail "flood still listed: $(ps_field flood c)"
# The space comes back: the node is out of the shortage at once (below
# twice the reserve, the sweep a second later would take what is left).
not_short() { (($(free_now) >= 2 * RESERVE)); }
wait_for 3 not_short || fail "still short of space after rm: $(free_now) bytes free"
# The removed container's logs go as soon as space is short, their 1 h
# retention notwithstanding: at its removal if the flood had the disk
# short then; else now, with another file taking all but 1 MiB below
# twice the reserve.
logs_gone() { ! compgen -G "$FS/logs/removed/flood.*" >/dev/null; }
if ! logs_gone; then
        log "the flood's logs were kept at its removal ($(free_now) bytes free); making space short"
        fallocate -l $(($(free_now) - 2 * RESERVE + (1 << 20))) "$FS/other" || fail "cannot allocate $FS/other"
        wait_for 3 logs_gone || fail "the removed flood's logs were kept while space is short: $(ls -l "$FS/logs/removed"/* 2>&1)"
        [[ -e "$FS/other" ]] || fail "the sweep deleted a file that is not a log"
        rm -f "$FS/other"
fi
space_back() { (($(free_now) > FS_BYTES - (2 << 20))); }
wait_for 5 space_back || fail "the space did not come back: $(free_now) bytes free of $FS_BYTES; $(du -a "$FS" | sort -n | tail -5)"
log "space back: $(free_now) bytes free"
check_heartbeats "after the flood"

# ---- 2. the records cannot be written ----

SLEEPER='trap "exit 0" TERM; while :; do sleep 1; done'
for c in keep victim; do
        cli run pi-1 "$c" --image "$ROOTFS" --restart never -- sh -c "$SLEEPER"
        [[ $CLI_RC -eq 0 ]] || fail "bramble run $c: $CLI_ERR"
done
wait_for 20 ps_is victim running || fail "victim not running: $(ps_field victim c)"
wait_for 20 ps_is keep running || fail "keep not running: $(ps_field keep c)"
pid=$(ps_field victim 'c["pid"]')
mount --bind "$FS/containers" "$FS/containers" && mount -o remount,bind,ro "$FS/containers" ||
        fail "cannot make $FS/containers read-only"
t0=$(now_ms)
cli rm pi-1/victim
[[ $CLI_RC -eq 0 ]] || fail "bramble rm victim: $CLI_ERR"
wait_for 3 gone_pid || fail "victim (pid $pid) still runs $(($(now_ms) - t0)) ms after 'bramble rm' on a read-only disk"
log "victim stopped $(($(now_ms) - t0)) ms after 'bramble rm' with its records read-only"
check_heartbeats "with the records read-only"

REASON="desired.json: Read-only file system"
nodes_problem() {
        cli -o json nodes
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
print([x for x in json.load(sys.stdin) if x["name"] == "pi-1"][0].get("persist_error", "none"))'
}
shows_problem() { [[ "$(nodes_problem)" == "$REASON" ]]; }
wait_for 5 shows_problem || fail "bramble nodes -o json: persist_error is '$(nodes_problem)', expected '$REASON'"
cli nodes
assert_contains "$CLI_OUT" "[STATE NOT PERSISTED: $REASON]" "bramble nodes"
log "bramble nodes:"$'\n'"$CLI_OUT"
assert_eq "$REASON" "$(ps_field keep 'c.get("node_persist_error")')" "bramble ps -o json: keep's node_persist_error"
cli ps
assert_contains "$CLI_OUT" "node pi-1: STATE NOT PERSISTED: $REASON" "bramble ps"
log "bramble ps:"$'\n'"$CLI_OUT"
assert_eq running "$(ps_field keep 'c["state"]')" "keep's state"
assert_file_contains "$MASTER_LOG" "pi-1 cannot write its container records: $REASON" "the master's log"

# Writable again: the node catches up by itself and says so.
umount "$FS/containers"
clear() { [[ "$(nodes_problem)" == none ]]; }
wait_for 6 clear || fail "the node still reports '$(nodes_problem)' after its records became writable"
cli nodes
assert_not_contains "$CLI_OUT" "STATE NOT PERSISTED" "bramble nodes once writable"
grep -q '"victim"' "$FS/containers/desired.json" && fail "desired.json still holds victim: $(cat "$FS/containers/desired.json")"
grep -q '"keep"' "$FS/containers/desired.json" || fail "desired.json lost keep: $(cat "$FS/containers/desired.json")"
[[ ! -e "$FS/containers/victim" ]] || fail "the removed victim's records were left: $(ls "$FS/containers/victim")"
assert_file_contains "${AGENT_LOG[pi-1]}" "the container records are written again" "the agent's log"
check_heartbeats "at the end"

cli rm pi-1/keep
check_sanitizers
pass
