#!/usr/bin/env bash
# The master's scheduler under load: a fresh bramble-master on loopback
# (heartbeat 2 s, grace 4), brm_loadgen simulating NODES nodes that keep
# their DesiredState and report its containers running, then
#   1. one 'bramble apply -f' of SERVICES services x REPLICAS replicas:
#      the time until every replica is placed (its DesiredState reached its
#      node) and reported running in a heartbeat, the master's CPU time
#      (utime+stime from /proc/PID/stat) and memory (VmRSS, VmHWM);
#   2. CUT nodes holding replicas lose their power at once (no heartbeat,
#      nothing read, the connections left open): the time from the cut until
#      every replica runs on the other nodes, and the master's CPU for it.
# Both ends are read from the load generator (--stats: the wall-clock time
# of the last DesiredState that added a container, of the last heartbeat
# that first reported one running), then checked through
# 'bramble -o json service ls' and 'bramble -o json nodes'. A benchmark:
# it prints figures and asserts no timings.
#
#   tests/bench/sched_bench.sh           1,000 nodes, 1,000 services x 3, 100 cut
#   tests/bench/sched_bench.sh --smoke   50 nodes, 50 services x 3, 5 cut, heartbeat 1 s;
#                                        exit 1 unless every replica is placed (CTest)
#
# Environment (all optional):
#   BRM_BIN      directory with bramble-master, bramble, brm_loadgen (default build/host/bin)
#   NODES, SERVICES, REPLICAS, CUT   the sizes above
#   HEARTBEAT    the master's --heartbeat-interval, also the nodes' (default 2s)
#   GRACE        the master's --grace (default 4)
#   START_DELAY  how long a simulated node takes to report a new container running (default 0s)
#   IDLE         seconds of the master's idle CPU sampled before the apply (default 10)
#   TIMEOUT      seconds each phase may take before it counts as failed (default 300)
#   BRM_KEEP=1   keep the work directory (logs, master data)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
MASTER=$BRM_BIN/bramble-master
CLI=$BRM_BIN/bramble
LOADGEN=$BRM_BIN/brm_loadgen
SMOKE=0
for a in "$@"; do
        case $a in
        --smoke) SMOKE=1 ;;
        -h | --help)
                sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        *)
                echo "sched_bench.sh: unknown argument '$a' (expected --smoke)" >&2
                exit 2
                ;;
        esac
done
if ((SMOKE)); then
        NODES=${NODES:-50} SERVICES=${SERVICES:-50} CUT=${CUT:-5} HEARTBEAT=${HEARTBEAT:-1s}
        IDLE=${IDLE:-2} TIMEOUT=${TIMEOUT:-40}
fi
NODES=${NODES:-1000}
SERVICES=${SERVICES:-1000}
REPLICAS=${REPLICAS:-3}
CUT=${CUT:-100}
HEARTBEAT=${HEARTBEAT:-2s}
GRACE=${GRACE:-4}
START_DELAY=${START_DELAY:-0s}
IDLE=${IDLE:-10}
TIMEOUT=${TIMEOUT:-300}
TOTAL=$((SERVICES * REPLICAS))
START_S=$SECONDS

for b in "$MASTER" "$CLI" "$LOADGEN"; do
        if [[ ! -x $b ]]; then
                echo "sched_bench.sh: $b not found; build first (cmake --preset host && cmake --build build/host) or set BRM_BIN" >&2
                exit 2
        fi
