#!/usr/bin/env bash
# The built image: partition table, file systems that pass their checkers,
# every boot file for every board in both root slots, the slot and try-boot
# configuration, the root's contents and the block map.
. "$(dirname "$0")/lib.sh"
image_test_init sfdisk mtype mdir fsck.vfat e2fsck unsquashfs cpio readelf python3 lz4

export MTOOLS_SKIP_CHECK=1
info=${IMG%.img}.info
disk_id=$(sed -n 's/^disk_id=//p' "$info")
[ -n "$disk_id" ] || fail "no disk_id in $info"

# --- partition table --------------------------------------------------------
sfdisk --verify "$IMG" >"$WORK/verify" 2>&1 || { cat "$WORK/verify"; fail "sfdisk --verify"; }
pass "sfdisk --verify"
sfdisk -J "$IMG" >"$WORK/pt.json"
python3 - "$WORK/pt.json" "$disk_id" "$(stat -c %s "$IMG")" <<'EOF' || fail "partition table"
import json, sys
pt = json.load(open(sys.argv[1]))["partitiontable"]
want_id, size = sys.argv[2], int(sys.argv[3])
def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr); sys.exit(1)
    print("ok:", msg)
check(pt["label"] == "dos", "MBR (dos) label, got %s" % pt["label"])
check(pt["id"].lower() == "0x" + want_id, "disk id 0x%s, got %s" % (want_id, pt["id"]))
p = pt["partitions"]
check(len(p) == 4, "4 partitions (boot, root a, root b, data), got %d" % len(p))
check(p[0]["type"] == "c" and p[0].get("bootable"), "partition 1 FAT32 LBA (0x0c), bootable: %s" % p[0])
check(all(q["type"] == "83" for q in p[1:]), "partitions 2, 3 and 4 are Linux (0x83)")
check(p[1]["size"] == p[2]["size"], "root slots a (2) and b (3) have the same size")
for q in p:
    check(q["start"] % 8192 == 0, "%s starts on a 4 MiB boundary" % q["node"])
check(all(p[i]["start"] + p[i]["size"] <= p[i + 1]["start"] for i in range(3)), "partitions in order, no overlap")
check((p[3]["start"] + p[3]["size"]) * 512 == size, "data partition ends at the end of the image (grows on first boot)")
EOF

part() { # N OUT
	local off size
	off=$(brm_part_offset "$IMG" "$1"); size=$(brm_part_size "$IMG" "$1")
	dd if="$IMG" of="$2" bs=1M skip=$((off / 1048576)) count=$((size / 1048576)) status=none
}
part 1 "$WORK/boot.vfat"; part 2 "$WORK/root.sqfs"; part 3 "$WORK/root-b.sqfs"; part 4 "$WORK/data.ext4"

# --- file systems -----------------------------------------------------------
fsck.vfat -n "$WORK/boot.vfat" >"$WORK/fsck.vfat" 2>&1 || { cat "$WORK/fsck.vfat"; fail "fsck.vfat -n"; }
pass "fsck.vfat: boot partition clean"
expect_eq "boot file system type (BPB)" "FAT32" "$(dd if="$WORK/boot.vfat" bs=1 skip=82 count=5 status=none)"
e2fsck -fn "$WORK/data.ext4" >"$WORK/e2fsck" 2>&1 || { cat "$WORK/e2fsck"; fail "e2fsck -fn"; }
pass "e2fsck: data partition clean"
expect_eq "data partition label" bramble-data "$(e2label "$WORK/data.ext4")"
unsquashfs -s "$WORK/root.sqfs" >"$WORK/sq.info" 2>&1 || { cat "$WORK/sq.info"; fail "root is not a readable squashfs"; }
expect_grep "root is squashfs, xz" "Compression xz" "$WORK/sq.info"
unsquashfs -no-progress -q -d "$WORK/root" "$WORK/root.sqfs" >/dev/null 2>&1 || fail "unsquashfs"
cmp -s "$WORK/root.sqfs" "$WORK/root-b.sqfs" || fail "root slot b is not a copy of root slot a"
pass "root slot b is a copy of root slot a"

