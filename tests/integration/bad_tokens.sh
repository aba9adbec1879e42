#!/usr/bin/env bash
# Joins that must not happen, each with the error the operator needs:
#   (i)   a token pinning another CA: refused by the agent itself, before the
#         secret is sent (the master never hears of the node)
#   (ii)  an expired token
#   (iii) a token with no uses left
#   (iv)  a revoked token
#   (v)   a name held by another node's key; after 'bramble node rm' the
#         second agent, still retrying with backoff, joins
#   (vi)  a token with a wrong secret
# Refused joins do not use up the token.
source "$(dirname "$0")/lib.sh"

start_master
all_master_logs() { cat "$LOGS"/master-*.log; }
absent() { # NAME WHY
        local st
        st=$(node_state "$1")
        assert_eq absent "$st" "state of $1 ($2)"
}

# (ii) first, so it has expired by the time the others are set up.
T_EXP=$(create_token --ttl 1s)
t_exp=$(now_ms)

# (i) a valid token with its CA hash replaced.
T_GOOD=$(create_token --ttl 1h --uses 5)
OTHER_HASH=$(printf 'not the cluster CA' | sha256sum | cut -d' ' -f1)
T_WRONGCA="bramble1:$OTHER_HASH:${T_GOOD##*:}"
[[ "$T_WRONGCA" != "$T_GOOD" ]] || fail "could not build a wrong-CA token"

# (vi) the right id and CA, another secret.
T_WRONGSECRET="${T_GOOD%.*}.$(printf 'x%.0s' {1..32})"

T_ONCE=$(create_token --ttl 1h --uses 1)
T_REV=$(create_token --ttl 1h)
cli_ok token revoke "$(token_id "$T_REV")" >/dev/null
T_DUP_A=$(create_token --ttl 1h --uses 1)
T_DUP_B=$(create_token --ttl 1h --uses 1)

start_agent pi-dup --token "$T_DUP_A"
DUP_A_PID=$LAST_PID
DUP_A_LOG=${AGENT_LOG[pi-dup]}
start_agent pi-once --token "$T_ONCE"
start_agent pi-wrongca --token "$T_WRONGCA"
start_agent pi-revoked --token "$T_REV"
start_agent pi-wrongsecret --token "$T_WRONGSECRET"
wait_for 5 all_in_state Ready pi-dup pi-once ||
        fail "setup: expected pi-dup=Ready pi-once=Ready within 5s, got $(states pi-dup pi-once)"

# (v) the same name from another state dir (another key), with a fresh token.
start_agent pi-dup --token "$T_DUP_B" --state-dir "$WORK/agents/pi-dup-b"
DUP_B_PID=$LAST_PID
DUP_B_LOG=${AGENT_LOG[pi-dup]}
# (iii) the 1-use token again.
start_agent pi-twice --token "$T_ONCE"
# (ii) once the token is over 2 s old.
while (($(now_ms) - t_exp < 2000)); do sleep 0.1; done
start_agent pi-expired --token "$T_EXP"

expect_log() { # NAME FILE TEXT WHAT
        wait_for 5 log_has "$2" "$3" || fail "$4: agent $1 did not log '$3' within 5s"
}

# (i) refused locally, secret not sent, master never saw it.
expect_log pi-wrongca "${AGENT_LOG[pi-wrongca]}" "does not present the CA pinned by the token" "(i) wrong CA hash"
assert_file_contains "${AGENT_LOG[pi-wrongca]}" "the token secret was not sent" "(i) agent log"
assert_file_contains "${AGENT_LOG[pi-wrongca]}" "token CA hash ${OTHER_HASH:0:16}" "(i) agent log names the pinned hash"
assert_file_lacks "${AGENT_LOG[pi-wrongca]}" "joining as" "(i) agent log"
# (ii)
expect_log pi-expired "${AGENT_LOG[pi-expired]}" "join token $(token_id "$T_EXP") has expired" "(ii) expired token"
assert_file_contains "${AGENT_LOG[pi-expired]}" "bramble token create" "(ii) agent log (tells what to do)"
# (iii)
expect_log pi-twice "${AGENT_LOG[pi-twice]}" "join token $(token_id "$T_ONCE") has no uses left" "(iii) used-up token"
# (iv)
expect_log pi-revoked "${AGENT_LOG[pi-revoked]}" "join token $(token_id "$T_REV") was revoked" "(iv) revoked token"
# (vi)
expect_log pi-wrongsecret "${AGENT_LOG[pi-wrongsecret]}" "join token is not valid for this cluster" "(vi) wrong secret"
# (v)
expect_log pi-dup "$DUP_B_LOG" "node name 'pi-dup' is already held by another node's key" "(v) name taken"
assert_file_contains "$DUP_B_LOG" "bramble node rm pi-dup" "(v) agent log (tells how to free the name)"

