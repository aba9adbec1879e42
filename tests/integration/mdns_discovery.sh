#!/usr/bin/env bash
# Agents with "master": "auto" find the master by mDNS, in network
# namespaces made here (a bridge in a hub namespace, one veth per node,
# 10.77.0.0/24; nothing leaves them):
#
#  (b) a rogue master of another cluster, announcing honestly, is skipped
#      by its ca=; a liar announcing the real CA's prefix for the rogue's
#      address is tried and refused by the TLS pin with one clear line;
#      both run before the real master announces, and the agent keeps
#      browsing until the real one appears, then joins it;
#  (a) a second agent with "master": "auto" joins the announcing master;
#      both are Ready (and a third with the fixed address, for the figure);
#  (c) the master restarts on another address with the same data dir: the
#      joined agents find it again (their remembered address is gone) and
#      are Ready again without being touched.
#
# Prints "figure:" lines: agent start to connected (from the agent's log)
# with "auto" versus the fixed address.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mdnslib.sh"

node m 10.77.0.2
node r 10.77.0.3
node a1 10.77.0.11
node a2 10.77.0.12
node a3 10.77.0.13

# ---- the real master, not announcing yet; a token for three nodes ----
MDIR=$WORK/master
ns_master master "$P-m" "$MDIR" real --no-announce
MASTER_PID=$LAUNCH_PID
MASTER_LOG=$LAUNCH_LOG
assert_file_contains "$MASTER_LOG" "not announcing on mDNS (--no-announce)" "master log"
export BRAMBLE_CONFIG=$MDIR/admin.json
TOKEN=$(create_token --ttl 1h --uses 3)
CA16=$(echo "$TOKEN" | cut -d: -f2 | cut -c1-16)
for n in a1 a2; do
        printf '{"master": "auto", "token": "%s"}\n' "$TOKEN" >"$WORK/$n.json"
done
printf '{"master": "10.77.0.2:7443", "token": "%s"}\n' "$TOKEN" >"$WORK/a3.json"

# ---- (b) rogues first ----
ns_master rogue "$P-r" "$WORK/rogue" rogue
ROGUE_LOG=$LAUNCH_LOG
assert_file_contains "$ROGUE_LOG" "announcing rogue._bramble._tcp.local. (port 7443" "rogue master log"
ROGUE16=$(cut -d: -f2 "$WORK/rogue/join-token" | cut -c1-16)
[[ "$ROGUE16" != "$CA16" ]] || fail "the rogue's CA prefix equals the real one ($CA16)"
ip netns exec "$P-r" "$BRM_BIN/brm_mdns_announce" liar 7443 "$CA16" >"$LOGS/liar.log" 2>&1 &
track $! "brm_mdns_announce liar"
wait_for 5 log_has "$LOGS/liar.log" "announcing liar" || fail "the liar's announcement did not start"

ns_agent a1
wait_for 20 log_has "${AGENT_LOG[a1]}" "master 10.77.0.3:7443 (found by mDNS) refused: its CA does not match the one pinned by the token" ||
        fail "a1 did not refuse the liar's address with the clear line"
assert_file_contains "${AGENT_LOG[a1]}" "skipping master rogue at 10.77.0.3:7443 (found by mDNS): it announces ca=$ROGUE16" "a1 log"
assert_file_lacks "$ROGUE_LOG" "joined with token" "rogue master log"
log "a1 refused the liar at the rogue's address and skipped the honest rogue"

# The real master announces now (restarted with the same data dir).
stop_pid "$MASTER_PID"
ns_master master "$P-m" "$MDIR" real
MASTER_PID=$LAUNCH_PID
MASTER_LOG=$LAUNCH_LOG
assert_file_contains "$MASTER_LOG" "announcing real._bramble._tcp.local. (port 7443, ca=$CA16) on mDNS on 10.77.0.2" "master log"

# ---- (a) two agents with "auto" join and are Ready ----
ns_agent a2
wait_for 40 all_in_state Ready a1 a2 || fail "a1 and a2 not Ready: $(states a1 a2)"
for n in a1 a2; do
        assert_file_contains "${AGENT_LOG[$n]}" "found master real at 10.77.0.2:7443 by mDNS (ca=$CA16 matches the token)" "$n log"
        assert_file_contains "${AGENT_LOG[$n]}" "joined the cluster as $n" "$n log"
        assert_eq "10.77.0.2:7443" "$(head -n1 "$WORK/agents/$n/master-addrs")" "$n's remembered master address"
done
log "a1 and a2 Ready through mDNS"

# The same start with the fixed address, for the figure.
ns_agent a3 --master 10.77.0.2:7443
wait_for 20 all_in_state Ready a3 || fail "a3 (fixed address) not Ready: $(states a3)"
AUTO_MS=$(ms_between "${AGENT_LOG[a2]}" "starting (will join)" "connected to master at")
FIXED_MS=$(ms_between "${AGENT_LOG[a3]}" "starting (will join)" "connected to master at")
BROWSE_MS=$(ms_between "${AGENT_LOG[a2]}" "starting (will join)" "found master real")
echo "figure: agent start to connected (join included), \"master\": \"auto\": ${AUTO_MS} ms (of which browsing ${BROWSE_MS} ms); fixed address: ${FIXED_MS} ms"

# ---- (c) the master moves to another address ----
stop_pid "$MASTER_PID"
ip -n "$P-m" addr del 10.77.0.2/24 dev eth0
ip -n "$P-m" addr add 10.77.0.22/24 dev eth0
t_move=$(now_ms)
ns_master master "$P-m" "$MDIR" real
MASTER_PID=$LAUNCH_PID
MASTER_LOG=$LAUNCH_LOG
assert_file_contains "$MASTER_LOG" "on mDNS on 10.77.0.22" "master log"
for n in a1 a2; do
        wait_for 60 log_has "${AGENT_LOG[$n]}" "connected to master at 10.77.0.22:7443 (found by mDNS)" ||
                fail "$n did not find the master at its new address 10.77.0.22"
done
wait_for 20 all_in_state Ready a1 a2 || fail "a1 and a2 not Ready after the move: $(states a1 a2)"
echo "figure: master moved to another address: both auto agents Ready again $(($(now_ms) - t_move)) ms after its restart"
for n in a1 a2; do
        assert_eq "10.77.0.22:7443" "$(head -n1 "$WORK/agents/$n/master-addrs")" "$n's remembered master address after the move"
        ((${AGENT_PID[$n]} > 0)) && alive "${AGENT_PID[$n]}" || fail "agent $n is not running"
done
check_sanitizers
pass "agents found the master by mDNS, refused the rogue by its CA, and followed the master to a new address"
