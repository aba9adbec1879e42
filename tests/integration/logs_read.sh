#!/usr/bin/env bash
# Reading stored logs through bramble -> master -> node: the exact last N of
# 10,000 numbered lines, stdout and stderr kept apart, --since, timestamps,
# the agent's own log and the kernel log, clear errors for unknown nodes
# and containers, a removed container's log kept for its retention time,
# no line lost across kill -9 of the agent, and logs stored while the master
# is down and readable once it is back.
source "$(dirname "$0")/lib.sh"

container_node

run() { # NAME ARGS... (after the image)
        local name=$1
        shift
        cli run pi-1 "$name" --image "$ROOTFS" "$@"
        [[ $CLI_RC -eq 0 ]] || fail "bramble run $name: exit $CLI_RC: $CLI_ERR"
}
exited() { [[ "$(ps_field "$1" 'c["state"]')" == exited ]]; }
logs_ok() { # ARGS...: bramble logs that must exit 0
        cli logs "$@"
        [[ $CLI_RC -eq 0 ]] || fail "bramble logs $*: exit $CLI_RC: $CLI_ERR"
}

# 10,000 numbered lines on stdout, then five on stderr.
run nums --restart never -- sh -c 'seq 1 10000; seq 1 5 >&2'
wait_for 20 exited nums || fail "nums did not exit within 20 s: $(ps_field nums c)"

logs_ok --stdout pi-1/nums
[[ "$CLI_OUT" == "$(seq 1 10000)" ]] || fail "logs --stdout: expected exactly 1..10000, got $(wc -l <<<"$CLI_OUT") lines, head $(head -c 100 <<<"$CLI_OUT")"
[[ -z "$CLI_ERR" ]] || fail "logs --stdout printed on stderr: $CLI_ERR"

for n in 1 3 777 9999 10000; do
        logs_ok --stdout --tail "$n" pi-1/nums
        [[ "$CLI_OUT" == "$(seq $((10001 - n)) 10000)" ]] ||
                fail "--tail $n: expected $((10001 - n))..10000, got $(wc -l <<<"$CLI_OUT") lines starting $(head -1 <<<"$CLI_OUT")"
done
logs_ok --stdout --tail 20000 pi-1/nums
[[ "$CLI_OUT" == "$(seq 1 10000)" ]] || fail "--tail 20000 should give all 10000 lines"
logs_ok --stdout --tail 0 pi-1/nums
[[ -z "$CLI_OUT" ]] || fail "--tail 0 printed: $(head -3 <<<"$CLI_OUT")"

# Separated: the container's stderr comes out on bramble's stderr.
logs_ok pi-1/nums
[[ "$CLI_OUT" == "$(seq 1 10000)" ]] || fail "both streams: stdout should hold exactly 1..10000"
[[ "$CLI_ERR" == "$(seq 1 5)" ]] || fail "both streams: stderr should hold exactly 1..5, got: $CLI_ERR"
logs_ok --stderr pi-1/nums
[[ -z "$CLI_OUT" && "$CLI_ERR" == "$(seq 1 5)" ]] || fail "--stderr: expected 1..5 on stderr only; out: $(head -2 <<<"$CLI_OUT") err: $CLI_ERR"
logs_ok --stderr --tail 2 pi-1/nums
[[ "$CLI_ERR" == "$(seq 4 5)" ]] || fail "--stderr --tail 2: expected 4 5, got: $CLI_ERR"
# The last 3 lines of both streams together are the last 3 stderr lines.
logs_ok --tail 3 pi-1/nums
[[ -z "$CLI_OUT" && "$CLI_ERR" == "$(seq 3 5)" ]] || fail "--tail 3 of both: expected stderr 3..5 only; out: $CLI_OUT err: $CLI_ERR"

# --timestamps: RFC 3339 with nanoseconds before each line.
logs_ok --stdout --tail 2 --timestamps pi-1/nums
while read -r ts line; do
        [[ "$ts" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$ ]] || fail "--timestamps: bad timestamp '$ts'"
        [[ "$line" == 9999 || "$line" == 10000 ]] || fail "--timestamps: unexpected line '$line'"
done <<<"$CLI_OUT"

# --since: a line before a time and one after it.
run stamp --restart never -- sh -c 'echo early; sleep 3; echo late'
has_early() { cli logs pi-1/stamp; [[ "$CLI_OUT" == early ]]; }
wait_for 10 has_early || fail "stamp never logged 'early': $CLI_OUT $CLI_ERR"
sleep 0.5
cut=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
wait_for 10 exited stamp || fail "stamp did not exit"
logs_ok --since "$cut" pi-1/stamp
[[ "$CLI_OUT" == late ]] || fail "--since $cut: expected only 'late', got: $CLI_OUT"
logs_ok --since 1h pi-1/stamp
[[ "$CLI_OUT" == $'early\nlate' ]] || fail "--since 1h: expected early and late, got: $CLI_OUT"
logs_ok --since "$cut" --tail 5 pi-1/stamp
[[ "$CLI_OUT" == late ]] || fail "--since with --tail: expected only 'late', got: $CLI_OUT"
logs_ok --since 2099-01-01T00:00:00Z pi-1/stamp
[[ -z "$CLI_OUT" ]] || fail "--since in the future printed: $CLI_OUT"

