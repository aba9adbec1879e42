#!/bin/sh
# udhcpc's event script: configures the address, default route and DNS of
# one interface. Ethernet and Wi-Fi may both be up: each has its own
# default route, eth* with metric 10, wlan* with 20, so the wired one wins
# while it has a link (rc.boot makes the kernel ignore routes of an
# interface without carrier) and Wi-Fi carries the traffic otherwise.
# resolv.conf is put together from both, Ethernet's servers first.
case $interface in wlan*) metric=20 ;; *) metric=10 ;; esac
R=/run/bramble

resolv() {
	cat "$R"/resolv.eth* "$R"/resolv.[!ew]* "$R"/resolv.wlan* 2>/dev/null | awk '!seen[$0]++' >/run/resolv.conf.new
	mv /run/resolv.conf.new /run/resolv.conf
	# Online while any interface has an address (agent.sh and ntp.sh wait for it).
	up=$(cat "$R"/online.* 2>/dev/null | head -n1)
	if [ -n "$up" ]; then echo "$up" >"$R/online"; else rm -f "$R/online"; fi
}

case $1 in
deconfig)
	ip -4 addr flush dev "$interface"
	rm -f "$R/online.$interface" "$R/resolv.$interface"
	resolv
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
	# The subnet route with the interface's metric too, for a master on
	# the same LAN reached through both.
	net=$(ipcalc -n "$ip/${mask:-24}" 2>/dev/null | sed -n 's/^NETWORK=//p')
	if [ -n "$net" ]; then
		ip route del "$net/${mask:-24}" dev "$interface" 2>/dev/null
		ip route add "$net/${mask:-24}" dev "$interface" src "$ip" metric $metric 2>/dev/null
	fi
	if [ -n "$router" ]; then
		while ip route del default dev "$interface" 2>/dev/null; do :; done
		for r in $router; do ip route add default via "$r" dev "$interface" metric $metric && break; done
	fi
	{
		[ -n "$domain" ] && echo "search $domain"
		for d in $dns; do echo "nameserver $d"; done
	} >"$R/resolv.$interface"
	[ -n "$ntpsrv" ] && echo "$ntpsrv" >"$R/ntp-servers"
	[ -e "$R/online.$interface" ] || echo "bramble: $interface up: $ip/${mask:-24} via ${router:-none}" >/dev/console
	echo "$ip" >"$R/online.$interface"
	resolv
	;;
esac
exit 0
