#!/usr/bin/env bash
# How long finding the master by mDNS adds to an agent's start: a master
# announcing in one network namespace, an agent in another (a bridge
# between them, tests/integration/mdnslib.sh), each run with a fresh state
# dir, once with "master": "auto" and once with the master's fixed
# address; then each agent started again, joined (the "auto" one tries the
# address it remembered first). Times are from the agent's own log: its
# "starting" line to "connected to master" (the master's HelloAck; the
# node is Ready with the heartbeat sent right after it). Prints p50 and
# max; asserts no timings.
#
#   tests/bench/discovery_bench.sh           10 runs of each
#   tests/bench/discovery_bench.sh --smoke   2 runs (CTest); exit 1 unless every agent connects
#
# Needs root and network namespaces, else it exits 77 and says why.
# Environment: BRM_BIN (as for lib.sh), RUNS, BRM_KEEP=1.
SMOKE=0
case ${1:-} in
--smoke) SMOKE=1 ;;
-h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
'') ;;
*)
        echo "discovery_bench.sh: unknown argument '$1' (expected --smoke)" >&2
        exit 2
        ;;
esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
source "$here/../integration/lib.sh"
source "$here/../integration/mdnslib.sh"

RUNS=${RUNS:-$((SMOKE ? 2 : 10))}
node m 10.77.0.2
node a 10.77.0.11
ns_master master "$P-m" "$WORK/master" bench
export BRAMBLE_CONFIG=$WORK/master/admin.json
TOKEN=$(create_token --ttl 1h --uses $((2 * RUNS)))
AGENT_NS=$P-a

# one NAME: starts agent NAME, waits until it is connected, stops it and
# sets MS (start to connected) and FOUND (start to found by mDNS, or -1).
one() {
        local name=$1
        shift
        ns_agent "$name" "$@"
        wait_for 30 log_has "${AGENT_LOG[$name]}" "connected to master at" ||
                fail "agent $name did not connect within 30 s"
        stop_pid "${AGENT_PID[$name]}"
        MS=$(ms_between "${AGENT_LOG[$name]}" "starting (" "connected to master at")
        FOUND=$(ms_between "${AGENT_LOG[$name]}" "starting (" "found master bench")
}

declare -a JOIN_AUTO=() JOIN_FIXED=() BROWSE=() AGAIN_AUTO=() AGAIN_FIXED=()
for ((i = 1; i <= RUNS; i++)); do
        printf '{"master": "auto", "token": "%s"}\n' "$TOKEN" >"$WORK/auto-$i.json"
        printf '{"master": "10.77.0.2:7443", "token": "%s"}\n' "$TOKEN" >"$WORK/fixed-$i.json"
        one "auto-$i"
        JOIN_AUTO+=("$MS")
        BROWSE+=("$FOUND")
        one "fixed-$i"
        JOIN_FIXED+=("$MS")
        one "auto-$i"
        AGAIN_AUTO+=("$MS")
        one "fixed-$i"
        AGAIN_FIXED+=("$MS")
        log "run $i: join auto ${JOIN_AUTO[-1]} ms (browse ${BROWSE[-1]}), fixed ${JOIN_FIXED[-1]} ms;" \
                "joined again auto ${AGAIN_AUTO[-1]} ms, fixed ${AGAIN_FIXED[-1]} ms"
done

stats() { # LABEL VALUES...
        local label=$1
        shift
        printf '%s\n' "$@" | sort -n | awk -v l="$label" '{ v[NR] = $1 } END { printf "figure: %s: p50 %d ms, max %d ms (%d runs)\n", l, v[int((NR + 1) / 2)], v[NR], NR }'
}
stats "first start (join) to connected, \"master\": \"auto\"" "${JOIN_AUTO[@]}"
stats "  of which browsing until the master was found" "${BROWSE[@]}"
stats "first start (join) to connected, fixed address" "${JOIN_FIXED[@]}"
stats "start of a joined agent to connected, \"auto\" (remembered address)" "${AGAIN_AUTO[@]}"
stats "start of a joined agent to connected, fixed address" "${AGAIN_FIXED[@]}"
check_sanitizers
pass "discovery bench"
