#!/usr/bin/env bash
# The two root slots and the bootloader that tries one: the image boots under
# qemu-system-aarch64 -M virt through U-Boot (u-boot-qemu), whose boot.scr
# on the card picks the slot. First boot: the committed slot a. Then, with
# QEMU stopped, a try of slot b is written onto the node's card (slot b
# holds the same system as a): the node comes up on b, and the try is gone
# from the card. A reset of that machine without a commit brings it back on a.
. "$(dirname "$0")/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy mtype mkenvimage fsck.vfat socat python3
need_image_cli
[ -f "$BRM_UBOOT" ] || skip "no U-Boot for QEMU's virt machine at $BRM_UBOOT (package u-boot-qemu)"
B=$BRM_BIN
READY_TIMEOUT=${BRM_READY_TIMEOUT:-120}
export MTOOLS_SKIP_CHECK=1

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 1)
cp --sparse=always "$IMG" "$WORK/disk.img"
"$B/bramble" image configure "$WORK/disk.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix slot >/dev/null ||
	fail "bramble image configure"
N=$WORK/node
NAME=slot-00a0b0
NODES+=("$N")

# since_line FILE LINE PATTERN SECONDS: waits until PATTERN is in FILE after
# line LINE.
since_line() {
	local end=$(($(date +%s) + $4))
	while [ "$(date +%s)" -lt "$end" ]; do
		tail -n +"$(($2 + 1))" "$1" | grep -qE -- "$3" && return 0
		sleep 0.2
	done
	tail -n 30 "$1" >&2
	fail "/$3/ not on the console within $4 s"
}
# ready_since SECONDS: Ready with an uptime below SECONDS (a boot since then).
ready_since() {
	local t0=$1 end=$(($(date +%s) + READY_TIMEOUT)) up
	while [ "$(date +%s)" -lt "$end" ]; do
		up=$(brm_node_field "$B" "$NAME" uptime_ms)
		if [ "$(brm_node_field "$B" "$NAME" state)" = Ready ] && [ -n "$up" ] &&
			[ "$up" -lt $((($(date +%s) - t0 + 1) * 1000)) ]; then
			return 0
		fi
		sleep 0.2
	done
	tail -n 30 "$N/console.log" >&2
	fail "$NAME not Ready after the boot that started at $t0"
}
fat_file() { # NAME: a file of the node's boot partition (QEMU stopped)
	brm_node_fat "$N" "$WORK/fat.vfat" && mtype -i "$WORK/fat.vfat" "::$1" | tr -d '\r\0'
}

# --- 1. the committed slot ---------------------------------------------------
brm_node_start "$N" "$WORK/disk.img" "$port" 1000000000a0b0 1G
t=$(boot_wait "$N" "$NAME" "$READY_TIMEOUT")
pass "boot 1: $NAME Ready ${t} s after QEMU started"
expect_grep "U-Boot ran the card's boot.scr" "Executing script at" "$N/console.log"
expect_grep "boot.scr booted the committed slot a" "^bramble: booting slot a[[:space:]]*$" "$N/console.log"
expect_grep "root slot a (partition 2)" "root=PARTUUID=b7a3b1e0-02 .*bramble.slot=a" "$N/console.log"
expect_grep "the initramfs says slot a" "bramble: booting slot a \\(partition 2\\)[[:space:]]*$" "$N/console.log"
expect_grep "the node's serial came through U-Boot's environment" "bramble.serial=1000000000a0b0" "$N/console.log"
brm_node_stop "$N"

# --- 2. a try of slot b ------------------------------------------------------
echo "bramble_try=b" >"$WORK/try.txt"
brm_node_fat_put "$N" "$WORK/try.txt" bramble-try.txt || fail "writing bramble-try.txt onto the node's card"
t0=$(date +%s)
brm_node_start "$N" "$WORK/disk.img" "$port" 1000000000a0b0 1G
since_line "$N/console.log" 0 "bramble: booting slot b \\(partition 3\\), a try" "$READY_TIMEOUT"
ready_since "$t0"
pass "boot 2: $NAME Ready on slot b, $(($(date +%s) - t0)) s after QEMU started"
expect_eq "the slot the node reports (bramble nodes -o json)" b "$(brm_node_field "$B" "$NAME" slot)"
expect_grep "boot.scr tried slot b once" "^bramble: trying slot b once \\(committed: a\\)[[:space:]]*$" "$N/console.log"
expect_grep "root slot b (partition 3)" "root=PARTUUID=b7a3b1e0-03 .*bramble.slot=b .*bramble.tryboot=1" "$N/console.log"
grep -q "joined the cluster" "$N/console.log" && fail "the node joined again on slot b (its identity is on the data partition)"
pass "slot b kept the node's identity (no new join)"

# --- 3. a reset without a commit: back on slot a ------------------------------
lines=$(wc -l <"$N/console.log")
t0=$(date +%s)
brm_node_monitor "$N" system_reset || fail "system_reset on the QEMU monitor"
since_line "$N/console.log" "$lines" "bramble: booting slot a \\(partition 2\\)[[:space:]]*$" "$READY_TIMEOUT"
ready_since "$t0"
pass "boot 3 (reset): $NAME Ready on slot a again, $(($(date +%s) - t0)) s after the reset"
expect_eq "the slot the node reports after the reset" a "$(brm_node_field "$B" "$NAME" slot)"
tail -n +"$((lines + 1))" "$N/console.log" | grep -q "trying slot" && fail "the reset tried slot b again"
brm_node_stop "$N"
expect_eq "the try is gone from the card" bramble_try=none "$(fat_file bramble-try.txt)"
expect_eq "the committed slot is unchanged" bramble_slot=a "$(fat_file bramble-slot.txt)"
fsck.vfat -n "$WORK/fat.vfat" >"$WORK/fsck.log" 2>&1 || { cat "$WORK/fsck.log"; fail "the boot partition is not clean after U-Boot wrote it"; }
pass "fsck.vfat: the boot partition U-Boot wrote is clean"
echo "PASS"
