#!/bin/sh
# udhcpc's event script: configures the address, default route and DNS.
case $1 in
deconfig)
	ip -4 addr flush dev "$interface"
	rm -f /run/bramble/online
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
	if [ -n "$router" ]; then
		while ip route del default 2>/dev/null; do :; done
		for r in $router; do ip route add default via "$r" dev "$interface" && break; done
	fi
	: >/run/resolv.conf.new
	[ -n "$domain" ] && echo "search $domain" >>/run/resolv.conf.new
	for d in $dns; do echo "nameserver $d" >>/run/resolv.conf.new; done
	mv /run/resolv.conf.new /run/resolv.conf
	echo "$ntpsrv" >/run/bramble/ntp-servers
	[ -e /run/bramble/online ] || echo "bramble: $interface up: $ip/${mask:-24} via ${router:-none}" >/dev/console
	echo "$ip" >/run/bramble/online
	;;
esac
exit 0
