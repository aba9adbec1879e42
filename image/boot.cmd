# Bramble's boot script for U-Boot: boots one of the card's two root slots
# (see image/README.md, "Slots"). The Pis boot through it (the firmware
# starts the committed slot's u-boot.bin, Debian's u-boot-rpi, whose
# bootflow finds this script), and so do the emulated nodes (Debian's
# u-boot-qemu on QEMU's virt machine, image/qemu.sh); image/build.sh makes
# boot.scr of it with mkimage -T script. Files on the FAT partition:
#
#   bramble-slot.txt  bramble_slot=a|b   the committed slot
#   bramble-try.txt   bramble_try=a|b    boot that slot once, at the next boot
#                     bramble_try=none   written back by this script before
#                                        it loads anything: whatever happens
#                                        next, a reset boots the committed slot
#   slot-X/           vmlinuz (LZ4), initrd.img, bootargs.txt (bramble_cmdline=
#                     the slot's cmdline.txt, for U-Boot's env import)
#
# The kernel gets U-Boot's device tree (on a Pi the firmware's, from the
# committed slot; on QEMU the machine's own), the
# slot's command line, bramble.tryboot=1 on a try, and ${bramble_append}
# from U-Boot's environment (image/qemu.sh puts the console and the node's
# serial there); with ${bramble_console} set, it replaces the Pi's consoles.

# On a Pi, U-Boot's default addresses leave 38 MiB for the kernel at
# 0x80000 and put the text files (scriptaddr, 0x2400000) and the initramfs
# (0x2700000) where Debian's 36 MiB arm64 kernel (decompressed) and its BSS
# land. This layout fits the smallest Pi (512 MiB): the kernel at 2 MiB (where it
# runs, no move), these files at 94 MiB, the initramfs from 96 MiB.
if test "${vendor}" = raspberrypi; then
	setenv kernel_addr_r 0x00200000
	setenv scriptaddr 0x05e00000
	setenv ramdisk_addr_r 0x06000000
fi

setenv bramble_slot a
setenv bramble_try none
if load ${devtype} ${devnum}:${distro_bootpart} ${scriptaddr} bramble-slot.txt; then
	env import -t ${scriptaddr} ${filesize} bramble_slot
fi
if test "${bramble_slot}" != a && test "${bramble_slot}" != b; then
	echo "bramble: bramble-slot.txt names no slot; the committed slot is a"
	setenv bramble_slot a
fi
setenv bramble_boot ${bramble_slot}
setenv bramble_tryarg
if load ${devtype} ${devnum}:${distro_bootpart} ${scriptaddr} bramble-try.txt; then
	env import -t ${scriptaddr} ${filesize} bramble_try
fi
if test "${bramble_try}" = a || test "${bramble_try}" = b; then
	# One attempt: the try is gone from the card before the kernel loads.
	setenv bramble_want ${bramble_try}
	setenv bramble_try none
	# "bramble_try=none\n", without the NUL env export ends it with.
	env export -t ${scriptaddr} bramble_try
	setexpr bramble_len ${filesize} - 1
	if fatwrite ${devtype} ${devnum}:${distro_bootpart} ${scriptaddr} bramble-try.txt ${bramble_len}; then
		if test "${bramble_want}" != "${bramble_slot}"; then
			setenv bramble_boot ${bramble_want}
			setenv bramble_tryarg bramble.tryboot=1
			echo "bramble: trying slot ${bramble_boot} once (committed: ${bramble_slot})"
		fi
	else
		echo "bramble: cannot clear bramble-try.txt; booting the committed slot ${bramble_slot}"
	fi
fi

# A slot's vmlinuz is an LZ4 frame of the kernel's Image (image/build.sh):
# booti decompresses it into kernel_comp_addr_r, then moves it to
# kernel_addr_r. That scratch space is 64 MiB past the initramfs's start
# (the initramfs is 2 MiB). booti leaves an uncompressed Image as it is.
setexpr kernel_comp_addr_r ${ramdisk_addr_r} + 0x4000000

# The slot chosen, then the committed one if the first cannot be loaded.
for s in ${bramble_boot} ${bramble_slot}; do
	if load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} slot-${s}/vmlinuz; then
		setenv kernel_comp_size ${filesize}
		if load ${devtype} ${devnum}:${distro_bootpart} ${ramdisk_addr_r} slot-${s}/initrd.img; then
			setenv bramble_rdsize ${filesize}
			setenv bramble_cmdline
			if load ${devtype} ${devnum}:${distro_bootpart} ${scriptaddr} slot-${s}/bootargs.txt; then
				env import -t ${scriptaddr} ${filesize} bramble_cmdline
			fi
			if test -n "${bramble_console}"; then
				setexpr bramble_cmdline gsub "console=[^ ]* *" "" "${bramble_cmdline}"
				setenv bramble_cmdline "${bramble_console} ${bramble_cmdline}"
			fi
			if test "${s}" != "${bramble_boot}"; then
				setenv bramble_tryarg
			fi
			setenv bootargs "${bramble_cmdline} ${bramble_tryarg} ${bramble_append}"
			echo "bramble: booting slot ${s}"
			booti ${kernel_addr_r} ${ramdisk_addr_r}:${bramble_rdsize} ${fdtcontroladdr}
		fi
	fi
	echo "bramble: slot ${s} did not boot"
done
