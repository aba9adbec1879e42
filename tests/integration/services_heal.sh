#!/usr/bin/env bash
# Power loss: the node holding a replica loses its agent, shims and
# containers at once (nothing closes a connection politely). With 1 s
# heartbeats and grace 3 the master calls it NotReady 3-4 s after its last
# heartbeat and places the replica on another node at once
# (--reschedule-after 0): it runs there within 12 s of the cut. A master
# restarted right after a second cut changes nothing: a node it has not
# heard from yet gets the grace from the master's start, and the replica
# still moves. The nodes come back: each is told its current set, stops the
# replicas it no longer owns, and the service is exactly N again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/svclib.sh"

svc_cluster 4

cli_ok service create web --image "$ROOTFS" --replicas 2 -- sleep 100000 >/dev/null
wait_running web 2 20
before=$(placement web)
victim=$(node_of web web.1)
log "web: $before; cutting the power of $victim"
sleep 1.5 # a few heartbeats with the replicas running

_moved() { # REPLICA FROM
        local where
        where=$(placement web)
        [[ "$where" == *"$1="* && "$where" != *"$1=$2"* ]]
}

t0=$(now_ms)
power_cut "$victim"
wait_for 20 _moved web.1 "$victim" || fail "web.1 not running off $victim within 20 s: $(placement web) ($(svc_dump web))"
took=$(($(now_ms) - t0))
log "web.1 ran on another node $took ms after the power cut of $victim"
((took <= 12000)) || fail "web.1 took $took ms to run elsewhere after the power cut: expected at most 12000 (grace 3 x 1 s after the last heartbeat, then one start)"
assert_eq 2 "$(running_count web)" "web replicas running after the power cut"
new_home=$(node_of web web.1)
[[ "$(runtime_running "$new_home" web.1)" == web.1 ]] || fail "the runtime of $new_home does not run web.1"
cli_ok events
assert_contains "$CLI_OUT" "node $victim NotReady, moved web.1 to $new_home" "events after the power cut"

# ---- a second cut, and the master restarted right after it ----
victim2=$(node_of web web.2)
log "cutting the power of $victim2 and restarting the master"
power_cut "$victim2"
t0=$(now_ms)
stop_pid "$MASTER_PID" TERM 10
start_master
wait_for 25 _moved web.2 "$victim2" || fail "web.2 not running off $victim2 within 25 s of a cut and a master restart: $(placement web) ($(svc_dump web))"
log "web.2 ran elsewhere $(($(now_ms) - t0)) ms after the cut and the master's restart"
assert_eq 2 "$(running_count web)" "web replicas running after the master restart"

# ---- the nodes come back: exactly two copies again ----
start_agent "$victim"
start_agent "$victim2"
wait_for 15 all_in_state Ready "${NODES[@]}" || fail "nodes not Ready after the comeback: $(states "${NODES[@]}")"
_two() { [[ $(cluster_running web. "${NODES[@]}" | wc -w) -eq 2 ]]; }
wait_for 15 _two || fail "expected exactly 2 web containers across the nodes after they came back, got $(cluster_running web. "${NODES[@]}")"
sleep 2
assert_eq 2 "$(cluster_running web. "${NODES[@]}" | wc -w)" "web containers across the nodes, 2 s later ($(cluster_running web. "${NODES[@]}"))"
assert_eq 2 "$(running_count web)" "web replicas running, as the master sees it"
pass
