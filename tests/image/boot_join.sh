#!/usr/bin/env bash
# Boots the image under qemu-system-aarch64 -M virt (its own kernel,
# initramfs and root) with its real-time clock ten years behind and joins it
# to a master on this host; the only way out of the VM is one forward to the
# master. Then boots the same disk again: it rejoins with its stored
# identity, no token, and the token is gone from the boot partition.
. "$(dirname "$0")/lib.sh"
image_test_init qemu-system-aarch64 qemu-img mcopy mtype socat python3
need_image_cli
B=$BRM_BIN
READY_TIMEOUT=${BRM_READY_TIMEOUT:-120}

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 1 --description image-test)
token_id=$(echo "$token" | cut -d: -f3 | cut -d. -f1)

# The test's own copy of the image (bramble image configure edits it).
cp --sparse=always "$IMG" "$WORK/disk.img"
"$B/bramble" image configure "$WORK/disk.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix qemu >/dev/null ||
	fail "bramble image configure"
export MTOOLS_SKIP_CHECK=1
mtype -i "$WORK/disk.img@@$(brm_part_offset "$WORK/disk.img" 1)" ::bramble.json | grep -qF "$token" ||
	fail "bramble.json in the image does not hold the token"
pass "bramble image configure wrote bramble.json"

# The confinement probe (tests/containers/confine_probe.c), arm64 and
# static, as an image in a registry on this host (Debian's docker-registry,
# plain HTTP on loopback): the master pulls it for linux/arm64 when the
# node is asked to run it, the node fetches it from the master over its
# own connection and runs it under crun on cgroup v2 with the default
# confinement.
brm_need_tools umoci skopeo docker-registry
(cd "$BRM_SRC" && cmake --build build/rpi-arm64 --target brm_confine_probe >"$WORK/probe-build.log" 2>&1) ||
	fail "building the arm64 confinement probe failed (see $WORK/probe-build.log)"
umoci init --layout "$WORK/probe"
umoci new --image "$WORK/probe:t"
umoci unpack --image "$WORK/probe:t" "$WORK/probe-bundle" >/dev/null
mkdir -p "$WORK/probe-bundle/rootfs"/{bin,proc,dev,sys,tmp,run,etc}
install -m 755 "$BRM_SRC/build/rpi-arm64/bin/brm_confine_probe" "$WORK/probe-bundle/rootfs/bin/"
umoci repack --image "$WORK/probe:t" "$WORK/probe-bundle"
umoci config --image "$WORK/probe:t" --os linux --architecture arm64 --config.entrypoint /bin/brm_confine_probe
umoci gc --layout "$WORK/probe"
rport=$(brm_free_port)
cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$rport
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.2; done
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/probe:t" "docker://127.0.0.1:$rport/bramble/probe:1" \
	>"$WORK/skopeo.log" 2>&1 || fail "skopeo could not push the probe to the test registry ($(tail -n 2 "$WORK/skopeo.log"))"
"$B/bramble" registry login "127.0.0.1:$rport" --insecure-http >/dev/null || fail "bramble registry login --insecure-http"
pass "the probe image is in a registry on 127.0.0.1:$rport"

# --- first boot: a 1 GiB disk, so the data partition grows; the RTC says
# 2016, so the clock starts at the image's build time, before the cluster's
# CA was made: the join must not depend on a correct clock.
N=$WORK/node
NODES+=("$N")
BRM_QEMU_EXTRA="-rtc base=2016-01-01T00:00:00" brm_node_start "$N" "$WORK/disk.img" "$port" 10000000c0ffee 1G
t=$(boot_wait "$N" qemu-c0ffee "$READY_TIMEOUT")
pass "first boot: qemu-c0ffee Ready ${t} s after QEMU started"
expect_eq "arch" aarch64 "$(brm_node_field "$B" qemu-c0ffee arch)"
kernel=$(brm_node_field "$B" qemu-c0ffee kernel)
case $kernel in 6.*-arm64) pass "kernel $kernel (Debian arm64)" ;; *) fail "unexpected kernel '$kernel'" ;; esac
# The image's version (os-release IMAGE_VERSION, stamped by image/build.sh)
# and the root slot the boot script chose.
want_version=$(sed -n 's/^version=//p' "$(dirname "$IMG")/bramble-rpi-arm64.info")
[ -n "$want_version" ] || fail "no version= in $(dirname "$IMG")/bramble-rpi-arm64.info"
expect_eq "os_version" "$want_version" "$(brm_node_field "$B" qemu-c0ffee os_version)"
expect_eq "slot" a "$(brm_node_field "$B" qemu-c0ffee slot)"
expect_grep "the initramfs grew the data partition" "growing partition 4 of /dev/vda" "$N/console.log"
expect_grep "the data file system was resized" "data partition grown to [0-9]+ MiB" "$N/console.log"
expect_grep "crun runs on the image" "crun version 1\\." "$N/console.log"
expect_grep "the clock was set forward from 2016 to the build time" "clock set forward to 20[2-9][0-9]-" "$N/console.log"
expect_grep "hostname from the prefix and the serial" "node qemu-c0ffee \\(serial 10000000c0ffee\\)" "$N/console.log"
expect_grep "the agent joined" "joined the cluster as qemu-c0ffee" "$N/console.log"
for _ in $(seq 50); do grep -q "removed the join token" "$N/console.log" && break; sleep 0.2; done
expect_grep "the node removed the token from the card" "removed the join token from bramble.json" "$N/console.log"
expect_eq "token uses" 1 "$("$B/bramble" -o json token list | python3 -c "
import json, sys
print(next(t['uses'] for t in json.load(sys.stdin) if t['id'] == '$token_id'))")"
# The disk's free space as the node reports it: the grown data partition.
disk_total=$(brm_node_field "$B" qemu-c0ffee disk_total_bytes)
[ -n "$disk_total" ] && [ "$disk_total" -gt $((600 << 20)) ] || fail "data partition not grown: disk_total_bytes=$disk_total"
pass "node reports $((disk_total >> 20)) MiB on its data partition"

