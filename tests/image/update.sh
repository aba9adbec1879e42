#!/usr/bin/env bash
# OS updates over the air, on the image under qemu-system-aarch64 -M virt
# booting through U-Boot: a node on image v1 (the built image) is upgraded
# to v2 (the same sources, another BRM_IMAGE_VERSION) with bramble node
# upgrade. QEMU is killed while it writes slot b: the node comes back on
# slot a and reports the update failed. Again, killed this time during the
# try boot of slot b: back on slot a, reported rolled back (the try was
# consumed by the boot it was for). The retry commits. It comes back on
# slot b reporting v2, with the same name and certificate, its container
# running again and its logs kept. Then v3, a test image whose agent cannot
# start (tests/image/broken-agent): the try-boot guard reboots it, the node
# is back on v2 by itself, the master reports the rollback and the rollout
# stops there. Last, the card: the committed slot, the Pi firmware's
# config.txt pointing at it, no try left, a clean FAT (a FAT the kill left
# dirty is repaired by fsck.fat at the next boot).
. "$(dirname "$0")/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy mtype mkenvimage fsck.vfat socat python3 umoci skopeo
need_image_cli
"$BRM_BIN/bramble" node upgrade --help >/dev/null 2>&1 || skip "$BRM_BIN/bramble has no 'node upgrade' command"
[ -f "$BRM_UBOOT" ] || skip "no U-Boot for QEMU's virt machine at $BRM_UBOOT (package u-boot-qemu)"
B=$BRM_BIN
READY_TIMEOUT=${BRM_READY_TIMEOUT:-120}
export MTOOLS_SKIP_CHECK=1

V1=$(sed -n 's/^version=//p' "$(dirname "$IMG")/bramble-rpi-arm64.info")
V2=update-test-2
V3=update-test-3-broken
IMG2=$(image_variant v2 "$V2") || exit 1
IMG3=$(image_variant v3 "$V3" "$BRM_SRC/tests/image/broken-agent") || exit 1
pass "images: v1 $V1 (the built one), v2 $V2, v3 $V3 (its agent broken on purpose)"

# update_field FIELD: the node's update status (bramble nodes -o json).
update_field() {
	"$B/bramble" -o json nodes 2>/dev/null | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    if n.get("name") == sys.argv[1]:
        v = (n.get("update") or {}).get(sys.argv[2])
        print("" if v is None else v)
' "$NAME" "$1"
}
# wait_update STATE SECONDS: the node reports STATE.
wait_update() {
	local end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		[ "$(update_field state)" = "$1" ] && return 0
		sleep 0.2
	done
	tail -n 30 "$N/console.log" >&2
	fail "the node did not report update state $1 within $2 s (it says '$(update_field state)': $(update_field reason))"
}

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" --heartbeat-interval 1s || fail "master did not start"
brm_app_image "$WORK/app" "${BRM_IMAGE_CACHE:-$BRM_SRC/build/image-cache}" >"$WORK/app.log" 2>&1 ||
	skip "no arm64 app image (busybox-static's arm64 .deb is not in the image build's cache, or umoci failed)"
skopeo --insecure-policy copy -q "oci:$WORK/app/oci:1" "oci-archive:$WORK/app.tar" >"$WORK/skopeo.log" 2>&1 ||
	fail "skopeo could not write the oci-archive: $(tail -n 2 "$WORK/skopeo.log")"
"$B/bramble" image load "$WORK/app.tar" --name test/app:1 >"$WORK/load.out" 2>&1 || fail "bramble image load: $(cat "$WORK/load.out")"
token=$("$B/bramble" token create --ttl 1h --uses 1)
cp --sparse=always "$IMG" "$WORK/disk.img"
"$B/bramble" image configure "$WORK/disk.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix upd >/dev/null ||
	fail "bramble image configure"
N=$WORK/node
NAME=upd-00c0d1
SERIAL=1000000000c0d1
NODES+=("$N")

# --- v1 ----------------------------------------------------------------------
brm_node_start "$N" "$WORK/disk.img" "$port" "$SERIAL" 1G
t=$(boot_wait "$N" "$NAME" "$READY_TIMEOUT")
pass "v1: $NAME Ready ${t} s after QEMU started"
expect_eq "v1's version" "$V1" "$(brm_node_field "$B" "$NAME" os_version)"
expect_eq "v1's slot" a "$(brm_node_field "$B" "$NAME" slot)"
expect_grep "U-Boot ran the card's boot.scr" "Executing script at" "$N/console.log"
expect_grep "boot.scr booted the committed slot a" "^bramble: booting slot a[[:space:]]*$" "$N/console.log"
expect_grep "root slot a (partition 2)" "root=PARTUUID=b7a3b1e0-02 .*bramble.slot=a" "$N/console.log"
expect_grep "the initramfs says slot a" "bramble: booting slot a \\(partition 2\\)[[:space:]]*$" "$N/console.log"
expect_grep "the node's serial came through U-Boot's environment" "bramble.serial=$SERIAL" "$N/console.log"
"$B/bramble" run "$NAME" app --image test/app:1 --restart always -- sh -c 'echo "app started $(date +%s)"; exec sleep 100000' \
	>"$WORK/run.out" 2>&1 || fail "bramble run: $(cat "$WORK/run.out")"