done
command -v python3 >/dev/null || { echo "sched_bench.sh: needs python3 (reading JSON)" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
HZ=$(getconf CLK_TCK)

export BRM_BIN
# lib.sh: a private $WORK and an EXIT trap that stops every process started
# here (track), and removes $WORK unless BRM_KEEP=1.
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"

log() { printf '[sched_bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
now_ms() { date +%s%3N; }
cpu_ticks() { # PID -> utime+stime in clock ticks
        local s
        s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        s=${s##*) }
        set -- $s
        echo $((${12} + ${13}))
}
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
ticks_s() { awk -v t="$1" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }'; }
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }
stat_field() { sed -n 's/.*\b'"$1"'=\([-0-9]*\).*/\1/p' "$WORK/stats" 2>/dev/null; }
fail() {
        _BRM_FAILED=1
        log "FAILED: $*"
        log "master log (last lines):"
        tail -n 20 "$WORK/master.log" | sed 's/^/    /'
        log "load generator (last lines):"
        tail -n 10 "$WORK/loadgen.out" | sed 's/^/    /'
        exit 1
}

# ---- the master and the nodes ----
start_master() {
        local try
        for try in 1 2 3 4 5 6 7 8; do
                PORT=$(free_port)
                rm -rf "$WORK/master"
                "$MASTER" --data-dir "$WORK/master" --listen "127.0.0.1:$PORT" --heartbeat-interval "$HEARTBEAT" \
                        --grace "$GRACE" >"$WORK/master.out" 2>"$WORK/master.log" &
                MPID=$!
                track "$MPID" bramble-master
                for _ in $(seq 1 100); do
                        kill -0 "$MPID" 2>/dev/null || break
                        grep -q "listening on" "$WORK/master.log" && return 0
                        sleep 0.1
                done
                kill "$MPID" 2>/dev/null || true
                { wait "$MPID"; } 2>/dev/null || true
        done
        fail "could not start a master"
}

start_master
export BRAMBLE_CONFIG=$WORK/master/admin.json
token=$("$CLI" token create --ttl 1h)
log "master pid $MPID on 127.0.0.1:$PORT (heartbeat $HEARTBEAT, grace $GRACE); $NODES simulated nodes joining"
: >"$WORK/loadgen.out"
"$LOADGEN" --master "127.0.0.1:$PORT" --token "$token" --nodes "$NODES" --interval "$HEARTBEAT" --duration 24h \
        --concurrency 64 --prefix sim --master-pid "$MPID" --start-delay "$START_DELAY" \
        --stats "$WORK/stats" --control "$WORK/control" >"$WORK/loadgen.out" 2>"$WORK/loadgen.err" &
LGPID=$!
track "$LGPID" brm_loadgen

ready_count() {
        "$CLI" -o json nodes 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for n in json.load(sys.stdin) if n.get("state") == "Ready"))' 2>/dev/null || echo 0
}
t_join=$(now_ms)
deadline=$(($(now_ms) + TIMEOUT * 1000))
until grep -q '^STEADY' "$WORK/loadgen.out"; do
        kill -0 "$LGPID" 2>/dev/null || fail "the load generator ended before its nodes were up"
        (($(now_ms) < deadline)) || fail "the nodes were not up within $TIMEOUT s"
        sleep 0.5
done
grep -E '^(keys|join|connect):' "$WORK/loadgen.out" | sed 's/^/    /'
until [[ $(ready_count) == "$NODES" ]]; do
        (($(now_ms) < deadline)) || fail "only $(ready_count) of $NODES nodes Ready within $TIMEOUT s"
        sleep 1
done
log "all $NODES nodes Ready ($(secs $(($(now_ms) - t_join))) s after the load generator started)"

# ---- the idle master ----
c0=$(cpu_ticks "$MPID")
sleep "$IDLE"
c1=$(cpu_ticks "$MPID")
IDLE_PCT=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v s="$IDLE" 'BEGIN { printf "%.1f", 100 * t / hz / s }')
RSS0=$(status_kib "$MPID" VmRSS)
HWM0=$(status_kib "$MPID" VmHWM)
log "idle master with $NODES nodes heartbeating: $IDLE_PCT % of one core, VmRSS $(mib "$RSS0") MiB"

# ---- phase 1: create ----
python3 - "$SERVICES" "$REPLICAS" >"$WORK/services.json" <<'PY'
import json, sys
n, r = int(sys.argv[1]), int(sys.argv[2])
w = len(str(n))
print(json.dumps({"services": {"s%0*d" % (w, i): {"image": "/srv/bench/rootfs", "replicas": r,
                                                   "command": ["sleep", "1000"], "memory": "32M"}
                                for i in range(1, n + 1)}}, indent=1))
