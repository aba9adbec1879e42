#!/usr/bin/env bash
# A partition without power loss: node pi-1 reaches the master through a TCP
# proxy (socat) that the test freezes, so pi-1's agent, shims and
# containers run on but neither side hears the other. The master calls
# pi-1 NotReady and runs its replica on pi-2.
#   --on-disconnect keep (the default): pi-1 keeps serving its copy for as
#   long as it is cut off (two copies meanwhile); once the link is back it
#   is told its set and stops the copy it no longer owns.
#   --on-disconnect stop-after 3s: pi-1 stops its copy by itself about 3 s
#   after it notices the master is gone (a quiet link for 4 heartbeats), so
#   a partition never keeps two copies for longer than that.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/svclib.sh"

need_containers
command -v socat >/dev/null || skip "needs socat for the freezable proxy"
ROOTFS=$WORK/rootfs
busybox_rootfs "$ROOTFS"
BRM_OWN_CGROUP=1
start_master
TOKEN=$(create_token --ttl 1h --uses 2)
PROXY_PORT=$(free_port)
setsid socat TCP-LISTEN:"$PROXY_PORT",bind=127.0.0.1,reuseaddr,fork TCP:"$MASTER_ADDR" &
PROXY_PID=$!
track "$PROXY_PID" "socat proxy to the master"
wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT" || fail "the proxy does not listen"
AGENT_MASTER[pi-1]=127.0.0.1:$PROXY_PORT
start_agent pi-1 --token "$TOKEN"
start_agent pi-2 --token "$TOKEN"
wait_for 10 all_in_state Ready pi-1 pi-2 || fail "setup: nodes not Ready: $(states pi-1 pi-2)"

freeze() { kill -STOP -- "-$PROXY_PID"; }
thaw() { kill -CONT -- "-$PROXY_PID"; }

run_case() { # SERVICE ON-DISCONNECT...
        local svc=$1
        shift
        # On pi-1: pi-2 cordoned while the service is created.
        cli_ok node cordon pi-2 >/dev/null
        cli_ok service create "$svc" --image "$ROOTFS" --replicas 1 "$@" -- sleep 100000 >/dev/null
        wait_running "$svc" 1 20
        assert_eq "$svc.1=pi-1" "$(placement "$svc")" "$svc placed while pi-2 is cordoned"
        cli_ok node uncordon pi-2 >/dev/null
        sleep 1
        freeze
        T_FREEZE=$(now_ms)
        wait_for 15 node_is pi-1 NotReady || fail "pi-1 not NotReady within 15 s of the freeze"
        _on_pi2() { [[ "$(runtime_running pi-2 "$svc.1")" == "$svc.1" ]]; }
        wait_for 15 _on_pi2 || fail "$svc.1 not running on pi-2 within 15 s of pi-1 turning NotReady: $(svc_dump "$svc")"
        log "$svc: running on pi-2 $(($(now_ms) - T_FREEZE)) ms after the freeze"
}

# ---- keep ----
run_case keep
sleep 8 # well past any stop-after: the copy on pi-1 keeps serving
assert_eq "keep.1" "$(runtime_running pi-1 keep.)" "pi-1's copy of keep.1, 8 s into the partition (--on-disconnect keep)"
thaw
_gone_pi1() { [[ -z "$(runtime_running pi-1 "$1")" ]]; }
wait_for 30 _gone_pi1 keep.1 || fail "pi-1 still runs keep.1 30 s after the link came back"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready after the thaw"
assert_eq "pi-2:keep.1" "$(cluster_running keep. pi-1 pi-2 | xargs)" "copies of keep after the partition"
cli_ok service rm keep >/dev/null

# ---- stop-after ----
run_case stop --on-disconnect stop-after 3s
wait_for 20 _gone_pi1 stop.1 || fail "pi-1 still runs stop.1 20 s after the freeze (--on-disconnect stop-after 3s)"
took=$(($(now_ms) - T_FREEZE))
log "pi-1 stopped its copy $took ms after the freeze (4 quiet heartbeats to notice, then 3 s)"
((took >= 3000)) || fail "pi-1 stopped its copy after only $took ms (expected no sooner than the 3 s of stop-after)"
grep -q "stop-after" "${AGENT_LOG[pi-1]}" || fail "pi-1's log does not say why it stopped stop.1"
thaw
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready after the thaw"
sleep 3
assert_eq "pi-2:stop.1" "$(cluster_running stop. pi-1 pi-2 | xargs)" "copies of stop after the partition"
pass
