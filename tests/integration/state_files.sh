#!/usr/bin/env bash
# A node's identity files damaged in its state dir: a truncated node.crt,
# garbage in node.key, ca.crt missing, node.key missing beside node.crt,
# another node's certificate. The agent refuses to start with one line that
# names the file, says what is wrong with it and what to do, and exits 1;
# it does not generate a new key over a lost one. With the files restored
# it starts and is Ready again; without its certificates it joins again
# with its key, as the message advises.
source "$(dirname "$0")/lib.sh"

start_master
TOKEN=$(create_token --ttl 1h --uses 2)
start_agent n1 --token "$TOKEN"
start_agent n2 --token "$TOKEN"
wait_for 10 all_in_state Ready n1 n2 || fail "n1 and n2 not Ready: $(states n1 n2)"
stop_pid "${AGENT_PID[n1]}"
stop_pid "${AGENT_PID[n2]}"
STATE=${AGENT_STATE[n1]}
cp -a "$STATE" "$WORK/pristine"
KEY_SUM=$(sha256_of "$STATE/node.key")

# run_broken WHAT: starts the agent on the damaged state dir; it must exit 1
# at once with exactly one line on stderr, which is left in LINE.
run_broken() {
        local out=$WORK/broken.out rc=0
        timeout 20 "$BRM_BIN/bramble-agent" --master "$MASTER_ADDR" --name n1 --state-dir "$STATE" \
                --heartbeat-interval 1s >"$out" 2>&1 || rc=$?
        no_sanitizer_report "bramble-agent with $1" "$(cat "$out")"
        assert_eq 1 "$rc" "exit status of the agent with $1 (output: $(cat "$out"))"
        assert_eq 1 "$(wc -l <"$out")" "lines the agent printed with $1 ($(cat "$out"))"
        LINE=$(cat "$out")
        log "$1: $LINE"
}

restore() {
        rm -rf "$STATE"
        cp -a "$WORK/pristine" "$STATE"
}

REJOIN="restore it from a backup, or remove node.crt and ca.crt and start the agent with a join token (--token) to join again with the same key"

head -c 10 "$WORK/pristine/node.crt" >"$STATE/node.crt"
run_broken "a truncated node.crt"
assert_eq "bramble-agent: $STATE/node.crt is damaged (10 bytes, not a certificate): $REJOIN" "$LINE" "truncated node.crt"

restore
printf 'garbage\n' >"$STATE/node.key"
run_broken "garbage in node.key"
assert_contains "$LINE" "bramble-agent: $STATE/node.key is damaged (8 bytes, not a private key): restore it from a backup; without it the node must join anew: 'bramble node rm' it" "garbage node.key"
assert_eq "$(printf 'garbage\n' | sha256sum | cut -d' ' -f1)" "$(sha256_of "$STATE/node.key")" "node.key after the refusal (left as it was)"

restore
rm "$STATE/ca.crt"
run_broken "ca.crt missing"
assert_eq "bramble-agent: $STATE/ca.crt is missing (node.crt is there): $REJOIN" "$LINE" "missing ca.crt"

restore
rm "$STATE/node.key"
run_broken "node.key missing"
assert_contains "$LINE" "bramble-agent: $STATE/node.key is missing (node.crt is there): restore it from a backup" "missing node.key"
[[ ! -e "$STATE/node.key" ]] || fail "the agent made a new node.key while node.crt was there"

restore
: >"$STATE/ca.crt"
run_broken "an empty ca.crt"
assert_eq "bramble-agent: $STATE/ca.crt is damaged (0 bytes, not a certificate): $REJOIN" "$LINE" "empty ca.crt"

restore
cp "${AGENT_STATE[n2]}/node.crt" "$STATE/node.crt"
run_broken "n2's certificate"
assert_eq "bramble-agent: $STATE/node.crt is not for this node's key (node.key): $REJOIN" "$LINE" "another node's node.crt"

# Restored, the node starts with its own key and is Ready again.
restore
start_agent n1
wait_for 10 all_in_state Ready n1 || fail "n1 not Ready after its state dir was restored: $(states n1)"
assert_eq "$KEY_SUM" "$(sha256_of "$STATE/node.key")" "node.key after the restart"
stop_pid "${AGENT_PID[n1]}"

# The advice for a lost certificate works: without node.crt and ca.crt the
# node joins again with its key, under its name.
rm "$STATE/node.crt" "$STATE/ca.crt"
start_agent n1 --token "$(create_token --ttl 1h --uses 1)"
wait_for 10 all_in_state Ready n1 || fail "n1 not Ready after joining again with its key: $(states n1)"
assert_file_contains "${AGENT_LOG[n1]}" "joined the cluster as n1" "agent n1 log after joining again"
assert_eq "$KEY_SUM" "$(sha256_of "$STATE/node.key")" "node.key after joining again"
pass
