#!/bin/sh
# Wi-Fi on wlan0 with the networks of bramble.json, supervised by init:
# wpa_supplicant associates (and keeps trying), udhcpc configures the
# address once it has. Without "wifi" in bramble.json it only waits.
. /etc/bramble/lib.sh
CONF=/run/wpa_supplicant.conf
DHCP_PID=/run/bramble/udhcpc.wlan0.pid

if ! read_bootcfg || [ "${BC_WIFI_N:-0}" -eq 0 ]; then
	# Nothing to do (a broken bramble.json is reported by agent.sh);
	# bramble.json changes only with a reboot.
	exec sleep 86400
fi
i=0
while [ ! -e /sys/class/net/wlan0 ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
if [ ! -e /sys/class/net/wlan0 ]; then
	say_log "wlan0: bramble.json has Wi-Fi networks but there is no wlan0 (no Wi-Fi on this board, or its driver or firmware did not load: see dmesg); retrying in 30 s"
	sleep 30
	exit 1
fi

# Only root reads the keys.
umask 077
{
	echo "ctrl_interface=/run/wpa_supplicant"
	echo "country=$BC_COUNTRY"
	i=1
	while [ $i -le "$BC_WIFI_N" ]; do
		eval "hex=\$BC_WIFI_SSIDHEX_$i psk=\$BC_WIFI_PSK_$i hidden=\$BC_WIFI_HIDDEN_$i"
		echo "network={"
		echo "	ssid=$hex"
		echo "	key_mgmt=WPA-PSK"
		# A 64-hex key as is; a passphrase written by hand is quoted
		# (wpa_supplicant derives the key from it and the SSID).
		if [ ${#psk} = 64 ] && ! echo "$psk" | grep -q '[^0-9a-f]'; then echo "	psk=$psk"; else echo "	psk=\"$psk\""; fi
		[ "$hidden" = 1 ] && echo "	scan_ssid=1"
		echo "}"
		i=$((i + 1))
	done
} >"$CONF.new" && mv "$CONF.new" "$CONF"
umask 022

ssids() {
	i=1 s=
	while [ $i -le "$BC_WIFI_N" ]; do eval "s=\"\$s\${s:+, }'\$BC_WIFI_SSID_$i'\""; i=$((i + 1)); done
	echo "$s"
}
stop_dhcp() {
	[ -s "$DHCP_PID" ] && kill "$(cat "$DHCP_PID")" 2>/dev/null
	rm -f "$DHCP_PID"
}
stop_dhcp
ip link set wlan0 up
say "wlan0: looking for $(ssids) (country $BC_COUNTRY)"
# wpa_supplicant's events on its stdout say what happens; each becomes one
# line on the console (and the agent log, when it is a failure).
# Its whole output goes to a log on the data partition, bounded like the
# agent's: one previous generation of at most 1 MiB.
WLOG=$LOGDIR/wpa_supplicant.log
lastmiss=0 n=0
wpa_supplicant -i wlan0 -D nl80211 -c "$CONF" 2>&1 | while read -r line; do
	n=$((n + 1))
	[ $((n % 200)) = 1 ] && [ -f "$WLOG" ] && [ "$(stat -c %s "$WLOG")" -gt 1048576 ] && mv "$WLOG" "$WLOG.1"
	echo "$line" >>"$WLOG"
	case $line in
	*CTRL-EVENT-CONNECTED*)
		say "wlan0: associated ($(echo "$line" | sed -n 's/.*\(bssid\|Connection to\) \([0-9a-f:]*\).*/\2/p'))"
		if [ ! -s "$DHCP_PID" ] || ! kill -0 "$(cat "$DHCP_PID")" 2>/dev/null; then
			udhcpc -f -i wlan0 -x hostname:"$(hostname)" -s /etc/bramble/udhcpc.sh -t 5 -T 2 -A 5 -S >/dev/null 2>&1 &
			echo $! >"$DHCP_PID"
		fi
		;;
	*CTRL-EVENT-SSID-TEMP-DISABLED*)
		ssid=$(echo "$line" | sed -n 's/.* ssid="\(.*\)" auth_failures.*/\1/p')
		reason=$(echo "$line" | sed -n 's/.* reason=\([A-Z_]*\).*/\1/p')
		why=$reason
		[ "$reason" = WRONG_KEY ] && why="WRONG_KEY: the access point refused the key; check the passphrase"
		[ "$reason" = CONN_FAILED ] && why="CONN_FAILED: the access point did not answer"
		say_log "wlan0: cannot associate with SSID '$ssid' (${why:-unknown reason}); retrying"
		;;
	*CTRL-EVENT-NETWORK-NOT-FOUND*)
		now=$(cut -d. -f1 /proc/uptime)
		if [ $((now - lastmiss)) -ge 60 ]; then
			say_log "wlan0: none of $(ssids) in range; still scanning"
			lastmiss=$now
		fi
		;;
	*CTRL-EVENT-DISCONNECTED*)
		say "wlan0: disconnected ($(echo "$line" | sed -n 's/.*\(reason=[0-9]*\).*/\1/p')); reconnecting"
		;;
	*"Failed to initialize driver"* | *"Could not read interface"* | *"Failed to read or parse"*)
		say_log "wlan0: wpa_supplicant: $line"
		;;
	esac
done
stop_dhcp
say_log "wlan0: wpa_supplicant exited; restarting in 5 s"
sleep 5
exit 1
