#!/bin/sh
# OpenNTPD once the network is up; NTP servers from DHCP, else Debian's pool.
# When no server answers it just keeps trying; the agent does not need it.
. /etc/bramble/lib.sh
while [ ! -e /run/bramble/online ]; do sleep 2; done
servers=$(cat /run/bramble/ntp-servers 2>/dev/null)
{
	if [ -n "$servers" ]; then
		for s in $servers; do echo "server $s"; done
	else
		for i in 0 1 2 3; do echo "servers $i.debian.pool.ntp.org"; done
	fi
} >/run/openntpd.conf
mkdir -p /run/openntpd /var/lib/openntpd/db
# -s: step the clock at startup when it is far off (a Pi boots at the last
# saved time); -d: stay in the foreground so init supervises it.
ntpd -d -s -f /run/openntpd.conf >>"$LOGDIR/ntpd.log" 2>&1
sleep 30
exit 1
