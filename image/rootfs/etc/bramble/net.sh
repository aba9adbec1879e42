#!/bin/sh
# DHCP on the wired interface (eth0: on-board Ethernet, or the first USB
# Ethernet adapter), supervised by init.
. /etc/bramble/lib.sh
# eth0 is the on-board Ethernet. Without one after a few seconds, take any
# other wired interface that appears (a USB adapter: eth1, usb0, enx...).
other() {
	for d in /sys/class/net/*; do
		n=${d##*/}
		case $n in lo|wlan*|veth*|br*|docker*|eth0) continue ;; esac
		[ -e "$d/device" ] && { echo "$n"; return 0; }
	done
	return 1
}
i=0
ifc=
while [ $i -lt 120 ]; do
	if [ -e /sys/class/net/eth0 ]; then ifc=eth0; break; fi
	[ $i -ge 10 ] && ifc=$(other) && break
	ifc=
	i=$((i + 1))
	sleep 0.5
done
if [ -z "$ifc" ]; then
	say "no wired network interface yet; retrying in 10 s"
	sleep 10
	exit 1
fi
ip link set "$ifc" up
exec udhcpc -f -i "$ifc" -x hostname:"$(hostname)" -s /etc/bramble/udhcpc.sh -t 5 -T 2 -A 5 -S