# A line longer than 16 KiB comes back with its bytes unchanged.
run long --restart never -- sh -c 'head -c 40000 /dev/zero | tr "\0" x; echo; printf "a\tb\r\n"; printf "no newline"'
wait_for 10 exited long || fail "long did not exit"
logs_ok pi-1/long
expected=$(head -c 40000 /dev/zero | tr '\0' x; echo; printf 'a\tb\r\n'; printf 'no newline')
[[ "$CLI_OUT" == "$expected" ]] || fail "long lines: bytes differ (got ${#CLI_OUT} bytes, expected ${#expected})"
f=$WORK/agents/pi-1/logs/containers/long/log
[[ $(grep -c ' stdout P ' "$f") -eq 3 ]] || fail "a 40000-byte line and an unfinished one should be 3 partial records: $(cut -c1-60 "$f")"

# Errors name what is wrong.
expect_refused 1 "no node named 'nosuch'" logs nosuch/nums
expect_refused 1 "no container 'ghost'" logs pi-1/ghost
expect_refused 2 "--tail must be a whole number >= 0" logs --tail -1 pi-1/nums
expect_refused 2 "invalid --since 'yesterday'" logs --since yesterday pi-1/nums

# The agent's own log and the kernel log.
logs_ok pi-1 --agent
assert_contains "$CLI_OUT" "connected to master" "the agent's log"
if [[ -r /dev/kmsg ]]; then
        logs_ok pi-1 --kernel --tail 5
        lines=$(printf '%s\n%s\n' "$CLI_OUT" "$CLI_ERR" | grep -c . || true)
        [[ $lines -eq 5 ]] || fail "--kernel --tail 5 printed $lines lines: $CLI_OUT $CLI_ERR"
        echo "bramble-logs-test-$$" >/dev/kmsg
        logs_ok pi-1 --kernel --tail 50
        assert_contains "$CLI_OUT$CLI_ERR" "bramble-logs-test-$$" "the kernel log"
fi

# A removed container's log stays readable for the retention time.
cli rm pi-1/nums
[[ $CLI_RC -eq 0 ]] || fail "rm nums: $CLI_ERR"
gone() { [[ "$(ps_field nums c)" == absent && ! -d $WORK/agents/pi-1/logs/containers/nums ]]; }
wait_for 20 gone || fail "nums not removed within 20 s"
logs_ok --stdout --tail 2 pi-1/nums
[[ "$CLI_OUT" == $'9999\n10000' ]] || fail "a removed container's log: expected 9999 10000, got $CLI_OUT"

# kill -9 of the agent loses no line: the shim stores them.
run counter --restart never -- sh -c 'for i in $(seq 1 40); do seq $((i*500-499)) $((i*500)); usleep 100000; done'
wait_for 10 ps_is counter running || fail "counter not running"
sleep 1
kill -KILL "${AGENT_PID[pi-1]}"
sleep 1.5
start_agent pi-1
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready again after kill -9"
wait_for 30 exited counter || fail "counter did not finish: $(ps_field counter c)"
logs_ok --stdout pi-1/counter
[[ "$CLI_OUT" == "$(seq 1 20000)" ]] || fail "after kill -9 of the agent: expected 1..20000, got $(wc -l <<<"$CLI_OUT") lines"

# The master away: the node keeps storing; history is there when it is back.
run ticker -- sh -c 'i=0; while true; do i=$((i+1)); echo $i; usleep 20000; done'
wait_for 10 ps_is ticker running || fail "ticker not running"
stop_pid "$MASTER_PID"
sleep 3
disk_n=$(tail -n 1 "$WORK/agents/pi-1/logs/containers/ticker/log" | cut -d' ' -f4)
((disk_n > 50)) || fail "ticker stored only $disk_n lines while the master was down"
MASTER_PORT=$MASTER_PORT start_master
wait_for 15 node_is pi-1 Ready || fail "pi-1 not Ready after the master came back"
logs_ok --stdout pi-1/ticker
n=$(wc -l <<<"$CLI_OUT")
((n >= disk_n)) || fail "after the master came back: $n lines, fewer than the $disk_n stored"
[[ "$CLI_OUT" == "$(seq 1 "$n")" ]] || fail "ticker's history has gaps or disorder"

check_sanitizers
pass