PY
# wait_all SINCE_MS WHAT: until the nodes not cut hold TOTAL containers and
# have reported each running; sets PLACED_MS and RUNNING_MS (since SINCE_MS)
# and C_END (the master's CPU ticks when it was seen).
wait_all() {
        local since=$1 what=$2 d r dl=$(($(now_ms) + TIMEOUT * 1000))
        while :; do
                d=$(stat_field desired)
                r=$(stat_field running)
                if [[ $d == "$TOTAL" && $r == "$TOTAL" ]]; then
                        C_END=$(cpu_ticks "$MPID")
                        break
                fi
                kill -0 "$MPID" 2>/dev/null || fail "$what: the master is gone"
                (($(now_ms) < dl)) || fail "$what: after $TIMEOUT s the nodes hold ${d:-?} of $TOTAL replicas, ${r:-?} reported running"
                sleep 0.05
        done
        PLACED_MS=$(($(stat_field last_desired_ms) - since))
        RUNNING_MS=$(($(stat_field last_running_ms) - since))
}
# check_ls WHAT: the operator's view: every replica running on a Ready node.
check_ls() {
        local t0 out
        t0=$(now_ms)
        "$CLI" -o json service ls >"$WORK/ls.json" 2>"$WORK/ls.err" || fail "$1: bramble service ls failed: $(cat "$WORK/ls.err")"
        LS_MS=$(($(now_ms) - t0))
        LS_BYTES=$(stat -c %s "$WORK/ls.json")
        "$CLI" -o json nodes >"$WORK/nodes.json" 2>"$WORK/ls.err" || fail "$1: bramble nodes failed: $(cat "$WORK/ls.err")"
        out=$(python3 - "$WORK/ls.json" "$WORK/nodes.json" <<'PY'
import json, sys
svcs = json.load(open(sys.argv[1]))
ready = {n["name"] for n in json.load(open(sys.argv[2])) if n.get("state") == "Ready"}
reps = [r for s in svcs for r in s["replicas"]]
run = sum(1 for r in reps if r["state"] == "running")
bad = sum(1 for r in reps if r.get("node") not in ready)
print(len(svcs), len(reps), run, bad, sum(s["running"] for s in svcs))
PY
) || fail "$1: reading the service list failed"
        read -r LS_SVCS LS_REPS LS_RUN LS_BAD LS_SUM <<<"$out"
        log "$1: 'bramble -o json service ls': $LS_SVCS services, $LS_REPS replicas, $LS_RUN running" \
                "(services' running counts: $LS_SUM), $LS_BAD on a node not Ready; $LS_MS ms, $LS_BYTES bytes"
}

log "phase 1: bramble apply -f of $SERVICES services x $REPLICAS replicas ($TOTAL)"
c0=$(cpu_ticks "$MPID")
t0=$(now_ms)
"$CLI" apply -f "$WORK/services.json" >"$WORK/apply.out" 2>"$WORK/apply.err" || fail "bramble apply failed: $(cat "$WORK/apply.err")"
APPLY_MS=$(($(now_ms) - t0))
wait_all "$t0" "create"
CREATE_PLACED=$PLACED_MS CREATE_RUNNING=$RUNNING_MS CREATE_CPU=$((C_END - c0))
CREATE_RSS=$(status_kib "$MPID" VmRSS) CREATE_HWM=$(status_kib "$MPID" VmHWM)
log "create: apply answered in $APPLY_MS ms; all placed after $(secs "$CREATE_PLACED") s, all reported running after" \
        "$(secs "$CREATE_RUNNING") s; master cpu $(ticks_s "$CREATE_CPU") s; VmRSS $(mib "$CREATE_RSS") MiB, VmHWM $(mib "$CREATE_HWM") MiB"
check_ls "after the create"
CREATE_LS_MS=$LS_MS CREATE_LS_BYTES=$LS_BYTES
((LS_RUN == TOTAL)) || fail "the master shows $LS_RUN of $TOTAL replicas running"

# The master at rest with every replica running (it runs a scheduling pass
# on every liveness tick, twice a second).
sleep "$(awk -v h="${HEARTBEAT%s}" 'BEGIN { print 2 * h }')"
c0=$(cpu_ticks "$MPID")
sleep "$IDLE"
c1=$(cpu_ticks "$MPID")
BUSY_PCT=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v s="$IDLE" 'BEGIN { printf "%.1f", 100 * t / hz / s }')
BUSY_RSS=$(status_kib "$MPID" VmRSS) BUSY_HWM=$(status_kib "$MPID" VmHWM)
log "master at rest with $TOTAL replicas running: $BUSY_PCT % of one core"

# ---- phase 2: power cut ----
echo "cut $CUT" >"$WORK/control"
c0=$(cpu_ticks "$MPID")
kill -USR1 "$LGPID"
for _ in $(seq 1 100); do
        [[ $(stat_field cut) == 0 || -z $(stat_field cut) ]] || break
        sleep 0.05