# --- boot files for every board ----------------------------------------------
mdir -/ -b -i "$WORK/boot.vfat" ::/ | sed 's|^::/||' >"$WORK/bootfiles"
has_boot() { grep -qx "$1" "$WORK/bootfiles" || fail "boot partition lacks $1 (needed by $2)"; }
SLOTS="a b"
for f in config.txt boot.scr uboot.env bramble-slot.txt bramble-try.txt bramble.json bramble.json.template; do has_boot "$f" all; done
for s in $SLOTS; do
	for f in u-boot.bin vmlinuz initrd.img cmdline.txt bootargs.txt version.txt; do has_boot "slot-$s/$f" "slot $s"; done
done
mtype -i "$WORK/boot.vfat" ::config.txt | tr -d '\r' >"$WORK/config.txt"
mtype -i "$WORK/boot.vfat" ::slot-a/cmdline.txt | tr -d '\r' >"$WORK/cmdline.txt"
for b in "$BRM_SRC"/board/*/; do
	b=$(basename "$b")
	[ "$b" = common ] && continue
	FILTER=$(. "$BRM_SRC/board/$b/board.conf"; echo "$FILTER")
	FIRMWARE=$(. "$BRM_SRC/board/$b/board.conf"; echo "$FIRMWARE")
	n=0
	for f in $FIRMWARE; do has_boot "$f" "$b"; n=$((n + 1)); done
	dtbs=$( (sed 's/#.*//' "$BRM_SRC/board/$b/dtbs" 2>/dev/null || true) | xargs)
	for d in $dtbs; do
		for s in $SLOTS; do has_boot "slot-$s/$d" "$b"; done
		n=$((n + 1))
	done
	if [ -n "$FILTER" ]; then
		# The board's section names its device tree.
		awk -v f="[$FILTER]" -v d="device_tree=${dtbs%% *}" '$0 == f {s = 1; next} /^\[/ {s = 0} s && $0 == d {found = 1} END {exit !found}' \
			"$WORK/config.txt" || fail "config.txt has no [$FILTER] section with device_tree=${dtbs%% *}"
		[ -n "$FIRMWARE" ] && [ -n "$dtbs" ] || fail "board $b lists no firmware or no device tree"
	fi
	for m in $(cat "$BRM_SRC/board/$b/modules-boot" "$BRM_SRC/board/$b/modules" 2>/dev/null | sed 's/#.*//'); do
		m2=$(echo "$m" | tr '-' '_')
		grep -qE "/($m|$m2)\.ko:" "$WORK/root/usr/lib/modules/"*/modules.dep || fail "board $b: module $m not on the root"
	done
	pass "board $b: $n firmware/DTB files (DTBs in both slots), its modules on the root${FILTER:+, [$FILTER] in config.txt}"
done
for k in arm_64bit=1 upstream_kernel=1 kernel=u-boot.bin enable_uart=1; do
	grep -qx "$k" "$WORK/config.txt" || fail "config.txt lacks '$k'"
done
grep -q '^initramfs' "$WORK/config.txt" && fail "config.txt loads an initramfs (U-Boot loads the slot's)"
pass "config.txt: 64-bit, the firmware starts U-Boot, UART"
for k in cgroup_enable=memory cgroup_memory=1 "root=PARTUUID=$disk_id-02" rootfstype=squashfs ro rootwait; do
	grep -qw -- "$k" "$WORK/cmdline.txt" || fail "cmdline.txt lacks '$k': $(cat "$WORK/cmdline.txt")"
done
[ "$(wc -l <"$WORK/cmdline.txt")" = 1 ] || fail "cmdline.txt must be one line"
pass "cmdline.txt: root by PARTUUID, memory cgroup enabled"

# --- the slots and the try-boot configuration --------------------------------
# Each slot's command lines (cmdline.txt and the boards' cmdline-*.txt) name
# its own root partition; bootargs.txt is cmdline.txt for U-Boot's boot.scr.
for s in $SLOTS; do
	[ "$s" = a ] && n=02 || n=03
	for f in $(grep "^slot-$s/cmdline.*\.txt$" "$WORK/bootfiles"); do
		c=$(mtype -i "$WORK/boot.vfat" "::$f" | tr -d '\r')
		case " $c " in *" root=PARTUUID=$disk_id-$n "*" bramble.slot=$s "*) ;; *) fail "$f does not boot root slot $s (partition $n): $c" ;; esac
	done
	expect_eq "slot-$s/bootargs.txt is its cmdline.txt" "bramble_cmdline=$(mtype -i "$WORK/boot.vfat" "::slot-$s/cmdline.txt" | tr -d '\r')" \
		"$(mtype -i "$WORK/boot.vfat" "::slot-$s/bootargs.txt" | tr -d '\r')"
