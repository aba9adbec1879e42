#!/usr/bin/env bash
# Agent footprint: one real bramble-agent (host build) joined to a real
# master, heartbeating every second. Prints its memory when joined and idle
# (VmRSS, VmHWM, and Pss/Private from /proc/PID/smaps_rollup), its CPU per
# heartbeat over a window (utime+stime from /proc/PID/stat, and the
# nanosecond run time from /proc/PID/schedstat, divided by the heartbeats
# sent), and the stripped size of the agent binary for the host and for
# arm64 (the Raspberry Pi build), beside the targets. Side by side, in the
# same run: collectd (Debian's collectd-core) with the plugins a person
# would use for the same figures (cpu, memory, load, interface, df,
# thermal, network output to loopback, 1 s interval), and one idle
# bramble-shim (a real container under runc, when root and runc are there).
# A benchmark: it prints figures and asserts nothing.
#
#   tests/bench/agent_footprint.sh [--smoke]
#
# --smoke: a 2 s window, no arm64 build, no qemu: keeps the script working
# under CTest (it fails only if the agent does not join).
#
# Environment (all optional):
#   BRM_BIN      host binaries (default build/host/bin)
#   BRM_MASTER, BRM_AGENT, BRM_CLI   individual host binaries, overriding BRM_BIN
#   ARM_BUILD    arm64 build tree (default build/rpi-arm64); built with
#                'cmake --preset rpi-arm64' if it has no bramble-agent (NO_ARM_BUILD=1 skips that)
#   ARM_SYSROOT  its sysroot (default: BRM_SYSROOT from its CMakeCache.txt, else ARM_BUILD/sysroot)
#   WINDOW       CPU window in seconds (default 60)
#   SETTLE       seconds idle after Ready before measuring (default 5)
#   QEMU=0       skip the (unrepresentative) RSS of the arm64 agent under qemu-aarch64-static
#   PERF=1       also run 'perf stat' on the agent over the window
#   BRM_KEEP=1   keep the work directory
set -euo pipefail

if [[ ${1:-} == --smoke ]]; then
        WINDOW=2 SETTLE=1 QEMU=0 NO_ARM_BUILD=1
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
BRM_BIN=${BRM_BIN:-$src/build/host/bin}
MASTER=${BRM_MASTER:-$BRM_BIN/bramble-master}
AGENT=${BRM_AGENT:-$BRM_BIN/bramble-agent}
CLI=${BRM_CLI:-$BRM_BIN/bramble}
ARM_BUILD=${ARM_BUILD:-$src/build/rpi-arm64}
WINDOW=${WINDOW:-60}
SETTLE=${SETTLE:-5}
QEMU=${QEMU:-1}
PERF=${PERF:-0}
RSS_TARGET_KIB=2048
SHIM_TARGET_KIB=400
SIZE_TARGET=262144

for b in "$MASTER" "$AGENT" "$CLI"; do
        if [[ ! -x $b ]]; then
                echo "agent_footprint.sh: $b not found; build first (cmake --preset host && cmake --build build/host -j2) or set BRM_BIN" >&2
                exit 2
        fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/brm-bench-agent.XXXXXX")
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
        # Containers outlive their agent (by design): remove any the run left
        # (the shim then ends), before their directories go.
        local rt=$WORK/agent/runtime c
        if [[ -d $rt ]] && command -v runc >/dev/null; then
                for c in $(runc --root "$rt" list -q 2>/dev/null); do runc --root "$rt" delete --force "$c" >/dev/null 2>&1 || true; done
        fi
        if [[ ${BRM_KEEP:-0} == 1 ]]; then echo "agent_footprint.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[agent_footprint] %s\n' "$*"; }
