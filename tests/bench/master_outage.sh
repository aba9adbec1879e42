#!/usr/bin/env bash
# Master outage: how long after a master comes back are all its nodes Ready
# again? N real bramble-agent processes (each with its own state dir) join a
# fresh master; then, R times, the master is killed (SIGKILL), stays down
# for OUTAGE seconds and is started again on the same data dir and port.
# Each run prints the time from the restarted master's "listening on" to
# the last agent's new session (its "connected to master" log line; the
# master marks a node Ready on the heartbeat the agent sends right then),
# the median node's time, and how many reconnect handshakes a stray
# heartbeat aborted ("sending heartbeat failed"). The end prints p50 and max
# over the runs. A benchmark: it prints figures and asserts no timings.
#
#   tests/bench/master_outage.sh [--agents N] [--outage S] [--runs R]
#                                       defaults 30 agents, 30 s, 3 runs (about 4-5 minutes)
#   tests/bench/master_outage.sh --smoke   5 agents, 5 s, 1 run; exit 1 unless all come back (CTest)
#
# Agent i (1..N) reaches the master at 127.0.0.(i+1), so each comes from its own
# source address as distinct Pis would (the master bounds handshakes per
# source address); the master therefore listens on 0.0.0.0 at a random
# port for the length of the benchmark.
#
# Environment (all optional):
#   BRM_BIN      directory with bramble-master, bramble-agent, bramble (default build/host/bin)
#   HEARTBEAT    the master's --heartbeat-interval (default 5s, the master's own default)
#   TIMEOUT      seconds to wait for every node after each restart (default 180)
#   BRM_KEEP=1   keep the work directory (master and agent logs)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
MASTER=$BRM_BIN/bramble-master
AGENT=$BRM_BIN/bramble-agent
CLI=$BRM_BIN/bramble
HEARTBEAT=${HEARTBEAT:-5s}
TIMEOUT=${TIMEOUT:-180}
N=30
OUTAGE=30
RUNS=3
SMOKE=0

usage_error() {
        echo "master_outage.sh: $*" >&2
        exit 2
}
whole() { # FLAG VALUE MIN MAX
        [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) ||
                usage_error "$1 '$2' is not a whole number from $3 to $4"
        echo "$2"
}
while (($#)); do
        case $1 in
        --smoke) SMOKE=1 ;;
        --agents | --outage | --runs)
                (($# >= 2)) || usage_error "$1 needs a value"
                case $1 in
                --agents) N=$(whole "$1" "$2" 1 250) ;;
                --outage) OUTAGE=$(whole "$1" "$2" 0 3600) ;;
                --runs) RUNS=$(whole "$1" "$2" 1 100) ;;
                esac
                shift
                ;;
        -h | --help)
                sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        *) usage_error "unknown argument '$1' (expected --agents N, --outage S, --runs R or --smoke)" ;;
        esac
        shift
done
if ((SMOKE)); then
        N=5 OUTAGE=5 RUNS=1
fi
for b in "$MASTER" "$AGENT" "$CLI"; do
        [[ -x $b ]] || usage_error "$b not found; build first (cmake --preset host && cmake --build build/host -j2) or set BRM_BIN"
done
command -v python3 >/dev/null || { echo "master_outage.sh: needs python3 (log timestamps, JSON)" >&2; exit 77; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/brm-outage.XXXXXX")
PIDS=()
MPID=
cleanup() {
        local p left
        trap - EXIT INT TERM
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for _ in $(seq 1 50); do
                left=0
                for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
                ((left)) || break
                sleep 0.1
        done
        for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
        for p in "${PIDS[@]}"; do { wait "$p"; } 2>/dev/null || true; done
        if [[ ${BRM_KEEP:-0} == 1 ]]; then
                echo "master_outage.sh: kept $WORK" >&2
        else
                rm -rf "$WORK"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[master_outage] %s\n' "$*"; }
die() {
        echo "master_outage.sh: $*" >&2
        exit 1
}
# A random port below the kernel's ephemeral range.
pick_port() {
        local lo
        read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
        ((lo > 12000)) || lo=32768
        echo $((10000 + RANDOM % (lo - 10000)))
}
name_of() { printf 'outage-%03d' "$1"; }

# Starts the master on DATA and PORT (PORT chosen when empty) and waits for
# "listening on"; its log is $WORK/master-SEQ.log, named in MLOG.
SEQ=0
start_master() {
        local try
        for try in 1 2 3 4 5; do
                [[ -n ${FIXED_PORT:-} ]] && PORT=$FIXED_PORT || PORT=$(pick_port)
                SEQ=$((SEQ + 1))
                MLOG=$WORK/master-$SEQ.log
                "$MASTER" --data-dir "$WORK/master" --listen "0.0.0.0:$PORT" --heartbeat-interval "$HEARTBEAT" \
                        >"$WORK/master-$SEQ.stdout" 2>"$MLOG" &
                MPID=$!
                PIDS+=("$MPID")
                for _ in $(seq 1 150); do
                        grep -q "listening on" "$MLOG" && return 0
                        kill -0 "$MPID" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$MPID" 2>/dev/null || true
                [[ -z ${FIXED_PORT:-} ]] && grep -q "cannot listen" "$MLOG" && continue
                die "bramble-master did not start: $(tail -3 "$MLOG")"
        done
        die "bramble-master found no free port in 5 tries"
}

# Prints how many of the N nodes the master lists as Ready and connected.
ready_connected() {
        BRAMBLE_CONFIG=$WORK/master/admin.json "$CLI" -o json nodes 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for n in json.load(sys.stdin) if n.get("state") == "Ready" and n.get("connected")))' 2>/dev/null || echo 0
}
wait_all() { # SECONDS -> 0 once all N are Ready and connected
        local deadline=$((SECONDS + $1))
        while ((SECONDS < deadline)); do
                (($(ready_connected) >= N)) && return 0
                sleep 0.25
        done
        return 1
}

