#!/usr/bin/env bash
# The emulated cluster: a bramble-master on loopback and three Raspberry Pi
# nodes booted from the SD-card image under qemu-system-aarch64 -M virt.
# Each node is a copy-on-write overlay of the one image with its own serial
# (so its own name) and its own data partition; the only way out of a node
# is one forward to the master. scripts/demo runs this after bootstrap and
# the host build.
#
#   image/demo.sh          build (if needed) and start; prints 'bramble nodes'
#   image/demo.sh stop     stop the nodes and the master
#
# Environment: BRM_BIN (host build bin dir, default build/host/bin),
# BRAMBLE_DEMO_PORT (default 7443), BRM_DEMO_DIR (default build/demo-image).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BRM_BIN:-$SRC/build/host/bin}
RUN=${BRM_DEMO_DIR:-$SRC/build/demo-image}
PORT=${BRAMBLE_DEMO_PORT:-7443}
HPORT=$((PORT + 1)) # the master's HTTPS port: metrics and the dashboard
. "$SRC/image/qemu.sh"

stop() {
	[ -d "$RUN" ] || return 0
	for n in "$RUN"/node-*; do [ -d "$n" ] && brm_node_stop "$n"; done
	if [ -f "$RUN/registry.pid" ]; then
		kill "$(cat "$RUN/registry.pid")" 2>/dev/null || true
		rm -f "$RUN/registry.pid"
	fi
	brm_master_stop "$RUN"
}

# An app image for the nodes, made here: busybox for arm64 (from the image
# build's package cache) and a command of its own, as an OCI layout
# (brm_app_image in image/qemu.sh).
demo_app_image() {
	brm_app_image "$RUN/app" "${BRM_IMAGE_CACHE:-$SRC/build/image-cache}"
}

if [ "${1:-}" = stop ]; then
	stop
	echo "emulated cluster stopped (disks and logs kept in $RUN until the next start)"
	exit 0
fi

brm_need_tools qemu-system-aarch64 qemu-img mcopy socat python3
[ -x "$BIN/bramble-master" ] || { echo "image/demo.sh: no bramble-master in $BIN (build the host preset first)" >&2; exit 1; }
stop
rm -rf "$RUN"
mkdir -p "$RUN"

echo "== building the SD-card image (image/build.sh; Debian trixie arm64 packages are cached)"
IMG=$(brm_image_path "$SRC")
echo "   $IMG ($(($(stat -c %s "$IMG") >> 20)) MiB, $(($(du -B1 "$IMG" | cut -f1) >> 20)) MiB allocated)"

echo "== starting bramble-master on 127.0.0.1:$PORT, HTTPS (metrics, dashboard) on 127.0.0.1:$HPORT (data in $RUN/data)"
brm_master_start "$RUN" "$PORT" "$BIN" --http-listen "127.0.0.1:$HPORT"
echo "   export BRAMBLE_CONFIG=$BRAMBLE_CONFIG"

echo "== creating a join token for three nodes and writing it into the image"
token=$("$BIN/bramble" token create --ttl 1h --uses 3 --description demo-image)
echo "   $token"
cp --sparse=always "$IMG" "$RUN/bramble.img"
"$BIN/bramble" image configure "$RUN/bramble.img" --master "$BRM_GUEST_MASTER" --token "$token" --name-prefix pi | sed 's/^/   /'

echo "== booting three emulated Raspberry Pi nodes (qemu-system-aarch64 -M virt, overlays of one image)"
names=()
for i in 1 2 3; do
	serial=$(printf '10000000d3%04x' "$i")
	name=pi-$(echo "$serial" | tail -c 7)
	names+=("$name")
	brm_node_start "$RUN/node-$i" "$RUN/bramble.img" "$PORT" "$serial" 2G
	echo "   node $i: serial $serial -> $name (console: $RUN/node-$i/console.log)"
done

