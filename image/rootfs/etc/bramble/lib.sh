# Shared by the Bramble boot scripts (sourced; busybox sh).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
BOOT=/boot/firmware          # the FAT partition (read-only except to remove the token)
DATA=/data                   # the writable data partition
STATE=$DATA/bramble          # the agent's state dir (node.key, node.crt, ca.crt)
LOGDIR=$DATA/log
AGENT_LOG=$LOGDIR/bramble-agent.log
CFG=$BOOT/bramble.json

# A message on the console and in the kernel log (shows in dmesg).
say() {
	echo "bramble: $*" >/dev/console 2>/dev/null
	echo "bramble: $*" >/dev/kmsg 2>/dev/null
}
# Into the agent log as well (the log is on the data partition), synced:
# these are the messages someone pulling the card to look at it needs.
say_log() {
	say "$*"
	[ -d "$LOGDIR" ] || return 0
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) bramble-boot: $*" >>"$AGENT_LOG"
	sync
}

# Reads and checks bramble.json; sets BC_* or prints why not (returns 1).
read_bootcfg() {
	BC_ERR=
	if [ ! -f "$CFG" ]; then
		BC_ERR="bramble.json: not found on the boot partition (write it with 'bramble image configure' or by hand, see image/README.md)"
		return 1
	fi
	out=$(awk -f /etc/bramble/bootcfg.awk "$CFG" 2>&1) || { BC_ERR=$(echo "$out" | tail -n1); return 1; }
	eval "$out"
}

# The "wifi" field as read (for scrub_token), on one line when there is one.
wifi_json() {
	[ "${BC_WIFI_N:-0}" -gt 0 ] || return 0
	i=1
	printf '  "wifi": ['
	while [ $i -le "$BC_WIFI_N" ]; do
		eval "ssid=\$BC_WIFI_SSID_$i psk=\$BC_WIFI_PSK_$i hid=\$BC_WIFI_HIDDEN_$i"
		[ $i -gt 1 ] && printf ', '
		printf '{"ssid": "%s", "psk": "%s", "hidden": %s}' "$(json_esc "$ssid")" "$(json_esc "$psk")" "$([ "$hid" = 1 ] && echo true || echo false)"
		i=$((i + 1))
	done
	printf '],\n'
}
# A string's text for a JSON string: backslash and quote escaped (the
# checker accepts only printable ASCII and UTF-8 bytes in it).
json_esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }

# Rewrites bramble.json without the token (called once the node has its
# certificate). The FAT partition is mounted read-write only for this.
scrub_token() {
	grep -q '"token"' "$CFG" 2>/dev/null || return 0
	mount -o remount,rw "$BOOT" || { say_log "warning: cannot remount $BOOT read-write to remove the join token"; return 1; }
	set -- $BC_MASTERS
	m=
	for h; do m="$m${m:+, }\"$h\""; done
	{
		echo "{"
		if [ $# -gt 1 ]; then echo "  \"master\": [$m],"; else echo "  \"master\": $m,"; fi
		[ -n "$BC_COUNTRY" ] && echo "  \"country\": \"$BC_COUNTRY\","
		wifi_json
		[ -n "$BC_NAME" ] && echo "  \"name\": \"$BC_NAME\","
		[ "$BC_LOG_LEVEL" != info ] && echo "  \"log_level\": \"$BC_LOG_LEVEL\","
		echo "  \"name_prefix\": \"$BC_PREFIX\""
		echo "}"
	} >"$BOOT/bramble.new" && sync && mv "$BOOT/bramble.new" "$CFG" && sync
	rc=$?
	mount -o remount,ro "$BOOT"
	[ $rc = 0 ] && say_log "joined: removed the join token from bramble.json on the boot partition"
	return $rc
}

# The board serial: the Pi firmware's (device tree or /proc/cpuinfo), else
# bramble.serial= from the kernel command line (QEMU), else a random one
# made on first boot and kept on the data partition. A serial of zeros
# (QEMU's raspi3b gives U-Boot one) is none.
board_serial() {
	s=
	[ -r /proc/device-tree/serial-number ] && s=$(tr -d '\000' </proc/device-tree/serial-number)
	[ -n "$s" ] || s=$(sed -n 's/^Serial[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
	case $s in *[!0]*) ;; *) s= ;; esac
	if [ -z "$s" ]; then
		for arg in $(cat /proc/cmdline); do
			case $arg in bramble.serial=*) s=${arg#bramble.serial=} ;; esac
		done
	fi
	if [ -z "$s" ] && [ -d "$STATE" ]; then
		[ -s "$STATE/serial" ] || tr -d '-' </proc/sys/kernel/random/uuid | cut -c1-16 >"$STATE/serial"
		s=$(cat "$STATE/serial")
	fi
	echo "$s" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9'
}