# None of the refused nodes exists, and the agents keep running (retrying).
for n in pi-wrongca pi-expired pi-twice pi-revoked pi-wrongsecret; do
        absent "$n" "refused join"
        alive "${AGENT_PID[$n]}" || fail "agent $n exited after a refused join (expected it to keep retrying)"
        [[ ! -e "${AGENT_STATE[$n]}/node.crt" ]] || fail "agent $n has a node.crt although its join was refused"
done
# The master never heard of the wrong-CA node; it logged the others' refusals.
if all_master_logs | grep -F "pi-wrongca"; then
        fail "(i) the master log mentions pi-wrongca (lines above): the agent must not have sent a join"
fi
assert_file_contains "$MASTER_LOG" "join of pi-expired refused: token $(token_id "$T_EXP") expired" "master log"
assert_file_contains "$MASTER_LOG" "join of pi-twice refused: token $(token_id "$T_ONCE") used up" "master log"
assert_file_contains "$MASTER_LOG" "join of pi-revoked refused: token $(token_id "$T_REV") revoked" "master log"
assert_file_contains "$MASTER_LOG" "join of pi-wrongsecret refused: unknown token or wrong secret" "master log"
assert_file_contains "$MASTER_LOG" "join of pi-dup refused: name held by another key" "master log"
# Refused joins used nothing; the wrong-CA and wrong-secret agents never spent T_GOOD.
token_field "$(token_id "$T_GOOD")" "t['uses']"
assert_eq 0 "$Q" "uses of the token behind the wrong-CA / wrong-secret tokens"
token_field "$(token_id "$T_ONCE")" "t['uses']"
assert_eq 1 "$Q" "uses of the 1-use token"
token_field "$(token_id "$T_DUP_B")" "t['uses']"
assert_eq 0 "$Q" "uses of pi-dup's second token after the name-taken refusals"
assert_eq "Ready" "$(node_state pi-dup)" "the original pi-dup while the impostor retries"

# (v) continued: free the name; the second agent, still backing off, joins.
OUT=$(cli_ok node rm pi-dup)
assert_contains "$OUT" "node pi-dup removed" "bramble node rm pi-dup output"
t_rm=$(now_ms)
wait_for 15 log_has "$DUP_B_LOG" "joined the cluster as pi-dup" ||
        fail "(v) the second pi-dup did not join within 15s of 'bramble node rm' (its retry backoff should be well below that)"
wait_for 5 node_is pi-dup Ready || fail "(v) pi-dup after rejoin: expected Ready, got $(node_state pi-dup)"
log "second pi-dup joined and Ready $(($(now_ms) - t_rm)) ms after node rm"
[[ -s "$WORK/agents/pi-dup-b/node.crt" ]] || fail "(v) the second pi-dup has no node.crt"
token_field "$(token_id "$T_DUP_B")" "t['uses']"
assert_eq 1 "$Q" "uses of pi-dup's second token after it joined"
# The first agent was cut off and its key no longer opens a session.
wait_for 5 log_has "$DUP_A_LOG" "not registered with this master" ||
        wait_for 1 log_has "$DUP_A_LOG" "removed from the cluster" ||
        fail "(v) the removed pi-dup's agent was not told it was removed / not registered"
sleep 1.2
assert_eq "true" "$(node_field pi-dup connected)" "the new pi-dup is connected"
assert_eq "Ready" "$(node_state pi-dup)" "the new pi-dup keeps its name while the old agent retries"

pass
