#!/usr/bin/env bash
# Failover of a service replica after a power cut, with real agents and
# containers: a master and 4 agents on loopback (tests/integration/lib.sh),
# a service 'web' of 2 replicas of a busybox root file system. One trial:
# the node holding web.1 loses its power (agent, shims and containers
# killed at once, svclib.sh's power_cut), and the time is taken until
#   - the master calls the node NotReady (its log line),
#   - the runtime of another node runs web.1 (runc list, polled),
#   - 'bramble -o json service ps web' shows web.1 running on another node,
#     whose runtime runs it;
# then the cut agent is started again on its state dir, and the next trial
# waits until the cluster runs exactly 2 web containers and the master
# shows both running. TRIALS trials for each setting of heartbeat interval
# and grace; p50 and max per setting. The false-alarm side (how long a
# silent node is tolerated: grace x interval) is computed, not measured.
# A benchmark: it prints figures and asserts no timings.
#
#   tests/bench/failover_bench.sh           1s/grace 3, 2s/grace 4 (the master's defaults), 5s/grace 3; 10 trials each
#   tests/bench/failover_bench.sh --smoke   1s/grace 3, 2 trials; exit 1 unless web.1 moves every time (CTest)
#
# Needs root, runc (or crun) and a static busybox, else it exits 77 and
# says why. Environment: BRM_BIN (required, as for lib.sh), TRIALS,
# SETTINGS (e.g. "1s/3 2s/4"), TIMEOUT (seconds a trial may take, default
# 60), BRM_KEEP=1.
SMOKE=0
case ${1:-} in
--smoke) SMOKE=1 ;;
-h | --help)
        sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
'') ;;
*)
        echo "failover_bench.sh: unknown argument '$1' (expected --smoke)" >&2
        exit 2
        ;;
esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
source "$here/../integration/lib.sh"
source "$here/../integration/svclib.sh"

if ((SMOKE)); then
        TRIALS=${TRIALS:-2}
        SETTINGS=${SETTINGS:-1s/3}
fi
TRIALS=${TRIALS:-10}
SETTINGS=${SETTINGS:-1s/3 2s/4 5s/3}
TIMEOUT=${TIMEOUT:-60}
NODES=(pi-1 pi-2 pi-3 pi-4)
START_S=$SECONDS

need_containers
ROOTFS=$WORK/rootfs
busybox_rootfs "$ROOTFS"
# Agents on one host share its cgroups: each in a memory cgroup of its own.
BRM_OWN_CGROUP=1

say() { printf '[failover %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# log_ms LINE: the wall-clock ms of a master log line's timestamp.
log_ms() {
        python3 -c '
import datetime, sys
t = sys.argv[1].split()[0]
d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(d.timestamp() * 1000))' "$1"
}

# ps_web: "REPLICA=NODE:STATE ..." for web from the master, one call.
ps_web() {
        cli -o json service ps web
        ((CLI_RC == 0)) || { printf 'ps-failed'; return; }
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
reps = d if isinstance(d, list) else d["replicas"]
print(" ".join(sorted("%s=%s:%s" % (r["name"], r.get("node") or "-", r["state"]) for r in reps)))'
}

# web1_node: the node the master placed web.1 on.
web1_node() {
        local p
        p=$(ps_web)
        [[ $p =~ web\.1=([a-z0-9-]+): ]] && printf '%s' "${BASH_REMATCH[1]}"
        return 0
}

# exactly_two: the runtimes of all nodes run 2 web containers and the
# master shows 2 replicas, both running.
exactly_two() {
        [[ $(cluster_running web. "${NODES[@]}" | wc -w) -eq 2 ]] || return 1
        local p
        p=$(ps_web)
        [[ $(grep -o ':running' <<<"$p" | wc -l) -eq 2 && $(wc -w <<<"$p") -eq 2 ]]
}

declare -A NOTREADY=() RUNTIME=() MASTER=() FAILS=()

