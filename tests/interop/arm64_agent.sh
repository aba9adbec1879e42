#!/usr/bin/env bash
# Cross-version interop: the Raspberry Pi build (Debian 13, mbedTLS 3.6),
# run under qemu-aarch64, joins a master built for this host (Debian 12,
# mbedTLS 2.28), reaches Ready over mutual TLS with a recorded Pi 3 tree,
# and the arm64 CLI reads the cluster. This is the version pair a real
# cluster runs when the master is on a Debian 12 machine.
set -euo pipefail
: "${BRM_HOST_BIN:?}" "${BRM_ARM_BIN:?}" "${BRM_SYSROOT:?}" "${BRM_SRC:?}"
if [ ! -x "$BRM_HOST_BIN/bramble-master" ]; then
  echo "SKIP: host build not found in $BRM_HOST_BIN (build the host preset first)"
  exit 77
fi
command -v qemu-aarch64-static >/dev/null || { echo "SKIP: qemu-aarch64-static not installed"; exit 77; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
arm() { qemu-aarch64-static -L "$BRM_SYSROOT" "$@"; }

"$BRM_HOST_BIN/bramble-master" --data-dir "$tmp/m" --listen "127.0.0.1:$port" --heartbeat-interval 1s >"$tmp/master.log" 2>&1 &
pids+=($!)
export BRAMBLE_CONFIG=$tmp/m/admin.json
for _ in $(seq 50); do "$BRM_HOST_BIN/bramble" token list >/dev/null 2>&1 && break; sleep 0.1; done
token=$("$BRM_HOST_BIN/bramble" token create --ttl 10m --uses 1)
# qemu itself in the background (not through the function), so that the
# pid cleanup kills is the emulated agent's.
qemu-aarch64-static -L "$BRM_SYSROOT" "$BRM_ARM_BIN/bramble-agent" --master "127.0.0.1:$port" --token "$token" --name arm-pi3 \
  --state-dir "$tmp/agent" --heartbeat-interval 1s --root "$BRM_SRC/tests/unit/fixtures/rpi3" >"$tmp/agent.log" 2>&1 &
pids+=($!)

state=""
for _ in $(seq 100); do
  state=$(arm "$BRM_ARM_BIN/bramble" -o json nodes 2>/dev/null | python3 -c '
import json, sys
nodes = {n["name"]: n for n in json.load(sys.stdin)}
n = nodes.get("arm-pi3", {})
print(n.get("state", ""), n.get("arch", ""), n.get("model", ""), n.get("throttle", {}).get("under_voltage", ""), sep="|")' || true)
  case $state in Ready*) break ;; esac
  sleep 0.2
done
expected="Ready|aarch64|Raspberry Pi 3 Model B Plus Rev 1.3|True"
[ "$state" = "$expected" ] || fail "arm64 node seen as '$state', expected '$expected'"
grep -q "connected to master" "$tmp/agent.log" || fail "agent log has no mutual-TLS connection"
# A log stream from the arm64 agent, relayed by the host master, read by the arm64 CLI.
agent_log=$(arm "$BRM_ARM_BIN/bramble" logs arm-pi3 --agent 2>&1) || fail "bramble logs --agent failed: $agent_log"
case $agent_log in *"connected to master"*) ;; *) fail "the agent's log stream lacks 'connected to master': $agent_log" ;; esac
echo "arm64 (mbedTLS 3.6) agent and CLI interoperate with the host (mbedTLS $(dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null || echo '?')) master"