echo "== waiting for all three to be Ready"
for i in 1 2 3; do
	name=${names[$((i - 1))]}
	brm_wait_ready "$BIN" "$name" 180 || { echo "image/demo.sh: $name did not turn Ready; see $RUN/node-$i/console.log" >&2; exit 1; }
	echo "   $name Ready $(awk -v s="$(cat "$RUN/node-$i/started")" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}') s after its QEMU started"
done
echo "== running a sample container on ${names[0]} (the busybox root file system every node carries)"
"$BIN/bramble" run "${names[0]}" hello --image /usr/share/bramble/rootfs/busybox --memory 32M --cpus 0.25 \
	-- sh -c 'while true; do echo "hello from $(hostname) at $(date)"; sleep 5; done' | sed 's/^/   /'
for _ in $(seq 100); do
	"$BIN/bramble" -o json ps "${names[0]}" | grep -q '"state":[[:space:]]*"running"' && break
	sleep 0.3
done
sleep 2 # one more heartbeat, so CPU use is known
"$BIN/bramble" nodes
echo
"$BIN/bramble" ps
echo
echo "== confinement: every container runs under a seccomp filter (containers-common's profile, hardened)"
echo "   (Seccomp: 2 is a filter; CapEff is the capability mask, wider with --cap-add)"
"$BIN/bramble" run "${names[1]}" probe --image /usr/share/bramble/rootfs/busybox --restart never \
	-- sh -c 'grep -E "^(Seccomp|CapEff)" /proc/self/status' >/dev/null
"$BIN/bramble" run "${names[1]}" netadmin --image /usr/share/bramble/rootfs/busybox --cap-add NET_ADMIN --restart never \
	-- sh -c 'grep -E "^(Seccomp|CapEff)" /proc/self/status' >/dev/null
for _ in $(seq 60); do
	[ "$("$BIN/bramble" -o json ps "${names[1]}" | grep -c '"state":[[:space:]]*"exited"')" -ge 2 ] && break
	sleep 0.5
done
for c in probe netadmin; do
	echo "   $c: $("$BIN/bramble" logs "${names[1]}/$c" 2>&1 | paste -sd' ')"
done
"$BIN/bramble" ps "${names[1]}" | grep '^SECURITY' | sed 's/^/   /' || true
echo "   bramble inspect ${names[1]}/netadmin:"
"$BIN/bramble" inspect "${names[1]}/netadmin" | sed 's/^/     /' || true
"$BIN/bramble" rm "${names[1]}/probe" >/dev/null
"$BIN/bramble" rm "${names[1]}/netadmin" >/dev/null
echo
if command -v docker-registry >/dev/null && command -v skopeo >/dev/null && command -v umoci >/dev/null && demo_app_image; then
	rport=$(brm_free_port)
	echo "== getting an app onto the cluster: a registry on this machine (docker-registry, 127.0.0.1:$rport)"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$RUN/registry" "$rport" >"$RUN/registry.yml"
	docker-registry serve "$RUN/registry.yml" >"$RUN/registry.log" 2>&1 &
	echo $! >"$RUN/registry.pid"
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.2; done
	skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$RUN/app/oci:1" "docker://127.0.0.1:$rport/demo/hello:1"
	echo "   an arm64 image pushed with skopeo; the master may use the registry over plain HTTP:"
	echo "   \$ bramble registry login 127.0.0.1:$rport --insecure-http"
	"$BIN/bramble" registry login "127.0.0.1:$rport" --insecure-http | sed 's/^/   /'
	echo "   \$ bramble run ${names[2]} app --image 127.0.0.1:$rport/demo/hello:1 --restart never"
	echo "   (the master pulls it for linux/arm64, the node fetches its blobs from the master)"
	"$BIN/bramble" run "${names[2]}" app --image "127.0.0.1:$rport/demo/hello:1" --restart never 2>&1 | sed 's/^/   /'
	APP_IMAGE=127.0.0.1:$rport/demo/hello:1
	for _ in $(seq 100); do
		"$BIN/bramble" -o json ps "${names[2]}" | grep -q '"state":[[:space:]]*"exited"' && break
		sleep 0.3
	done
	"$BIN/bramble" logs "${names[2]}/app" 2>&1 | sed 's/^/   app: /'
	echo "   an image built elsewhere, without a registry: an oci-archive file"
	skopeo --insecure-policy copy -q "oci:$RUN/app/oci:1" "oci-archive:$RUN/app.tar"
	echo "   \$ bramble image load $RUN/app.tar --name demo/offline:1"
	"$BIN/bramble" image load "$RUN/app.tar" --name demo/offline:1 2>/dev/null | sed 's/^/   /'
	"$BIN/bramble" image ls | sed 's/^/   /'
	echo
