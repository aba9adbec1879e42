#!/usr/bin/env bash
# The SD-card image: raw and compressed size, image build time with a warm
# package cache, and boot-to-Ready under qemu-system-aarch64 -M virt (TCG):
# wall clock from QEMU start until 'bramble nodes' shows Ready, and the
# guest's own uptime when it joined (the node's first heartbeat carries
# uptime_ms). A benchmark: it prints figures and asserts nothing about them.
# Targets (issue 5): compressed image under 48 MiB; Ready within 15 s.
#
#   tests/bench/image_bench.sh [--boots N]     (default 3 boots)
#
# Environment: BRM_BIN (host build bin dir, default build/host/bin),
# BRM_KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_SRC=$(cd "$here/../.." && pwd)
BRM_BIN=${BRM_BIN:-$BRM_SRC/build/host/bin}
BOOTS=3
[ "${1:-}" = --boots ] && BOOTS=$2
. "$BRM_SRC/image/qemu.sh"
brm_need_tools qemu-system-aarch64 qemu-img mcopy socat python3 xz
[ -x "$BRM_BIN/bramble-master" ] || { echo "SKIP: no bramble-master in $BRM_BIN"; exit 77; }
"$BRM_BIN/bramble" image configure --help >/dev/null 2>&1 || { echo "SKIP: $BRM_BIN/bramble has no 'image configure'"; exit 77; }

W=$(mktemp -d "${TMPDIR:-/tmp}/brm-image-bench.XXXXXX")
nodes=()
cleanup() {
	for n in "${nodes[@]}"; do brm_node_stop "$n"; done
	brm_master_stop "$W/master"
	if [ "${BRM_KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

# --- build time with a warm cache (the first run fills the cache) ----------
BRM_IMAGE_NOXZ=1 "$BRM_SRC/image/build.sh" --quiet
t0=$(date +%s.%N)
BRM_IMAGE_NOXZ=1 "$BRM_SRC/image/build.sh" --quiet
t1=$(date +%s.%N)
t2=$(date +%s.%N)
"$BRM_SRC/image/build.sh" --quiet
t3=$(date +%s.%N)
IMG=$BRM_SRC/build/image/bramble-rpi-arm64.img
raw=$(stat -c %s "$IMG")
alloc=$(du -B1 "$IMG" | cut -f1)
xzs=$(stat -c %s "$IMG.xz")
mapped=$(sed -n 's/.*<MappedBlocksCount> *\([0-9]*\).*/\1/p' "$IMG.bmap")
bs=$(sed -n 's/.*<BlockSize> *\([0-9]*\).*/\1/p' "$IMG.bmap")
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

# --- boot to Ready ------------------------------------------------------------
port=$(brm_free_port)
brm_master_start "$W/master" "$port" "$BRM_BIN"
token=$("$BRM_BIN/bramble" token create --ttl 1h --uses $((BOOTS * 2)))
cp --sparse=always "$IMG" "$W/disk.img"
"$BRM_BIN/bramble" image configure "$W/disk.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix bench >/dev/null
walls=() ups=() walls2=() ups2=()
for i in $(seq "$BOOTS"); do
	serial=$(printf '20000000%06x' "$i")
	name=bench-$(printf '%06x' "$i")
	n=$W/node$i
	nodes+=("$n")
	# First boot: grows the data partition, generates the key, joins.
	brm_node_start "$n" "$W/disk.img" "$port" "$serial" 1G
	brm_wait_ready "$BRM_BIN" "$name" 180 || { tail -n 30 "$n/console.log"; echo "node $name never turned Ready" >&2; exit 1; }
	walls+=("$(awk -v s="$(cat "$n/started")" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')")
	ups+=("$(awk -v u="$(brm_node_field "$BRM_BIN" "$name" uptime_ms)" 'BEGIN {printf "%.1f", u / 1000}')")
	brm_node_stop "$n"
	for _ in $(seq 100); do [ "$(brm_node_field "$BRM_BIN" "$name" state)" = NotReady ] && break; sleep 0.2; done
	# Second boot of the same disk: stored identity, no growing.
	brm_node_start "$n" "$W/disk.img" "$port" "$serial" 1G
	brm_wait_ready "$BRM_BIN" "$name" 180 || { tail -n 30 "$n/console.log"; echo "node $name never turned Ready again" >&2; exit 1; }
	walls2+=("$(awk -v s="$(cat "$n/started")" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')")
	ups2+=("$(awk -v u="$(brm_node_field "$BRM_BIN" "$name" uptime_ms)" 'BEGIN {printf "%.1f", u / 1000}')")
	brm_node_stop "$n"
done

echo "== Bramble SD-card image ($(sed -n 's/^kernel=//p' "${IMG%.img}.info"))"
printf '  %-44s %s\n' "raw image" "$(mib "$raw") ($(mib "$alloc") allocated)"
printf '  %-44s %s\n' "compressed (.img.xz)" "$(mib "$xzs")   target < 48 MiB"
printf '  %-44s %s\n' "written by bramble flash (block map)" "$(mib $((mapped * bs)))"
printf '  %-44s %s\n' "image build, warm cache, without .xz" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f s", b - a}')"
printf '  %-44s %s\n' "image build, warm cache, with .xz" "$(awk -v a="$t2" -v b="$t3" 'BEGIN {printf "%.1f s", b - a}')"
printf '  %-44s %s\n' "first boot to Ready, wall clock from QEMU start" "${walls[*]} s   target < 15 s"
printf '  %-44s %s\n' "  guest uptime at Ready (uptime_ms)" "${ups[*]} s"
printf '  %-44s %s\n' "second boot to Ready, wall clock" "${walls2[*]} s"
printf '  %-44s %s\n' "  guest uptime at Ready" "${ups2[*]} s"
echo "  (qemu-system-aarch64 -M virt, TCG on $(nproc) host cores, 2 vCPUs, 512 MiB; uptime_ms is from the node's latest heartbeat when Ready was seen)"