for _ in $(seq 300); do "$B/bramble" logs "$NAME/app" 2>/dev/null | grep -q "app started" && break; sleep 0.2; done
"$B/bramble" logs "$NAME/app" | grep -q "app started" || fail "the container did not start on v1"
first_start=$("$B/bramble" logs "$NAME/app" | grep -m1 "app started")
pass "a container runs on v1"

# --- v1 -> v2, QEMU killed while slot b is written ----------------------------
"$B/bramble" node upgrade "$NAME" --image "$IMG2" --detach >"$WORK/up-kill.out" 2>&1 ||
	fail "bramble node upgrade --detach: $(cat "$WORK/up-kill.out")"
wait_update writing 180
kill -9 "$(cat "$N/qemu.pid")"
pass "QEMU killed while the node was writing slot b"
t0=$(date +%s.%N)
brm_node_start "$N" "$WORK/disk.img" "$port" "$SERIAL" 1G
wait_update failed "$READY_TIMEOUT"
expect_eq "back on the committed slot after the kill" a "$(brm_node_field "$B" "$NAME" slot)"
expect_eq "still v1" "$V1" "$(brm_node_field "$B" "$NAME" os_version)"
expect_grep "the node says the write was interrupted" "interrupted while writing" <(update_field reason)
pass "the interrupted update is reported failed $(since "$t0") s after the new boot began: $(update_field reason)"
"$B/bramble" node upgrade --status -o json >"$WORK/status-kill.json" || fail "bramble node upgrade --status"
expect_eq "the rollout stopped at the failure" stopped "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rollout"]["state"])' "$WORK/status-kill.json")"
for _ in $(seq 100); do [ "$(brm_node_field "$B" "$NAME" state)" = Ready ] && break; sleep 0.2; done

# --- v1 -> v2 again, QEMU killed during the try boot of slot b ----------------
"$B/bramble" node upgrade "$NAME" --image "$IMG2" --confirm-within 3m --detach >"$WORK/up-kill2.out" 2>&1 ||
	fail "bramble node upgrade --detach: $(cat "$WORK/up-kill2.out")"
wait_update confirming 300
expect_eq "the try boot runs slot b" b "$(brm_node_field "$B" "$NAME" slot)"
kill -9 "$(cat "$N/qemu.pid")"
pass "QEMU killed during the try boot of slot b"
t0=$(date +%s.%N)
brm_node_start "$N" "$WORK/disk.img" "$port" "$SERIAL" 1G
wait_update rolled-back "$READY_TIMEOUT"
expect_eq "back on the committed slot after the kill" a "$(brm_node_field "$B" "$NAME" slot)"
expect_eq "still v1" "$V1" "$(brm_node_field "$B" "$NAME" os_version)"
expect_grep "the node says the try was cut short" "came back on slot a: slot b did not boot, or the node was reset before $V2 was confirmed" <(update_field reason)
pass "the cut try is reported $(since "$t0") s after the new boot began: $(update_field reason)"
expect_grep "boot.scr booted the committed slot, no try left" "^bramble: booting slot a[[:space:]]*$" "$N/console.log"
grep -q "trying slot" "$N/console.log" && fail "the try was not consumed by the boot it was for"
"$B/bramble" node upgrade --status -o json >"$WORK/status-kill2.json" || fail "bramble node upgrade --status"
expect_eq "the rollout stopped at the rollback" stopped "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rollout"]["state"])' "$WORK/status-kill2.json")"
for _ in $(seq 100); do [ "$(brm_node_field "$B" "$NAME" state)" = Ready ] && break; sleep 0.2; done

# --- the retry ---------------------------------------------------------------
t0=$(date +%s.%N)
"$B/bramble" node upgrade "$NAME" --image "$IMG2" --healthy-for 5s --confirm-within 3m >"$WORK/up2.out" 2>&1 ||
	{ cat "$WORK/up2.out" >&2; tail -n 30 "$N/console.log" >&2; fail "bramble node upgrade to $V2"; }