done
CUT_MS=$(stat_field cut_ms)
CUT_NODES=$(stat_field cut)
CUT_CTRS=$(stat_field cut_containers)
((CUT_NODES > 0)) || fail "the load generator cut no node"
log "phase 2: $CUT_NODES nodes holding $CUT_CTRS replicas lost their power"
wait_all "$CUT_MS" "power cut"
CUT_PLACED=$PLACED_MS CUT_RUNNING=$RUNNING_MS CUT_CPU=$((C_END - c0))
CUT_RSS=$(status_kib "$MPID" VmRSS) CUT_HWM=$(status_kib "$MPID" VmHWM)
log "power cut: all $CUT_CTRS placed elsewhere after $(secs "$CUT_PLACED") s, all reported running after" \
        "$(secs "$CUT_RUNNING") s; master cpu $(ticks_s "$CUT_CPU") s"
check_ls "after the power cut"
((LS_RUN == TOTAL && LS_BAD == 0)) || fail "after the cut the master shows $LS_RUN of $TOTAL running, $LS_BAD on nodes not Ready"
NOTREADY=$(grep -c "NotReady: no heartbeat" "$WORK/master.log" || true)
MOVED=$(grep -c "NotReady, moved" "$WORK/master.log" || true)

kill -TERM "$LGPID" 2>/dev/null || true
{ wait "$LGPID"; } 2>/dev/null || true
grep -E '^(containers|loadgen cpu|loadgen loop)' "$WORK/loadgen.out" | sed 's/^/    /'
WARN=$(grep -ciE " (warn|error) " "$WORK/master.log" || true)

# ---- the table ----
GRACE_S=$(awk -v h="${HEARTBEAT%s}" -v g="$GRACE" 'BEGIN { printf "%g", h * g }')
echo
echo "== services on $NODES simulated nodes ($(nproc) cores, $(uname -m); master heartbeat $HEARTBEAT, grace $GRACE; nodes report after ${START_DELAY}) =="
printf '%-44s %10s %10s %12s %10s %10s\n' "phase" "placed s" "running s" "master cpu s" "VmRSS MiB" "VmHWM MiB"
printf '%-44s %10s %10s %12s %10s %10s\n' "idle, $NODES nodes heartbeating" "-" "-" "$IDLE_PCT %" "$(mib "$RSS0")" "$(mib "$HWM0")"
printf '%-44s %10s %10s %12s %10s %10s\n' "create $SERVICES x $REPLICAS (apply -> all running)" "$(secs "$CREATE_PLACED")" \
        "$(secs "$CREATE_RUNNING")" "$(ticks_s "$CREATE_CPU")" "$(mib "$CREATE_RSS")" "$(mib "$CREATE_HWM")"
printf '%-44s %10s %10s %12s %10s %10s\n' "at rest, $TOTAL replicas running" "-" "-" "$BUSY_PCT %" "$(mib "$BUSY_RSS")" "$(mib "$BUSY_HWM")"
printf '%-44s %10s %10s %12s %10s %10s\n' "$CUT_NODES nodes cut, $CUT_CTRS replicas (cut -> all running)" "$(secs "$CUT_PLACED")" \
        "$(secs "$CUT_RUNNING")" "$(ticks_s "$CUT_CPU")" "$(mib "$CUT_RSS")" "$(mib "$CUT_HWM")"
echo
echo "placed s: until the last DesiredState that added a replica reached its node; running s: until the"
echo "heartbeat that first reported the last one running (nodes report at their next heartbeat, every $HEARTBEAT)."
echo "master cpu: utime+stime over the phase, including the heartbeats of every node; the rows at rest: % of one"
echo "core over ${IDLE} s, before the services and with all of them running."
echo "The cut includes the grace: a node is NotReady after $GRACE_S s without a heartbeat (grace x interval)."
echo "bramble apply answered in $APPLY_MS ms; 'bramble -o json service ls' of $SERVICES services took $CREATE_LS_MS ms ($CREATE_LS_BYTES bytes)."
echo "master log: $NOTREADY nodes turned NotReady, $MOVED replicas moved, $WARN warnings or errors."
echo "This run took $((SECONDS - START_S)) s."
exit 0