# Containers on the Pi's own stack: cgroup v2 and crun. One runs; one that
# allocates past its 32 MiB limit is OOM-killed, reported and restarted.
expect_eq "cgroup version" 2 "$(brm_node_field "$B" qemu-c0ffee cgroup_version)"
case $(brm_node_field "$B" qemu-c0ffee runtime) in crun*) pass "runtime crun" ;; *) fail "runtime is '$(brm_node_field "$B" qemu-c0ffee runtime)', expected crun" ;; esac
SAMPLE=/usr/share/bramble/rootfs/busybox
"$B/bramble" run qemu-c0ffee web --image "$SAMPLE" --memory 32M --cpus 0.5 -- sleep 100000 >/dev/null || fail "bramble run web"
"$B/bramble" run qemu-c0ffee hog --image "$SAMPLE" --memory 32M -- tail /dev/zero >/dev/null || fail "bramble run hog"
ps_state() {
	"$B/bramble" -o json ps qemu-c0ffee | python3 -c '
import json, sys
c = {x["name"]: x for x in json.load(sys.stdin)}
w, h = c.get("web", {}), c.get("hog", {})
print(w.get("state"), w.get("pid") or 0, h.get("oom_kills") or 0, h.get("reason") or "-", h.get("exit_code"), h.get("restarts") or 0)'
}
st=""
for _ in $(seq 150); do
	st=$(ps_state)
	set -- $st
	[ "$1" = running ] && [ "$2" -gt 0 ] && [ "$3" -ge 1 ] && [ "$4" = OOMKilled ] && break
	sleep 0.4
done
set -- $st
[ "$1" = running ] && [ "$2" -gt 0 ] || fail "web not running under crun on cgroup v2: $st"
[ "$3" -ge 1 ] && [ "$4" = OOMKilled ] && [ "$5" = 137 ] || fail "hog not OOM-killed at 32 MiB: oom_kills=$3 reason=$4 exit=$5"
pass "cgroup v2 + crun: web running (pid $2); hog OOM-killed (oom_kills $3, exit $5, restarts $6)"

# The node reports its agent's and its shims' memory in its heartbeats: the
# footprint as the emulated Pi measures it (arm64, static agent, musl shims).
# The next heartbeat after the containers started carries the shims.
mem=""
for _ in $(seq 50); do
	arss=$(brm_node_field "$B" qemu-c0ffee agent_rss_bytes)
	srss=$(brm_node_field "$B" qemu-c0ffee shim_rss_bytes)
	[ -n "$arss" ] && [ -n "$srss" ] && [ "$srss" -gt 0 ] && break
	sleep 0.4
done
[ -n "$arss" ] && [ "$arss" -gt 0 ] || fail "the node reports no agent_rss_bytes: '$arss'"
[ -n "$srss" ] && [ "$srss" -gt 0 ] || fail "the node reports no shim_rss_bytes with two containers: '$srss'"
pass "footprint on the emulated Pi: agent VmRSS $((arss / 1024)) KiB, two shims $((srss / 1024)) KiB together"

# Confinement under crun on cgroup v2: the node's default seccomp profile
# (containers-common's, shipped on the image), /sys read-only recursively,
# a read-only view of the container's own cgroup.
"$B/bramble" run qemu-c0ffee probe --image "127.0.0.1:$rport/bramble/probe:1" --restart never >"$WORK/run.out" 2>&1 ||
	fail "bramble run probe: $(cat "$WORK/run.out")"
