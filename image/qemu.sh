# Shell helpers to boot the Bramble image under qemu-system-aarch64 -M virt.
# Sourced by tests/image/*.sh, tests/bench/image_bench.sh and image/demo.sh;
# safe under set -euo pipefail.
#
# A node is a qcow2 overlay backed by an image file (the image itself is never
# written), booted through U-Boot (Debian's u-boot-qemu) as the firmware's
# stand-in: U-Boot runs the card's boot.scr, which picks the root slot (the
# committed one, or a pending try), loads that slot's kernel and initramfs
# from the FAT partition and boots it with the slot's command line (the
# console switched to the virt machine's PL011). User-mode networking is
# restricted to one forward: guest 10.0.2.100:7443 -> host 127.0.0.1:$MASTER_PORT.

BRM_GUEST_MASTER=10.0.2.100:7443
BRM_UBOOT=${BRM_UBOOT:-/usr/lib/u-boot/qemu_arm64/u-boot.bin}

# Byte offset of partition N of an MBR disk image (read from the MBR).
brm_part_offset() { # IMG N
	local off=$((446 + 16 * ($2 - 1) + 8))
	echo $(($(od -An -tu4 -j "$off" -N4 "$1" | tr -d ' ') * 512))
}

# Size in bytes of partition N.
brm_part_size() { # IMG N
	local off=$((446 + 16 * ($2 - 1) + 12))
	echo $(($(od -An -tu4 -j "$off" -N4 "$1" | tr -d ' ') * 512))
}

# The card's partitions: 1 boot (FAT), 2 root slot a, 3 root slot b, 4 data.
BRM_PART_DATA=4

# brm_image_slot IMG: the committed slot (a or b) in bramble-slot.txt.
brm_image_slot() {
	local s
	s=$(MTOOLS_SKIP_CHECK=1 mtype -i "$1@@$(brm_part_offset "$1" 1)" ::bramble-slot.txt 2>/dev/null |
		tr -d '\r\0' | sed -n 's/^bramble_slot=\([ab]\)$/\1/p')
	echo "${s:-a}"
}

# brm_uboot_env FILE APPEND: U-Boot's environment for an emulated node, as
# the virt machine's second flash bank (64 MiB, the environment in its first
# 256 KiB, where qemu_arm64's U-Boot keeps it): boot at once from the first
# virtio disk's boot.scr, the console on the PL011, APPEND added to the
# kernel command line. And nokaslr: U-Boot hands the kernel a KASLR seed
# (QEMU's own -kernel boot does not), and a randomized kernel turns on
# page-table isolation, which slows the whole emulated boot by 1-2 s.
brm_uboot_env() {
	printf '%s\n' \
		"bootdelay=0" \
		"scriptaddr=0x40200000" "kernel_addr_r=0x40400000" "ramdisk_addr_r=0x44000000" \
		"devtype=virtio" "devnum=0" "distro_bootpart=1" \
		"bootcmd=pci enum; virtio scan; if load virtio 0:1 \${scriptaddr} boot.scr; then source \${scriptaddr}; fi; echo bramble: no bootable boot.scr on the disk" \
		"bramble_console=console=ttyAMA0" \
		"bramble_append=nokaslr $2" >"$1.txt"
	mkenvimage -s 0x40000 -o "$1" "$1.txt" && truncate -s 64M "$1"
}

