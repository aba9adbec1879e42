#!/usr/bin/env bash
# Image fetch, master -> node on loopback: a cluster image of one busybox
# layer and one layer of random bytes (100 MiB in all by default) is put in
# the master's store, and N nodes (default 1) each run a container of it at
# once. Prints, per run: the transfer rate (image bytes over the time from
# the agent's "N blobs" line to its "fetched" line, i.e. without the
# unpacking), each agent's peak resident memory (VmHWM) before and after,
# and the CPU time master and agents spent during the fetch
# (utime+stime from /proc/PID/stat). A benchmark: it prints figures and
# asserts nothing about them; it fails only if a container does not run.
#
#   tests/bench/fetch_bench.sh [--mib M] [--agents N]     defaults 100 MiB, 1 agent
#   tests/bench/fetch_bench.sh --agents 10                ten nodes pulling the same image at once
#
# Needs what the container integration tests need (root, runc or crun, a
# static busybox); exits 77 otherwise. Environment: BRM_BIN (default
# build/host/bin), BRM_KEEP=1 keeps the work directory.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
MIB=100
AGENTS=1
while (($#)); do
        case $1 in
        --mib) MIB=$2; shift ;;
        --agents) AGENTS=$2; shift ;;
        *) echo "usage: fetch_bench.sh [--mib M] [--agents N]" >&2; exit 2 ;;
        esac
        shift
done
[[ $MIB =~ ^[0-9]+$ && $MIB -ge 4 && $AGENTS =~ ^[0-9]+$ && $AGENTS -ge 1 && $AGENTS -le 20 ]] ||
        { echo "fetch_bench.sh: --mib must be at least 4, --agents 1 to 20" >&2; exit 2; }
source "$here/../integration/lib.sh"

need_containers
ROOTFS=$WORK/rootfs
busybox_rootfs "$ROOTFS"
rootfs_mib=$(du -sm "$ROOTFS" | cut -f1)
python3 "$here/../integration/oci_image.py" "$WORK/master/images" bench.example/big:1 --rootfs "$ROOTFS" \
        --random-mib $((MIB > rootfs_mib + 1 ? MIB - rootfs_mib - 1 : 1)) >"$WORK/image.json"
size=$(json_query 'd["size"]' <"$WORK/image.json")
start_master
TOKEN=$(create_token --ttl 1h --uses "$AGENTS")
names=()
for i in $(seq 1 "$AGENTS"); do
        names+=("n$i")
        start_agent "n$i" --token "$TOKEN"
        # One at a time: the master admits at most 8 handshakes per address.
        wait_for 20 node_is "n$i" Ready || fail "n$i not Ready within 20 s"
done

cpu_ticks() { # PID: utime + stime
        awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# ms since the epoch of the first log line of FILE matching the ERE.
line_ms() {
        local ts
        ts=$(grep -m1 -E -- "$2" "$1" | cut -d' ' -f1) || return 1
        [[ -n "$ts" ]] || return 1
        python3 -c 'import sys, datetime; t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ"); print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))' "$ts"
}

tick=$(getconf CLK_TCK)
m0=$(cpu_ticks "$MASTER_PID")
declare -A a0 h0
for n in "${names[@]}"; do
        a0[$n]=$(cpu_ticks "${AGENT_PID[$n]}")
        h0[$n]=$(hwm_kib "${AGENT_PID[$n]}")
done
for n in "${names[@]}"; do
        cli_ok run "$n" big --restart never --image bench.example/big:1 -- true >/dev/null
done
fetched_all() {
        local n
        for n in "${names[@]}"; do
                log_has "${AGENT_LOG[$n]}" "image bench.example/big:1: fetched" || return 1
        done
}
wait_for 300 fetched_all || fail "not every node fetched the image within 300 s"
m1=$(cpu_ticks "$MASTER_PID")
agent_ticks=0
first=0 last=0
printf '%-4s %10s %9s %14s %14s\n' NODE SECONDS MIB/S "VMHWM BEFORE" "VMHWM AFTER"
for n in "${names[@]}"; do
        t0=$(line_ms "${AGENT_LOG[$n]}" "image bench.example/big:1: [0-9]+ blobs")
        t1=$(line_ms "${AGENT_LOG[$n]}" "image bench.example/big:1: fetched")
        ((first == 0 || t0 < first)) && first=$t0
        ((t1 > last)) && last=$t1
        agent_ticks=$((agent_ticks + $(cpu_ticks "${AGENT_PID[$n]}") - ${a0[$n]}))
        awk -v n="$n" -v ms=$((t1 - t0)) -v b="$size" -v h0="${h0[$n]}" -v h1="$(hwm_kib "${AGENT_PID[$n]}")" \
                'BEGIN { printf "%-4s %10.2f %9.1f %10d KiB %10d KiB\n", n, ms / 1000, b / 1048576 / (ms / 1000), h0, h1 }'
done
awk -v n="$AGENTS" -v ms=$((last - first)) -v b="$size" -v mt="$((m1 - m0))" -v at="$agent_ticks" -v tick="$tick" 'BEGIN {
        printf "image %.1f MiB to %d node(s): %.2f s from the first request to the last fetched, %.1f MiB/s in all\n",
               b / 1048576, n, ms / 1000, n * b / 1048576 / (ms / 1000)
        printf "CPU during the fetch: master %.2f s, agents %.2f s (%.2f s per node)\n", mt / tick, at / tick, at / tick / n
}'
for n in "${names[@]}"; do
        st() { [[ "$(ps_field big 'c["state"]' "$n")" == exited ]]; }
        wait_for 120 st || fail "container big on $n did not run: $(ps_field big 'c' "$n")"
done
pass "fetch bench"
