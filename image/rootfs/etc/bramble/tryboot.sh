#!/bin/sh
# The try-boot guard: started by rc.boot when this boot is the one try of
# a slot (bramble.tryboot=1). The agent commits the slot once it has been
# connected to the master for the healthy window (update.sh commit, which
# creates /run/bramble/committed). If that has not happened within the
# deadline the agent was given (STATE/update-confirm-within, seconds from
# this boot; 300 without one), the guard writes why to STATE/update-result
# and reboots: the try was consumed by the boot script, so the node comes
# back on its committed slot. The hardware watchdog (bcm2835-wdt on a Pi,
# i6300esb under QEMU) is armed meanwhile, so a hang does the same;
# bramble.watchdog=off on the kernel command line leaves it off (QEMU's
# raspi3b resets the moment its watchdog is started).
. /etc/bramble/lib.sh

within=$(cat "$STATE/update-confirm-within" 2>/dev/null)
case $within in '' | *[!0-9]*) within=300 ;; esac
slot=$(cat /run/bramble/slot 2>/dev/null)
wd=
case " $(cat /proc/cmdline) " in
*" bramble.watchdog=off "*)
	wd=off
	say "try of slot $slot: watchdog left off (bramble.watchdog=off); the deadline alone reboots"
	;;
esac
arm() {
	[ -z "$wd" ] && [ -c /dev/watchdog ] && exec 3>/dev/watchdog && wd=1 && say "try of slot $slot: watchdog armed"
}
arm
say "slot $slot is on trial: it must be confirmed within ${within}s of this boot, else the node reboots into the committed slot"
while :; do
	if [ -e /run/bramble/committed ]; then
		# The magic close: the watchdog stops.
		[ "$wd" = 1 ] && printf V >&3 && exec 3>&-
		say "slot $slot confirmed"
		exit 0
	fi
	up=$(cut -d. -f1 /proc/uptime)
	if [ "$up" -ge "$within" ]; then
		if pidof bramble-agent >/dev/null; then
			why="the agent was running but had not been connected to the master for its healthy window"
		else
			why="bramble-agent was not running"
		fi
		last=$(grep -v ' update: ' "$AGENT_LOG" 2>/dev/null | tail -n1 | cut -c1-200)
		echo "slot $slot was not confirmed within ${within}s of its boot: $why${last:+ (its log: $last)}" >"$STATE/update-result"
		sync
		say_log "slot $slot was not confirmed within ${within}s ($why); rebooting into the committed slot"
		reboot
		# If the orderly reboot hangs, the watchdog (no longer fed) resets.
		sleep 60
		reboot -f
		exit 1
	fi
	arm
	[ "$wd" = 1 ] && printf . >&3
	sleep 2
done
