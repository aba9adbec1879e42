#!/usr/bin/env bash
# OS updates, measured on one emulated node (qemu-system-aarch64 -M virt
# through U-Boot, TCG): the bundle's size beside the image's .img.xz; the
# bytes the master sent the node for it (its blob streams' log lines); the
# time from 'bramble node upgrade' to committed, v1 to v2 (the same sources
# built as another version), with the healthy window given; and the time a
# rollback on purpose ('bramble node rollback': a try of the other slot,
# confirmed the same way) takes to be committed. The automatic rollback of
# a broken update is timed by tests/image/update.sh (it waits for the
# try's deadline). Prints the figures; asserts no timings.
#
#   tests/bench/update_bench.sh [HEALTHY]   HEALTHY: --healthy-for (default 5s)
#
# Environment: BRM_BIN, BRM_SRC (as for tests/image/lib.sh), BRM_KEEP=1.
HEALTHY=${1:-5s}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../image/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy mtype mkenvimage socat python3
[ -f "$BRM_UBOOT" ] || skip "no U-Boot for QEMU's virt machine at $BRM_UBOOT (package u-boot-qemu)"
B=$BRM_BIN
export MTOOLS_SKIP_CHECK=1
since() { awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}'; }
V1=$(sed -n 's/^version=//p' "$(dirname "$IMG")/bramble-rpi-arm64.info")
V2=update-bench-2
IMG2=$(image_variant bench "$V2") || exit 1

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" --heartbeat-interval 1s || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 1)
cp --sparse=always "$IMG" "$WORK/disk.img"
"$B/bramble" image configure "$WORK/disk.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix bench >/dev/null ||
	fail "bramble image configure"
N=$WORK/node
NAME=bench-00be01
NODES+=("$N")
brm_node_start "$N" "$WORK/disk.img" "$port" 1000000000be01 1G
t=$(boot_wait "$N" "$NAME" 120)
echo "node $NAME on $V1 Ready ${t} s after QEMU started"

"$B/bramble" node upgrade --upload-only --image "$IMG2" >"$WORK/upload.out" 2>&1 || fail "storing the bundle: $(cat "$WORK/upload.out")"
ref=$(sed -n 's/^stored \([^ ]*\) (sha256:.*/\1/p' "$WORK/upload.out")
digest=$(sed -n 's/^stored [^ ]* (\(sha256:[0-9a-f]*\)).*/\1/p' "$WORK/upload.out")
bundle=$(python3 - "$WORK/master/data/images" "$digest" <<'EOF'
import json, sys
m = json.load(open(f"{sys.argv[1]}/blobs/sha256/{sys.argv[2][7:]}"))
print(sum(l["size"] for l in m["layers"]), len(m["layers"]))
EOF
)
read -r bundle nparts <<<"$bundle"
xzf=$(dirname "$IMG")/bramble-rpi-arm64.img.xz
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

lines=$(wc -l <"$WORK/master/master.log")
t0=$(date +%s.%N)
"$B/bramble" node upgrade "$NAME" --bundle "$ref" --healthy-for "$HEALTHY" >"$WORK/up.out" 2>&1 ||
	{ cat "$WORK/up.out" >&2; fail "the upgrade to $V2 did not commit"; }
t_up=$(since "$t0")
[ "$(brm_node_field "$B" "$NAME" os_version)" = "$V2" ] || fail "the node does not report $V2"
sent=$(tail -n +"$((lines + 1))" "$WORK/master/master.log" | grep "images: sent .* to $NAME " |
	awk '{for (i = 1; i < NF; i++) if ($i == "sent") s += $(i + 1)} END {print s + 0}')
grep -E "downloading|writing|rebooting|confirming|committed" "$WORK/up.out" | sed 's/^/    /'

t0=$(date +%s.%N)
"$B/bramble" node rollback "$NAME" >/dev/null || fail "bramble node rollback"
end=$(($(date +%s) + 300))
while :; do
	st=$("$B/bramble" -o json nodes | python3 -c 'import json,sys
for n in json.load(sys.stdin):
    if n["name"] == sys.argv[1]: print((n.get("update") or {}).get("state", ""), n.get("slot", ""), n.get("os_version", ""))' "$NAME")
	[ "$st" = "committed a $V1" ] && break
	[ "$(date +%s)" -lt "$end" ] || fail "the rollback did not commit slot a within 300 s (node says: $st)"
	sleep 0.2
done
t_rb=$(since "$t0")

echo
echo "OS update of one emulated node (TCG), healthy window $HEALTHY:"
printf '  %-44s %s\n' "bundle ($V2, $nparts parts)" "$(mib "$bundle")"
[ -f "$xzf" ] && printf '  %-44s %s\n' "the image's .img.xz, for comparison" "$(mib "$(stat -c %s "$xzf")")"
printf '  %-44s %s\n' "bytes the master sent the node" "$(mib "$sent") ($sent bytes)"
printf '  %-44s %s s\n' "node upgrade to committed ($V1 -> $V2)" "$t_up"
printf '  %-44s %s s\n' "node rollback to committed (back to $V1; healthy window 30s)" "$t_rb"
