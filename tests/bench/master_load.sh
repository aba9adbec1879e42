#!/usr/bin/env bash
# Master under load: for each N, a fresh bramble-master on a random loopback
# port, one join token, and brm_loadgen simulating N nodes (real keys, real
# joins, one mutual-TLS session each, a heartbeat every second). Prints the
# join and connect times, the master's CPU (utime+stime from /proc/PID/stat
# over a steady-state window, as % of one core) and memory (VmRSS, VmHWM),
# the load generator's own CPU, and how many nodes 'bramble nodes -o json'
# shows Ready. A benchmark: it prints figures and asserts no timings.
#
#   tests/bench/master_load.sh              N = 1000 and 5000
#   tests/bench/master_load.sh 200 2000     other sizes
#   tests/bench/master_load.sh --smoke      N = 20 for 5 s; exit 1 unless all 20 turn Ready (CTest)
#
# Environment (all optional):
#   BRM_BIN        directory with bramble-master, bramble, brm_loadgen (default build/host/bin)
#   BRM_MASTER, BRM_CLI, BRM_LOADGEN   individual binaries, overriding BRM_BIN
#   CONCURRENCY    joins/handshakes in flight for the load generator (default 64)
#   JOIN_AT_ONCE   sizes whose nodes all join at once (default "1000"; "" for none)
#   SETTLE, WINDOW seconds to wait after every session is up, and the CPU sampling window (default 5, 12)
#   BRM_KEEP=1     keep the work directories (logs, master data)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
MASTER=${BRM_MASTER:-$BRM_BIN/bramble-master}
CLI=${BRM_CLI:-$BRM_BIN/bramble}
LOADGEN=${BRM_LOADGEN:-$BRM_BIN/brm_loadgen}
CONCURRENCY=${CONCURRENCY:-64}
JOIN_AT_ONCE=${JOIN_AT_ONCE-1000}
SETTLE=${SETTLE:-5}
WINDOW=${WINDOW:-12}
SMOKE=0
SIZES=()

for a in "$@"; do
        case $a in
        --smoke) SMOKE=1 ;;
        -h | --help)
                sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        *[!0-9]* | '')
                echo "master_load.sh: '$a' is not a node count (expected a whole number, or --smoke)" >&2
                exit 2
                ;;
        *) SIZES+=("$a") ;;
        esac
done
if ((SMOKE)); then
        SIZES=(20)
        SETTLE=1
        WINDOW=2
        JOIN_AT_ONCE=20
