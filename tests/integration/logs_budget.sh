#!/usr/bin/env bash
# The node's logs stay within their disk budget (oldest rotated files go
# first, never a file being written), and a removed container's log is kept
# for the retention time, then deleted.
source "$(dirname "$0")/lib.sh"

LOGS_DIR=$WORK/agents/pi-1/logs
# The logs are made under the default budget; the agent then restarts with
# a 1 MiB one (the sweep runs a second after start, and every 30 s).
AGENT_ARGS=(--log-max-size 64K --log-max-files 4 --log-retention 3s)
container_node "${AGENT_ARGS[@]}"
AGENT_ARGS+=(--log-budget 1M)

exited() { [[ "$(ps_field "$1" 'c["state"]')" == exited ]]; }
total() { find "$LOGS_DIR" -type f -name 'log*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# Eight containers of about 250 KiB of logs each: 2 MiB, twice the budget.
for i in 1 2 3 4 5 6 7 8; do
        cli run pi-1 "w$i" --image "$ROOTFS" --restart never -- sh -c 'seq 1 5000'
        [[ $CLI_RC -eq 0 ]] || fail "bramble run w$i: $CLI_ERR"
done
for i in 1 2 3 4 5 6 7 8; do
        wait_for 20 exited "w$i" || fail "w$i did not exit: $(ps_field "w$i" c)"
done
before=$(total)
((before > 1536 * 1024)) || fail "expected over 1.5 MiB of logs before the sweep, found $before bytes"

stop_pid "${AGENT_PID[pi-1]}"
start_agent pi-1 "${AGENT_ARGS[@]}"
under_budget() { (($(total) <= 1024 * 1024)); }
wait_for 10 under_budget || fail "logs still take $(total) bytes, over the 1 MiB budget"
log "logs took $before bytes, $(total) after the sweep"
for i in 1 2 3 4 5 6 7 8; do
        [[ -s $LOGS_DIR/containers/w$i/log ]] || fail "the file being written of w$i was deleted"
done
assert_file_contains "${AGENT_LOG[pi-1]}" "over the budget" "the agent's log"
# What is left still reads, newest lines intact.
cli logs --tail 1 pi-1/w8
[[ $CLI_RC -eq 0 && "$CLI_OUT" == 5000 ]] || fail "w8's last line after the sweep: $CLI_OUT $CLI_ERR"

# Retention: readable right after rm, gone after 3 s (at the next sweep).
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready after the restart"
cli rm pi-1/w1
[[ $CLI_RC -eq 0 ]] || fail "rm w1: $CLI_ERR"
gone() { [[ "$(ps_field w1 c)" == absent ]]; }
wait_for 20 gone || fail "w1 not removed"
cli logs --tail 1 pi-1/w1
[[ $CLI_RC -eq 0 && "$CLI_OUT" == 5000 ]] || fail "a just-removed container's log should be readable: $CLI_OUT $CLI_ERR"
sleep 3.5
stop_pid "${AGENT_PID[pi-1]}"
start_agent pi-1 "${AGENT_ARGS[@]}"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready after the second restart"
no_w1() { ! compgen -G "$LOGS_DIR/removed/w1.*" >/dev/null; }
wait_for 10 no_w1 || fail "w1's log outlived its 3 s retention: $(ls "$LOGS_DIR/removed")"
expect_refused 1 "no container 'w1'" logs pi-1/w1

check_sanitizers
pass
