#!/usr/bin/env bash
# Agents with "master": "auto" find the master by mDNS, in network
# namespaces made here (a bridge in a hub namespace, one veth per node,
# 10.77.0.0/24; nothing leaves them):
#
#  (b) a rogue master of another cluster, announcing honestly, is skipped
#      by its ca=; a liar announcing the real CA's prefix for the rogue's
#      address is tried and refused by the TLS pin with one clear line;
#      both run before the real master announces, and the agent keeps
#      browsing until the real one appears, then joins it;
#  (a) a second agent with "master": "auto" joins the announcing master;
#      both are Ready (and a third with the fixed address, for the figure);
#  (c) the master restarts on another address with the same data dir: the
#      joined agents find it again (their remembered address is gone) and
#      are Ready again without being touched.
#
# Prints "figure:" lines: agent start to connected (from the agent's log)
# with "auto" versus the fixed address.
source "$(dirname "$0")/lib.sh"

[[ -x "$BRM_BIN/bramble-browse" ]] || fail "$BRM_BIN/bramble-browse is missing (build the bramble-browse target)"
[[ -x "$BRM_BIN/brm_mdns_announce" ]] || fail "$BRM_BIN/brm_mdns_announce is missing (build the tests)"
command -v ip >/dev/null || skip "no ip command (iproute2)"

P=brm$$
HUB=$P-hub
declare -a NETNS=()
_ns_cleanup() {
        local ns
        for ns in "${NETNS[@]}"; do
                ip netns del "$ns" 2>/dev/null || true
        done
}
_mdns_exit() {
        local rc=$?
        # The processes first (lib.sh), but lib.sh's cleanup exits: delete
        # the namespaces before it; their processes are killed right after.
        _ns_cleanup
        (exit $rc)
        _brm_cleanup
}
trap _mdns_exit EXIT

ip netns add "$HUB" 2>"$WORK/netns.err" || skip "cannot create a network namespace: $(cat "$WORK/netns.err")"
NETNS+=("$HUB")
ip -n "$HUB" link add br0 type bridge || skip "cannot create a bridge in a network namespace"
ip -n "$HUB" link set br0 up

# node NAME ADDR: a namespace $P-NAME with eth0 at ADDR/24 on the bridge.
node() {
        local ns=$P-$1
        ip netns add "$ns"
        NETNS+=("$ns")
        ip link add "vh-$1" netns "$HUB" type veth peer name eth0 netns "$ns"
        ip -n "$HUB" link set "vh-$1" master br0 up
        ip -n "$ns" addr add "$2/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
}
node m 10.77.0.2
node r 10.77.0.3
node a1 10.77.0.11
node a2 10.77.0.12
node a3 10.77.0.13

# The CLI runs beside the master (admin.json names 127.0.0.1 there).
cli() {
        local o=$WORK/cli.out e=$WORK/cli.err
        CLI_RC=0
        ip netns exec "$P-m" "$BRM_BIN/bramble" "$@" >"$o" 2>"$e" || CLI_RC=$?
        CLI_OUT=$(cat "$o")
        CLI_ERR=$(cat "$e")
        no_sanitizer_report "bramble $*" "$CLI_ERR"
}
master_status() { :; }

# ns_master TAG NS DIR INSTANCE [args...]: a master on 0.0.0.0:7443 in NS;
# waits for it to listen. Sets LAUNCH_PID and LAUNCH_LOG.
ns_master() {
        local tag=$1 ns=$2 dir=$3 name=$4
        shift 4
        local seq=$((${_LOG_SEQ[$tag]:-0} + 1))
        _LOG_SEQ[$tag]=$seq
        LAUNCH_LOG=$LOGS/$tag-$seq.log
        ip netns exec "$ns" "$BRM_BIN/bramble-master" --data-dir "$dir" --listen 0.0.0.0:7443 --heartbeat-interval 1s \
                --grace 3 --mdns-name "$name" "$@" >"$LOGS/$tag-$seq.stdout" 2>"$LAUNCH_LOG" &
        LAUNCH_PID=$!
        track "$LAUNCH_PID" "bramble-master ($tag #$seq in $ns)"
        wait_for 15 _master_up_or_dead "$LAUNCH_PID" "$LAUNCH_LOG" || true
        grep -q "listening on" "$LAUNCH_LOG" || fail "bramble-master ($tag) did not start (see ${LAUNCH_LOG#"$WORK"/})"
}

# ns_agent NAME [args...]: an agent in namespace $P-NAME with the config
# file $WORK/NAME.json. Records the start time in T0[NAME].
declare -A T0=()
ns_agent() {
        local name=$1
        shift
        local seq=$((${_LOG_SEQ[agent-$name]:-0} + 1))
        _LOG_SEQ[agent-$name]=$seq
        local logf=$LOGS/agent-$name-$seq.log
        T0[$name]=$(now_ms)
        ip netns exec "$P-$name" "$BRM_BIN/bramble-agent" --config "$WORK/$name.json" --name "$name" \
                --state-dir "$WORK/agents/$name" --heartbeat-interval 1s "$@" >"$logf" 2>&1 &
        LAST_PID=$!
        track "$LAST_PID" "bramble-agent $name #$seq"
        AGENT_PID[$name]=$LAST_PID
        AGENT_LOG[$name]=$logf
        AGENT_STATE[$name]=$WORK/agents/$name
}

# ms_between LOG FIRST SECOND: milliseconds between the log lines holding
# FIRST and (the first after it holding) SECOND, from their timestamps.
ms_between() {
        python3 - "$@" <<'EOF'
import sys, datetime
log, first, second = sys.argv[1:4]
t = [None, None]
for line in open(log, errors="replace"):
    stamp = line.split(" ", 1)[0]
    if t[0] is None and first in line:
        t[0] = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    elif t[0] is not None and second in line:
        t[1] = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        break
print(int((t[1] - t[0]).total_seconds() * 1000) if None not in t else -1)
EOF
}