fi
echo "== what Bramble itself costs on each node (the agent's and its container shims' memory, from heartbeats)"
"$BIN/bramble" -o json nodes | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    a, s = n.get("agent_rss_bytes"), n.get("shim_rss_bytes")
    print("   %-12s agent %s   shims %s" % (n["name"], "%4d KiB" % (a // 1024) if a else "   -", "%4d KiB" % (s // 1024) if s is not None else "-"))' || true
echo
echo "== its output so far (bramble logs --tail 5 ${names[0]}/hello; the node's agent relays it)"
"$BIN/bramble" logs --tail 5 "${names[0]}/hello" 2>&1 | sed 's/^/   /' || echo "   (bramble logs failed)"
echo
echo "== the master's own recovery: a snapshot of its database and CA, taken at start (then hourly)"
ls -1 "$RUN/data/snapshots" 2>/dev/null | sed 's/^/   snapshots\//' || echo "   (none yet)"
echo
# A service across the three Pis: the master places the replicas (one per
# node: it spreads a service's replicas), each node fetches the image from
# the master, and a node that loses power has its replica placed on another.
svc_image=${APP_IMAGE:-/usr/share/bramble/rootfs/busybox}
echo "== a service across the cluster: 3 replicas of $svc_image, placed by the master"
echo "   \$ bramble service create web --image $svc_image --replicas 3 --memory 16M -- sleep 100000"
"$BIN/bramble" service create web --image "$svc_image" --replicas 3 --memory 16M -- sleep 100000 2>&1 | sed 's/^/   /'
svc_t0=$(date +%s.%N)
svc_running() {
	"$BIN/bramble" -o json service inspect web 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin).get("replicas") or [] if r.get("state") == "running"))' 2>/dev/null || echo 0
}
for _ in $(seq 240); do
	[ "$(svc_running)" = 3 ] && break
	sleep 0.5
done
if [ "$(svc_running)" = 3 ]; then
	echo "   3 replicas running $(awk -v s="$svc_t0" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}') s after the create (the nodes without the image fetched it from the master)"
else
	echo "   (not 3 running after 120 s: $(svc_running); see bramble events)"
