#!/usr/bin/env bash
# The master stops cleanly on SIGTERM and a second start on the same data dir
# keeps everything: the CA, admin.json, the nodes (SQLite), their last-seen
# times. The agents come back Ready by themselves with their stored
# identities; the token they were started with is revoked first, to show it
# is not used again (also not by an agent process restarted with it).
source "$(dirname "$0")/lib.sh"

start_master
MASTER1_PID=$MASTER_PID
MASTER1_OUT=$MASTER_OUT
assert_file_contains "$MASTER1_OUT" "created a new cluster" "first start stdout"
declare -A SUM
for f in admin.json ca.crt ca.key join-token; do
        [[ -s "$MASTER_DIR/$f" ]] || fail "first start wrote no $f in $MASTER_DIR"
        SUM[$f]=$(sha256_of "$MASTER_DIR/$f")
done
CA_FIELD=$(json_query "d['ca']" <"$MASTER_DIR/admin.json")

TOKEN=$(create_token --ttl 1h --uses 3)
TID=$(token_id "$TOKEN")
for n in pi-1 pi-2 pi-3; do
        start_agent "$n" --token "$TOKEN"
done
wait_for 5 all_in_state Ready pi-1 pi-2 pi-3 ||
        fail "setup: expected pi-1=Ready pi-2=Ready pi-3=Ready within 5s, got $(states pi-1 pi-2 pi-3)"

cli_ok token revoke "$TID" >/dev/null
token_field "$TID" "t['revoked']"
assert_eq true "$Q" "token $TID revoked before the restart"

# Let at least one heartbeat land after the revoke, then stop the master.
sleep 1.2
t_stop=$(now_ms)
stop_pid "$MASTER1_PID" TERM 10
assert_eq 0 "$STOP_RC" "exit code of bramble-master after SIGTERM"
assert_file_contains "$MASTER_LOG" "signal 15: stopping" "master log"
assert_file_contains "$MASTER_LOG" "master: stopped" "master log"
MASTER1_LOG=$MASTER_LOG

# The agents notice and keep retrying (with backoff) while it is down.
for n in pi-1 pi-2 pi-3; do
        alive "${AGENT_PID[$n]}" || fail "agent $n exited when the master stopped (it must keep retrying)"
done
sleep 1

# Second start: same data dir, same port.
start_master
assert_file_lacks "$MASTER_OUT" "created a new cluster" "second start stdout"
assert_file_contains "$MASTER_LOG" "(3 nodes known" "second start log (nodes loaded from the database)"
for f in admin.json ca.crt ca.key join-token; do
        assert_eq "${SUM[$f]}" "$(sha256_of "$MASTER_DIR/$f")" "sha256 of $f after the second start (must not be rewritten)"
done
assert_eq "$CA_FIELD" "$(json_query "d['ca']" <"$MASTER_DIR/admin.json")" "CA in admin.json after the restart"

# The nodes are listed at once, from the database, with their last-seen time
# as it was flushed at shutdown.
JSON=$(nodes_json)
names=$(printf '%s' "$JSON" | json_query "sorted(n['name'] for n in d)")
assert_eq '["pi-1", "pi-2", "pi-3"]' "$names" "nodes listed right after the restart"
for n in pi-1 pi-2 pi-3; do
        seen=$(printf '%s' "$JSON" | json_query "[x.get('last_seen_ms', 0) for x in d if x['name'] == '$n'][0]")
        ((seen >= t_stop - 2500)) ||
                fail "$n last_seen_ms after restart is $seen, expected >= $((t_stop - 2500)) (the last heartbeat before the stop at $t_stop; was it flushed on SIGTERM?)"
done

# All three come back by themselves (their retry backoff is ~1-4 s by now).
t_up=$(now_ms)
wait_for 15 all_in_state Ready pi-1 pi-2 pi-3 ||
        fail "after the master restart: expected pi-1=Ready pi-2=Ready pi-3=Ready within 15s, got $(states pi-1 pi-2 pi-3)"
log "all Ready again $(($(now_ms) - t_up)) ms after the second start"
assert_file_lacks "$MASTER_LOG" "join" "second master log (no join attempt after the restart)"
for n in pi-1 pi-2 pi-3; do
        c=$(grep -c "joined the cluster" "${AGENT_LOG[$n]}" || true)
        assert_eq 1 "$c" "'joined the cluster' lines in the log of $n"
done

# An agent process restarted with the (revoked) token still comes back: the
# stored identity wins, the token is not sent.
stop_pid "${AGENT_PID[pi-3]}" TERM 10
assert_eq 0 "$STOP_RC" "exit code of agent pi-3 after SIGTERM"
start_agent pi-3 --token "$TOKEN"
wait_for 8 node_is pi-3 Ready ||
        fail "pi-3 restarted with a revoked token (but a stored identity): expected Ready, got $(node_state pi-3)"
sleep 1.2 # and it stays connected
assert_eq "true" "$(node_field pi-3 connected)" "pi-3 connected"
assert_file_lacks "${AGENT_LOG[pi-3]}" "joining as" "restarted pi-3 log"
assert_file_lacks "${AGENT_LOG[pi-3]}" "refused" "restarted pi-3 log"
assert_file_lacks "$MASTER_LOG" "revoked" "second master log (the revoked token was never presented)"

token_field "$TID" "[t['uses'], t['revoked']]"
assert_eq "[3, true]" "$Q" "token $TID [uses, revoked] at the end"

# The agents verified the restarted master against their stored CA, which is
# still the master's CA.
for n in pi-1 pi-2 pi-3; do
        assert_eq "${SUM[ca.crt]}" "$(sha256_of "${AGENT_STATE[$n]}/ca.crt")" "CA stored by $n"
done

pass
