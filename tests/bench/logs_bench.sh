#!/usr/bin/env bash
# Log streaming benchmark, 100-byte lines, through the real path: a runc
# container (bramble run) -> bramble-shim -> STATE/logs/containers/NAME ->
# bramble-agent -> bramble-master (mTLS relay, credit window) -> one
# 'bramble logs -f --tail 0' viewer. Prints figures and asserts no timing.
#
#   tests/bench/logs_bench.sh            the full benchmark (about 5 minutes)
#   tests/bench/logs_bench.sh --smoke    a few seconds per phase; exit 1 unless
#                                        lines reached the viewer (CTest)
#
# 1. stored:    lines/s on the node (the records' stdout counter on disk) from a
#               container writing as fast as it can; the writer's own rate,
#               the shim's, writer's and agent's CPU.
# 2. delivered: lines/s one viewer receives while the container writes as fast
#               as it can, and lines/s skipped (bramble's "N lines skipped"
#               markers); then the writer rate-limited to each of RATES, and
#               the highest rate whose viewer saw no skip at all.
# 3. latency:   write -> viewer at 100 lines/s over LAT_LINES lines: p50, p90,
#               p99 and max (the line carries the writer's CLOCK_REALTIME).
# 4. CPU:       agent (utime+stime from /proc/PID/stat) at 1,000 lines/s with
#               no viewer and with one -f viewer; shim and master too.
#
# The container runs tests/bench/logwriter.c (built here with gcc -O2 -static
# into a busybox root file system); the viewer's output goes into
# tests/bench/logview.c, which counts lines, adds up the markers, checks every
# gap in the sequence numbers against them and takes latencies.
#
# Environment (all optional):
#   BRM_BIN      build's bin directory (default build/host/bin)
#   WARM         seconds a writer runs before sampling starts (default 3)
#   STORE_S, DELIVER_S, RATE_S, CPU_S   sampling windows (default 20, 20, 15, 20)
#   RATES        rate-limited writer rates for phase 2 (default "20000 50000 100000 200000")
#   LAT_LINES    lines for the latency phase at 100 lines/s (default 3000)
#   BATCH        lines per write(2) for the writer at full speed (default 40, ~4 KiB)
#   AGENT_ARGS   extra bramble-agent flags (e.g. "--log-max-size 64M")
#   BRM_KEEP=1   keep the work directory (logs, stored container logs)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SMOKE=0
for a in "$@"; do
        case $a in
        --smoke) SMOKE=1 ;;
        -h | --help)
                sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        *)
                echo "logs_bench.sh: unknown argument '$a' (expected --smoke)" >&2
                exit 2
                ;;
        esac
done
export BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}

WARM=${WARM:-3}
STORE_S=${STORE_S:-20}
DELIVER_S=${DELIVER_S:-20}
RATE_S=${RATE_S:-15}
CPU_S=${CPU_S:-20}
RATES=${RATES:-20000 50000 100000 200000}
LAT_LINES=${LAT_LINES:-3000}
BATCH=${BATCH:-40}
AGENT_ARGS=${AGENT_ARGS:-}
PAD=3 # seconds a writer goes on after its sampling window
if ((SMOKE)); then
        # Under 30 s in all; no rate-limited runs.
        WARM=1 STORE_S=1 DELIVER_S=2 CPU_S=1 RATES='' LAT_LINES=100 PAD=2
fi

# lib.sh: master/agent helpers, a private $WORK, and an EXIT trap that stops
# every tracked process and deletes the containers of $WORK/agents/*/runtime.
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"

need_containers
command -v gcc >/dev/null || skip "needs gcc to build the writer program"
HZ=$(getconf CLK_TCK)
ROOTFS=$WORK/rootfs
busybox_rootfs "$ROOTFS"
gcc -O2 -static -o "$ROOTFS/bin/logwriter" "$here/logwriter.c" 2>"$WORK/gcc-writer.log" ||
        skip "cannot build a static program (gcc -static: no static libc? install libc6-dev): $(head -3 "$WORK/gcc-writer.log")"
