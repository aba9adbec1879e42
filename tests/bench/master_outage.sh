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
#                                       defaults 30 agents, 30 s, 3 runs (about 2-4 minutes)
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
export BRM_BIN

# lib.sh: master/agent helpers, a private $WORK, and an EXIT trap that stops
# every process started here, by PID, and removes $WORK unless BRM_KEEP=1.
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
command -v python3 >/dev/null || skip "needs python3 (JSON, log timestamps)"

# How many of the N nodes the master lists as Ready and connected.
ready_connected() {
        cli -o json nodes
        [[ $CLI_RC -eq 0 ]] || { echo 0; return 0; }
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
print(sum(1 for n in json.load(sys.stdin) if n.get("state") == "Ready" and n.get("connected")))'
}
all_back() {
        (($(ready_connected) >= N))
}

# From the logs: seconds from the master's "listening on" (in MASTER_LOG)
# to each agent's first session after it, and the handshakes aborted since
# the kill (an epoch in ms). Prints "last median aborted missing".
measure() { # MASTER_LOG KILL_MS
        python3 - "$1" "$2" "$LOGS" "$N" <<'EOF'
import datetime, glob, os, statistics, sys

def ts(line):
    t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()

mlog, kill_s, logs, n = sys.argv[1], int(sys.argv[2]) / 1000.0, sys.argv[3], int(sys.argv[4])
up = next(ts(l) for l in open(mlog) if "listening on" in l)
back, aborted = [], 0
for f in sorted(glob.glob(os.path.join(logs, "agent-*.log"))):
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

MASTER_PORT=$(free_port)
MASTER_ARGS=(--listen "0.0.0.0:$MASTER_PORT" --heartbeat-interval "$HEARTBEAT")
start_master "${MASTER_ARGS[@]}"
TOKEN=$(create_token --ttl 1h --uses "$N")
for i in $(seq 1 "$N"); do
        MASTER_ADDR=127.0.0.$((i + 1)):$MASTER_PORT
        start_agent "$(printf 'outage-%03d' "$i")" --token "$TOKEN"
done
log "$N agents, master on 0.0.0.0:$MASTER_PORT (heartbeat $HEARTBEAT), outage ${OUTAGE} s, $RUNS run(s)"
wait_for 120 all_back || fail "setup: only $(ready_connected) of $N agents Ready within 120 s"
log "setup: all $N Ready"

# ---- runs ----

RESULTS=()
FAILED=0
for run in $(seq 1 "$RUNS"); do
        # Let every agent send a few heartbeats into its session first, so
        # that the kill finds their timers at unrelated phases.
        sleep 3
        kill_ms=$(now_ms)
        stop_pid "$MASTER_PID" KILL 10
        sleep "$OUTAGE"
        start_master "${MASTER_ARGS[@]}"
        if ! wait_for "$TIMEOUT" all_back; then
                FAILED=1
                log "run $run: only $(ready_connected) of $N Ready and connected within $TIMEOUT s of the restart"
                continue
        fi
        read -r last median aborted missing < <(measure "$MASTER_LOG" "$kill_ms")
        note=
        ((missing == 0)) || note="; $missing without a logged session"
        log "run $run: all $N Ready ${last} s after the master returned (median node ${median} s; handshakes aborted by a stray heartbeat: $aborted$note)"
        RESULTS+=("$last")
done

((${#RESULTS[@]})) || fail "no run got every node back"
summary=$(python3 - "${RESULTS[@]}" <<'EOF'
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print("time until all Ready after the master returned, over %d run(s): p50 %.1f s, max %.1f s (runs: %s)"
      % (len(v), statistics.median(v), v[-1], " ".join("%.1f" % x for x in v)))
EOF
)
log "$summary"
((FAILED == 0)) || fail "some run did not get every node back within $TIMEOUT s"
stop_all
check_sanitizers
