#!/usr/bin/env bash
# A node that reaches the master over Wi-Fi only. The test image (the
# production one plus tests/image/wifi-ap, built into build/image-wifitest)
# loads mac80211_hwsim with two radios inside the VM: the node keeps wlan0;
# wlan1 and the wired eth0 move into another network namespace with a
# WPA2 access point (hostapd), DHCP (udhcpd) and a forward of the master's
# port to QEMU's user network. bramble.json, written by 'bramble image
# configure --wifi-ssid ... --wifi-psk-stdin', is all the node has.
#   1. the right passphrase: the node joins over wlan0 and is Ready;
#   2. a wrong one: the console says it cannot associate, again and again.
# Both VMs boot at once. Prints the time from QEMU start to Ready.
. "$(dirname "$0")/lib.sh"
brm_need_tools qemu-system-aarch64 qemu-img mcopy mtype socat python3
[ -x "$BRM_BIN/bramble" ] || skip "no bramble in BRM_BIN=$BRM_BIN (build the host preset first)"
need_image_cli
WORK=$(mktemp -d "${TMPDIR:-/tmp}/brm-image-test.XXXXXX")
NODES=()
trap image_test_cleanup EXIT
B=$BRM_BIN
READY_TIMEOUT=${BRM_READY_TIMEOUT:-120}
SSID=bramble-test
PASSPHRASE="bramble wifi test" # tests/image/wifi-ap/rootfs/etc/bramble/test-ap.sh
export MTOOLS_SKIP_CHECK=1

# --- the test image, rebuilt when its sources changed ------------------------
OUT=$BRM_SRC/build/image-wifitest
IMG=$OUT/bramble-rpi-arm64.img
mkdir -p "$OUT"
(
	flock 9
	if [ ! -f "$IMG" ] || [ -n "$(find "$BRM_SRC/image" "$BRM_SRC/board" "$BRM_SRC/tests/image/wifi-ap" \
		"$BRM_SRC/build/rpi-arm64/bin/bramble-agent" -newer "$IMG" 2>/dev/null | head -n1)" ]; then
		echo "building the Wi-Fi test image (image/build.sh with BRM_IMAGE_TEST_OVERLAY)" >&2
		BRM_IMAGE_NOXZ=1 BRM_IMAGE_OUT=$OUT BRM_IMAGE_TEST_OVERLAY=$BRM_SRC/tests/image/wifi-ap \
			"$BRM_SRC/image/build.sh" --quiet >"$OUT/build.log" 2>&1 || exit 1
	fi
) 9>"$OUT/.lock" || {
	grep -q "mac80211_hwsim.*is not in" "$OUT/build.log" && skip "the Debian kernel has no mac80211_hwsim: $(tail -n1 "$OUT/build.log")"
	fail "building the Wi-Fi test image failed: $(tail -n 3 "$OUT/build.log")"
}
pass "test image $IMG"

port=$(brm_free_port)
brm_master_start "$WORK/master" "$port" "$B" || fail "master did not start"
token=$("$B/bramble" token create --ttl 1h --uses 2 --description wifi-test)

# configure DISK PASSPHRASE PREFIX
configure() {
	cp --sparse=always "$IMG" "$1"
	printf '%s\n' "$2" | "$B/bramble" image configure "$1" --master 192.168.77.1:7443 --token "$token" --name-prefix "$3" \
		--wifi-ssid "$SSID" --wifi-psk-stdin --wifi-country GB >/dev/null || fail "bramble image configure --wifi-ssid $SSID"
	mtype -i "$1@@$(brm_part_offset "$1" 1)" ::bramble.json >"$1.json"
}
configure "$WORK/good.img" "$PASSPHRASE" wifi
grep -qF "$PASSPHRASE" "$WORK/good.img.json" && fail "the passphrase is in bramble.json: $(cat "$WORK/good.img.json")"
psk=$(python3 -c 'import json,sys; w=json.load(open(sys.argv[1]))["wifi"]; print(w[0]["psk"] if w[0]["ssid"] == sys.argv[2] else "")' \
	"$WORK/good.img.json" "$SSID")
[[ $psk =~ ^[0-9a-f]{64}$ ]] || fail "bramble.json wifi[0].psk is not 64 hex digits: $(cat "$WORK/good.img.json")"
pass "bramble.json holds the derived key ($psk), not the passphrase"
configure "$WORK/bad.img" "not the passphrase" wrongkey