LOGVIEW=$WORK/logview
gcc -O2 -D_GNU_SOURCE -o "$LOGVIEW" "$here/logview.c" 2>"$WORK/gcc-view.log" ||
        fail "cannot build logview: $(cat "$WORK/gcc-view.log")"

start_master
TOKEN=$(create_token --ttl 1h --uses 1)
# shellcheck disable=SC2086
start_agent pi-1 --token "$TOKEN" $AGENT_ARGS
wait_for 15 node_is pi-1 Ready || fail "pi-1 not Ready within 15 s: $(node_state pi-1)"
AGENT=${AGENT_PID[pi-1]}
LOGDIR=$WORK/agents/pi-1/logs/containers

# ---- helpers ----

div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.0f", a / b }'; }
pct() { awk -v t="$1" -v s="$2" -v hz="$HZ" 'BEGIN { if (s <= 0) print "n/a"; else printf "%.2f", 100 * t / hz / s }'; }
pct_ns() { awk -v t="$1" -v s="$2" 'BEGIN { if (s <= 0) print "n/a"; else printf "%.2f", 100 * t / 1e9 / s }'; }
thou() { # 1234567 -> 1,234,567 (non-numbers unchanged)
        [[ "$1" =~ ^[0-9]+$ ]] || { echo "$1"; return; }
        printf '%s' "$1" | rev | sed 's/[0-9]\{3\}/&,/g; s/,$//' | rev
}
now_ns() { local t=${EPOCHREALTIME/./}; echo $((t * 1000)); }

# ticks PID: utime+stime of every thread, in clock ticks ("" once it is gone).
ticks() { { cat "/proc/$1/stat" 2>/dev/null || true; } | awk '{ sub(/^.*\) /, ""); print $12 + $13 }'; }
# run_ns PID: time on CPU of every live thread in ns (/proc/PID/task/*/schedstat).
run_ns() { { cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } | awk '{ s += $1 } END { if (NR) printf "%.0f", s }'; }

# disk_count NAME: the stdout counter of the newest record stored for NAME.
disk_count() {
        local d=$LOGDIR/$1 f n
        for f in log log.1 log.2; do
                [[ -s $d/$f ]] || continue
                n=$(tail -c 8192 "$d/$f" 2>/dev/null | awk 'NF >= 6 && ($3 == "F" || $3 == "P") && $2 ~ /^std(out|err)$/ { n = $4 } END { print n }')
                [[ -n $n ]] && { echo "$n"; return; }
        done
        echo 0
}