pass "v1 -> v2 committed $(since "$t0") s after bramble node upgrade started (the retry)"
sed 's/^/    /' "$WORK/up2.out"
expect_eq "v2's version" "$V2" "$(brm_node_field "$B" "$NAME" os_version)"
expect_eq "v2 runs on slot b" b "$(brm_node_field "$B" "$NAME" slot)"
expect_eq "update state" committed "$(update_field state)"
# The token was good for one join, used by v1: v2 is Ready with the
# identity on the data partition.
expect_grep "v2's agent started with the stored identity" "agent: node $NAME starting \\(joined\\)" "$N/console.log"
grep -q "joined the cluster" "$N/console.log" && fail "the node joined again after the update"
pass "the same name and certificate (no second join; the token allowed one)"
expect_grep "the boot script tried slot b" "bramble: trying slot b once \\(committed: a\\)" "$N/console.log"
expect_grep "root slot b (partition 3), a try" "root=PARTUUID=b7a3b1e0-03 .*bramble.slot=b .*bramble.tryboot=1" "$N/console.log"
expect_grep "the guard watched the try with the watchdog armed" "try of slot b: watchdog armed" "$N/console.log"
for _ in $(seq 300); do [ "$("$B/bramble" logs "$NAME/app" 2>/dev/null | grep -c "app started")" -ge 4 ] && break; sleep 0.2; done
"$B/bramble" logs "$NAME/app" >"$WORK/app-logs.txt"
grep -qx "$first_start" "$WORK/app-logs.txt" || fail "the container's first log line ($first_start) is gone"
[ "$(grep -c "app started" "$WORK/app-logs.txt")" -ge 4 ] || fail "the container did not start again at each boot: $(cat "$WORK/app-logs.txt")"
pass "the container's log kept across the updates: $(grep -c "app started" "$WORK/app-logs.txt") starts, the first one on v1"
"$B/bramble" -o json ps >"$WORK/ps.json"
expect_eq "the container runs again" running "$(python3 -c 'import json,sys; print([c["state"] for c in json.load(open(sys.argv[1])) if c.get("name") == "app"][0])' "$WORK/ps.json")"

# --- v2 -> v3, whose agent cannot start: rolled back by itself ----------------
t0=$(date +%s.%N)
rc=0
"$B/bramble" node upgrade "$NAME" --image "$IMG3" --healthy-for 5s --confirm-within 30s >"$WORK/up3.out" 2>&1 || rc=$?
sed 's/^/    /' "$WORK/up3.out"
[ "$rc" = 1 ] || fail "bramble node upgrade to the broken $V3 exited $rc, not 1"
pass "v3 rolled back $(since "$t0") s after bramble node upgrade started"
expect_grep "the CLI names the node and the rollback" "$NAME.*rolled.back" "$WORK/up3.out"
expect_eq "back on v2" "$V2" "$(brm_node_field "$B" "$NAME" os_version)"
expect_eq "back on slot b" b "$(brm_node_field "$B" "$NAME" slot)"
expect_eq "update state" rolled-back "$(update_field state)"
expect_grep "the reason: the guard's deadline" "not confirmed within 30s" <(update_field reason)
expect_grep "the reason names the agent" "bramble-agent was not running|broken on purpose" <(update_field reason)
"$B/bramble" node upgrade --status -o json >"$WORK/status.json" || fail "bramble node upgrade --status"
python3 - "$WORK/status.json" "$NAME" <<'EOF' || fail "the master's rollout record"
import json, sys
r = json.load(open(sys.argv[1]))["rollout"]
assert r["state"] == "stopped", r
assert sys.argv[2] in r["reason"] and "rolled-back" in r["reason"], r["reason"]
EOF
pass "the master recorded the rollback and stopped the rollout: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rollout"]["reason"])' "$WORK/status.json")"

# --- the card ------------------------------------------------------------------
brm_node_stop "$N"
card_fat "$N"
expect_eq "the committed slot on the card" bramble_slot=b "$(fat_file bramble-slot.txt)"
expect_eq "no try left on the card" bramble_try=none "$(fat_file bramble-try.txt)"
expect_eq "the Pi firmware starts slot b's U-Boot" "os_prefix=slot-b/" "$(fat_file config.txt | grep '^os_prefix=' | paste -sd' ')"
expect_eq "slot b's version file" "version=$V2" "$(fat_file slot-b/version.txt | grep '^version=')"
expect_eq "slot a holds v3 (written, tried, not committed)" "version=$V3" "$(fat_file slot-a/version.txt | grep '^version=')"
fsck.vfat -n "$WORK/fat.vfat" >"$WORK/fsck.log" 2>&1 || { cat "$WORK/fsck.log"; fail "the boot partition is not clean"; }
pass "fsck.vfat: the boot partition is clean"
echo "PASS"
