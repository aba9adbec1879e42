#!/usr/bin/env bash
# Ethernet and Wi-Fi up together: the image's udhcpc.sh, run by the image's
# own busybox (qemu-aarch64-static) in network and mount namespaces of this
# host with two veth pairs standing for eth0 and wlan0. Each lease installs
# its routes with its interface's metric; Ethernet wins while it has a link
# and Wi-Fi carries the traffic when its cable is out
# (ignore_routes_with_linkdown, as rc.boot sets it); resolv.conf lists
# Ethernet's servers first; the node stays online while either is up.
. "$(dirname "$0")/lib.sh"
image_test_init qemu-aarch64-static unsquashfs unshare ip
[ "$(id -u)" = 0 ] || skip "needs root (network and mount namespaces)"
unshare -n -m true 2>/dev/null || skip "cannot create network and mount namespaces here"

off=$(brm_part_offset "$IMG" 2)
size=$(brm_part_size "$IMG" 2)
dd if="$IMG" of="$WORK/root.sqfs" bs=1M skip=$((off / 1048576)) count=$((size / 1048576)) status=none
unsquashfs -no-progress -q -d "$WORK/root" "$WORK/root.sqfs" usr/bin/busybox etc/bramble/udhcpc.sh >/dev/null 2>&1 ||
	fail "cannot extract busybox and udhcpc.sh from the root"
BB=$WORK/root/usr/bin/busybox
QEMU=$(command -v qemu-aarch64-static)
# The applets udhcpc.sh uses, each the image's busybox under QEMU.
mkdir -p "$WORK/bin"
for a in ip ipcalc sed cat awk mv rm head; do
	printf '#!/bin/sh\nexec %s %s %s "$@"\n' "$QEMU" "$BB" "$a" >"$WORK/bin/$a"
	chmod 755 "$WORK/bin/$a"
done

cat >"$WORK/inner.sh" <<EOF
set -eu
# This namespace's own /run (udhcpc.sh writes /run/resolv.conf and
# /run/bramble) and no console.
mount -t tmpfs tmpfs /run
mkdir -p /run/bramble
mount --bind /dev/null /dev/console
ip link set lo up
for i in eth0 wlan0; do
	ip link add \$i type veth peer name \${i}p
	ip link set \${i}p up
	ip link set \$i up
done
echo 1 >/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown
lease() { # EVENT IFACE [IP ROUTER DNS]
	env -i PATH=$WORK/bin interface=\$2 ip=\${3:-} mask=24 router=\${4:-} dns=\${5:-} $QEMU $BB sh $WORK/root/etc/bramble/udhcpc.sh \$1
}
via() { ip -4 route get 1.1.1.1 | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n1; }
lease bound wlan0 192.168.77.126 192.168.77.1 192.168.77.1
echo "wifi-only \$(via)"
lease bound eth0 10.0.2.15 10.0.2.2 10.0.2.3
echo "routes \$(ip -4 route | tr '\n' ';')"
echo "both \$(via)"
echo "resolv \$(grep nameserver /run/resolv.conf | tr '\n' ' ')"
ip link set eth0p down
sleep 0.3
echo "cable-out \$(via)"
ip link set eth0p up
sleep 0.3
echo "cable-in \$(via)"
lease deconfig eth0
echo "eth0-gone \$(via) online=\$(cat /run/bramble/online 2>/dev/null) resolv=\$(grep nameserver /run/resolv.conf | tr '\n' ' ')"
lease deconfig wlan0
echo "all-gone online=\$([ -e /run/bramble/online ] && echo yes || echo no)"
EOF
unshare -n -m bash "$WORK/inner.sh" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; fail "udhcpc.sh in a namespace failed"; }
cat "$WORK/out"
got() { sed -n "s/^$1 //p" "$WORK/out"; }
expect_eq "Wi-Fi alone carries the traffic" wlan0 "$(got wifi-only)"
grep -qE "default via 10\.0\.2\.2 dev eth0 +metric 10" <<<"$(got routes)" || fail "no eth0 default route with metric 10: $(got routes)"
grep -qE "default via 192\.168\.77\.1 dev wlan0 +metric 20" <<<"$(got routes)" || fail "no wlan0 default route with metric 20: $(got routes)"
pass "one default route per interface: eth0 metric 10, wlan0 metric 20"
expect_eq "both up: Ethernet wins" eth0 "$(got both)"
expect_eq "DNS: Ethernet's servers first" "nameserver 10.0.2.3 nameserver 192.168.77.1 " "$(got resolv)"
expect_eq "cable out: Wi-Fi takes over" wlan0 "$(got cable-out)"
expect_eq "cable back in: Ethernet again" eth0 "$(got cable-in)"
expect_eq "Ethernet lease gone: Wi-Fi, still online, Wi-Fi's DNS" "wlan0 online=192.168.77.126 resolv=nameserver 192.168.77.1 " "$(got eth0-gone)"
expect_eq "both leases gone" "online=no" "$(got all-gone)"
echo "PASS"
