#!/bin/sh
# Test image only (see boot.d/50-test-ap.sh): runs in the access point's
# network namespace. SSID bramble-test, WPA2-PSK, passphrase
# "bramble wifi test", 192.168.77.1/24 with DHCP; 192.168.77.1:7443 is
# forwarded to the master at 10.0.2.100:7443 (QEMU's guestfwd) over eth0.
. /etc/bramble/lib.sh
i=0
while ! { ip link show eth0 && ip link show wlan1; } >/dev/null 2>&1; do
	[ $i -ge 100 ] && { say "test AP: eth0 and wlan1 did not arrive"; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
cat >/run/hostapd.conf <<CONF
interface=wlan1
driver=nl80211
ssid=bramble-test
country_code=GB
hw_mode=g
channel=1
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=bramble wifi test
CONF
cat >/run/udhcpd.conf <<CONF
start 192.168.77.100
end 192.168.77.150
interface wlan1
lease_file /run/udhcpd.leases
opt subnet 255.255.255.0
opt router 192.168.77.1
CONF
: >/run/udhcpd.leases
# hostapd's lines on the console too, with a prefix: they explain a failure.
hostapd /run/hostapd.conf 2>&1 | while read -r l; do echo "$l" >>"$LOGDIR/hostapd.log"; echo "test AP: hostapd: $l" >/dev/console; done &
i=0
while ! ip link show wlan1 | grep -q 'state UP'; do [ $i -ge 100 ] && break; sleep 0.1; i=$((i + 1)); done
ip addr add 192.168.77.1/24 dev wlan1
busybox udhcpd -f /run/udhcpd.conf &
printf '#!/bin/sh\nexec busybox nc 10.0.2.100 7443\n' >/run/test-fwd.sh
chmod 755 /run/test-fwd.sh
busybox nc -ll -p 7443 -e /run/test-fwd.sh &
say "test AP: bramble-test up on wlan1 (192.168.77.1), master port forwarded"
wait