# ---- the real master, not announcing yet; a token for three nodes ----
MDIR=$WORK/master
ns_master master "$P-m" "$MDIR" real --no-announce
MASTER_PID=$LAUNCH_PID
MASTER_LOG=$LAUNCH_LOG
assert_file_contains "$MASTER_LOG" "not announcing on mDNS (--no-announce)" "master log"
export BRAMBLE_CONFIG=$MDIR/admin.json
TOKEN=$(create_token --ttl 1h --uses 3)
CA16=$(echo "$TOKEN" | cut -d: -f2 | cut -c1-16)
for n in a1 a2; do
        printf '{"master": "auto", "token": "%s"}\n' "$TOKEN" >"$WORK/$n.json"
done
printf '{"master": "10.77.0.2:7443", "token": "%s"}\n' "$TOKEN" >"$WORK/a3.json"

# ---- (b) rogues first ----
ns_master rogue "$P-r" "$WORK/rogue" rogue
ROGUE_LOG=$LAUNCH_LOG
assert_file_contains "$ROGUE_LOG" "announcing rogue._bramble._tcp.local. (port 7443" "rogue master log"
ROGUE16=$(cut -d: -f2 "$WORK/rogue/join-token" | cut -c1-16)
[[ "$ROGUE16" != "$CA16" ]] || fail "the rogue's CA prefix equals the real one ($CA16)"
ip netns exec "$P-r" "$BRM_BIN/brm_mdns_announce" liar 7443 "$CA16" >"$LOGS/liar.log" 2>&1 &
track $! "brm_mdns_announce liar"
wait_for 5 log_has "$LOGS/liar.log" "announcing liar" || fail "the liar's announcement did not start"

ns_agent a1
wait_for 20 log_has "${AGENT_LOG[a1]}" "master 10.77.0.3:7443 (found by mDNS) refused: its CA does not match the one pinned by the token" ||
        fail "a1 did not refuse the liar's address with the clear line"
assert_file_contains "${AGENT_LOG[a1]}" "skipping master rogue at 10.77.0.3:7443 (found by mDNS): it announces ca=$ROGUE16" "a1 log"
assert_file_lacks "$ROGUE_LOG" "joined with token" "rogue master log"
log "a1 refused the liar at the rogue's address and skipped the honest rogue"

# The real master announces now (restarted with the same data dir).
stop_pid "$MASTER_PID"
ns_master master "$P-m" "$MDIR" real
MASTER_PID=$LAUNCH_PID
MASTER_LOG=$LAUNCH_LOG
assert_file_contains "$MASTER_LOG" "announcing real._bramble._tcp.local. (port 7443, ca=$CA16) on mDNS on 10.77.0.2" "master log"

# ---- (a) two agents with "auto" join and are Ready ----
ns_agent a2
wait_for 40 all_in_state Ready a1 a2 || fail "a1 and a2 not Ready: $(states a1 a2)"
for n in a1 a2; do
        assert_file_contains "${AGENT_LOG[$n]}" "found master real at 10.77.0.2:7443 by mDNS (ca=$CA16 matches the token)" "$n log"
        assert_file_contains "${AGENT_LOG[$n]}" "joined the cluster as $n" "$n log"
        assert_eq "10.77.0.2:7443" "$(head -n1 "$WORK/agents/$n/master-addrs")" "$n's remembered master address"
done
log "a1 and a2 Ready through mDNS"

# The same start with the fixed address, for the figure.
ns_agent a3 --master 10.77.0.2:7443
wait_for 20 all_in_state Ready a3 || fail "a3 (fixed address) not Ready: $(states a3)"
AUTO_MS=$(ms_between "${AGENT_LOG[a2]}" "starting (will join)" "connected to master at")
FIXED_MS=$(ms_between "${AGENT_LOG[a3]}" "starting (will join)" "connected to master at")
BROWSE_MS=$(ms_between "${AGENT_LOG[a2]}" "starting (will join)" "found master real")
echo "figure: agent start to connected (join included), \"master\": \"auto\": ${AUTO_MS} ms (of which browsing ${BROWSE_MS} ms); fixed address: ${FIXED_MS} ms"

# ---- (c) the master moves to another address ----
stop_pid "$MASTER_PID"
ip -n "$P-m" addr del 10.77.0.2/24 dev eth0
ip -n "$P-m" addr add 10.77.0.22/24 dev eth0
t_move=$(now_ms)
ns_master master "$P-m" "$MDIR" real
MASTER_PID=$LAUNCH_PID
MASTER_LOG=$LAUNCH_LOG
assert_file_contains "$MASTER_LOG" "on mDNS on 10.77.0.22" "master log"
for n in a1 a2; do
        wait_for 60 log_has "${AGENT_LOG[$n]}" "connected to master at 10.77.0.22:7443 (found by mDNS)" ||
                fail "$n did not find the master at its new address 10.77.0.22"
done
wait_for 20 all_in_state Ready a1 a2 || fail "a1 and a2 not Ready after the move: $(states a1 a2)"
echo "figure: master moved to another address: both auto agents Ready again $(($(now_ms) - t_move)) ms after its restart"
for n in a1 a2; do
        assert_eq "10.77.0.22:7443" "$(head -n1 "$WORK/agents/$n/master-addrs")" "$n's remembered master address after the move"
        ((${AGENT_PID[$n]} > 0)) && alive "${AGENT_PID[$n]}" || fail "agent $n is not running"
done
check_sanitizers
pass "agents found the master by mDNS, refused the rogue by its CA, and followed the master to a new address"
