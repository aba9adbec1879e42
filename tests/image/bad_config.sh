#!/usr/bin/env bash
# A card with a broken bramble.json: the node boots, says which field is
# wrong on the console and in the agent log on its data partition, and keeps
# retrying instead of dying; it never reaches the master.
. "$(dirname "$0")/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy socat debugfs python3
B=$BRM_BIN
export MTOOLS_SKIP_CHECK=1

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 1)

cp --sparse=always "$IMG" "$WORK/disk.img"
# The master without a port: a typical hand-editing mistake.
printf '{\r\n  "master": "10.0.2.100",\r\n  "token": "%s"\r\n}\r\n' "$token" >"$WORK/bramble.json"
mcopy -o -i "$WORK/disk.img@@$(brm_part_offset "$WORK/disk.img" 1)" "$WORK/bramble.json" ::bramble.json

N=$WORK/node
NODES+=("$N")
brm_node_start "$N" "$WORK/disk.img" "$port" 10000000bad0c0 1G
want="bramble.json: field 'master': '10.0.2.100' is not HOST:PORT"
for _ in $(seq 600); do
	[ "$(grep -c "^bramble: $want.*retrying" "$N/console.log" 2>/dev/null)" -ge 2 ] && break
	sleep 0.2
done
n=$(grep -c "^bramble: $want.*retrying" "$N/console.log" || true)
[ "$n" -ge 2 ] || { tail -n 30 "$N/console.log" >&2; fail "expected the error twice on the console (a retry), saw it $n times"; }
pass "console: '$want' reported, and again on the retry"
grep -q "starting bramble-agent" "$N/console.log" && fail "the agent was started with a broken bramble.json"
expect_eq "nodes known to the master" 0 "$("$B/bramble" -o json nodes | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
brm_node_stop "$N"

# The agent log on the node's data partition says the same.
qemu-img convert -O raw "$N/overlay.qcow2" "$WORK/node.raw"
off=$(brm_part_offset "$WORK/node.raw" 4)
dd if="$WORK/node.raw" of="$WORK/data.ext4" bs=1M skip=$((off >> 20)) count=$(($(brm_part_size "$WORK/node.raw" 4) >> 20)) status=none
debugfs -R "cat /log/bramble-agent.log" "$WORK/data.ext4" >"$WORK/agent.log" 2>/dev/null
expect_grep "agent log on the data partition names the field" "bramble-boot: $want" "$WORK/agent.log"
echo "PASS"
