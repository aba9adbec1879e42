#!/bin/sh
# Test image only. Two simulated radios (mac80211_hwsim): wlan0 stays with
# the node; wlan1 and the wired eth0 go into a network namespace of their
# own, where test-ap.sh runs a WPA2 access point, DHCP and a forward of the
# master's port to QEMU's user network. The node is left with Wi-Fi as its
# only way to the master.
. /etc/bramble/lib.sh
modprobe -a ccm cmac
if ! modprobe mac80211_hwsim radios=2; then
	say "test AP: cannot load mac80211_hwsim"
	exit 0
fi
i=0
while { [ ! -e /sys/class/net/eth0 ] || [ ! -e /sys/class/net/wlan1 ]; } && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] && [ -e /sys/class/net/wlan1 ] || { say "test AP: no eth0 or wlan1"; exit 0; }
# unshare execs test-ap.sh in the new namespace: $! is its process.
unshare -n /etc/bramble/test-ap.sh >/run/bramble/test-ap.log 2>&1 &
ap=$!
phy=$(cat /sys/class/net/wlan1/phy80211/name)
iw phy "$phy" set netns "$ap" || say "test AP: cannot move $phy"
ip link set eth0 netns "$ap" || say "test AP: cannot move eth0"
say "test AP: $phy (wlan1) and eth0 moved to the access point's namespace"
# The node's routes once wlan0 has its lease, for the test to check
# udhcpc.sh (default and subnet route through wlan0 with Wi-Fi's metric).
(
	i=0
	while [ ! -e /run/bramble/online.wlan0 ] && [ $i -lt 600 ]; do sleep 0.5; i=$((i + 1)); done
	sleep 1
	say "test AP: node routes: $(ip -4 route | tr '\n' ';')"
) &
exit 0
