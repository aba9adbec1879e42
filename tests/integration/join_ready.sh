#!/usr/bin/env bash
# A master and three agents (one reading the Raspberry Pi 4 fixture root)
# join with one 3-use token and are Ready within about two heartbeat
# intervals; 'bramble nodes' reports them with their facts and metrics, in
# JSON and as a table; the token shows 3/3 uses.
source "$(dirname "$0")/lib.sh"

RPI4=$FIXTURES/rpi4
[[ -d "$RPI4/proc" ]] || fail "fixture root $RPI4 is missing"

start_master
TOKEN=$(create_token --ttl 1h --uses 3)
TID=$(token_id "$TOKEN")

t0=$(now_ms)
start_agent pi-1 --token "$TOKEN" --root "$RPI4"
start_agent pi-2 --token "$TOKEN"
start_agent pi-3 --token "$TOKEN"

# Join + hello + first heartbeat should take well under two intervals (2 s);
# 5 s is generous for a loaded machine or the sanitizer build, but bounded.
if ! wait_for 5 all_in_state Ready pi-1 pi-2 pi-3; then
        fail "not all nodes Ready within 5s of starting the agents: expected pi-1=Ready pi-2=Ready pi-3=Ready, got $(states pi-1 pi-2 pi-3)"
fi
log "all three Ready after $(($(now_ms) - t0)) ms"
for n in pi-1 pi-2 pi-3; do
        assert_file_contains "${AGENT_LOG[$n]}" "joined the cluster as $n" "agent $n log"
        assert_file_contains "$MASTER_LOG" "node $n joined with token $TID" "master log"
        assert_file_contains "$MASTER_LOG" "node $n Ready" "master log"
        for f in node.key node.crt ca.crt; do
                [[ -s "${AGENT_STATE[$n]}/$f" ]] || fail "agent $n has no $f in its state dir ${AGENT_STATE[$n]}"
        done
        assert_eq "$(sha256_of "$MASTER_DIR/ca.crt")" "$(sha256_of "${AGENT_STATE[$n]}/ca.crt")" "CA stored by agent $n"
done

# Every heartbeat carries cpu_percent, the first one too: the agent takes
# its first /proc/stat sample when it starts. So a node that is Ready (it
# has sent a heartbeat) has one. (pi-1 reads a fixture whose /proc/stat
# never changes, so it has none.)
for n in pi-2 pi-3; do
        [[ "$(node_field "$n" cpu_percent)" != "<missing>" ]] || fail "$n is Ready but its first heartbeat has no cpu_percent: $(nodes_dump)"
done