fi
echo "   \$ bramble service ps web"
"$BIN/bramble" service ps web 2>&1 | sed 's/^/   /'
echo "   \$ bramble nodes"
"$BIN/bramble" nodes 2>&1 | sed 's/^/   /'
echo "   One replica of web runs on each emulated Pi. Cut the power of one (kill -9 its QEMU):"
echo "   the master calls it NotReady after 4 s without a heartbeat (1 s x grace 4) and starts its replica on another Pi; watch with 'bramble service ps web' and 'bramble events'."
echo
# A Pi without a cable (a Zero 2 W, say): booted now, shown at the end.
# The emulated machine has no network card for the node; the Wi-Fi test
# image (tests/image/wifi-ap, never the released image) also runs a WPA2
# access point on a second simulated radio (mac80211_hwsim), with the only
# way out: the forward to the master.
wifi_started=
wifi_demo_start() {
	local out=$SRC/build/image-wifitest wimg wtoken
	wimg=$out/bramble-rpi-arm64.img
	mkdir -p "$out"
	if [ ! -f "$wimg" ] || [ -n "$(find "$SRC/image" "$SRC/board" "$SRC/tests/image/wifi-ap" "$IMG" -newer "$wimg" 2>/dev/null | head -n1)" ]; then
		BRM_IMAGE_NOXZ=1 BRM_IMAGE_OUT=$out BRM_IMAGE_TEST_OVERLAY=$SRC/tests/image/wifi-ap \
			"$SRC/image/build.sh" --quiet >"$out/build.log" 2>&1 || return 1
	fi
	wtoken=$("$BIN/bramble" token create --ttl 1h --uses 1 --description demo-wifi)
	cp --sparse=always "$wimg" "$RUN/wifi.img"
	echo "   \$ bramble image configure wifi.img --master 192.168.77.1:7443 --token … --name-prefix zero --wifi-ssid bramble-test --wifi-psk-stdin --wifi-country GB"
	printf '%s\n' "bramble wifi test" | "$BIN/bramble" image configure "$RUN/wifi.img" --master 192.168.77.1:7443 \
		--token "$wtoken" --name-prefix zero --wifi-ssid bramble-test --wifi-psk-stdin --wifi-country GB >/dev/null || return 1
	echo "   bramble.json on the card holds the WPA2 key derived from the passphrase, never the passphrase"
	brm_node_start "$RUN/node-wifi" "$RUN/wifi.img" "$PORT" 10000000d3a0f1 1G || return 1
	echo "   booting zero-d3a0f1 (console: $RUN/node-wifi/console.log); it joins while the demo goes on"
}
echo "== a Pi without a cable: Wi-Fi only (mac80211_hwsim in the emulated Pi, an access point beside it)"
if wifi_demo_start; then wifi_started=1; else echo "   (skipped: the Wi-Fi test image could not be built or booted; see build/image-wifitest/build.log)"; fi
echo
echo "== seeing the cluster: Prometheus metrics and the web dashboard, served by the master (no exporter on any Pi)"
"$BIN/bramble" dashboard --ca >"$RUN/cluster-ca.pem"
echo "   \$ bramble api-token create --role metrics --description demo > $RUN/metrics.token"
"$BIN/bramble" api-token create --role metrics --description demo >"$RUN/metrics.token"
echo "   \$ curl --cacert $RUN/cluster-ca.pem -H \"Authorization: Bearer \$(cat $RUN/metrics.token)\" https://127.0.0.1:$HPORT/metrics"
curl -sS --cacert "$RUN/cluster-ca.pem" -H "Authorization: Bearer $(cat "$RUN/metrics.token")" \
	"https://127.0.0.1:$HPORT/metrics" >"$RUN/metrics.txt" 2>&1 || true
