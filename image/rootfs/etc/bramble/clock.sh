#!/bin/sh
# Saves the time every 15 minutes, so the next boot starts no earlier.
. /etc/bramble/lib.sh
while :; do
	sleep 900
	date +%s >"$STATE/clock.new" && mv "$STATE/clock.new" "$STATE/clock"
done
