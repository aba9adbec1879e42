#!/bin/sh
# The node's slot writer: bramble-agent runs it (its os_update_hook) to
# install an OS update into the root slot that is not running, to mark a
# slot for one try, to reboot and to commit. See image/README.md, "Slots"
# and "Updates". One line on stdout per step; the last line says why when
# it fails (exit status 1). "progress N" lines count the bytes written.
#
#   update.sh install SLOT PARTS BLOBDIR   write SLOT from the bundle's parts
#                                          ("TITLE SHA256 SIZE" per line, the
#                                          bytes in BLOBDIR/SHA256), read every
#                                          part back, then mark SLOT to try once
#   update.sh try SLOT                     mark SLOT (already written) to try
#                                          once; prints version=V of SLOT
#   update.sh reboot                       reboot (init stops everything)
#   update.sh commit SLOT                  make SLOT the one every boot boots
#
# Nothing here touches the committed slot: its partition, its boot files
# and bramble-slot.txt stay as they are until commit, so a power cut at any
# moment boots it as before. The try is marked last (bramble-try.txt),
# once everything is written and read back; the boot script (boot.scr, or
# on a Pi the initramfs's counter, see image/README.md) consumes it.
. /etc/bramble/lib.sh

die() { echo "$*"; exit 1; }

slot_part() {
	case $1 in a) echo 2 ;; b) echo 3 ;; *) return 1 ;; esac
}
# The block device of partition N of the boot disk (/run/bramble/disk,
# found by the initramfs from the MBR disk id).
part_dev() {
	disk=$(cat /run/bramble/disk 2>/dev/null) || return 1
	for p in /sys/class/block/"$disk"/"$disk"*; do
		[ -e "$p/partition" ] && [ "$(cat "$p/partition")" = "$1" ] && { echo "/dev/${p##*/}"; return 0; }
	done
	return 1
}
# What a file or the first SIZE bytes of a device hold now on the medium,
# not in the page cache.
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
sha_of() { # FILE [SIZE]
	if [ -n "$2" ]; then head -c "$2" "$1" | sha256sum; else sha256sum <"$1"; fi | cut -d' ' -f1
}
boot_rw() { mount -o remount,rw "$BOOT" || die "cannot remount the boot partition $BOOT read-write"; }
boot_ro() { sync; mount -o remount,ro "$BOOT" 2>/dev/null; }
# Writes TEXT to FILE on the boot partition: a new file, then a rename.
boot_put() { # FILE TEXT
	printf '%s\n' "$2" >"$1.new" && sync && mv "$1.new" "$1" && sync
}
mark_try() { # SLOT
	boot_put "$BOOT/bramble-try.txt" "bramble_try=$1" || die "cannot write $BOOT/bramble-try.txt"
}
running_slot() { cat /run/bramble/slot 2>/dev/null; }

check_slot() { # SLOT
	slot_part "$1" >/dev/null || die "no slot '$1' (a or b)"
	[ "$1" != "$(running_slot)" ] || die "slot $1 is the one running; only the other slot is written"
}