# The host decides whether host-root nodes have a temperature: the agent
# reports one only if some thermal zone reads.
# (Same rule as the agent: an integer in millidegrees, -273150..1000000.)
HOST_TEMP=$(python3 -c '
import glob
ok = False
for z in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
    try:
        v = int(open(z).read().strip())
    except (OSError, ValueError):
        continue
    ok = ok or -273150 <= v <= 1000000
print("true" if ok else "false")
')
log "host has a readable thermal zone: $HOST_TEMP"

JSON=$(nodes_json)
problems=$(printf '%s' "$JSON" | python3 -c '
import json, sys
host_temp = sys.argv[1] == "true"
d = json.load(sys.stdin)
out = []
def bad(m): out.append(m)
if not isinstance(d, list):
    bad("top level is %s, expected an array" % type(d).__name__)
    d = []
names = [n.get("name") for n in d]
if sorted(names) != ["pi-1", "pi-2", "pi-3"]:
    bad("names: expected [pi-1, pi-2, pi-3], got %r" % names)
num = (int, float)
for n in d:
    nm = n.get("name")
    for key, typ in (("name", str), ("state", str), ("last_seen", str), ("arch", str),
                     ("mem_total_bytes", num), ("mem_available_bytes", num)):
        if not isinstance(n.get(key), typ) or isinstance(n.get(key), bool):
            bad("%s: %s: expected %s, got %r" % (nm, key, typ, n.get(key)))
    if n.get("state") != "Ready":
        bad("%s: state: expected Ready, got %r" % (nm, n.get("state")))
    if not str(n.get("last_seen", "")).endswith("Z"):
        bad("%s: last_seen: expected an RFC 3339 UTC time, got %r" % (nm, n.get("last_seen")))
    mt, ma = n.get("mem_total_bytes"), n.get("mem_available_bytes")
    if isinstance(mt, num) and isinstance(ma, num) and not (0 < ma <= mt):
        bad("%s: expected 0 < mem_available_bytes <= mem_total_bytes, got %r / %r" % (nm, ma, mt))
    # The agent reports its own resident memory; a real process is more
    # than 100 KiB and, idle, far less than 64 MiB.
    rss = n.get("agent_rss_bytes")
    if not isinstance(rss, num) or not (100 << 10 < rss < 64 << 20):
        bad("%s: agent_rss_bytes: expected 100 KiB..64 MiB, got %r" % (nm, rss))
    # Every agent reaches the master over loopback from 127.0.0.1.
    if n.get("net_iface") != "lo" or n.get("net_addr") != "127.0.0.1":
        bad("%s: net_iface/net_addr: expected lo/127.0.0.1, got %r/%r" % (nm, n.get("net_iface"), n.get("net_addr")))
    # The fixture root of pi-1 has a /proc/net/wireless whose lines include
    # one for lo (the interface the test agents use): its signal must reach
    # the master; the host roots have no wireless line for lo.
    want = -61 if nm == "pi-1" else None
    if n.get("wifi_signal_dbm") != want:
        bad("%s: wifi_signal_dbm: expected %r, got %r" % (nm, want, n.get("wifi_signal_dbm")))
    if nm == "pi-1":
        if n.get("model") != "Raspberry Pi 4 Model B Rev 1.4":
            bad("pi-1: model: expected \"Raspberry Pi 4 Model B Rev 1.4\", got %r" % n.get("model"))
        if n.get("temp_celsius") != 48.7:
            bad("pi-1: temp_celsius: expected 48.7, got %r" % n.get("temp_celsius"))
        if n.get("arch") != "aarch64":
            bad("pi-1: arch: expected aarch64 (from the fixture), got %r" % n.get("arch"))
    else:
        cpu = n.get("cpu_percent")
        if not isinstance(cpu, num) or not (0 <= cpu <= 100):
            bad("%s: cpu_percent: expected a number 0..100, got %r" % (nm, cpu))
        if host_temp and "temp_celsius" not in n:
            bad("%s: the host has a thermal zone but the node has no temp_celsius" % nm)
        if not host_temp and "temp_celsius" in n:
            bad("%s: the host has no thermal zone but the node reports temp_celsius %r" % (nm, n["temp_celsius"]))
print("\n".join(out))
' "$HOST_TEMP")
[[ -z "$problems" ]] || fail "bramble -o json nodes:
$problems
full output: $JSON"

# The human table: a header and one row per node, with its state.
TABLE=$(cli_ok nodes)
assert_contains "$TABLE" "NAME" "table header"
for n in pi-1 pi-2 pi-3; do
        row=$(printf '%s\n' "$TABLE" | awk -v n="$n" '$1 == n')
        [[ -n "$row" ]] || fail "bramble nodes: no row for $n in:
$TABLE"
        assert_contains "$row" "Ready" "table row of $n"
done
assert_contains "$(printf '%s\n' "$TABLE" | awk '$1 == "pi-1"')" "48.7C" "table row of pi-1 (temperature)"
assert_contains "$(printf '%s\n' "$TABLE" | awk '$1 == "pi-1"')" " lo -61dBm " "table row of pi-1 (network)"
assert_contains "$(printf '%s\n' "$TABLE" | awk '$1 == "pi-2"')" " lo " "table row of pi-2 (network)"

# The token was used three times, once per node.
TOKENS=$(cli_ok token list)
row=$(printf '%s\n' "$TOKENS" | awk -v id="$TID" '$1 == id')
[[ -n "$row" ]] || fail "bramble token list has no row for $TID:
$TOKENS"
assert_contains "$row" "3/3" "token list row of $TID (uses)"
assert_contains "$row" "used-up" "token list row of $TID (status)"
token_field "$TID" "t['uses']"
assert_eq 3 "$Q" "uses of token $TID in 'bramble -o json token list'"

pass