pl=$("$B/bramble" -o json image ls "127.0.0.1:$rport/bramble/probe:1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["platforms"])')
expect_eq "the platform the master pulled for the node" "linux/arm64" "$pl"
for _ in $(seq 150); do
	st=$("$B/bramble" -o json ps qemu-c0ffee | python3 -c '
import json, sys
c = {x["name"]: x for x in json.load(sys.stdin)}.get("probe", {})
print(c.get("state"), c.get("exit_code"), c.get("reason"))')
	case $st in exited* | failed*) break ;; esac
	sleep 0.4
done
"$B/bramble" logs qemu-c0ffee/probe >"$WORK/probe.out" 2>&1 || fail "bramble logs qemu-c0ffee/probe: $(tail -n 3 "$WORK/probe.out")"
sed 's/^/    /' "$WORK/probe.out"
grep -q '^FAIL' "$WORK/probe.out" && fail "the probe was allowed what a container must not do (above)"
for want in "ok   add_key: refused" "ok   keyctl: refused" "ok   unshare-user: refused" "ok   clone-user: refused" \
	"ok   perf_event_open: refused" "ok   userfaultfd: refused" "ok   write-sys: refused" \
	"ok   make a cgroup under /sys/fs/cgroup: refused" "ok   write /sys/fs/cgroup/memory.max: refused" \
	"confined: 0 allowed"; do
	grep -qF "$want" "$WORK/probe.out" || fail "the probe's output lacks '$want'"
done
expect_eq "the probe's exit" "exited 0" "$(echo "$st" | cut -d' ' -f1-2)"
pass "registry -> master -> node: the arm64 probe image pulled through the master ran under crun"
pass "crun + cgroup v2: every attempt of the confinement probe was refused"
"$B/bramble" rm qemu-c0ffee/probe >/dev/null || fail "bramble rm qemu-c0ffee/probe"

# Logs relayed from the node's agent: a container's stdout and stderr as
# bramble-shim stored them on the data partition, --tail, the kernel's
# /dev/kmsg, the agent's own log, and -f of a container that keeps printing.
"$B/bramble" run qemu-c0ffee out --image "$SAMPLE" --memory 32M --restart never \
	-- sh -c 'for i in 1 2 3; do echo out-$i; done; echo err-1 >&2' >/dev/null || fail "bramble run out"
"$B/bramble" run qemu-c0ffee web2 --image "$SAMPLE" --memory 32M --cpus 0.25 \
	-- sh -c 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done' >/dev/null || fail "bramble run web2"
out_state() {
	"$B/bramble" -o json ps qemu-c0ffee | python3 -c '
import json, sys
c = {x["name"]: x for x in json.load(sys.stdin)}.get("out", {})
print(c.get("state"), c.get("exit_code"))'
}
for _ in $(seq 100); do
	st=$(out_state)
	[ "${st%% *}" = exited ] && break
	sleep 0.2
done
expect_eq "container out ran once and exited" "exited 0" "$st"
L=$WORK/logs
mkdir -p "$L"
"$B/bramble" logs --stdout qemu-c0ffee/out >"$L/stdout.1" 2>"$L/stdout.2" || fail "bramble logs --stdout qemu-c0ffee/out: exit $?: $(cat "$L/stdout.2")"
expect_eq "logs --stdout (stdout)" "out-1 out-2 out-3" "$(paste -sd' ' "$L/stdout.1")"
expect_eq "logs --stdout (stderr)" "" "$(cat "$L/stdout.2")"
"$B/bramble" logs --stderr qemu-c0ffee/out >"$L/stderr.1" 2>"$L/stderr.2" || fail "bramble logs --stderr qemu-c0ffee/out: exit $?: $(cat "$L/stderr.2")"
expect_eq "logs --stderr (stderr)" "err-1" "$(paste -sd' ' "$L/stderr.2")"
expect_eq "logs --stderr (stdout)" "" "$(cat "$L/stderr.1")"
"$B/bramble" logs --tail 2 qemu-c0ffee/out >"$L/tail" 2>&1 || fail "bramble logs --tail 2 qemu-c0ffee/out: exit $?: $(cat "$L/tail")"
expect_eq "logs --tail 2 (stdout and stderr in order)" "out-3 err-1" "$(paste -sd' ' "$L/tail")"
"$B/bramble" logs qemu-c0ffee --kernel --tail 5 >"$L/kernel" 2>&1 || fail "bramble logs qemu-c0ffee --kernel --tail 5: exit $?: $(cat "$L/kernel")"
expect_eq "lines of logs --kernel --tail 5" 5 "$(wc -l <"$L/kernel")"
"$B/bramble" logs qemu-c0ffee --agent >"$L/agent" 2>&1 || fail "bramble logs qemu-c0ffee --agent: exit $?: $(tail -n 5 "$L/agent")"
expect_grep "logs --agent has the agent's own log" "connected to master" "$L/agent"
# -f: new lines (--tail 0) of web2 as they come, one every 0.2 s.
: >"$L/follow"
"$B/bramble" logs -f --tail 0 qemu-c0ffee/web2 >"$L/follow" 2>&1 &
FOLLOW=$!
trap 'kill "$FOLLOW" 2>/dev/null || true; image_test_cleanup' EXIT
for _ in $(seq 50); do [ "$(grep -c '^tick-[0-9]*$' "$L/follow")" -ge 3 ] && break; sleep 0.2; done
kill -0 "$FOLLOW" 2>/dev/null || fail "bramble logs -f qemu-c0ffee/web2 ended: $(tail -n 5 "$L/follow")"
[ "$(grep -c '^tick-[0-9]*$' "$L/follow")" -ge 3 ] || fail "logs -f: $(grep -c . "$L/follow") lines within 10 s, expected 3 or more: $(tail -n 5 "$L/follow" | paste -sd' ')"
kill "$FOLLOW"
wait "$FOLLOW" 2>/dev/null || true
trap image_test_cleanup EXIT
pass "logs -f followed web2: $(grep -c '^tick-' "$L/follow") lines ($(head -n1 "$L/follow") .. $(tail -n1 "$L/follow"))"
# The second boot runs what the first left, without the ticker.
"$B/bramble" rm qemu-c0ffee/web2 >/dev/null || fail "bramble rm qemu-c0ffee/web2"
brm_node_stop "$N"

brm_node_fat "$N" "$WORK/boot-after.vfat" || fail "cannot read the node's boot partition"
mtype -i "$WORK/boot-after.vfat" ::bramble.json >"$WORK/bramble-after.json"
grep -q '"token"' "$WORK/bramble-after.json" && fail "the token is still on the card: $(cat "$WORK/bramble-after.json")"
grep -qF "$BRM_GUEST_MASTER" "$WORK/bramble-after.json" || fail "master lost from bramble.json: $(cat "$WORK/bramble-after.json")"
grep -qF '"name_prefix": "qemu"' "$WORK/bramble-after.json" || fail "name_prefix lost: $(cat "$WORK/bramble-after.json")"
pass "bramble.json on the card after the join has no token: $(tr -d '\n' <"$WORK/bramble-after.json")"

# The master must see the node go away before the rejoin counts.
for _ in $(seq 100); do [ "$(brm_node_field "$B" qemu-c0ffee state)" = NotReady ] && break; sleep 0.2; done
expect_eq "state after power-off" NotReady "$(brm_node_field "$B" qemu-c0ffee state)"

# --- second boot, clock ten years behind, no token on the card ---------------
mv "$N/console.log" "$N/console-1.log"
boot2_at=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
BRM_QEMU_EXTRA="-rtc base=2016-01-01T00:00:00" brm_node_start "$N" "$WORK/disk.img" "$port" 10000000c0ffee 1G
t=$(boot_wait "$N" qemu-c0ffee "$READY_TIMEOUT")
pass "second boot: qemu-c0ffee Ready again ${t} s after QEMU started"
expect_grep "the clock was set forward from 2016" "clock set forward to 20[2-9][0-9]-" "$N/console.log"
grep -q "joined the cluster" "$N/console.log" && fail "the node joined again instead of using its stored identity"
expect_grep "rejoined with its stored identity" "starting \\(joined\\)|connected to master" "$N/console.log"
grep -q "growing partition 4" "$N/console.log" && fail "the data partition was grown a second time"
pass "no second grow"
expect_eq "nodes in the cluster" 1 "$("$B/bramble" -o json nodes | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
uptime=$(brm_node_field "$B" qemu-c0ffee uptime_ms)
pass "guest uptime at Ready: ${uptime} ms"
# The first boot's log lines are on the data partition and were synced
# (the first boot ended by killing QEMU, a pulled plug): still readable.
logs=$("$B/bramble" logs --stdout --timestamps qemu-c0ffee/out 2>&1) || fail "bramble logs after the reboot: $logs"
expect_eq "first boot's lines after the reboot" "out-1 out-2 out-3" "$(printf '%s\n' "$logs" | head -n 3 | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
first_ts=$(printf '%s\n' "$logs" | head -n 1 | cut -d' ' -f1)
[[ "$first_ts" < "$boot2_at" ]] || fail "the first line is stamped $first_ts, not before the reboot at $boot2_at"
pass "container log from the first boot survived the reboot"
echo "PASS"