cpu_ticks() {
        local s
        s=$(cat "/proc/$1/stat") || return 1
        s=${s##*) }
        set -- $s
        echo $((${12} + ${13}))
}
run_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
rollup_kib() { awk -v f="$2:" '$1 == f { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup"; }
syscw() { awk '$1 == "syscw:" { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }
verdict() { # VALUE TARGET -> "ok" / "over"
        if (($1 < $2)); then echo "meets"; else echo "OVER"; fi
}

# --- a master and one agent ------------------------------------------------
# A random port below the kernel's ephemeral range, so that the thousands of
# client sockets of a run can never hold it.
pick_port() {
        local lo
        read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
        ((lo > 12000)) || lo=32768
        echo $((10000 + RANDOM % (lo - 10000)))
}

PORT=
for _ in 1 2 3 4 5 6 7 8; do
        PORT=$(pick_port)
        ss -Htan "sport = :$PORT" 2>/dev/null | grep -q . && continue
        "$MASTER" --data-dir "$WORK/master" --listen "127.0.0.1:$PORT" --heartbeat-interval 1s --log-level warn \
                >"$WORK/master.log" 2>&1 &
        MPID=$!
        PIDS+=("$MPID")
        for _ in $(seq 1 100); do
                kill -0 "$MPID" 2>/dev/null || break
                [[ -f $WORK/master/admin.json ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break 2
                sleep 0.1
        done
        kill "$MPID" 2>/dev/null || true
        rm -rf "$WORK/master"
done
export BRAMBLE_CONFIG=$WORK/master/admin.json
TOKEN=$("$CLI" token create --ttl 1h)
"$AGENT" --master "127.0.0.1:$PORT" --token "$TOKEN" --name pi-1 --state-dir "$WORK/agent" --heartbeat-interval 1s \
        >"$WORK/agent.log" 2>&1 &
APID=$!
PIDS+=("$APID")

node_state() { # NAME
        "$CLI" nodes -o json 2>/dev/null | jq -r --arg n "$1" '.[] | select(.name == $n) | .state' 2>/dev/null || true
}
t_start=$(date +%s%3N)
state=
for _ in $(seq 1 150); do
        state=$(node_state pi-1)
        [[ $state == Ready ]] && break
        kill -0 "$APID" 2>/dev/null || break
        sleep 0.1
done
if [[ $state != Ready ]]; then
        log "the agent did not turn Ready (state '$state'); its log:"
        cat "$WORK/agent.log"
        exit 1
fi
log "agent pid $APID joined and Ready after $(($(date +%s%3N) - t_start)) ms (master 127.0.0.1:$PORT); idle for ${SETTLE} s"
sleep "$SETTLE"

rss0=$(status_kib "$APID" VmRSS)
hwm0=$(status_kib "$APID" VmHWM)
pss0=$(rollup_kib "$APID" Pss)
priv0=$(($(rollup_kib "$APID" Private_Clean) + $(rollup_kib "$APID" Private_Dirty)))
anon0=$(status_kib "$APID" RssAnon)
file0=$(status_kib "$APID" RssFile)
log "idle: VmRSS $rss0 KiB (anon $anon0, file $file0), VmHWM $hwm0 KiB, Pss $pss0 KiB, private $priv0 KiB"
# Where the resident pages are: per mapped file (or [heap], [stack], anon), largest first.
breakdown=$(awk '
        /^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]"; sub(".*/", "", name); next }
        $1 == "Rss:" { rss[name] += $2 }
        $1 == "Pss:" { pss[name] += $2 }
        END { for (n in rss) if (rss[n] > 0) printf "%8d %8d  %s\n", rss[n], pss[n], n }' "/proc/$APID/smaps" | sort -rn)
# libc and the dynamic loader are mapped by every process on a Pi too; the
# rest (the agent, mbedTLS, libuv, protobuf-c, cJSON, heap, stack) is what
# the agent adds.
libc_kib=$(echo "$breakdown" | awk '$3 ~ /^(libc\.so|ld-linux)/ { s += $1 } END { print s + 0 }')
own_kib=$((rss0 - libc_kib))

# --- collectd, the classic C metrics daemon, in the same run -----------------
collectd_rss=
if command -v collectd >/dev/null && [[ -d /usr/lib/collectd ]]; then
        mkdir -p "$WORK/collectd"
        cat >"$WORK/collectd.conf" <<EOF
Interval 1
Hostname "bench"
FQDNLookup false
BaseDir "$WORK/collectd"
PIDFile "$WORK/collectd/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  File "$WORK/collectd.log"
</Plugin>
LoadPlugin cpu
LoadPlugin memory
LoadPlugin load
LoadPlugin interface
LoadPlugin df
LoadPlugin thermal
LoadPlugin network
<Plugin network>
  Server "127.0.0.1" "25826"
</Plugin>
EOF
        collectd -f -C "$WORK/collectd.conf" >"$WORK/collectd.out" 2>&1 &
        CPID=$!
        PIDS+=("$CPID")
        sleep $((SETTLE + 2))
        if kill -0 "$CPID" 2>/dev/null; then
                collectd_rss=$(status_kib "$CPID" VmRSS)
                log "collectd pid $CPID (cpu memory load interface df thermal network, 1 s): VmRSS $collectd_rss KiB"
        else
                log "collectd did not stay up; see $WORK/collectd.out"
        fi
        kill -TERM "$CPID" 2>/dev/null || true
else
        log "collectd is not installed (Debian package collectd-core): no side-by-side figure"
fi

# --- one idle container shim ------------------------------------------------
shim_rss=
shim_how=
if [[ $(id -u) == 0 ]] && command -v runc >/dev/null && command -v busybox >/dev/null; then
        ROOTFS=$WORK/rootfs
        mkdir -p "$ROOTFS/bin" "$ROOTFS/proc" "$ROOTFS/dev" "$ROOTFS/sys" "$ROOTFS/tmp"
        cp "$(command -v busybox)" "$ROOTFS/bin/busybox"
        ln -s busybox "$ROOTFS/bin/sleep"
        v=0
        if "$CLI" run pi-1 idle --image "$ROOTFS" -- /bin/sleep 100000 >/dev/null 2>"$WORK/run.err"; then
                for _ in $(seq 1 100); do
                        v=$("$CLI" nodes -o json 2>/dev/null | jq -r '.[] | select(.name == "pi-1") | .shim_rss_bytes // 0')
                        [[ $v =~ ^[0-9]+$ ]] && ((v > 0)) && break
                        sleep 0.2
                done
                if [[ $v =~ ^[0-9]+$ ]] && ((v > 0)); then
                        shim_rss=$((v / 1024))
                        shim_how=$(file -b "$(dirname "$AGENT")/bramble-shim" | grep -o 'statically linked\|dynamically linked' || true)
                fi
                "$CLI" rm pi-1/idle >/dev/null 2>&1 || true
                # The node removes it on its own time: wait, so that the CPU
                # window below sees an idle agent and nothing is left behind.
                for _ in $(seq 1 100); do
                        v=$("$CLI" nodes -o json 2>/dev/null | jq -r '.[] | select(.name == "pi-1") | .shim_rss_bytes // 0')
                        [[ $v == 0 ]] && break
                        sleep 0.2
                done
        else
                log "bramble run failed, no shim figure: $(cat "$WORK/run.err")"
        fi
else
        log "not root, or no runc or busybox: no shim figure"
fi

# --- CPU per heartbeat -----------------------------------------------------
log "measuring CPU over ${WINDOW} s of heartbeats"
HZ=$(getconf CLK_TCK)
c0=$(cpu_ticks "$APID")
n0=$(run_ns "$APID")
w0=$(syscw "$APID")
t0=$(date +%s%3N)
if ((PERF)) && command -v perf >/dev/null; then
        perf stat -e task-clock,context-switches,page-faults -p "$APID" -o "$WORK/perf.txt" -- sleep "$WINDOW" 2>/dev/null ||
                sleep "$WINDOW"
else
        sleep "$WINDOW"
fi
t1=$(date +%s%3N)
c1=$(cpu_ticks "$APID")
n1=$(run_ns "$APID")
w1=$(syscw "$APID")
elapsed_ms=$((t1 - t0))
beats=$(((elapsed_ms + 500) / 1000)) # one per second
writes=$((w1 - w0))                   # one write(2) per heartbeat when nothing else is written
tick_ms=$(awk -v c=$((c1 - c0)) -v hz="$HZ" 'BEGIN { printf "%.0f", 1000 * c / hz }')
ns_ms=$(awk -v n=$((n1 - n0)) 'BEGIN { printf "%.2f", n / 1e6 }')
per_tick=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v b="$beats" 'BEGIN { printf "%.0f", 1e6 * c / hz / b }')
per_ns=$(awk -v n=$((n1 - n0)) -v b="$beats" 'BEGIN { printf "%.0f", n / 1e3 / b }')
pct=$(awk -v n=$((n1 - n0)) -v ms="$elapsed_ms" 'BEGIN { printf "%.3f", 100 * n / 1e6 / ms }')
rss1=$(status_kib "$APID" VmRSS)
hwm1=$(status_kib "$APID" VmHWM)
pss1=$(rollup_kib "$APID" Pss)
log "window $(awk -v ms=$elapsed_ms 'BEGIN { printf "%.1f", ms / 1000 }') s: ~$beats heartbeats ($writes write calls);" \
        "utime+stime $tick_ms ms (${per_tick} us per heartbeat, 1/$HZ s ticks);" \
        "schedstat run time $ns_ms ms (${per_ns} us per heartbeat, $pct % of one core)"
[[ -s $WORK/perf.txt ]] && sed -n '/Performance counter/,$p' "$WORK/perf.txt" | sed '/^$/d; s/^/    /'
log "after the window: VmRSS $rss1 KiB, VmHWM $hwm1 KiB, Pss $pss1 KiB"
if [[ $(node_state pi-1) != Ready ]]; then log "warning: pi-1 is no longer Ready"; fi

# --- binary sizes ----------------------------------------------------------
host_strip=$WORK/bramble-agent.host.stripped
strip -o "$host_strip" "$AGENT"
host_size=$(stat -c %s "$host_strip")
host_libs=$(readelf -d "$AGENT" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')

arm_agent=$ARM_BUILD/bin/bramble-agent
if [[ ! -x $arm_agent && ${NO_ARM_BUILD:-0} != 1 ]]; then
        log "no $arm_agent: building it (cmake --preset rpi-arm64; the sysroot download takes a minute the first time)"
        (cd "$src" && cmake --preset rpi-arm64 >"$WORK/arm-configure.log" 2>&1 &&
                cmake --build "$ARM_BUILD" --target bramble-agent -j2 >"$WORK/arm-build.log" 2>&1) ||
                log "arm64 build failed; see $WORK/arm-*.log (kept with BRM_KEEP=1)"
fi
ARM_SYSROOT=${ARM_SYSROOT:-$(sed -n 's/^BRM_SYSROOT:PATH=//p' "$ARM_BUILD/CMakeCache.txt" 2>/dev/null || true)}
[[ -n $ARM_SYSROOT ]] || ARM_SYSROOT=$ARM_BUILD/sysroot
arm_size=
arm_libs=
arm_libs_size=
if [[ -x $arm_agent ]] && command -v aarch64-linux-gnu-strip >/dev/null; then
        arm_strip=$WORK/bramble-agent.arm64.stripped
        aarch64-linux-gnu-strip -o "$arm_strip" "$arm_agent"
        arm_size=$(stat -c %s "$arm_strip")
        arm_libs=$(readelf -d "$arm_agent" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
        # What the agent pulls in beyond libc, from the sysroot it was linked against.
        sysroot=$ARM_SYSROOT
        if [[ -d $sysroot ]]; then
                arm_libs_size=0
                for l in $arm_libs; do
                        case $l in libc.so* | ld-linux*) continue ;; esac
                        f=$(find -L "$sysroot/usr/lib/aarch64-linux-gnu" "$sysroot/lib/aarch64-linux-gnu" -maxdepth 1 -name "$l" 2>/dev/null | head -1)
                        [[ -n $f ]] && arm_libs_size=$((arm_libs_size + $(stat -L -c %s "$f")))
                done
        fi
fi

# --- optional: the arm64 agent under qemu user mode --------------------------
qemu_rss=
if ((QEMU)) && [[ -n $arm_size && -d $ARM_SYSROOT ]] && command -v qemu-aarch64-static >/dev/null; then
        TOKEN2=$("$CLI" token create --ttl 1h)
        qemu-aarch64-static -L "$ARM_SYSROOT" "$arm_agent" --master "127.0.0.1:$PORT" --token "$TOKEN2" --name pi-arm \
                --state-dir "$WORK/agent-arm" --heartbeat-interval 1s >"$WORK/agent-arm.log" 2>&1 &
        QPID=$!
        PIDS+=("$QPID")
        for _ in $(seq 1 200); do
                [[ $(node_state pi-arm) == Ready ]] && break
                kill -0 "$QPID" 2>/dev/null || break
                sleep 0.1
        done
        if [[ $(node_state pi-arm) == Ready ]]; then
                sleep "$SETTLE"
                qemu_rss=$(status_kib "$QPID" VmRSS)
        else
                log "the arm64 agent under qemu did not turn Ready; skipping its RSS"
        fi
        kill -TERM "$QPID" 2>/dev/null || true
fi

# --- summary ---------------------------------------------------------------
echo
echo "== bramble-agent footprint ($(uname -m) host, heartbeat every 1 s, joined and idle) =="
printf '%-44s %14s   %s\n' "figure" "value" "target"
printf '%-44s %10s KiB   < %d KiB: %s\n' "VmRSS (host build)" "$rss0" "$RSS_TARGET_KIB" "$(verdict "$rss0" "$RSS_TARGET_KIB")"
printf '%-44s %10s KiB\n' "  of which anonymous / file-backed" "$anon0 / $file0"
printf '%-44s %10s KiB   < %d KiB: %s\n' "VmRSS without libc and ld.so pages" "$own_kib" "$RSS_TARGET_KIB" "$(verdict "$own_kib" "$RSS_TARGET_KIB")"
if [[ -n $collectd_rss ]]; then
        printf '%-44s %10s KiB\n' "collectd VmRSS (same run, 7 plugins, 1 s)" "$collectd_rss"
        printf '%-44s %10s      <= 0.70: %s\n' "agent / collectd VmRSS" "$(awk -v a="$rss0" -v c="$collectd_rss" 'BEGIN { printf "%.2f", a / c }')" \
                "$(verdict "$((rss0 * 10))" "$((collectd_rss * 7 + 1))")"
fi
if [[ -n $shim_rss ]]; then
        printf '%-44s %10s KiB   < %d KiB: %s\n' "one idle bramble-shim VmRSS (${shim_how:-?})" "$shim_rss" "$SHIM_TARGET_KIB" "$(verdict "$shim_rss" "$SHIM_TARGET_KIB")"
fi
printf '%-44s %10s KiB\n' "Pss (shared libraries split with others)" "$pss0"
printf '%-44s %10s KiB\n' "private (clean + dirty)" "$priv0"
printf '%-44s %10s KiB\n' "VmHWM (peak, includes the join)" "$hwm1"
printf '%-44s %10s us\n' "CPU per heartbeat (schedstat)" "$per_ns"
printf '%-44s %10s us\n' "CPU per heartbeat (utime+stime, 1/$HZ s)" "$per_tick"
printf '%-44s %10s %%\n' "CPU, % of one core at 1 heartbeat/s" "$pct"
printf '%-44s %10s B\n' "stripped bramble-agent, host $(uname -m)" "$host_size"
if [[ -n $arm_size && -z $arm_libs ]]; then
        # Static: the figure includes libc, libuv, mbedTLS, protobuf-c and jansson.
        printf '%-44s %10s B   (static: all it runs)\n' "stripped bramble-agent, arm64" "$arm_size"
elif [[ -n $arm_size ]]; then
        printf '%-44s %10s B   < %d B: %s\n' "stripped bramble-agent, arm64" "$arm_size" "$SIZE_TARGET" "$(verdict "$arm_size" "$SIZE_TARGET")"
        [[ -n $arm_libs_size ]] && printf '%-44s %10s B\n' "  + its shared libraries beyond libc (sysroot)" "$arm_libs_size"
        printf '%-44s %s\n' "  arm64 NEEDED" "$arm_libs"
else
        printf '%-44s %14s\n' "stripped bramble-agent, arm64" "n/a (no arm64 build)"
fi
printf '%-44s %s\n' "  host NEEDED" "$host_libs"
echo
echo "resident memory of the idle host agent by mapping (KiB):"
echo "     Rss      Pss  mapping"
echo "$breakdown" | head -12
if [[ -n $qemu_rss ]]; then
        printf '%-44s %10s KiB   (qemu user mode: NOT representative of a Pi)\n' "VmRSS of the arm64 agent under qemu" "$qemu_rss"
fi
echo
echo "VmRSS counts every resident page, those of shared libraries too. The agent is linked statically"
echo "(glibc, libuv, mbedTLS, protobuf-c, jansson) when every library has a static archive, so its VmRSS"
echo "is its own; collectd maps the shared libc and loader besides its plugins. Pss splits shared pages"
echo "between the processes that map them. The CPU"
echo "figures are for this $(uname -m) host; a Pi core is several times slower: scale them, do not read them as"
echo "Pi figures."

