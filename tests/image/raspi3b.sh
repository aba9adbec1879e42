#!/usr/bin/env bash
# The Raspberry Pi 3 B path on emulated Pi hardware: qemu-system-aarch64
# -M raspi3b boots the image as the Pi firmware would (the committed slot's
# kernel, initramfs, bcm2837-rpi-3-b.dtb and cmdline.txt from the FAT
# partition), the initramfs finds the card on the SD controller, and the
# node joins and reports itself as a Raspberry Pi 3 Model B with its SoC
# temperature. (QEMU has no LAN9514:
# the network is usb-net on the DWC2 port.)
. "$(dirname "$0")/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy socat python3
need_image_cli
qemu-system-aarch64 -M help | grep -q '^raspi3b ' || skip "this QEMU has no raspi3b machine"
B=$BRM_BIN

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 1)
cp --sparse=always "$IMG" "$WORK/disk.img"
"$B/bramble" image configure "$WORK/disk.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix pi3 >/dev/null

N=$WORK/node
NODES+=("$N")
brm_node_start_raspi3b "$N" "$WORK/disk.img" "$port" 10000000e3b333
t=$(boot_wait "$N" pi3-e3b333 "${BRM_READY_TIMEOUT:-240}")
pass "raspi3b: pi3-e3b333 Ready ${t} s after QEMU started"
expect_grep "the initramfs found the card on the SD controller" "growing partition 4 of /dev/mmcblk0" "$N/console.log"
expect_eq "model from the device tree" "Raspberry Pi 3 Model B" "$(brm_node_field "$B" pi3-e3b333 model)"
temp=$(brm_node_field "$B" pi3-e3b333 temp_celsius)
[ -n "$temp" ] || fail "no SoC temperature (bcm2835_thermal)"
pass "SoC temperature $temp C (bcm2835_thermal, loaded by coldplug)"
expect_grep "crun runs" "crun version 1\\." "$N/console.log"
echo "PASS"