done
mcopy -n -i "$WORK/boot.vfat" ::slot-a/vmlinuz ::slot-a/initrd.img "$WORK/"
mcopy -n -i "$WORK/boot.vfat" ::slot-b/vmlinuz "$WORK/vmlinuz-b"
mcopy -n -i "$WORK/boot.vfat" ::slot-b/initrd.img "$WORK/initrd-b.img"
cmp -s "$WORK/vmlinuz" "$WORK/vmlinuz-b" && cmp -s "$WORK/initrd.img" "$WORK/initrd-b.img" ||
	fail "slot b's kernel and initramfs are not slot a's"
pass "slots a and b: the same kernel and initramfs, each slot's command lines name its root"
# The Pi firmware: config.txt starts the committed slot a's U-Boot
# (os_prefix before any board section, for kernel= and the device trees);
# the firmware's own tryboot is not used (boot.scr tries a slot).
expect_eq "config.txt: os_prefix of the committed slot" slot-a/ \
	"$(awk '/^\[/ {exit} sub(/^os_prefix=/, "")' "$WORK/config.txt")"
expect_eq "config.txt: one os_prefix" 1 "$(grep -c '^os_prefix=' "$WORK/config.txt")"
grep -q '^\[tryboot\]' "$WORK/config.txt" && fail "config.txt has a [tryboot] section"
mcopy -n -i "$WORK/boot.vfat" ::slot-a/u-boot.bin "$WORK/u-boot.bin"
grep -aq "U-Boot 20[0-9][0-9]" "$WORK/u-boot.bin" || fail "slot-a/u-boot.bin is not U-Boot"
grep -aq "raspberrypi" "$WORK/u-boot.bin" || fail "slot-a/u-boot.bin is not U-Boot for the Raspberry Pi"
pass "slot-a/u-boot.bin: U-Boot for the Raspberry Pi"
# U-Boot's environment (uboot.env, read by u-boot-rpi from mmc 0:1): its
# CRC holds, it boots at once through the bootflow (boot.scr), no USB.
mcopy -n -i "$WORK/boot.vfat" ::uboot.env "$WORK/uboot.env"
python3 - "$WORK/uboot.env" <<'PY' || fail "uboot.env is not U-Boot's environment for the Pis"
import sys, zlib
b = open(sys.argv[1], "rb").read()
assert len(b) == 0x4000, len(b)
assert int.from_bytes(b[:4], "little") == zlib.crc32(b[4:]), "CRC"
env = dict(v.split("=", 1) for v in b[4:].split(b"\0\0")[0].decode().split("\0"))
assert env["bootcmd"] == "bootflow scan" and env["bootdelay"] == "0" and env["vendor"] == "raspberrypi", env
assert "preboot" not in env and "usb" not in env["stdin"], env
PY
pass "uboot.env: CRC good, bootflow at once, USB left alone"
# The bootloader's state (boot.scr): committed slot a, no try pending.
expect_eq "bramble-slot.txt" bramble_slot=a "$(mtype -i "$WORK/boot.vfat" ::bramble-slot.txt | tr -d '\r')"
expect_eq "bramble-try.txt" bramble_try=none "$(mtype -i "$WORK/boot.vfat" ::bramble-try.txt | tr -d '\r')"
mcopy -n -i "$WORK/boot.vfat" ::boot.scr "$WORK/"
expect_eq "boot.scr is a U-Boot image (mkimage)" 27051956 "$(od -An -tx1 -N4 "$WORK/boot.scr" | tr -d ' ')"
expect_eq "boot.scr is a script" 6 "$(od -An -tu1 -j30 -N1 "$WORK/boot.scr" | tr -d ' ')"
grep -aqF 'slot-${s}/vmlinuz' "$WORK/boot.scr" || fail "boot.scr does not load slot-<slot>/vmlinuz ($(stat -c %s "$WORK/boot.scr") bytes)"
grep -aqF '"${vendor}" = raspberrypi' "$WORK/boot.scr" || fail "boot.scr has no load addresses for the Pis"
grep -aqF 'setenv kernel_comp_size ${filesize}' "$WORK/boot.scr" || fail "boot.scr does not tell booti the compressed kernel's size"
pass "boot.scr: a U-Boot script loading the slot's kernel"
# What each slot holds (read by bramble node upgrade and by the node).
for s in a b; do
	expect_eq "slot-$s/version.txt" "version=$(sed -n 's/^version=//p' "$(dirname "$IMG")/bramble-rpi-arm64.info") arch=arm64" \
		"$(mtype -i "$WORK/boot.vfat" "::slot-$s/version.txt" | tr -d '\r' | grep -E '^(version|arch)=' | paste -sd' ')"
