#!/bin/sh
# Runs bramble-agent with the settings from bramble.json (supervised by
# init: when this script exits it is started again).
. /etc/bramble/lib.sh
started=$(cut -d. -f1 /proc/uptime)

if ! read_bootcfg; then
	say_log "$BC_ERR; retrying in 10 s"
	sleep 10
	exit 1
fi
name=$(cat /run/hostname)
if [ -n "$BC_NAME" ] && [ "$BC_NAME" != "$name" ]; then name=$BC_NAME; fi

# Joined already: the token is not needed (and should not stay on the card).
token=$BC_TOKEN
if [ -s "$STATE/node.crt" ]; then
	token=
	[ -n "$BC_TOKEN" ] && scrub_token
elif [ -z "$token" ]; then
	say_log "bramble.json: field 'token': missing, and this node has not joined yet (no $STATE/node.crt); retrying in 10 s"
	sleep 10
	exit 1
fi

set -- $BC_MASTERS
m=
for h; do m="$m${m:+, }\"$h\""; done
umask 077
{
	echo "{"
	# "auto": the agent finds the master by mDNS.
	if [ "$BC_MASTERS" = auto ]; then echo '  "master": "auto",'; else echo "  \"master\": [$m],"; fi
	[ -n "$token" ] && echo "  \"token\": \"$token\","
	echo "  \"name\": \"$name\","
	echo "  \"state_dir\": \"$STATE\","
	echo "  \"os_update_hook\": \"/etc/bramble/update.sh\","
	echo "  \"log_level\": \"$BC_LOG_LEVEL\""
	echo "}"
} >/run/bramble/agent.json

# Keep the log bounded: one previous generation of at most 1 MiB.
[ -f "$AGENT_LOG" ] && [ "$(wc -c <"$AGENT_LOG")" -gt 1048576 ] && mv "$AGENT_LOG" "$AGENT_LOG.1"

# Give DHCP a moment, so the first attempt reaches the master instead of
# starting the reconnect backoff (the agent retries forever regardless).
# Wi-Fi takes longer (firmware, scan, association): up to 30 s then.
i=0 wait=50
[ "${BC_WIFI_N:-0}" -gt 0 ] && wait=150
while [ ! -e /run/bramble/online ] && [ $i -lt $wait ]; do sleep 0.2; i=$((i + 1)); done

say "starting bramble-agent as $name (master $BC_MASTERS)"
# The agent's lines go to its log on the data partition and the console.
rm -f /run/bramble/agent.rc
{
	bramble-agent --config /run/bramble/agent.json
	echo $? >/run/bramble/agent.rc
} 2>&1 | tee -a "$AGENT_LOG" >/dev/console &
pipe=$!
# Remove the token from the card as soon as the join has succeeded.
while kill -0 $pipe 2>/dev/null; do
	if [ -n "$token" ] && [ -s "$STATE/node.crt" ]; then
		scrub_token && token=
	fi
	sleep 1
done
wait $pipe
rc=$(cat /run/bramble/agent.rc 2>/dev/null || echo "?")
say_log "bramble-agent exited (status $rc); restarting"
# Back off when it dies quickly, so a persistent error does not spin.
[ $(($(cut -d. -f1 /proc/uptime) - started)) -lt 10 ] && sleep 5
exit 1
