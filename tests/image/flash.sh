#!/usr/bin/env bash
# bramble flash: onto a regular file and onto a loop device (block map,
# read-back verification, then bramble.json); refusals of bad targets; then
# the flashed copy boots and joins.
. "$(dirname "$0")/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy mtype socat python3 cmp
need_image_cli
B=$BRM_BIN
export MTOOLS_SKIP_CHECK=1

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 2 --description flash-test)

# cmp_except_boot A B: the two disks are identical outside partition 1.
cmp_except_boot() {
	local p2 size
	p2=$(brm_part_offset "$IMG" 2)
	size=$(stat -c %s "$IMG")
	cmp -n "$(brm_part_offset "$IMG" 1)" "$1" "$2" >/dev/null || fail "$2: MBR area differs from the image"
	cmp -i "$p2:$p2" -n $((size - p2)) "$1" "$2" >/dev/null || fail "$2: root or data partition differs from the image"
}

# --- onto a file ------------------------------------------------------------
out=$("$B/bramble" flash "$IMG" "$WORK/card.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix flash 2>&1) ||
	fail "bramble flash onto a file: $out"
echo "$out"
grep -q "(block map)" <<<"$out" || fail "the block map was not used"
grep -q "^verified" <<<"$out" || fail "no verification reported"
cmp_except_boot "$IMG" "$WORK/card.img"
mtype -i "$WORK/card.img@@$(brm_part_offset "$WORK/card.img" 1)" ::bramble.json >"$WORK/card.json"
grep -qF "$token" "$WORK/card.json" && grep -qF '"name_prefix":	"flash"' "$WORK/card.json" ||
	fail "bramble.json on the flashed file: $(cat "$WORK/card.json")"
dd if="$WORK/card.img" of="$WORK/card-boot.vfat" bs=1M skip=$(($(brm_part_offset "$IMG" 1) >> 20)) count=$(($(brm_part_size "$IMG" 1) >> 20)) status=none
fsck.vfat -n "$WORK/card-boot.vfat" >/dev/null || fail "boot partition of the flashed file does not pass fsck.vfat"
pass "flash onto a file: image written, verified, configured; FAT clean"

# --- refusals -------------------------------------------------------------------
expect_refusal() { # WHAT PATTERN ARGS...
	local what=$1 pat=$2 rc
	shift 2
	set +e
	msg=$("$B/bramble" flash "$@" 2>&1)
	rc=$?
	set -e
	[ "$rc" != 0 ] || fail "$what: bramble flash succeeded"
	grep -qE -- "$pat" <<<"$msg" || fail "$what: expected /$pat/, got: $msg"
	pass "$what refused (exit $rc): $msg"
}
expect_refusal "flashing the image onto itself" "is the image itself" "$IMG" "$IMG"
expect_refusal "a token without a master" "--master HOST:PORT is required" "$IMG" "$WORK/x.img" --token "$token"
expect_refusal "a bad master" "is not HOST:PORT" "$IMG" "$WORK/x.img" --master nohost --token "$token"
expect_refusal "Wi-Fi without a country" "--wifi-ssid needs --wifi-country" "$IMG" "$WORK/x.img" --master auto --token "$token" \
	--wifi-ssid home --wifi-psk-stdin </dev/null
expect_refusal "a short Wi-Fi passphrase" "the passphrase for SSID 'home' \\(line 1\\) has 5 characters" "$IMG" "$WORK/x.img" \
	--master auto --token "$token" --wifi-ssid home --wifi-psk-stdin --wifi-country GB <<<"short"
[ ! -e "$WORK/x.img" ] || fail "a refused flash wrote $WORK/x.img"
# Wi-Fi and an mDNS master, flashed onto a file: the key, not the passphrase.
printf 'password\n' | "$B/bramble" flash "$IMG" "$WORK/wifi.img" --master auto --token "$token" --wifi-ssid IEEE --wifi-hidden \
	--wifi-psk-stdin --wifi-country gb >/dev/null || fail "bramble flash with --wifi-ssid"
mtype -i "$WORK/wifi.img@@$(brm_part_offset "$WORK/wifi.img" 1)" ::bramble.json >"$WORK/wifi.json"
python3 - "$WORK/wifi.json" <<'PY' || fail "bramble.json after flash --wifi-ssid: $(cat "$WORK/wifi.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["master"] == "auto", d
assert d["country"] == "GB", d
assert d["wifi"] == [{"ssid": "IEEE", "psk": "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e", "hidden": True}], d
PY
rm -f "$WORK/wifi.img"
pass "flash --master auto --wifi-ssid IEEE --wifi-hidden: bramble.json has the derived key, hidden, country GB"
: >"$WORK/card.img.xz"
expect_refusal "a compressed image" "decompress it first" "$WORK/card.img.xz" "$WORK/x.img"
cp "$IMG.bmap" "$WORK/bad.img.bmap"
cp --sparse=always "$IMG" "$WORK/bad.img"
printf 'X' | dd of="$WORK/bad.img" bs=1 seek=$(($(brm_part_offset "$IMG" 2) + 4096)) conv=notrunc status=none
expect_refusal "an image that does not match its block map" "does not match its block map" "$WORK/bad.img" "$WORK/x.img"
rootsrc=$(findmnt -n -o SOURCE / 2>/dev/null || true)
rootdisk=
if [ -b "$rootsrc" ]; then
	pk=$(lsblk -no PKNAME "$rootsrc" 2>/dev/null | head -n1 || true)
	rootdisk=/dev/${pk:-$(basename "$rootsrc")}
fi
if [ -b "$rootdisk" ]; then
	expect_refusal "the disk the system runs from ($rootdisk)" "disk the system runs from|is mounted|in use" "$IMG" "$rootdisk"
else
	echo "note: / is not on a block device here ($rootsrc); the root-disk refusal is not exercised"
fi

# --- onto a loop device ------------------------------------------------------
boot_copy() { # DISK NAME SERIAL
	local n=$WORK/node-$2
	NODES+=("$n")
	brm_node_start "$n" "$1" "$port" "$3" 1G
	t=$(boot_wait "$n" "$2" "${BRM_READY_TIMEOUT:-120}")
	pass "the flashed copy $1 boots: $2 Ready ${t} s after QEMU started"
	brm_node_stop "$n"
}
loop_ok=1
if [ "$(id -u)" != 0 ]; then
	loop_ok=0 why="not root (losetup needs root)"
elif ! command -v losetup >/dev/null; then
	loop_ok=0 why="no losetup"
else
	truncate -s $(($(stat -c %s "$IMG") + (64 << 20))) "$WORK/loop.img"
	# Old data on the "card": flashing must not depend on it being zero.
	dd if=/dev/urandom of="$WORK/loop.img" bs=1M count=160 conv=notrunc status=none
	LOOPDEV=$(losetup -f --show -P "$WORK/loop.img" 2>/dev/null) || { loop_ok=0 why="no loop device available (losetup -f failed)"; LOOPDEV=; }
fi
if [ "$loop_ok" = 0 ]; then
	boot_copy "$WORK/card.img" flash-f11e00 10000000f11e00
	skip "the file part passed; the loop-device part cannot run: $why"
fi

out=$("$B/bramble" flash "$IMG" "$LOOPDEV" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix loop 2>&1) ||
	fail "bramble flash onto $LOOPDEV: $out"
echo "$out"
grep -q "^verified" <<<"$out" || fail "no verification reported for $LOOPDEV"
# Blocks the image does not map keep the old data, so compare what counts:
# the partition table, the root file system, and both writable file systems
# must pass their checkers over the old data.
cmp -n 512 "$IMG" "$LOOPDEV" >/dev/null || fail "$LOOPDEV: the MBR differs from the image"
sq=$(python3 -c 'import struct,sys; f=open(sys.argv[1],"rb"); f.seek(int(sys.argv[2])); print(struct.unpack("<Q", f.read(48)[40:48])[0])' "$IMG" "$(brm_part_offset "$IMG" 2)")
p2=$(brm_part_offset "$IMG" 2)
cmp -i "$p2:$p2" -n "$sq" "$IMG" "$LOOPDEV" >/dev/null || fail "$LOOPDEV: the root file system ($sq bytes) differs from the image"
dd if="$LOOPDEV" of="$WORK/loop-data.ext4" bs=1M skip=$(($(brm_part_offset "$IMG" 4) >> 20)) count=$(($(brm_part_size "$IMG" 4) >> 20)) status=none
e2fsck -fn "$WORK/loop-data.ext4" >"$WORK/e2fsck.log" 2>&1 || { cat "$WORK/e2fsck.log"; fail "the data partition on $LOOPDEV (over random old data) does not pass e2fsck"; }
mtype -i "$LOOPDEV@@$(brm_part_offset "$LOOPDEV" 1)" ::bramble.json 2>/dev/null | grep -qF '"name_prefix":	"loop"' ||
	fail "bramble.json on $LOOPDEV was not written"
dd if="$LOOPDEV" of="$WORK/loop-boot.vfat" bs=1M skip=$(($(brm_part_offset "$IMG" 1) >> 20)) count=$(($(brm_part_size "$IMG" 1) >> 20)) status=none
fsck.vfat -n "$WORK/loop-boot.vfat" >/dev/null || fail "boot partition on $LOOPDEV (over random old data) does not pass fsck.vfat"
pass "flash onto $LOOPDEV: written over old data, verified, configured; FAT clean"

# A mounted partition of the target is refused: the data partition (ext4,
# which every Linux kernel here can mount) through its partition device when
# the kernel made one, else through a loop device over the target.
mkdir -p "$WORK/mnt"
if { [ -b "${LOOPDEV}p4" ] && mount -o ro,noload "${LOOPDEV}p4" "$WORK/mnt" 2>/dev/null; } ||
	mount -o ro,noload,offset="$(brm_part_offset "$IMG" 4)" "$LOOPDEV" "$WORK/mnt" 2>/dev/null; then
	expect_refusal "a target with a mounted partition" "is mounted .*\\(on $WORK/mnt\\)" "$IMG" "$LOOPDEV"
	umount "$WORK/mnt"
else
	echo "note: cannot mount a partition of $LOOPDEV here; the mounted-target refusal is not exercised"
fi

boot_copy "$LOOPDEV" loop-100e00 10000000100e00
echo "PASS"