done
mtype -i "$WORK/boot.vfat" ::bramble.json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert set(d) >= {"master","token","name_prefix"}, d' ||
	fail "bramble.json template is not JSON with master, token, name_prefix"
pass "bramble.json template"

# --- the kernel and initramfs -------------------------------------------------
# An LZ4 frame (booti decompresses it; U-Boot's LZ4 wants independent
# blocks) of an Image: the arm64 Image header carries "ARM\x64" at byte 56.
[ "$(od -An -tx4 -N4 "$WORK/vmlinuz" | tr -d ' ')" = 184d2204 ] || fail "vmlinuz is not an LZ4 frame"
[ $(($(od -An -tu1 -j4 -N1 "$WORK/vmlinuz") & 0x20)) != 0 ] || fail "vmlinuz's LZ4 blocks are not independent (U-Boot refuses them)"
lz4 -d -q -c "$WORK/vmlinuz" >"$WORK/Image" || fail "vmlinuz: lz4 cannot decompress it"
[ "$(dd if="$WORK/Image" bs=1 skip=56 count=3 status=none)" = ARM ] || fail "vmlinuz does not hold an arm64 kernel Image"
pass "vmlinuz is an arm64 Image, LZ4: $(stat -c %s "$WORK/vmlinuz") bytes of $(stat -c %s "$WORK/Image")"
mkdir -p "$WORK/initrd"
(cd "$WORK/initrd" && gzip -dc "$WORK/initrd.img" | cpio -id --quiet) || fail "initrd.img is not a gzip'ed cpio"
[ -x "$WORK/initrd/init" ] && [ -x "$WORK/initrd/bin/busybox" ] || fail "initrd lacks /init or busybox"
for m in squashfs virtio_blk sdhci-iproc bcm2835; do
	[ -n "$(find "$WORK/initrd/lib/modules" -name "$m.ko")" ] || fail "initrd lacks $m.ko"
done
pass "initramfs: init, busybox, root-disk drivers (virtio, SD/eMMC), squashfs"

# --- the root ---------------------------------------------------------------------
R=$WORK/root
for f in sbin/init usr/bin/busybox usr/bin/bramble-agent usr/bin/crun usr/sbin/resize2fs usr/sbin/ntpd \
	etc/inittab etc/bramble/rc.boot etc/bramble/agent.sh etc/bramble/bootcfg.awk etc/bramble/build-time \
	etc/bramble/update.sh etc/bramble/tryboot.sh usr/sbin/fsck.fat \
	usr/lib/ld-linux-aarch64.so.1; do
	[ -e "$R/$f" ] || [ -L "$R/$f" ] || fail "root lacks /$f"
done
pass "root: init, agent, crun, resize2fs, ntpd, boot scripts, the slot writer and the try-boot guard"
grep -q 'os_update_hook.*/etc/bramble/update.sh' "$R/etc/bramble/agent.sh" || fail "agent.sh does not give the agent its os_update_hook"
[ -n "$(find "$R/usr/lib/modules" -name 'i6300esb.ko')" ] && [ -n "$(find "$R/usr/lib/modules" -name 'bcm2835_wdt.ko')" ] ||
	fail "the root lacks the watchdog drivers (bcm2835_wdt for the Pis, i6300esb for QEMU)"