# The shim of container NAME (its LOGDIR argument) and the container's init.
shim_pid() {
        local f a0
        for f in $(grep -lzxF -- "$LOGDIR/$1" /proc/[0-9]*/cmdline 2>/dev/null || true); do
                a0=$(tr '\0' '\n' <"$f" 2>/dev/null | head -n 1) || continue
                [[ $a0 == *bramble-shim ]] || continue
                f=${f#/proc/}
                echo "${f%/cmdline}"
                return 0
        done
        return 1
}
init_pid() { # NAME: the container's pid as the shim's runtime wrote it
        local s dir
        s=$(shim_pid "$1") || return 1
        dir=$(tr '\0' '\n' <"/proc/$s/cmdline" | sed -n 5p)
        [[ -s $dir/pid ]] && cat "$dir/pid"
}

# run_writer NAME ARGS...: bramble run NAME with /bin/logwriter ARGS; waits
# until it runs and sets SHIM and WRITER (pids).
run_writer() {
        local name=$1
        shift
        cli run pi-1 "$name" --image "$ROOTFS" --restart never -- /bin/logwriter "$@"
        [[ $CLI_RC -eq 0 ]] || fail "bramble run $name: exit $CLI_RC: $CLI_ERR"
        wait_for 20 ps_is "$name" running || fail "$name not running within 20 s: $(ps_field "$name" c)"
        SHIM=$(shim_pid "$name") || fail "no bramble-shim found for $name"
        WRITER=$(init_pid "$name") || WRITER=none # its CPU then shows as "gone"
}
exited() { [[ "$(ps_field "$1" 'c["state"]')" == exited ]]; }
# finish_writer NAME: waits for the writer to end; sets WROTE and WROTE_RATE
# from its last words (a stderr record) and STORED from the disk counter.
finish_writer() {
        local name=$1 line
        wait_for 60 exited "$name" || fail "$name did not exit: $(ps_field "$name" c)"
        line=$(cat "$LOGDIR/$name"/log* 2>/dev/null | grep -a ' stderr F .*logwriter: wrote' | tail -n 1 || true)
        WROTE=$(sed -n 's/.*logwriter: wrote \([0-9]*\) lines.*/\1/p' <<<"$line")
        WROTE_RATE=$(sed -n 's/.* s: \([0-9]*\) lines\/s.*/\1/p' <<<"$line")
        WROTE_S=$(sed -n 's/.* in \([0-9.]*\) s:.*/\1/p' <<<"$line")
        STORED=$(disk_count "$name")
        # The counter of the stderr record is the stdout count before it too.
        [[ -n $WROTE ]] || { WROTE="?"; WROTE_RATE="?"; WROTE_S=0; }
}
remove() {
        cli rm "pi-1/$1"
        [[ $CLI_RC -eq 0 ]] || log "warning: bramble rm $1: $CLI_ERR"
}

# viewer NAME TAG [LOGVIEW ARGS...]: 'bramble logs -f --tail 0 --stdout
# pi-1/NAME 2>&1' into logview; sets VIEW_CLI, VIEW_LV, VIEW_STATUS,
# VIEW_SUMMARY. Waits until the stream is open on the node.
viewer() {
        local name=$1 tag=$2
        shift 2
        local fifo=$WORK/$tag.fifo
        VIEW_STATUS=$WORK/$tag.status
        VIEW_SUMMARY=$WORK/$tag.summary
        rm -f "$fifo" "$VIEW_STATUS" "$VIEW_SUMMARY"
        mkfifo "$fifo"
        "$LOGVIEW" "$@" "$VIEW_STATUS" <"$fifo" >"$VIEW_SUMMARY" 2>"$LOGS/$tag.logview.err" &
        VIEW_LV=$!
        track "$VIEW_LV" "logview $tag"
        "$BRM_BIN/bramble" logs -f --tail 0 --stdout "pi-1/$name" >"$fifo" 2>&1 &
        VIEW_CLI=$!
        track "$VIEW_CLI" "bramble logs -f pi-1/$name ($tag)"
        wait_for 10 streams_open 1 || fail "the viewer's stream ($tag) did not open: $(nodes_dump)"
}
streams_open() { # N: log streams the master relays for pi-1
        [[ "$(node_field pi-1 log_streams)" == "$1" ]]
}
# vstat FIELD: a field of the viewer's newest status line (lines, skipped, ...).
vstat() {
        local line
        line=$(tail -n 1 "$VIEW_STATUS" 2>/dev/null)
        # shellcheck disable=SC2086 # split the status line into fields
        set -- $line
        case $FIELD in
        mono) echo "${2:-0}" ;; lines) echo "${3:-0}" ;; skipped) echo "${5:-0}" ;; markers) echo "${6:-0}" ;;
        mismatches) echo "${7:-0}" ;; first) echo "${8:-0}" ;; last) echo "${9:-0}" ;; other) echo "${10:-0}" ;;
        esac
}
vfield() { FIELD=$1 vstat; }
viewer_has_lines() { (($(vfield lines) > 0)); }
# viewer_settle SEQ: waits until the viewer has line SEQ, or has received
# nothing new for 3 s (at most 30 s), and sets UNSEEN to the lines after
# the last one it got: neither delivered nor announced by a marker. (After
# a skip-ahead the node learns the count from the next record written, so
# a writer that has stopped leaves its last skip unannounced.)
viewer_settle() {
        local want=$1 last prev=-1 still=0
        for _ in $(seq 1 300); do
                last=$(vfield last)
                ((last >= want)) && break
                if ((last == prev)); then
                        still=$((still + 1))
                        ((still >= 30)) && break
                else
                        still=0
                fi
                prev=$last
                sleep 0.1
        done
        UNSEEN=$((want - $(vfield last)))
}
# stop_viewer: ends bramble logs; logview then sees EOF and prints its
# summary; sets SUM (the summary line).
MISMATCHES=0
stop_viewer() {
        stop_pid "$VIEW_CLI" TERM 10
        stop_pid "$VIEW_LV" TERM 10
        SUM=$(cat "$VIEW_SUMMARY")
        MISMATCHES=$((MISMATCHES + $(sumf mismatches)))
}
sumf() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$SUM"; }

