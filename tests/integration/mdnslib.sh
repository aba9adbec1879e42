# Network namespaces for the mDNS tests (mdns_discovery.sh,
# tests/bench/discovery_bench.sh); source after lib.sh:
#
#     source "$(dirname "$0")/mdnslib.sh"
#
# Makes a hub namespace with a bridge; node NAME ADDR adds a namespace
# $P-NAME whose eth0 (ADDR/24) is on that bridge. Every namespace is
# deleted when the script ends; the script is skipped (77) when namespaces
# or the bridge cannot be made. The addresses exist only inside them.
# Also: the CLI runs in the master's namespace $P-m (admin.json names
# 127.0.0.1 there), ns_master, ns_agent and ms_between.

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

# ns_agent NAME [args...]: agent NAME in namespace $P-NAME (or $AGENT_NS)
# with the config file $WORK/NAME.json and state dir $WORK/agents/NAME.
ns_agent() {
        local name=$1
        shift
        local seq=$((${_LOG_SEQ[agent-$name]:-0} + 1))
        _LOG_SEQ[agent-$name]=$seq
        local logf=$LOGS/agent-$name-$seq.log
        ip netns exec "${AGENT_NS:-$P-$name}" "$BRM_BIN/bramble-agent" --config "$WORK/$name.json" --name "$name" \
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