# brm_node_start DIR IMG MASTER_PORT SERIAL [DISK_SIZE] [EXTRA_APPEND]
# Starts a node in the background; DIR gets overlay.qcow2, uboot-env.bin,
# console.log, monitor.sock (QEMU's monitor, when DIR's path is short
# enough for a Unix socket) and qemu.pid. An existing
# DIR/overlay.qcow2 is reused (a second boot of the same disk). IMG may be a
# file or a block device. EXTRA_APPEND is added to the kernel command line.
# A reboot in the guest boots again (through U-Boot, which may pick another
# slot); QEMU ends only when stopped. $BRM_QEMU_EXTRA adds QEMU options
# (e.g. -rtc base=2016-01-01). BRM_QEMU_DIRECT=1 skips U-Boot: QEMU loads
# the committed slot's kernel and initramfs (copied to DIR) itself, with
# -no-reboot, as before there were slots.
brm_node_start() {
	local dir=$1 img=$2 port=$3 serial=$4 size=${5:-1G} extra=${6:-} off cmdline slot boot monitor=none
	mkdir -p "$dir"
	off=$(brm_part_offset "$img" 1)
	if [ ! -f "$dir/overlay.qcow2" ]; then
		qemu-img create -q -f qcow2 -b "$(realpath "$img")" -F raw "$dir/overlay.qcow2" "$size" || return 1
	fi
	if [ "${BRM_QEMU_DIRECT:-0}" = 1 ]; then
		# The committed slot's kernel and initramfs from the disk the node boots.
		# (mtools warns about the geometry of a block device; only failures matter.)
		slot=$(brm_image_slot "$img")
		MTOOLS_SKIP_CHECK=1 mcopy -o -n -i "$img@@$off" "::slot-$slot/vmlinuz" "::slot-$slot/initrd.img" "$dir/" 2>"$dir/mtools.err" ||
			{ cat "$dir/mtools.err" >&2; return 1; }
		# QEMU loads an Image or a gzipped one; the card's is an LZ4 frame.
		if [ "$(od -An -tx4 -N4 "$dir/vmlinuz" | tr -d ' ')" = 184d2204 ]; then
			lz4 -d -q -f "$dir/vmlinuz" "$dir/vmlinuz.image" && mv -f "$dir/vmlinuz.image" "$dir/vmlinuz" || return 1
		fi
		cmdline=$(MTOOLS_SKIP_CHECK=1 mtype -i "$img@@$off" "::slot-$slot/cmdline.txt" 2>/dev/null | tr -d '\r\n' |
			sed -e 's/console=[^ ]*//g' -e 's/  */ /g')
		boot=(-no-reboot -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img"
			-append "console=ttyAMA0 $cmdline bramble.serial=$serial $extra")
	else
		[ -f "$BRM_UBOOT" ] || { echo "brm_node_start: no U-Boot at $BRM_UBOOT (package u-boot-qemu; scripts/bootstrap)" >&2; return 1; }
		brm_uboot_env "$dir/uboot-env.bin" "bramble.serial=$serial $extra" || return 1
		boot=(-bios "$BRM_UBOOT" -drive "if=pflash,unit=1,format=raw,file=$dir/uboot-env.bin")
	fi
	: >"$dir/console.log"
	rm -f "$dir/monitor.sock"
	# (A Unix socket's path has at most 107 bytes.)
	[ ${#dir} -lt 90 ] && monitor="unix:$dir/monitor.sock,server=on,wait=off"
	date +%s.%N >"$dir/started"
	qemu-system-aarch64 -M virt -cpu cortex-a53 -smp 2 -m 512 -nographic "${boot[@]}" \
		-drive "file=$dir/overlay.qcow2,if=none,id=d0,format=qcow2" -device virtio-blk-pci,drive=d0 \
		-netdev "user,id=n0,restrict=on,guestfwd=tcp:$BRM_GUEST_MASTER-cmd:socat - TCP:127.0.0.1:$port" \
		-device virtio-net-pci,netdev=n0,romfile= -device i6300esb \
		-serial "file:$dir/console.log" -monitor "$monitor" -display none ${BRM_QEMU_EXTRA:-} \
		</dev/null >"$dir/qemu.out" 2>&1 &
	echo $! >"$dir/qemu.pid"
}

# brm_node_monitor DIR COMMAND: one command to the node's QEMU monitor
# (e.g. system_reset: the reset button, not a shutdown).
brm_node_monitor() {
	local i
	for i in $(seq 50); do [ -S "$1/monitor.sock" ] && break; sleep 0.1; done
	printf '%s\n' "$2" | socat - "UNIX-CONNECT:$1/monitor.sock" >/dev/null
}

# brm_node_start_raspi3b DIR IMG MASTER_PORT SERIAL: the same disk on QEMU's
# Raspberry Pi 3 B machine, started the way the Pi firmware does: the
# committed slot's U-Boot (os_prefix in config.txt, kernel=u-boot.bin) and
# the board's device tree (bcm2837-rpi-3-b.dtb) from the FAT partition.
# U-Boot runs the card's boot.scr, which picks the root slot (the committed
# one, or a pending try) and boots that slot's kernel and initramfs. A
# reboot in the guest starts the same U-Boot again, as the firmware would
# until a commit changes os_prefix. At its first start the node's card gets
# U-Boot's environment (the image's, image/uboot-rpi.env) with
# bramble_append: the node's serial (QEMU gives U-Boot a board serial of
# zeros) and bramble.watchdog=off (QEMU's raspi3b resets the moment the
# watchdog is started, so the try-boot guard must not arm it). The card is
# on the SD controller (its size must be a power of two: the overlay is
# 1 GiB). The Pi 3 B's LAN9514 is not emulated; QEMU's usb-net on the DWC2
# port stands in for it. The console is the mini UART (ttyS1, QEMU's second
# serial port). Slow: U-Boot reads the 16 MiB kernel (LZ4) from the emulated
# card at about 2 MiB/s, and USB enumeration under TCG takes tens of seconds.
brm_node_start_raspi3b() {
	local dir=$1 img=$2 port=$3 serial=$4 prefix
	mkdir -p "$dir"
	if [ ! -f "$dir/overlay.qcow2" ]; then
		qemu-img create -q -f qcow2 -b "$(realpath "$img")" -F raw "$dir/overlay.qcow2" 1G || return 1
		# The same size as the image's own uboot.env (U-Boot's CRC covers it).
		MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img@@$(brm_part_offset "$img" 1)" ::uboot.env "$dir/uboot.env.image" ||
			return 1
		{ grep -v '^#' "$(dirname "${BASH_SOURCE[0]}")/uboot-rpi.env" &&
			echo "bramble_append=bramble.serial=$serial bramble.watchdog=off"; } >"$dir/uboot.env.txt" &&
			mkenvimage -s "$(stat -c %s "$dir/uboot.env.image")" -o "$dir/uboot.env" "$dir/uboot.env.txt" &&
			brm_node_fat_put "$dir" "$dir/uboot.env" uboot.env || return 1
	fi
	# The card as it is now (a commit moves os_prefix).
	brm_node_fat "$dir" "$dir/fat.vfat" || return 1
	prefix=$(MTOOLS_SKIP_CHECK=1 mtype -i "$dir/fat.vfat" ::config.txt 2>/dev/null | tr -d '\r' |
		awk '/^\[/ && $0 != "[all]" {exit} sub(/^os_prefix=/, "") {p = $0} END {print p}')
	MTOOLS_SKIP_CHECK=1 mcopy -o -n -i "$dir/fat.vfat" "::${prefix}u-boot.bin" "::${prefix}bcm2837-rpi-3-b.dtb" "$dir/" 2>"$dir/mtools.err" ||
		{ cat "$dir/mtools.err" >&2; return 1; }
	rm -f "$dir/fat.vfat"
	echo "${prefix:-/}" >"$dir/os_prefix"
	: >"$dir/console.log"
	date +%s.%N >"$dir/started"
	qemu-system-aarch64 -M raspi3b -nographic \
		-kernel "$dir/u-boot.bin" -dtb "$dir/bcm2837-rpi-3-b.dtb" \
		-drive "file=$dir/overlay.qcow2,if=sd,format=qcow2" \
		-usb -device usb-net,netdev=n0 \
		-netdev "user,id=n0,restrict=on,guestfwd=tcp:$BRM_GUEST_MASTER-cmd:socat - TCP:127.0.0.1:$port" \
		-serial null -serial "file:$dir/console.log" -monitor none -display none \
		</dev/null >"$dir/qemu.out" 2>&1 &
	echo $! >"$dir/qemu.pid"
}

# brm_node_fat DIR OUT: the boot partition of the node's disk as it is now
# (the overlay over its image) copied to OUT, for mtools. Stop the node first.
brm_node_fat() {
	qemu-img convert -O raw "$1/overlay.qcow2" "$1/disk.raw" || return 1
	local off
	off=$(brm_part_offset "$1/disk.raw" 1)
	dd if="$1/disk.raw" of="$2" bs=1M skip=$((off / 1048576)) count=$(($(brm_part_size "$1/disk.raw" 1) / 1048576)) status=none
	rm -f "$1/disk.raw"
}

# brm_node_fat_put DIR FILE NAME: writes FILE as NAME into the boot partition
# of the node's disk (its overlay becomes a standalone qcow2). Stop the node
# first.
brm_node_fat_put() {
	qemu-img convert -O raw "$1/overlay.qcow2" "$1/disk.raw" || return 1
	MTOOLS_SKIP_CHECK=1 mcopy -o -i "$1/disk.raw@@$(brm_part_offset "$1/disk.raw" 1)" "$2" "::$3" &&
		qemu-img convert -O qcow2 "$1/disk.raw" "$1/overlay.qcow2.new" &&
		mv -f "$1/overlay.qcow2.new" "$1/overlay.qcow2"
	local r=$?
	rm -f "$1/disk.raw" "$1/overlay.qcow2.new"
	return $r
}

# brm_node_stop DIR: a clean shutdown would need a guest agent; the data
# partition is ext4 with a journal, so a hard stop is what a power cut is.
brm_node_stop() {
	local pid
	[ -f "$1/qemu.pid" ] || return 0
	pid=$(cat "$1/qemu.pid")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$1/qemu.pid"
}

# brm_master_start DIR PORT BIN [MASTER_FLAG...]: a master on loopback with
# 1 s heartbeats; the flags given come after (and win over) that one.
brm_master_start() {
	local dir=$1 port=$2 bin=$3
	shift 3
	mkdir -p "$dir"
	"$bin/bramble-master" --data-dir "$dir/data" --listen "127.0.0.1:$port" --heartbeat-interval 1s "$@" \
		>"$dir/master.log" 2>&1 &
	echo $! >"$dir/master.pid"
	export BRAMBLE_CONFIG=$dir/data/admin.json
	for _ in $(seq 100); do
		[ -s "$BRAMBLE_CONFIG" ] && "$bin/bramble" token list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bramble-master did not start (see $dir/master.log)" >&2
	return 1
}

brm_master_stop() {
	[ -f "$1/master.pid" ] || return 0
	kill "$(cat "$1/master.pid")" 2>/dev/null || true
	rm -f "$1/master.pid"
}

# A free TCP port on loopback.
brm_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# brm_node_field BIN NAME FIELD: a field of `bramble -o json nodes` for NAME.
brm_node_field() {
	"$1/bramble" -o json nodes 2>/dev/null | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    if n.get("name") == sys.argv[1]:
        v = n.get(sys.argv[2])
        print("" if v is None else v)
' "$2" "$3"
}

# brm_wait_ready BIN NAME SECONDS: 0 once NAME is Ready.
brm_wait_ready() {
	local end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$end" ]; do
		[ "$(brm_node_field "$1" "$2" state)" = Ready ] && return 0
		sleep 0.2
	done
	return 1
}

# brm_need_tools: exits 77 (skip) naming what is missing.
brm_need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { echo "SKIP: '$t' is not installed (scripts/bootstrap installs it)"; exit 77; }
	done
}

# brm_image_path SRC: builds the image when it is missing or older than
# image/, board/ or the arm64 agent; prints its path.
brm_image_path() {
	local img=$1/build/image/bramble-rpi-arm64.img
	mkdir -p "$1/build/image"
	# One build at a time when tests run in parallel (ctest -j).
	(
		flock 9
		if [ ! -f "$img" ] || [ ! -f "$img.bmap" ] ||
			[ -n "$(find "$1/image" "$1/board" "$1/build/rpi-arm64/bin/bramble-agent" "$1/build/rpi-arm64/bin/bramble-shim" "$1/build/rpi-arm64/bin/bramble-unpack" -newer "$img" 2>/dev/null | head -n1)" ]; then
			echo "building the image (image/build.sh)" >&2
			BRM_IMAGE_NOXZ=${BRM_IMAGE_NOXZ:-1} "$1/image/build.sh" --quiet >&2 || exit 1
		fi
	) 9>"$1/build/image/.lock" || return 1
	echo "$img"
}

# brm_app_image DIR CACHE: a small arm64 app image as an OCI layout in
# DIR/oci (tag 1): busybox from the image build's package cache (CACHE, e.g.
# build/image-cache; busybox-static's arm64 .deb) with sh, sleep, echo, cat,
# uname, date and hostname, and /etc/motd; its default command prints the
# motd and the machine. Needs dpkg-deb and umoci; 1 when the .deb is missing.
brm_app_image() {
	local dir=$1 cache=$2 deb a
	deb=$(ls "$cache"/debs/busybox-static_*_arm64.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || return 1
	rm -rf "$dir" && mkdir -p "$dir/deb"
	dpkg-deb -x "$deb" "$dir/deb" || return 1
	umoci init --layout "$dir/oci" >/dev/null || return 1
	umoci new --image "$dir/oci:1" >/dev/null || return 1
	umoci unpack --image "$dir/oci:1" "$dir/bundle" >/dev/null || return 1
	mkdir -p "$dir/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
	cp "$dir/deb/usr/bin/busybox" "$dir/bundle/rootfs/bin/busybox" || return 1
	for a in sh echo cat uname sleep date hostname; do ln -sf busybox "$dir/bundle/rootfs/bin/$a"; done
	echo "an app image, pulled from a registry by the master and fetched from it by the node" >"$dir/bundle/rootfs/etc/motd"
	umoci repack --image "$dir/oci:1" "$dir/bundle" >/dev/null || return 1
	umoci config --image "$dir/oci:1" --os linux --architecture arm64 \
		--config.cmd sh --config.cmd -c --config.cmd 'cat /etc/motd; echo "running on $(uname -m)"' >/dev/null || return 1
	umoci gc --layout "$dir/oci"
}
