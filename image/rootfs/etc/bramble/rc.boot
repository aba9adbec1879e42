#!/bin/sh
# First thing busybox init runs: file systems, drivers, the data partition,
# the clock, the hostname. Never stops the boot: a problem is reported and
# the supervised services retry.
. /etc/bramble/lib.sh

mount -t proc proc /proc
mount -t sysfs sysfs /sys
grep -q "^[^ ]* /dev " /proc/mounts || mount -t devtmpfs devtmpfs /dev
grep -q "^[^ ]* /run " /proc/mounts || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /dev/pts /dev/shm /run/bramble
mount -t devpts devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup 2>/dev/null || say "warning: cgroup v2 is not available"
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname localhost
ip link set lo up
# Routes through an interface without a link are not used: with Ethernet
# and Wi-Fi both configured, the node uses Ethernet while its cable is in
# and Wi-Fi otherwise (the route metrics in udhcpc.sh).
sysctl -q -w net.ipv4.conf.all.ignore_routes_with_linkdown=1 2>/dev/null

# Drivers for what is present, and hotplug for what comes later (USB):
# mdev -d listens for kernel uevents and loads the driver for each new
# device's modalias (/etc/mdev.conf). The file systems needed right now are
# loaded first; the rest (network drivers, container plumbing) loads in the
# background while the boot goes on (net.sh waits for the interface).
mdev -d
coldplug() {
	find /sys/devices -name modalias -type f 2>/dev/null | xargs cat 2>/dev/null | sort -u |
		xargs -r modprobe -a -b -q 2>/dev/null
}
for m in crc32c_generic ext4 vfat nls_cp437 nls_ascii; do modprobe -q "$m"; done
(
	coldplug
	for m in $(cat /etc/bramble/modules); do modprobe -q "$m" || say "warning: cannot load kernel module $m"; done
	: >/run/bramble/modules-loaded
) &

# --- data partition -------------------------------------------------------
datadev=$(cat /run/bramble/datadev 2>/dev/null)
if [ -n "$datadev" ] && mount -t ext4 -o rw,noatime "/dev/$datadev" "$DATA"; then
	if [ -s /run/bramble/grown ]; then
		if resize2fs "/dev/$datadev" >/run/bramble/resize.log 2>&1; then
			say "data partition grown to $(cat /run/bramble/grown) MiB"
		else
			say "warning: resize2fs /dev/$datadev failed: $(tail -n1 /run/bramble/resize.log)"
		fi
	fi
else
	say "warning: cannot mount the data partition (/dev/${datadev:-?}); using memory, nothing will persist"
	mount -t tmpfs -o mode=0755 tmpfs "$DATA"
fi
mkdir -p "$STATE" "$LOGDIR" "$DATA/var/lib" "$DATA/var/tmp" "$DATA/var/log"
chmod 700 "$STATE"

# --- boot partition (read-only; bramble.json) -------------------------------
bootdev=$(cat /run/bramble/bootdev 2>/dev/null)
# Mounted read-write only while an update or the token scrub writes it: a
# power cut then leaves the volume's dirty flag (bit 0 of byte 65 of the
# FAT32 boot sector) set, and fsck.fat repairs what it may have left.
if [ -n "$bootdev" ] && [ "$(($(od -An -tu1 -j65 -N1 "/dev/$bootdev" 2>/dev/null || echo 0) & 1))" = 1 ]; then
	if fsck.fat -a -w "/dev/$bootdev" >/run/bramble/fsck-boot.log 2>&1; then
		say "boot partition was not cleanly unmounted (power cut?): checked, nothing to repair"
	else
		say_log "boot partition was not cleanly unmounted (power cut?): fsck.fat repaired it: $(grep -v '^fsck' /run/bramble/fsck-boot.log | head -n 3 | tr '\n' ' ')"
	fi
fi
[ -n "$bootdev" ] && mount -t vfat -o ro,noatime,umask=077 "/dev/$bootdev" "$BOOT" ||
	say "warning: cannot mount the boot partition (/dev/${bootdev:-?})"

# --- a try of a slot (an OS update on trial) -------------------------------
# The guard reboots into the committed slot unless the agent commits this
# one in time (image/README.md, "Updates").
case " $(cat /proc/cmdline) " in
*" bramble.tryboot=1 "*) setsid /etc/bramble/tryboot.sh </dev/null >/dev/null 2>&1 & ;;
esac

# --- clock ------------------------------------------------------------------
# A Pi has no real-time clock: start no earlier than the image was built or
# than the time saved at the last shutdown (or every 15 minutes).
now=$(date +%s)
floor=$(cat /etc/bramble/build-time 2>/dev/null || echo 0)
saved=$(cat "$STATE/clock" 2>/dev/null || echo 0)
case $saved in *[!0-9]*|'') saved=0 ;; esac
[ "$saved" -gt "$floor" ] && floor=$saved
if [ "$now" -lt "$floor" ]; then
	date -u -s "@$floor" >/dev/null && say "clock set forward to $(date -u +%Y-%m-%dT%H:%M:%SZ) (last known time; NTP corrects it when reachable)"
fi

# --- identity ---------------------------------------------------------------
serial=$(board_serial)
echo "$serial" >/run/bramble/serial
if read_bootcfg; then
	name=$BC_NAME
	[ -n "$name" ] || name=$BC_PREFIX-$(echo "$serial" | tail -c 7)
else
	say_log "$BC_ERR"
	name=bramble-$(echo "$serial" | tail -c 7)
fi
# A serial shorter than 6 characters still gives a valid name.
name=$(echo "$name" | sed 's/-$//')
echo "$name" >/run/hostname
hostname "$name"
printf '127.0.0.1 localhost\n::1 localhost\n127.0.1.1 %s\n' "$name" >/run/hosts
say "node $name (serial ${serial:-unknown}), kernel $(uname -r)"
# Proves the container runtime and its libraries work on this image.
(say "$(crun --version 2>&1 | head -n1)") &
# Steps a test image adds (image/build.sh BRM_IMAGE_TEST_OVERLAY); the
# image that is released has none.
for f in /etc/bramble/boot.d/*.sh; do [ -x "$f" ] && "$f"; done
exit 0