# From the logs of run SEQ: seconds from the master's "listening on" to each
# agent's first session after it, and the aborted handshakes since the kill
# (an epoch in ms). Prints "last median aborted missing".
measure() { # MASTER_LOG KILL_MS
        python3 - "$1" "$2" "$WORK/agents" "$N" <<'EOF'
import datetime, glob, os, statistics, sys

def ts(line):
    t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()

mlog, kill_s, agents, n = sys.argv[1], int(sys.argv[2]) / 1000.0, sys.argv[3], int(sys.argv[4])
up = next(ts(l) for l in open(mlog) if "listening on" in l)
back, aborted = [], 0
for f in sorted(glob.glob(os.path.join(agents, "*", "agent.log"))):
    first = None
    for l in open(f, errors="replace"):
        if len(l) < 23 or not l[:4].isdigit():
            continue
        t = ts(l)
        if t >= kill_s and "sending heartbeat failed" in l:
            aborted += 1
        if first is None and t >= up and "connected to master at" in l:
            first = t - up
    if first is not None:
        back.append(first)
print("%.1f %.1f %d %d" % (max(back) if back else -1, statistics.median(back) if back else -1, aborted, n - len(back)))
EOF
}

# ---- setup: a master, a token, N agents, all Ready ----

start_master
FIXED_PORT=$PORT
TOKEN=$(BRAMBLE_CONFIG=$WORK/master/admin.json "$CLI" token create --ttl 1h --uses "$N") ||
        die "bramble token create failed"
mkdir -p "$WORK/agents"
for i in $(seq 1 "$N"); do
        name=$(name_of "$i")
        mkdir -p "$WORK/agents/$name"
        "$AGENT" --master "127.0.0.$((i + 1)):$PORT" --name "$name" --token "$TOKEN" \
                --state-dir "$WORK/agents/$name" >"$WORK/agents/$name/agent.log" 2>&1 &
        PIDS+=($!)
done
log "$N agents, master on 0.0.0.0:$PORT (heartbeat $HEARTBEAT), outage ${OUTAGE} s, $RUNS run(s)"
wait_all 120 || die "setup: only $(ready_connected) of $N agents Ready within 120 s"
log "setup: all $N Ready"

# ---- runs ----

RESULTS=()
FAILED=0
for run in $(seq 1 "$RUNS"); do
        # Let every agent send a few heartbeats into its session first, so
        # that the kill finds their timers at unrelated phases.
        sleep 3
        kill_ms=$(date +%s%3N)
        kill -KILL "$MPID"
        { wait "$MPID"; } 2>/dev/null || true
        sleep "$OUTAGE"
        start_master
        if ! wait_all "$TIMEOUT"; then
                FAILED=1
                log "run $run: only $(ready_connected) of $N Ready and connected within $TIMEOUT s of the restart"
                continue
        fi
        read -r last median aborted missing < <(measure "$MLOG" "$kill_ms")
        note=
        ((missing == 0)) || note="; $missing without a logged session"
        log "run $run: all $N Ready ${last} s after the master returned (median node ${median} s; handshakes aborted by a stray heartbeat: $aborted$note)"
        RESULTS+=("$last")
done

((${#RESULTS[@]})) || die "no run completed"
python3 - "${RESULTS[@]}" <<'EOF'
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print("[master_outage] time until all Ready after the master returned, over %d run(s): p50 %.1f s, max %.1f s (runs: %s)"
      % (len(v), statistics.median(v), v[-1], " ".join("%.1f" % x for x in v)))
EOF
exit "$FAILED"