echo "   $(wc -c <"$RUN/metrics.txt") bytes, $(grep -vc '^#' "$RUN/metrics.txt") series; a few:"
grep -E '^bramble_node_(ready|memory_available_bytes|temperature_celsius)\{' "$RUN/metrics.txt" | head -6 | sed 's/^/     /'
echo "   \$ bramble top --once --sort mem"
"$BIN/bramble" top --once --sort mem 2>&1 | sed 's/^/   /'
link=$("$BIN/bramble" dashboard 2>/dev/null)
echo "   \$ bramble dashboard     # a one-time sign-in link (60 s); the page is served with the master's certificate:"
echo "   $link"
echo "   trust $RUN/cluster-ca.pem in the browser, or run 'bramble dashboard' again for a fresh link"
if command -v chromium-headless-shell >/dev/null; then
	# The page keeps its event stream open, so it is never done loading:
	# tests/integration/cdp.py waits until it shows the cluster live, then
	# takes the screenshot.
	spki=$(openssl s_client -connect "127.0.0.1:$HPORT" </dev/null 2>/dev/null | openssl x509 -pubkey -noout |
		openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
	shot_link=$("$BIN/bramble" dashboard 2>/dev/null)
	rm -rf "$RUN/browser"
	timeout 90 python3 "$SRC/tests/integration/cdp.py" --chromium "$(command -v chromium-headless-shell)" \
		--dir "$RUN/browser" --spki "$spki" open "$shot_link" wait "${names[0]}" 30 wait 'live' 15 \
		shot "$RUN/dashboard.png" >"$RUN/browser.log" 2>&1 &&
		echo "   the dashboard as headless Chromium rendered it: $RUN/dashboard.png"
fi
echo
if [ -n "$wifi_started" ]; then
	echo "== the Wi-Fi-only Pi"
	if brm_wait_ready "$BIN" zero-d3a0f1 180; then
		echo "   zero-d3a0f1 Ready $(awk -v s="$(cat "$RUN/node-wifi/started")" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}') s after its QEMU started; NETWORK says how each node reaches the master:"
		sleep 2 # a heartbeat with its signal
		"$BIN/bramble" nodes 2>&1 | sed 's/^/   /'
	else
		echo "   (zero-d3a0f1 not Ready after 180 s; see $RUN/node-wifi/console.log)"
	fi
	echo
fi
echo "== an OS update over the air: ${names[0]} to a new image, its other root slot written, tried once, committed"
upgrade_demo() {
	local out=$SRC/build/image-demo-v2 v2img
	v2img=$out/bramble-rpi-arm64.img
	mkdir -p "$out"
	# The same sources as another version stand in for a new release.
	if [ ! -f "$v2img" ] || [ -n "$(find "$SRC/image" "$SRC/board" "$IMG" -newer "$v2img" 2>/dev/null | head -n1)" ]; then
		BRM_IMAGE_VERSION=demo-2 BRM_IMAGE_NOXZ=1 BRM_IMAGE_OUT=$out "$SRC/image/build.sh" --quiet >"$out/build.log" 2>&1 || return 1
	fi
	echo "   \$ bramble node upgrade ${names[0]} --image $v2img --healthy-for 10s"
	"$BIN/bramble" node upgrade "${names[0]}" --image "$v2img" --healthy-for 10s 2>&1 | grep -v '^    uploaded\|^hashing\|^uploaded' | sed 's/^/   /'
	echo "   \$ bramble node upgrade --status"
	"$BIN/bramble" node upgrade --status 2>&1 | sed 's/^/   /'
}
upgrade_demo || echo "   (skipped: the second image could not be built; see build/image-demo-v2/build.log)"
echo
echo "The emulated cluster keeps running. Try:"
echo "  export BRAMBLE_CONFIG=$BRAMBLE_CONFIG"
echo "  $BIN/bramble nodes -o json"
echo "  $BIN/bramble run ${names[1]} hog --image /usr/share/bramble/rootfs/busybox --memory 32M -- tail /dev/zero   # OOM-killed, restarted"
echo "  $BIN/bramble ps"
echo "  $BIN/bramble logs -f ${names[0]}/hello   # follow its output (Ctrl-C to stop)"
echo "  $BIN/bramble logs ${names[0]} --kernel --tail 20   # the node's kernel log (--agent: the agent's own)"
echo "  kill -9 \$(cat $RUN/node-1/qemu.pid)   # power cut: ${names[0]} turns NotReady after 4 s; its replica of web moves"
echo "  $BIN/bramble service ps web; $BIN/bramble events   # where the replica went, and why"
echo "  $BIN/bramble top   # the nodes' figures, refreshed (c/m/t: sort by CPU, memory, temperature; q: quit)"
echo "  $BIN/bramble node upgrade --all --image $SRC/build/image-demo-v2/bramble-rpi-arm64.img   # the others, one at a time"
echo "  $BIN/bramble node rollback ${names[0]}   # back to its first slot, tried and confirmed the same way"
echo "  $BIN/bramble dashboard   # a fresh sign-in link for https://127.0.0.1:$HPORT/"
echo "Stop everything with: image/demo.sh stop (or scripts/demo stop)"