install() { # SLOT PARTS BLOBDIR
	slot=$1 parts=$2 blobs=$3
	check_slot "$slot"
	[ -r "$parts" ] || die "no parts list $parts"
	dev=$(part_dev "$(slot_part "$slot")") || die "no partition $(slot_part "$slot") on the boot disk for slot $slot"
	dir=$BOOT/slot-$slot
	done_bytes=0
	# Every part is there and whole before anything is written.
	while read -r title hex size; do
		f=$blobs/$hex
		[ -f "$f" ] || die "part $title: $f is missing"
		[ "$(stat -c %s "$f")" = "$size" ] || die "part $title: $f is not $size bytes"
	done <"$parts"

	# The root file system, onto the slot's partition.
	while read -r title hex size; do
		[ "$title" = root.squashfs ] || continue
		cap=$(blockdev --getsize64 "$dev") || die "cannot read the size of $dev"
		[ "$size" -le "$cap" ] || die "root.squashfs is $size bytes; slot $slot ($dev) holds $cap"
		echo "writing root.squashfs ($size bytes) to $dev (slot $slot)"
		dd if="$blobs/$hex" of="$dev" bs=1M conv=fsync 2>/dev/null || die "writing $dev failed"
		done_bytes=$((done_bytes + size))
		echo "progress $done_bytes"
	done <"$parts"

	# The boot files, into slot-X/ on the FAT partition. The slot's old
	# files go first (it is neither running nor committed, and the FAT has
	# room for three slots' files, not four); the new ones are written
	# under slot-X.new/ and renamed once all are there.
	boot_rw
	rm -rf "$dir.new" "$dir.old" "$dir" && mkdir -p "$dir.new" || { boot_ro; die "cannot create $dir.new"; }
	while read -r title hex size; do
		case $title in
		boot/*) name=${title#boot/} ;;
		boot-"$slot"/*) name=${title#boot-"$slot"/} ;;
		*) continue ;;
		esac
		cp "$blobs/$hex" "$dir.new/$name" || { boot_ro; die "cannot write $dir.new/$name"; }
		done_bytes=$((done_bytes + size))
		echo "progress $done_bytes"
	done <"$parts"
	sync
	mv "$dir.new" "$dir" && sync || { boot_ro; die "cannot move $dir.new into place"; }

	# Everything read back from the medium against its SHA-256.
	drop_caches
	while read -r title hex size; do
		case $title in
		root.squashfs) got=$(sha_of "$dev" "$size") where=$dev ;;
		boot/*) where=$dir/${title#boot/}; got=$(sha_of "$where") ;;
		boot-"$slot"/*) where=$dir/${title#boot-"$slot"/}; got=$(sha_of "$where") ;;
		*) continue ;;
		esac
		[ "$got" = "$hex" ] || { boot_ro; die "$title reads back wrong from $where (sha256 $got, expected $hex)"; }
	done <"$parts"
	echo "slot $slot written and read back: $(wc -l <"$parts") parts, $done_bytes bytes"
	mark_try "$slot" || { boot_ro; exit 1; }
	boot_ro
	echo "slot $slot marked to try once at the next boot"
}

try() { # SLOT
	check_slot "$1"
	[ -f "$BOOT/slot-$1/vmlinuz" ] || die "slot $1 has no kernel ($BOOT/slot-$1/vmlinuz)"
	v=$(sed -n 's/^version=//p' "$BOOT/slot-$1/version.txt" 2>/dev/null)
	boot_rw
	mark_try "$1" || { boot_ro; exit 1; }
	boot_ro
	echo "slot $1 marked to try once at the next boot"
	[ -n "$v" ] && echo "version=$v"
	return 0
}

commit() { # SLOT
	slot_part "$1" >/dev/null || die "no slot '$1' (a or b)"
	[ "$1" = "$(running_slot)" ] || die "slot $1 is not the one running; only a running slot is committed"
	now=$(sed -n 's/^bramble_slot=//p' "$BOOT/bramble-slot.txt" 2>/dev/null)
	if [ "$now" != "$1" ]; then
		# What the Pi firmware will start from the slot (kernel=, U-Boot) must
		# be there, or the next power-on would find nothing to boot.
		for k in $(sed -n 's/^kernel=//p' "$BOOT/config.txt" 2>/dev/null | tr -d '\r' | sort -u); do
			[ -f "$BOOT/slot-$1/$k" ] || die "slot $1 has no $k, which config.txt starts; not committed"
		done
	fi
	boot_rw
	if [ "$now" != "$1" ]; then
		# The Pi firmware's files name the slots the other way round (a card
		# made before U-Boot started the Pis also has tryboot.txt).
		for f in config.txt tryboot.txt; do
			[ -f "$BOOT/$f" ] || continue
			sed -e 's#slot-a/#slot-@/#g' -e 's#slot-b/#slot-a/#g' -e 's#slot-@/#slot-b/#g' "$BOOT/$f" >"$BOOT/$f.new" &&
				sync && mv "$BOOT/$f.new" "$BOOT/$f" || { boot_ro; die "cannot rewrite $BOOT/$f"; }
		done
		boot_put "$BOOT/bramble-slot.txt" "bramble_slot=$1" || { boot_ro; die "cannot write $BOOT/bramble-slot.txt"; }
	fi
	boot_ro
	: >/run/bramble/committed
	echo "slot $1 committed"
}

case $1 in
install) [ $# = 4 ] || die "usage: update.sh install SLOT PARTS BLOBDIR"; install "$2" "$3" "$4" ;;
try) [ $# = 2 ] || die "usage: update.sh try SLOT"; try "$2" ;;
reboot)
	say_log "rebooting for the OS update"
	sync
	reboot
	;;
commit) [ $# = 2 ] || die "usage: update.sh commit SLOT"; commit "$2" ;;
*) die "usage: update.sh install|try|reboot|commit ..." ;;
esac
