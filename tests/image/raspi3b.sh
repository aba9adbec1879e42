#!/usr/bin/env bash
# The Raspberry Pi 3 B path on emulated Pi hardware (qemu-system-aarch64
# -M raspi3b), started the way the Pi firmware starts it: the committed
# slot's U-Boot (config.txt kernel=u-boot.bin under os_prefix, Debian's
# u-boot-rpi) and bcm2837-rpi-3-b.dtb from the FAT partition. U-Boot runs
# the card's boot.scr, which boots the slot's kernel and initramfs from the
# SD card; the card has a try of slot b pending (bramble-try.txt, as the
# slot writer leaves it), which U-Boot for the Pi consumes on the SD card
# (fatwrite) before it boots slot b with bramble.tryboot=1. The initramfs
# finds the card on the SD controller, and the node joins and reports
# itself as a Raspberry Pi 3 Model B on slot b with its SoC temperature.
# (QEMU has no LAN9514: the network is usb-net on the DWC2 port. The
# node's serial and bramble.watchdog=off come from U-Boot's environment on
# its card, see brm_node_start_raspi3b.)
. "$(dirname "$0")/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy mtype mkenvimage fsck.vfat socat python3
need_image_cli
qemu-system-aarch64 -M help | grep -q '^raspi3b ' || skip "this QEMU has no raspi3b machine"
B=$BRM_BIN

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" --heartbeat-interval 1s || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 1)
cp --sparse=always "$IMG" "$WORK/disk.img"
"$B/bramble" image configure "$WORK/disk.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix pi3 >/dev/null

# node_json EXPR: EXPR of the only node's entry in bramble nodes -o json
# (n), empty while there is none.
node_json() {
	"$B/bramble" -o json nodes 2>/dev/null | python3 -c '
import json, sys
ns = json.load(sys.stdin)
if len(ns) == 1:
    n = ns[0]
    v = eval(sys.argv[1])
    print("" if v is None else v)
' "$1"
}
# wait_node WHAT SECONDS EXPR VALUE
wait_node() {
	local end=$(($(date +%s) + $2))
	while [ "$(node_json "$3")" != "$4" ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			tail -n 40 "$N/console.log" >&2
			fail "$1: not within $2 s (the node says: $(node_json "(n.get('state'), n.get('slot'), n.get('update'))"))"
		fi
		sleep 0.5
	done
}

# The card as the slot writer leaves it once slot b is written and read
# back (update.sh: bramble_try=b, last): this boot is a try of slot b. The
# agent's side of a try, the guard and the commit are the same scripts as
# on the emulated virt nodes (image.update, image.services); what is the
# Pi's own here is U-Boot for the Pi consuming the try on the SD card
# (fatwrite) before it loads slot b.
printf 'bramble_try=b\n' >"$WORK/try.txt"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$WORK/disk.img@@$(brm_part_offset "$WORK/disk.img" 1)" "$WORK/try.txt" ::bramble-try.txt ||
	fail "cannot write bramble-try.txt on the card"
N=$WORK/node
NODES+=("$N")
brm_node_start_raspi3b "$N" "$WORK/disk.img" "$port" 10000000e3b333
expect_eq "the firmware's os_prefix" slot-a/ "$(cat "$N/os_prefix")"
wait_node "the node joins and is Ready" "${BRM_READY_TIMEOUT:-300}" "n['state']" Ready
NAME=pi3-e3b333
expect_eq "the node's name, from the serial in U-Boot's environment" "$NAME" "$(node_json "n['name']")"
pass "raspi3b: $NAME Ready $(since "$(cat "$N/started")") s after QEMU started"
expect_grep "U-Boot for the Pi ran the card's boot.scr" "Booting bootflow .*mmc.* with script" "$N/console.log"
expect_grep "boot.scr tried slot b once" "bramble: trying slot b once \\(committed: a\\)" "$N/console.log"
expect_grep "root slot b (partition 3), a try" "root=PARTUUID=b7a3b1e0-03 .*bramble.slot=b .*bramble.tryboot=1" "$N/console.log"
expect_grep "slot b's initramfs runs the try" "bramble: booting slot b \\(partition 3\\), a try" "$N/console.log"
expect_eq "the node reports slot b" b "$(node_json "n.get('slot')")"
expect_grep "the initramfs found the card on the SD controller" "growing partition 4 of /dev/mmcblk0" "$N/console.log"
expect_eq "model from the device tree" "Raspberry Pi 3 Model B" "$(node_json "n['model']")"
temp=$(node_json "n.get('temp_celsius')")
[ -n "$temp" ] || fail "no SoC temperature (bcm2835_thermal)"
pass "SoC temperature $temp C (bcm2835_thermal, loaded by coldplug)"
expect_grep "crun runs" "crun version 1\\." "$N/console.log"
# The node takes the FAT read-write once after the join, to remove the
# token from bramble.json: the power goes off after that, not during it.
for _ in $(seq 300); do grep -q "removed the join token" "$N/console.log" && break; sleep 0.2; done
expect_grep "the node removed the token from the card" "removed the join token from bramble.json" "$N/console.log"
brm_node_stop "$N"
card_fat "$N"
expect_eq "U-Boot consumed the try on the SD card before the kernel loaded" bramble_try=none "$(fat_file bramble-try.txt)"
expect_eq "the committed slot is still a" bramble_slot=a "$(fat_file bramble-slot.txt)"
fsck.vfat -n "$WORK/fat.vfat" >"$WORK/fsck.log" 2>&1 || { cat "$WORK/fsck.log"; fail "the FAT is not clean after U-Boot wrote it"; }
pass "fsck.vfat: the FAT is clean"
echo "PASS"