# --- boot both ----------------------------------------------------------------
G=$WORK/good
K=$WORK/wrong
NODES+=("$G" "$K")
brm_node_start "$G" "$WORK/good.img" "$port" 20000000000a11 1G
brm_node_start "$K" "$WORK/bad.img" "$port" 20000000000b22 1G
t=$(boot_wait "$G" wifi-000a11 "$READY_TIMEOUT")
expect_grep "the test access point came up" "test AP: bramble-test up on wlan1" "$G/console.log"
expect_grep "the node had no wired path (eth0 moved away)" "eth0 moved to the access point's namespace" "$G/console.log"
expect_grep "wlan0 associated" "wlan0: associated" "$G/console.log"
expect_grep "wlan0 got an address by DHCP" "wlan0 up: 192\\.168\\.77\\.[0-9]+" "$G/console.log"
expect_grep "the agent joined" "joined the cluster as wifi-000a11" "$G/console.log"
for _ in $(seq 50); do grep -q "test AP: node routes" "$G/console.log" && break; sleep 0.2; done
expect_grep "default route through wlan0 with Wi-Fi's metric (udhcpc.sh)" "node routes: .*default via 192\.168\.77\.1 dev wlan0 +metric 20" "$G/console.log"
expect_grep "subnet route through wlan0 with Wi-Fi's metric" "node routes: .*192\.168\.77\.0/24 dev wlan0 .*metric 20" "$G/console.log"
pass "over Wi-Fi: wifi-000a11 Ready ${t} s after QEMU started"
echo "figure: boot to Ready over Wi-Fi (mac80211_hwsim, TCG): ${t} s"
# The master sees how the node reaches it: wlan0, with the signal in dBm
# (heartbeats, from the node's /proc/net/wireless).
iface=$(brm_node_field "$B" wifi-000a11 net_iface)
[ "$iface" = wlan0 ] || fail "bramble nodes -o json: wifi-000a11 reaches the master over '$iface', expected wlan0"
dbm=
for _ in $(seq 20); do
	dbm=$(brm_node_field "$B" wifi-000a11 wifi_signal_dbm)
	[ -n "$dbm" ] && break
	sleep 0.5
done
[[ $dbm =~ ^-[0-9]+$ ]] || fail "bramble nodes -o json: wifi-000a11 has no Wi-Fi signal in dBm (got '$dbm')"
row=$("$B/bramble" nodes | awk '$1 == "wifi-000a11"')
case $row in *" wlan0 ${dbm}dBm "*) ;; *) fail "bramble nodes: the row of wifi-000a11 lacks 'wlan0 ${dbm}dBm': $row" ;; esac
pass "bramble nodes: wifi-000a11 on wlan0, signal ${dbm} dBm"

# --- the wrong passphrase: reported, and retried --------------------------------
want="wlan0: cannot associate with SSID '$SSID' \\(WRONG_KEY"
end=$(($(date +%s) + 90))
while [ "$(grep -cE "$want" "$K/console.log")" -lt 2 ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
n=$(grep -cE "$want" "$K/console.log" || true)
[ "$n" -ge 2 ] || { tail -n 30 "$K/console.log" >&2; fail "wrong key: 'cannot associate' said $n times, expected 2 or more"; }
pass "wrong key: $n times on the console: $(grep -m1 -E "$want" "$K/console.log" | tr -d '\r')"
grep -q "wlan0 up:" "$K/console.log" && fail "the node with the wrong key got an address"
[ "$(brm_node_field "$B" wrongkey-000b22 state)" = "" ] || fail "the node with the wrong key joined"
pass "the node with the wrong key did not join"
# The same line is in the agent log on the card's data partition.
brm_node_stop "$K"
qemu-img convert -O raw "$K/overlay.qcow2" "$K/disk.raw"
dd if="$K/disk.raw" of="$K/data.ext4" bs=1M skip=$(($(brm_part_offset "$K/disk.raw" 4) >> 20)) status=none
rm -f "$K/disk.raw"
if command -v debugfs >/dev/null; then
	debugfs -R "cat /log/bramble-agent.log" "$K/data.ext4" 2>/dev/null >"$K/agent.log"
	expect_grep "the agent log on the card says it too" "bramble-boot: $want" "$K/agent.log"
else
	echo "note: no debugfs here (e2fsprogs); the agent log on the card is not checked"
fi
echo "PASS"
