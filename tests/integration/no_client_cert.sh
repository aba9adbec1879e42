#!/usr/bin/env bash
# Without a client certificate only joining works: an operator call gets an
# Error (never a node list) and the connection is closed. Credentials of
# another cluster are refused with a clear message and exit code 3, both
# ways: our CLI does not trust a foreign master, and the master does not
# accept a certificate from a foreign CA.
source "$(dirname "$0")/lib.sh"
need_probe

start_master
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN"
wait_for 5 node_is pi-1 Ready || fail "setup: pi-1 expected Ready, got $(node_state pi-1)"

CA_PEM=$WORK/ca.pem
json_query "d['ca']" <"$MASTER_DIR/admin.json" >"$CA_PEM"

# 1. TLS without a client certificate, then NodeListRequest.
rc=0
out=$("$PROBE" nocert "$MASTER_ADDR" "$CA_PEM" 2>&1) || rc=$?
printf '%s\n' "$out" >"$LOGS/probe-nocert.out"
assert_eq 0 "$rc" "exit code of 'brm_probe nocert' (0 = Error, no node list, connection closed); its output: $out"
assert_contains "$out" "a client certificate issued by this cluster is required" "the master's error to a client without a certificate"
assert_contains "$out" "connection closed by the master" "probe output"
assert_not_contains "$out" "pi-1" "probe output (no node data to a client without a certificate)"

# 2. Another cluster: its own master and admin credentials.
OTHER_DIR=$WORK/other
OTHER_PORT=$(free_port)
launch_master other "$OTHER_DIR" "$OTHER_PORT" || fail "the second master did not start (see ${LAUNCH_LOG#"$WORK"/})"
OTHER_PID=$LAUNCH_PID
[[ "$(sha256_of "$OTHER_DIR/ca.crt")" != "$(sha256_of "$MASTER_DIR/ca.crt")" ]] || fail "the two masters have the same CA"

# 2a. The other cluster's admin.json pointed at our master: the CLI refuses
#     our master (it is not signed by the CA in those credentials).
python3 - "$OTHER_DIR/admin.json" "$MASTER_ADDR" "$WORK/other-admin.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["master"] = sys.argv[2]
json.dump(d, open(sys.argv[3], "w"))
EOF
cli --config "$WORK/other-admin.json" nodes
assert_eq 3 "$CLI_RC" "exit code of 'bramble nodes' with another cluster's admin.json (stderr: $CLI_ERR)"
assert_contains "$CLI_ERR" "not trusted" "stderr of 'bramble nodes' with another cluster's admin.json"
assert_not_contains "$CLI_OUT" "pi-1" "stdout of 'bramble nodes' with another cluster's admin.json"

# 2b. Our CA (so the CLI trusts our master) but the other cluster's admin
#     certificate and key: the master refuses the certificate.
python3 - "$MASTER_DIR/admin.json" "$OTHER_DIR/admin.json" "$WORK/mixed-admin.json" <<'EOF'
import json, sys
ours, theirs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ours["cert"], ours["key"] = theirs["cert"], theirs["key"]
json.dump(ours, open(sys.argv[3], "w"))
EOF
cli --config "$WORK/mixed-admin.json" nodes
assert_eq 3 "$CLI_RC" "exit code of 'bramble nodes' with a certificate from another cluster's CA (stderr: $CLI_ERR)"
assert_contains "$CLI_ERR" "not issued by this cluster's CA" "stderr of 'bramble nodes' with a foreign certificate"
assert_not_contains "$CLI_OUT" "pi-1" "stdout of 'bramble nodes' with a foreign certificate"
wait_for 2 log_has "$MASTER_LOG" "refused a client certificate not issued by this cluster's CA" ||
        fail "the master did not log the refused foreign certificate"

# The same foreign certificate cannot create tokens either.
cli --config "$WORK/mixed-admin.json" token create
assert_eq 3 "$CLI_RC" "exit code of 'bramble token create' with a foreign certificate (stderr: $CLI_ERR)"
assert_not_contains "$CLI_OUT" "bramble1:" "stdout of 'bramble token create' with a foreign certificate"

# 3. Our own credentials still work and the node was never disturbed.
alive "$MASTER_PID" || fail "the master died"
alive "$OTHER_PID" || fail "the second master died"
assert_eq Ready "$(node_state pi-1)" "pi-1 after the refused clients"
cli_json "len(d)" -o json token list
assert_eq 2 "$Q" "number of tokens (first-start token + ours; nothing created by the foreign client)"

pass