fi
((${#SIZES[@]})) || SIZES=(1000 5000)

for b in "$MASTER" "$CLI" "$LOADGEN"; do
        if [[ ! -x $b ]]; then
                echo "master_load.sh: $b not found; build first (cmake --preset host && cmake --build build/host -j2) or set BRM_BIN" >&2
                exit 2
        fi
done

# The master needs one descriptor per session; the load generator raises its
# own soft limit to the hard limit, and so does this shell for the master.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
HZ=$(getconf CLK_TCK)

WORKS=()
PIDS=()
cleanup() {
        local p
        trap - EXIT INT TERM
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for _ in $(seq 1 50); do
                local left=0
                for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
                ((left)) || break
                sleep 0.1
        done
        for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
        for p in "${PIDS[@]}"; do { wait "$p"; } 2>/dev/null || true; done
        if [[ ${BRM_KEEP:-0} == 1 ]]; then
                ((${#WORKS[@]})) && echo "master_load.sh: kept ${WORKS[*]}" >&2
        else
                for w in "${WORKS[@]}"; do rm -rf "$w"; done
        fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cpu_ticks() { # PID -> utime+stime in clock ticks (fields 14 and 15, counted after the ')' of the name)
        local s
        s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        s=${s##*) }
        set -- $s
        echo $((${12} + ${13}))
}
status_kib() { # PID FIELD
        awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}
pss_kib() {
        awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null
}
# A random port below the kernel's ephemeral range, so that the thousands of
# client sockets of a run can never hold it.
pick_port() {
        local lo
        read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
        ((lo > 12000)) || lo=32768
        echo $((10000 + RANDOM % (lo - 10000)))
}
now_ms() { date +%s%3N; }
result_field() { # FILE KEY
        sed -n 's/^RESULT .*\b'"$2"'=\([^ ]*\).*/\1/p' "$1" | tail -1
}
log() { printf '[master_load] %s\n' "$*"; }

# Starts a master on a random free loopback port; sets MPID, PORT, DATA.
start_master() { # WORK
        local work=$1 try
        for try in 1 2 3 4 5 6 7 8; do
                PORT=$(pick_port)
                if ss -Htan "sport = :$PORT" 2>/dev/null | grep -q .; then continue; fi
                DATA=$work/master
                rm -rf "$DATA"
                "$MASTER" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --heartbeat-interval 1s --log-level warn \
                        >"$work/master.log" 2>&1 &
                MPID=$!
                PIDS+=("$MPID")
                for _ in $(seq 1 100); do
                        if ! kill -0 "$MPID" 2>/dev/null; then break; fi
                        if [[ -f $DATA/admin.json ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
                                return 0
                        fi
                        sleep 0.1
                done
                kill "$MPID" 2>/dev/null || true
                { wait "$MPID"; } 2>/dev/null || true
        done
        echo "master_load.sh: could not start a master; last log:" >&2
        cat "$work/master.log" >&2
        return 1
}

declare -A R=() # results: "N,key" -> value
OVERALL=0

run_one() { # N
        local n=$1 work conc jconc dur lg_out lgpid printed=0 steady=0 t0 c0 l0 t1 c1 l1 ready total nodes_ms
        work=$(mktemp -d "${TMPDIR:-/tmp}/brm-bench-master.XXXXXX")
        WORKS+=("$work")
        start_master "$work"
        R[$n,base_rss]=$(status_kib "$MPID" VmRSS)
        export BRAMBLE_CONFIG=$DATA/admin.json
        local token
        token=$("$CLI" token create --ttl 1h)
        conc=$CONCURRENCY
        jconc=$CONCURRENCY
        if [[ " $JOIN_AT_ONCE " == *" $n "* ]]; then jconc=$n; fi
        # The steady state covers the settling time, the CPU window and the
        # node listing, with room to spare.
        dur=$((SETTLE + WINDOW + 10))
        ((SMOKE)) && dur=5
        log "N=$n: master pid $MPID on 127.0.0.1:$PORT (open-file limit $NOFILE), joins in flight $jconc, handshakes in flight $conc"
        lg_out=$work/loadgen.out
        # Exists before the loop below reads it: the background shell may
        # not have opened it yet.
        : >"$lg_out"
        "$LOADGEN" --master "127.0.0.1:$PORT" --token "$token" --nodes "$n" --interval 1s --duration "${dur}s" \
                --concurrency "$conc" --join-concurrency "$jconc" --prefix load --master-pid "$MPID" \
                >"$lg_out" 2>"$work/loadgen.err" &
        lgpid=$!
        PIDS+=("$lgpid")
        # Follow the load generator's output; sample once it reports STEADY.
        while kill -0 "$lgpid" 2>/dev/null; do
                local lines
                lines=$(wc -l <"$lg_out")
                if ((lines > printed)); then
                        sed -n "$((printed + 1)),${lines}p" "$lg_out" | sed 's/^/    /'
                        printed=$lines
                fi
                if ((!steady)) && grep -q '^STEADY' "$lg_out"; then
                        steady=1
                        sleep "$SETTLE"
                        t0=$(now_ms)
                        c0=$(cpu_ticks "$MPID") || break
                        l0=$(cpu_ticks "$lgpid") || break
                        sleep "$WINDOW"
                        t1=$(now_ms)
                        c1=$(cpu_ticks "$MPID") || break
                        l1=$(cpu_ticks "$lgpid") || break
                        R[$n,mcpu]=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * c / hz / (ms / 1000) }')
                        R[$n,lcpu]=$(awk -v c=$((l1 - l0)) -v hz="$HZ" -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * c / hz / (ms / 1000) }')
                        R[$n,rss]=$(status_kib "$MPID" VmRSS)
                        R[$n,hwm]=$(status_kib "$MPID" VmHWM)
                        R[$n,pss]=$(pss_kib "$MPID")
                        R[$n,lrss]=$(status_kib "$lgpid" VmRSS)
                        R[$n,window]=$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
                        # Count Ready nodes through the operator's own view.
                        local t2
                        t2=$(now_ms)
                        if "$CLI" nodes -o json >"$work/nodes.json" 2>"$work/nodes.err"; then
                                nodes_ms=$(($(now_ms) - t2))
                                if command -v jq >/dev/null; then
                                        ready=$(jq '[.[] | select(.state == "Ready" and (.name | startswith("load-")))] | length' "$work/nodes.json")
                                        total=$(jq 'length' "$work/nodes.json")
                                else
                                        ready=$(grep -c '"state":[[:space:]]*"Ready"' "$work/nodes.json" || true)
                                        total=$(grep -c '"name":' "$work/nodes.json" || true)
                                fi
                        else
                                nodes_ms=$(($(now_ms) - t2))
                                ready=0
                                total=0
                                log "bramble nodes failed: $(cat "$work/nodes.err")"
                        fi
                        R[$n,ready]=$ready
                        R[$n,listed]=$total
                        R[$n,nodes_ms]=$nodes_ms
                        R[$n,nodes_bytes]=$(stat -c %s "$work/nodes.json")
                        log "N=$n steady window ${R[$n,window]} s: master cpu ${R[$n,mcpu]} % of one core," \
                                "VmRSS ${R[$n,rss]} KiB, VmHWM ${R[$n,hwm]} KiB; loadgen cpu ${R[$n,lcpu]} %;" \
                                "'bramble nodes -o json': $ready of $n Ready ($total listed, ${nodes_ms} ms)"
                        continue
                fi
                sleep 0.2
        done
        local rc=0
        wait "$lgpid" || rc=$?
        sed -n "$((printed + 1)),\$p" "$lg_out" | sed 's/^/    /'
        [[ -s $work/loadgen.err ]] && sed 's/^/    loadgen: /' "$work/loadgen.err"
        if ! kill -0 "$MPID" 2>/dev/null; then
                log "N=$n: the master is gone (exit or signal from outside); its log:"
                sed 's/^/    /' "$work/master.log"
        fi
        R[$n,mhwm_end]=$(status_kib "$MPID" VmHWM)
        for k in join_s join_errors connect_s connect_errors up drops master_cpu_join_s master_cpu_connect_s hb_steady steady_s; do
                R[$n,$k]=$(result_field "$lg_out" $k)
        done
        R[$n,jconc]=$jconc
        kill -TERM "$MPID" 2>/dev/null || true
        { wait "$MPID"; } 2>/dev/null || true
        if [[ ${R[$n,ready]:-0} != "$n" ]]; then
                log "N=$n: only ${R[$n,ready]:-0} of $n nodes are Ready (loadgen exit $rc)"
                OVERALL=1
        fi
}

for n in "${SIZES[@]}"; do
        run_one "$n"
done

v() { echo "${R[$1]:--}"; }
per_session() { # N -> KiB of master RSS per node, above the idle master's RSS
        awk -v r="${R[$1,rss]:-0}" -v b="${R[$1,base_rss]:-0}" -v n="$1" 'BEGIN { if (r > 0) printf "%.1f", (r - b) / n; else print "-" }'
}
echo
echo "== bramble-master under load ($(nproc) cores, $(uname -m); heartbeat every 1 s; mbedTLS, libuv, SQLite) =="
printf '%-6s %-6s %9s %8s %9s %8s %11s %11s %9s %9s %9s %8s %9s %9s\n' \
        N "joins" "join s" "join err" "connect s" "conn err" "master ms/" "master ms/" "master" "master" "master" "KiB/" "loadgen" "Ready"
printf '%-6s %-6s %9s %8s %9s %8s %11s %11s %9s %9s %9s %8s %9s %9s\n' \
        "" "at once" "" "(retried)" "" "(retried)" "join" "session" "cpu %" "VmRSS MiB" "VmHWM MiB" "session" "cpu %" "(nodes)"
for n in "${SIZES[@]}"; do
        mjs=$(awk -v c="${R[$n,master_cpu_join_s]:-0}" -v n="$n" 'BEGIN { printf "%.2f", 1000 * c / n }')
        mcs=$(awk -v c="${R[$n,master_cpu_connect_s]:-0}" -v n="$n" 'BEGIN { printf "%.2f", 1000 * c / n }')
        rss=$(awk -v k="${R[$n,rss]:-0}" 'BEGIN { printf "%.1f", k / 1024 }')
        hwm=$(awk -v k="${R[$n,hwm]:-0}" 'BEGIN { printf "%.1f", k / 1024 }')
        printf '%-6s %-6s %9s %8s %9s %8s %11s %11s %9s %9s %9s %8s %9s %9s\n' \
                "$n" "$(v "$n,jconc")" "$(v "$n,join_s")" "$(v "$n,join_errors")" "$(v "$n,connect_s")" \
                "$(v "$n,connect_errors")" "$mjs" "$mcs" "$(v "$n,mcpu")" "$rss" "$hwm" "$(per_session "$n")" \
                "$(v "$n,lcpu")" "$(v "$n,ready")/$n"
done
echo
echo "join s: first join started -> last certificate received; connect s: first mTLS connect -> last HelloAck."
echo "master cpu % and loadgen cpu %: utime+stime over a ${WINDOW} s window of the steady state (all N heartbeating)."
echo "master ms/join, ms/session: master CPU time in the join and connect phases divided by N."
echo "KiB/session: (master VmRSS in the steady state - VmRSS of the idle master before the run) / N."
echo "The master and the load generator share this machine's cores with each other and whatever else runs."
echo "The load generator does the client half of every handshake on one core, so join and connect times"
echo "are bounded by it too (compare 'loadgen cpu ms per joined node' above with the master's)."

exit $OVERALL