# one_setting HEARTBEAT GRACE
one_setting() {
        local hb=$1 grace=$2 key="$1/$2" n trial victim t0 t_rt t_master t_nr line where new rt deadline
        say "setting heartbeat $hb, grace $grace: $TRIALS trials"
        MASTER_DIR=$WORK/master-${hb}-${grace}
        unset MASTER_PORT
        start_master --heartbeat-interval "$hb" --grace "$grace"
        grep -q "listening on" "$MASTER_LOG" && say "master: $(grep -o 'heartbeat [0-9]*ms, grace [0-9]*' "$MASTER_LOG" | head -1)"
        TOKEN=$(create_token --ttl 1h)
        for n in "${NODES[@]}"; do
                start_agent "$n" --token "$TOKEN"
        done
        wait_for 30 all_in_state Ready "${NODES[@]}" || fail "nodes not Ready: $(states "${NODES[@]}")"
        cli_ok service create web --image "$ROOTFS" --replicas 2 -- sleep 100000 >/dev/null
        wait_for 60 exactly_two || fail "web: expected 2 replicas running within 60 s: $(ps_web)"
        NOTREADY[$key]="" RUNTIME[$key]="" MASTER[$key]="" FAILS[$key]=0
        for ((trial = 1; trial <= TRIALS; trial++)); do
                wait_for "$TIMEOUT" exactly_two || fail "trial $trial: not exactly 2 web containers: $(cluster_running web. "${NODES[@]}") / $(ps_web)"
                victim=$(web1_node)
                [[ -n $victim ]] || fail "trial $trial: web.1 has no node: $(ps_web)"
                # A few heartbeats with both running, then a random point
                # within one interval: trials would otherwise fall at the
                # same phase of the heartbeats each time.
                sleep "$(awk -v h="${hb%s}" -v r="$RANDOM" 'BEGIN { print h * (1.5 + r / 32768) }')"
                t0=$(now_ms)
                power_cut "$victim"
                t_rt="" t_master=""
                deadline=$((t0 + TIMEOUT * 1000))
                while [[ -z $t_master ]] && (($(now_ms) < deadline)); do
                        if [[ -z $t_rt ]]; then
                                for n in "${NODES[@]}"; do
                                        [[ $n == "$victim" ]] && continue
                                        if [[ $(runtime_running "$n" web.1) == web.1 ]]; then
                                                t_rt=$(($(now_ms) - t0))
                                                break
                                        fi
                                done
                        fi
                        where=$(ps_web)
                        if [[ $where =~ web\.1=([a-z0-9-]+):running ]] && [[ ${BASH_REMATCH[1]} != "$victim" ]]; then
                                new=${BASH_REMATCH[1]}
                                rt=$(runtime_running "$new" web.1)
                                if [[ $rt == web.1 ]]; then
                                        t_master=$(($(now_ms) - t0))
                                        [[ -n $t_rt ]] || t_rt=$t_master
                                fi
                        fi
                        sleep 0.05
                done
                line=$(grep "node $victim NotReady: no heartbeat" "$MASTER_LOG" | tail -1 || true)
                t_nr=""
                [[ -n $line ]] && t_nr=$(($(log_ms "$line") - t0))
                if [[ -z $t_master ]]; then
                        FAILS[$key]=$((FAILS[$key] + 1))
                        say "trial $trial: $victim cut; web.1 not running elsewhere after $TIMEOUT s: $(ps_web)"
                        ((SMOKE)) && fail "web.1 did not move off $victim within $TIMEOUT s"
                else
                        NOTREADY[$key]+="$t_nr " RUNTIME[$key]+="$t_rt " MASTER[$key]+="$t_master "
                        say "trial $trial: $victim cut; NotReady after ${t_nr:-?} ms; web.1 runs on $new after $t_rt ms," \
                                "the master shows it running after $t_master ms"
                fi
                start_agent "$victim"
                wait_for 30 all_in_state Ready "${NODES[@]}" || fail "trial $trial: $victim not Ready again: $(states "${NODES[@]}")"
        done
        wait_for "$TIMEOUT" exactly_two || fail "after the trials: not exactly 2 web containers: $(cluster_running web. "${NODES[@]}")"
        # The next setting starts from nothing: agents and master stopped,
        # the containers deleted, fresh state dirs.
        stop_all
        _brm_remove_containers
        rm -rf "$WORK/agents"
}

for s in $SETTINGS; do
        hb=${s%/*}
        g=${s#*/}
        [[ $hb =~ ^[0-9]+s$ && $g =~ ^[0-9]+$ ]] || fail "SETTINGS: '$s' is not INTERVAL/GRACE such as 2s/4"
        one_setting "$hb" "$g"
done

# stats "MS MS ...": "p50 max" in seconds.
stats() {
        python3 -c '
import sys
v = sorted(int(x) for x in sys.argv[1:])
if not v:
    print("- -")
else:
    print("%.2f %.2f" % (v[(len(v) - 1) // 2] / 1000, v[-1] / 1000))' $1
}
echo
echo "== failover of one replica after a power cut ($(nproc) cores, $(uname -m); 4 agents, runc; $TRIALS trials per setting) =="
printf '%-22s %-12s %-19s %-19s %-19s %s\n' "heartbeat / grace" "silence" "NotReady after" "runs elsewhere" "master shows it" "trials"
printf '%-22s %-12s %-19s %-19s %-19s %s\n' "" "tolerated" "p50 / max s" "p50 / max s" "p50 / max s" "(failed)"
for s in $SETTINGS; do
        hb=${s%/*}
        g=${s#*/}
        tol=$(awk -v h="${hb%s}" -v g="$g" 'BEGIN { printf "%g s", h * g }')
        read -r a b <<<"$(stats "${NOTREADY[$s]}")"
        read -r c d <<<"$(stats "${RUNTIME[$s]}")"
        read -r e f <<<"$(stats "${MASTER[$s]}")"
        n=$(wc -w <<<"${MASTER[$s]}")
        printf '%-22s %-12s %-19s %-19s %-19s %s\n' "$hb / $g" "$tol" "$a / $b" "$c / $d" "$e / $f" "$n (${FAILS[$s]})"
done
echo
echo "From the power cut: NotReady after: the master's log line; runs elsewhere: the first 'runc list' of another"
echo "node that shows web.1 running (polled); master shows it: 'bramble -o json service ps web' shows web.1"
echo "running on another node, whose runtime runs it (it learns that from that node's next heartbeat)."
echo "False alarms: with the master's defaults (heartbeat 2 s, grace 4) a node may be silent for 4 x 2 s = 8 s"
echo "before it is NotReady; the check runs every 0.5 s, so a node is called NotReady 8-8.5 s after its last"
echo "heartbeat, and any silence (a stall, a lost link) shorter than that moves nothing. --reschedule-after"
echo "(default 0) adds to it before replicas move."
say "this run took $((SECONDS - START_S)) s"
((SMOKE)) && pass "failover smoke"
exit 0