# sample PREFIX PID...: PREFIX_t (ns), PREFIX_ticks_PID, PREFIX_ns_PID
declare -A S=()
sample() {
        local p=$1 pid
        shift
        S[$p.t]=$(now_ns)
        for pid in "$@"; do
                S[$p.ticks.$pid]=$(ticks "$pid")
                S[$p.ns.$pid]=$(run_ns "$pid")
        done
}
# cpu A B PID: % of one core between samples A and B (utime+stime), and
# cpu_s A B PID the same from schedstat.
secs() { awk -v a="${S[$1.t]}" -v b="${S[$2.t]}" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
# "gone" when the process was not there at both samples.
cpu() {
        local a=${S[$1.ticks.$3]:-} b=${S[$2.ticks.$3]:-}
        [[ -n $a && -n $b ]] || { echo gone; return; }
        pct $((b - a)) "$(secs "$1" "$2")"
}
cpu_s() {
        local a=${S[$1.ns.$3]:-} b=${S[$2.ns.$3]:-}
        [[ -n $a && -n $b && $b != 0 ]] || { echo gone; return; }
        pct_ns $((b - a)) "$(secs "$1" "$2")"
}

declare -A R=() # results for the table

log "logs_bench: WARM=$WARM STORE_S=$STORE_S DELIVER_S=$DELIVER_S RATES=($RATES) RATE_S=$RATE_S LAT_LINES=$LAT_LINES CPU_S=$CPU_S BATCH=$BATCH"
echo "== log streaming benchmark: 100-byte lines ($(nproc) cores, $(uname -r), clock ticks $HZ/s) =="

# ---- 1. stored ----
log "1. stored: a writer at full speed for $((WARM + STORE_S + PAD)) s"
run_writer store -d $((WARM + STORE_S + PAD)) -b "$BATCH"
sleep "$WARM"
n0=$(disk_count store)
sample s0 "$SHIM" "$WRITER" "$AGENT"
sleep "$STORE_S"
n1=$(disk_count store)
sample s1 "$SHIM" "$WRITER" "$AGENT"
T=$(secs s0 s1)
R[stored]=$(div $((n1 - n0)) "$T")
R[stored_shim]=$(cpu s0 s1 "$SHIM")
R[stored_writer]=$(cpu s0 s1 "$WRITER")
R[stored_agent]=$(cpu s0 s1 "$AGENT")
rec_bytes=$(tail -c 65536 "$LOGDIR/store/log" 2>/dev/null | tail -n 100 | awk '{ b += length($0) + 1; n++ } END { if (n) printf "%.0f", b / n; else print "?" }')
finish_writer store
R[stored_written]=$WROTE_RATE
R[stored_total]=$STORED
R[stored_wrote]=$WROTE
R[stored_whole]=$(div "$STORED" "$WROTE_S")
disk_mb=$(awk -v r="${R[stored]}" -v b="$rec_bytes" 'BEGIN { if (b ~ /^[0-9]+$/) printf "%.1f", r * b / 1e6; else print "?" }')
echo
echo "-- 1. stored on the node (writer at full speed, $BATCH lines per write; window ${T} s) --"
echo "   stored:  $(thou "${R[stored]}") lines/s (records of ~$rec_bytes bytes: $disk_mb MB/s into the log files)"
echo "   written: $(thou "$WROTE_RATE") lines/s over the writer's whole ${WROTE_S} s; stored over that time $(thou "${R[stored_whole]}") lines/s"
lost='?'
[[ $WROTE =~ ^[0-9]+$ ]] && lost=$((WROTE - STORED))
echo "   at the end: written $(thou "$WROTE"), stored $(thou "$STORED") (lost $lost)"
echo "   CPU (% of one core): shim ${R[stored_shim]}, writer ${R[stored_writer]}, agent ${R[stored_agent]}"
remove store

# ---- 2. delivered ----
log "2. delivered: a writer at full speed and one viewer"
run_writer deliver -d $((WARM + DELIVER_S + PAD)) -b "$BATCH"
viewer deliver deliver
wait_for 10 viewer_has_lines || fail "the viewer got no line within 10 s"
sleep "$WARM"
n0=$(disk_count deliver)
l0=$(vfield lines)
k0=$(vfield skipped)
sample d0 "$SHIM" "$WRITER" "$AGENT" "$MASTER_PID" "$VIEW_CLI" "$VIEW_LV"
sleep "$DELIVER_S"
n1=$(disk_count deliver)
l1=$(vfield lines)
k1=$(vfield skipped)
sample d1 "$SHIM" "$WRITER" "$AGENT" "$MASTER_PID" "$VIEW_CLI" "$VIEW_LV"
T=$(secs d0 d1)
R[del_stored]=$(div $((n1 - n0)) "$T")
R[del]=$(div $((l1 - l0)) "$T")
R[del_skip]=$(div $((k1 - k0)) "$T")
finish_writer deliver
# Let the viewer catch up with the last line the writer wrote, then stop it.
viewer_settle "$STORED"
stop_viewer
echo
echo "-- 2. delivered to one 'bramble logs -f --tail 0' viewer (writer at full speed; window ${T} s) --"
echo "   stored:    $(thou "${R[del_stored]}") lines/s"
echo "   delivered: $(thou "${R[del]}") lines/s"
echo "   skipped:   $(thou "${R[del_skip]}") lines/s (sum of the viewer's markers)"
echo "   delivered + skipped = $(thou $(((l1 - l0) + (k1 - k0)))) vs stored $(thou $((n1 - n0))) in the window"
echo "   whole stream: $(thou "$(sumf lines)") delivered + $(thou "$(sumf skipped)") skipped in $(sumf markers) markers = lines $(sumf first)..$(sumf last)" \
        "($(($(sumf last) - $(sumf first) + 1 - $(sumf lines) - $(sumf skipped))) unaccounted; $(sumf mismatches) gaps differing from their markers)"
echo "   after the last line delivered: $(thou "$UNSEEN") more lines stored (writer wrote $(thou "$WROTE")), neither delivered nor announced by a marker"
echo "   CPU (% of one core): shim $(cpu d0 d1 "$SHIM"), writer $(cpu d0 d1 "$WRITER"), agent $(cpu d0 d1 "$AGENT"), master $(cpu d0 d1 "$MASTER_PID")," \
        "bramble logs $(cpu d0 d1 "$VIEW_CLI"), logview $(cpu d0 d1 "$VIEW_LV")"
R[del_unaccounted]=$(($(sumf last) - $(sumf first) + 1 - $(sumf lines) - $(sumf skipped)))
R[del_mismatch]=$(sumf mismatches)
R[del_unseen]=$UNSEEN
SMOKE_DELIVERED=$(sumf lines)
remove deliver

echo
echo "-- 2b. rate-limited writer (lines/s over $RATE_S s each; skipped/markers: the whole stream; unseen: stored after the viewer's last line) --"
printf '   %-10s %-10s %-10s %-10s %-10s %-8s %-8s %s\n' target written stored delivered skipped markers unseen "agent/master/shim CPU %"
R[best_rate]=none
for rate in $RATES; do
        name=rate$rate
        log "2b. writer at $rate lines/s"
        run_writer "$name" -r "$rate" -d $((WARM + RATE_S + PAD)) -b "$BATCH"
        viewer "$name" "$name"
        sleep "$WARM"
        n0=$(disk_count "$name")
        l0=$(vfield lines)
        sample r0 "$AGENT" "$MASTER_PID" "$SHIM"
        sleep "$RATE_S"
        n1=$(disk_count "$name")
        l1=$(vfield lines)
        sample r1 "$AGENT" "$MASTER_PID" "$SHIM"
        T=$(secs r0 r1)
        finish_writer "$name"
        viewer_settle "$STORED"
        stop_viewer
        printf '   %-10s %-10s %-10s %-10s %-10s %-8s %-8s %s\n' "$(thou "$rate")" "$(thou "$WROTE_RATE")" "$(thou "$(div $((n1 - n0)) "$T")")" \
                "$(thou "$(div $((l1 - l0)) "$T")")" "$(thou "$(sumf skipped)")" "$(sumf markers)" "$(thou "$UNSEEN")" \
                "$(cpu r0 r1 "$AGENT") / $(cpu r0 r1 "$MASTER_PID") / $(cpu r0 r1 "$SHIM")"
        if [[ "$(sumf skipped)" == 0 && "$(sumf mismatches)" == 0 && "$UNSEEN" == 0 && "$(sumf lines)" -gt 0 ]]; then
                # The writer kept to its target (within 2 %): the pipeline sustained it.
                if awk -v w="$WROTE_RATE" -v r="$rate" 'BEGIN { exit !(w >= 0.98 * r) }'; then
                        R[best_rate]=$rate
                fi
        fi
        remove "$name"
done
if [[ -n ${RATES// /} ]]; then
        echo "   highest rate with zero skips (writer on target): $(thou "${R[best_rate]}") lines/s"
else
        echo "   (none: RATES is empty)"
fi

# ---- 3. latency ----
lat_s=$((LAT_LINES / 100))
log "3. latency: $LAT_LINES lines at 100 lines/s (~$lat_s s)"
run_writer lat -r 100 -d $((lat_s + 20)) -b 1
viewer lat lat -l -n "$LAT_LINES"
wait_for $((lat_s + 30)) _not_alive "$VIEW_LV" || log "note: the latency viewer did not get $LAT_LINES lines within $((lat_s + 30)) s"
stop_viewer
echo
echo "-- 3. latency write -> viewer at 100 lines/s ($(sumf lat_n) lines; skipped $(sumf skipped)) --"
echo "   p50 $(sumf p50_ms) ms, p90 $(sumf p90_ms) ms, p99 $(sumf p99_ms) ms, max $(sumf max_ms) ms (min $(sumf min_ms) ms)"
R[p50]=$(sumf p50_ms) R[p90]=$(sumf p90_ms) R[p99]=$(sumf p99_ms) R[pmax]=$(sumf max_ms)
SMOKE_LAT=$(sumf lat_n)
remove lat

# ---- 4. agent CPU at 1,000 lines/s ----
log "4. CPU at 1,000 lines/s: ${CPU_S} s without a viewer, ${CPU_S} s with one"
run_writer cpu -r 1000 -d $((2 * (CPU_S + WARM) + 15)) -b "$BATCH"
sleep "$WARM"
sample c0 "$AGENT" "$SHIM" "$MASTER_PID" "$WRITER"
sleep "$CPU_S"
sample c1 "$AGENT" "$SHIM" "$MASTER_PID" "$WRITER"
viewer cpu cpu
wait_for 10 viewer_has_lines || fail "the 1,000 lines/s viewer got no line within 10 s"
sleep "$WARM"
l0=$(vfield lines)
sample c2 "$AGENT" "$SHIM" "$MASTER_PID" "$WRITER" "$VIEW_CLI"
sleep "$CPU_S"
l1=$(vfield lines)
sample c3 "$AGENT" "$SHIM" "$MASTER_PID" "$WRITER" "$VIEW_CLI"
stop_viewer
R[cpu_a]=$(cpu c0 c1 "$AGENT") R[cpu_b]=$(cpu c2 c3 "$AGENT")
echo
echo "-- 4. CPU at 1,000 lines/s (% of one core; utime+stime over $(secs c0 c1) s / $(secs c2 c3) s, schedstat in brackets) --"
echo "   (a) no viewer:  agent ${R[cpu_a]} [$(cpu_s c0 c1 "$AGENT")], shim $(cpu c0 c1 "$SHIM") [$(cpu_s c0 c1 "$SHIM")]," \
        "master $(cpu c0 c1 "$MASTER_PID") [$(cpu_s c0 c1 "$MASTER_PID")], writer $(cpu c0 c1 "$WRITER")"
echo "   (b) one viewer: agent ${R[cpu_b]} [$(cpu_s c2 c3 "$AGENT")], shim $(cpu c2 c3 "$SHIM") [$(cpu_s c2 c3 "$SHIM")]," \
        "master $(cpu c2 c3 "$MASTER_PID") [$(cpu_s c2 c3 "$MASTER_PID")], bramble logs $(cpu c2 c3 "$VIEW_CLI"); viewer got" \
        "$(thou "$(div $((l1 - l0)) "$(secs c2 c3)")") lines/s, $(sumf skipped) skipped"
R[cpu_shim_b]=$(cpu c2 c3 "$SHIM") R[cpu_master_b]=$(cpu c2 c3 "$MASTER_PID")
remove cpu

# ---- warnings, summary ----
echo
warn=$(cat "$LOGS"/agent-*.log "$LOGS"/master-*.log 2>/dev/null | grep -E 'Z (warn |error) ' || true)
if [[ -n $warn ]]; then
        echo "-- warnings and errors in the agent and master logs: $(grep -c . <<<"$warn") --"
        head -n 10 <<<"$warn" | sed 's/^/   /'
else
        echo "-- no warnings or errors in the agent and master logs --"
fi
other=$(grep -H . "$LOGS"/*.logview.err 2>/dev/null | sed "s|^$LOGS/||; s|\.logview\.err:| |" || true)
if [[ -n $other ]]; then
        echo "-- unexpected viewer input (lines out of order or unparsed; first 10 of $(grep -c . <<<"$other")) --"
        head -n 10 <<<"$other" | sed 's/^/   /'
fi

echo
echo "== summary (100-byte lines; % CPU is of one core) =="
row() { printf '  %-52s %-22s %s\n' "$1" "$2" "$3"; }
meets() { awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN { if (v !~ /^[0-9.]+$/) print "?"; else if (d == "ge" ? v >= t : v < t) print "meets"; else print "misses" }'; }
row "figure" "measured" "target"
row "lines/s stored on the node" "$(thou "${R[stored]}")" "200,000 ($(meets "${R[stored]}" 200000 ge))"
row "lines/s delivered to one -f viewer (writer flat out)" "$(thou "${R[del]}")" "100,000 ($(meets "${R[del]}" 100000 ge))"
row "  ... lines/s skipped meanwhile" "$(thou "${R[del_skip]}")" ""
row "highest rate-limited writer with zero skips" "$(thou "${R[best_rate]}")" "(tried: ${RATES:-none})"
row "latency write->viewer at 100 lines/s: p50 / p90" "${R[p50]} / ${R[p90]} ms" ""
row "latency p99 / max" "${R[p99]} / ${R[pmax]} ms" "p99 < 50 ms ($(meets "${R[p99]}" 50 lt))"
row "agent CPU at 1,000 lines/s, no viewer" "${R[cpu_a]} %" "< 2 % ($(meets "${R[cpu_a]}" 2 lt))"
row "agent CPU at 1,000 lines/s, one -f viewer" "${R[cpu_b]} %" "< 2 % ($(meets "${R[cpu_b]}" 2 lt))"
row "  ... shim / master CPU with the viewer" "${R[cpu_shim_b]} % / ${R[cpu_master_b]} %" ""
row "viewer lines out of order (all viewers)" "$MISMATCHES" "0"

if ((SMOKE)); then
        ((${SMOKE_DELIVERED:-0} > 0)) || fail "smoke: the viewer received no line from the full-speed writer"
        [[ "${SMOKE_LAT:-0}" == "$LAT_LINES" ]] || fail "smoke: the latency viewer received ${SMOKE_LAT:-0} of $LAT_LINES lines"
fi
pass