pass "root: the watchdog drivers the try-boot guard arms"
# Every ELF's libraries are on the root.
for f in "$R"/usr/bin/* "$R"/usr/sbin/* "$R"/usr/lib/aarch64-linux-gnu/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	readelf -h "$f" >/dev/null 2>&1 || continue
	for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$R/usr/lib/aarch64-linux-gnu/$lib" ] || [ -e "$R/usr/lib/$lib" ] || fail "${f#"$R"/} needs $lib, which is not on the root"
	done
done
pass "root: every binary's shared libraries are present"
# Wi-Fi: wpa_supplicant, the signed regulatory database, and each board's
# firmware as brcmfmac asks for it (brcm/brcmfmac<chip>-sdio.{bin,clm_blob}
# and the NVRAM file named after the board's device tree), links resolved.
for f in usr/sbin/wpa_supplicant usr/lib/firmware/regulatory.db usr/lib/firmware/regulatory.db.p7s etc/bramble/wifi.sh; do
	[ -s "$R/$f" ] || fail "root lacks /$f (Wi-Fi)"
done
grep -qx '::respawn:/etc/bramble/wifi.sh' "$R/etc/inittab" || fail "inittab does not run wifi.sh"
wifi_fw() { # BOARD CHIP DT-COMPATIBLE...
	local b=$1 chip=$2 f
	shift 2
	for f in brcmfmac$chip-sdio.bin brcmfmac$chip-sdio.clm_blob; do
		[ -s "$R/usr/lib/firmware/brcm/$f" ] || fail "$b: Wi-Fi firmware brcm/$f missing or a dangling link"
	done
	for f; do
		[ -s "$R/usr/lib/firmware/brcm/brcmfmac$chip-sdio.$f.txt" ] || fail "$b: Wi-Fi NVRAM brcm/brcmfmac$chip-sdio.$f.txt missing"
	done
	pass "Wi-Fi firmware for $b: $chip${*:+ ($*)}"
}
wifi_fw "Pi 3 B" 43430 raspberrypi,3-model-b
wifi_fw "Pi 3 B+" 43455 raspberrypi,3-model-b-plus
wifi_fw "Pi 4 B" 43455 raspberrypi,4-model-b
wifi_fw "CM4" 43455 raspberrypi,4-compute-module
wifi_fw "Zero 2 W" 43430 raspberrypi,model-zero-2-w
# The Pi 400's CYW43456 needs brcmfmac43456-sdio.*, which Debian does not ship
# (board/pi400/wifi-firmware): only the 43455 files are checked for it.
wifi_fw "Pi 400 (43455 files only; see board/pi400/wifi-firmware)" 43455
n=$(find "$R/usr/lib/firmware" -type f | wc -l)
[ "$n" -le 12 ] || fail "expected only the Pi boards' Wi-Fi files under /usr/lib/firmware, found $n files"
# The Wi-Fi test's access point is in a test image only.
[ ! -e "$R/etc/bramble/boot.d" ] && [ ! -e "$R/usr/sbin/hostapd" ] || fail "the image holds test-only files (boot.d, hostapd)"
pass "Wi-Fi: wpa_supplicant, regulatory.db (+.p7s), $n firmware files, no test-only files"
readelf -h "$R/usr/bin/bramble-agent" | grep -q AArch64 || fail "bramble-agent is not arm64"
kos=$(find "$R/usr/lib/modules" -name '*.ko' | wc -l)
[ "$kos" -gt 10 ] && [ "$kos" -lt 200 ] || fail "expected only the boards' modules (10-200), found $kos"
pass "root: $kos kernel modules (only what the boards need)"
sz=$(du -sm "$WORK/root.sqfs" | cut -f1)
pass "root file system: $sz MiB"

# --- block map --------------------------------------------------------------------
[ -f "$IMG.bmap" ] || fail "no $IMG.bmap"
grep -q "<ImageSize> $(stat -c %s "$IMG") </ImageSize>" "$IMG.bmap" || fail "$IMG.bmap does not describe this image's size"
pass "block map matches the image"
if [ -f "$IMG.xz" ]; then
	[ "$IMG.xz" -nt "$IMG" ] || [ "$(stat -c %Y "$IMG.xz")" -ge "$(stat -c %Y "$IMG")" ] || fail "$IMG.xz is older than the image"
	pass "compressed image: $(($(stat -c %s "$IMG.xz") / 1048576)) MiB"
fi
echo "PASS"
