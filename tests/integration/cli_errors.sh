#!/usr/bin/env bash
# Bad input gets a one-line error naming the bad value, and the exit code
# says what kind of failure it was:
#   bramble        0 ok, 1 refused by the master, 2 bad arguments,
#                  3 credentials / connection
#   bramble-agent  2 bad configuration or flags
#   bramble-master 2 bad flags (and nothing is created)
source "$(dirname "$0")/lib.sh"

# expect RC STDERR_SUBSTRING... -- CMD...: runs CMD (10 s limit) and checks
# its exit code and that stderr contains every substring.
expect() {
        local want=$1
        shift
        local needles=()
        while [[ $1 != -- ]]; do
                needles+=("$1")
                shift
        done
        shift
        local rc=0 err
        timeout 10 "$@" >"$WORK/expect.out" 2>"$WORK/expect.err" </dev/null || rc=$?
        err=$(cat "$WORK/expect.err")
        CLI_RC=$rc no_sanitizer_report "${*##*/}" "$err"
        ((rc != 124)) || fail "'${*##*/}' did not finish within 10 s"
        [[ $rc -eq $want ]] || fail "exit code of '${*##*/}': expected $want, got $rc (stderr: $err)"
        local n
        for n in "${needles[@]}"; do
                [[ "$err" == *"$n"* ]] || fail "stderr of '${*##*/}': expected it to contain '$n', got: $err"
        done
}
B=$BRM_BIN/bramble

start_master
TOKEN=$(create_token --ttl 1h --uses 1)
cli_json "len(d)" -o json token list
NTOK=$Q

# ---- bramble: connection and credentials (exit 3) ----
DEAD_PORT=$(free_port)
python3 - "$MASTER_DIR/admin.json" "127.0.0.1:$DEAD_PORT" "$WORK/dead.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["master"] = sys.argv[2]
json.dump(d, open(sys.argv[3], "w"))
EOF
expect 3 "cannot connect" "127.0.0.1:$DEAD_PORT" -- "$B" --config "$WORK/dead.json" nodes
expect 3 "cannot connect" -- "$B" --config "$WORK/dead.json" token list
expect 3 "cannot read credentials" "$WORK/missing.json" -- "$B" --config "$WORK/missing.json" nodes
expect 3 "cannot read credentials" "$WORK/missing2.json" -- env BRAMBLE_CONFIG="$WORK/missing2.json" "$B" nodes
expect 3 "cannot read credentials" -- env -u BRAMBLE_CONFIG HOME="$WORK/nohome" "$B" nodes
printf '{"master": "127.0.0.1:1", "ca": "x"' >"$WORK/broken.json"
expect 3 "not a JSON object" -- "$B" --config "$WORK/broken.json" nodes
python3 - "$MASTER_DIR/admin.json" "$WORK/nokey.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
del d["key"]
json.dump(d, open(sys.argv[2], "w"))
EOF
expect 3 "'key'" -- "$B" --config "$WORK/nokey.json" nodes

# ---- bramble: bad arguments (exit 2), also without a reachable master ----
for cfg in "$BRAMBLE_CONFIG" "$WORK/dead.json"; do
        expect 2 "--ttl" "'5x'" -- "$B" --config "$cfg" token create --ttl 5x
        expect 2 "--uses" "'0'" -- "$B" --config "$cfg" token create --uses 0
        expect 2 "'Bad_Name'" -- "$B" --config "$cfg" node rm Bad_Name
        expect 2 "unknown command" "'frobnicate'" -- "$B" --config "$cfg" frobnicate
        expect 2 "'yaml'" -- "$B" --config "$cfg" -o yaml nodes
        expect 2 "'extra'" -- "$B" --config "$cfg" nodes extra
        # logs: every argument is checked before anything is sent.
        expect 2 "--tail must be a whole number >= 0, not '-5'" -- "$B" --config "$cfg" logs --tail -5 pi-1/web
        expect 2 "--tail must be a whole number >= 0, not '1.5'" -- "$B" --config "$cfg" logs pi-1/web --tail 1.5
        expect 2 "--tail needs a value" -- "$B" --config "$cfg" logs pi-1/web --tail
        expect 2 "invalid --since 'yesterday'" -- "$B" --config "$cfg" logs --since yesterday pi-1/web
        expect 2 "invalid --since '2026-02-30'" -- "$B" --config "$cfg" logs --since 2026-02-30 pi-1/web
        expect 2 "invalid --since '2026-11-22T10:00:00'" -- "$B" --config "$cfg" logs --since 2026-11-22T10:00:00 pi-1/web
        expect 2 "--stdout and --stderr exclude each other" -- "$B" --config "$cfg" logs --stdout --stderr pi-1/web
        expect 2 "--agent takes a node, not NODE/NAME" "'pi-1/web'" -- "$B" --config "$cfg" logs pi-1/web --agent
        expect 2 "--kernel takes a node, not NODE/NAME" "'pi-1/web'" -- "$B" --config "$cfg" logs --kernel pi-1/web
        expect 2 "--agent and --kernel exclude each other" -- "$B" --config "$cfg" logs pi-1 --agent --kernel
        expect 2 "missing NODE/NAME" -- "$B" --config "$cfg" logs
        expect 2 "missing NODE/NAME" -- "$B" --config "$cfg" logs -f --tail 10
        expect 2 "missing NODE" -- "$B" --config "$cfg" logs --agent
        expect 2 "'pi-1' is not NODE/NAME" "--agent or --kernel" -- "$B" --config "$cfg" logs pi-1
        expect 2 "'Pi-1' is not a node name" -- "$B" --config "$cfg" logs Pi-1/web
        expect 2 "'Web' is not a valid container name" -- "$B" --config "$cfg" logs pi-1/Web
        expect 2 "'Bad_Node' is not a node name" -- "$B" --config "$cfg" logs Bad_Node --kernel
        expect 2 "unexpected argument 'extra'" -- "$B" --config "$cfg" logs pi-1/web extra
        expect 2 "unknown option '--frobnicate'" -- "$B" --config "$cfg" logs --frobnicate pi-1/web
        expect 2 "unknown option '-x'" -- "$B" --config "$cfg" logs -fx pi-1/web
        expect 2 "'--follow=yes' takes no value" -- "$B" --config "$cfg" logs --follow=yes pi-1/web
        # services, nodes' labels and scheduling, events, apply: every
        # argument is checked before anything is sent.
        expect 2 "service create needs --image REF" -- "$B" --config "$cfg" service create web --replicas 2
        expect 2 "invalid --replicas 'many'" "0 to 1000" -- "$B" --config "$cfg" service create web --image x --replicas many
        expect 2 "invalid --replicas '1001'" -- "$B" --config "$cfg" service create web --image x --replicas 1001
        expect 2 "'Web' is not a valid service name" -- "$B" --config "$cfg" service create Web --image x
        expect 2 "--constraint 'arch'" "expected key=value, key!=value or key~substring" -- "$B" --config "$cfg" service create web --image x --constraint arch
        expect 2 "give one of --health-cmd, --health-http and --health-tcp, not several" -- "$B" --config "$cfg" service create web --image x --health-cmd true --health-tcp 80
        expect 2 "give one of --health-cmd, --health-http and --health-tcp, not several" -- "$B" --config "$cfg" run pi-1 web --image x --health-cmd true --health-http 80/ok
        expect 2 "a health check needs one of" -- "$B" --config "$cfg" service create web --image x --health-interval 5s
        expect 2 "invalid --health-interval 'soon'" -- "$B" --config "$cfg" service create web --image x --health-cmd true --health-interval soon
        expect 2 "invalid --update-monitor '10x'" -- "$B" --config "$cfg" service create web --image x --update-monitor 10x
        expect 2 "invalid --health-timeout '2 s'" -- "$B" --config "$cfg" run pi-1 web --image x --health-cmd true --health-timeout "2 s"
        expect 2 "invalid --health-http '0/x'" -- "$B" --config "$cfg" service create web --image x --health-http 0/x
        expect 2 "need --network host" -- "$B" --config "$cfg" service create web --image x --network none --health-tcp 80
        expect 2 "invalid --on-disconnect 'stop-after 0s'" -- "$B" --config "$cfg" service create web --image x --on-disconnect stop-after 0s
        expect 2 "invalid --update-order 'sideways'" -- "$B" --config "$cfg" service create web --image x --update-order sideways
        expect 2 "unknown option '--colour'" -- "$B" --config "$cfg" service create web --image x --colour red
        expect 2 "unexpected argument 'extra'" "after --" -- "$B" --config "$cfg" service create web --image x extra
        expect 2 "nothing to change" -- "$B" --config "$cfg" service update web
        expect 2 "invalid --env-add 'X'" -- "$B" --config "$cfg" service update web --env-add X
        expect 2 "invalid replica count 'lots'" -- "$B" --config "$cfg" service scale web lots
        expect 2 "usage: bramble service scale NAME N" -- "$B" --config "$cfg" service scale web
        expect 2 "usage: bramble service ps NAME" -- "$B" --config "$cfg" service ps
        expect 2 "'Bad_Name' is not a valid service name" -- "$B" --config "$cfg" service rm Bad_Name
        expect 2 "label 'Bad Key=x'" -- "$B" --config "$cfg" node label pi-1 "Bad Key=x"
        expect 2 "label 'zone' is not key=value" -- "$B" --config "$cfg" node label pi-1 zone
        expect 2 "usage: bramble node label NODE" -- "$B" --config "$cfg" node label pi-1
        expect 2 "'Pi-1' is not a node name" -- "$B" --config "$cfg" node cordon Pi-1
        expect 2 "invalid --timeout 'forever'" -- "$B" --config "$cfg" node drain pi-1 --timeout forever
        expect 2 "unexpected argument 'now'" -- "$B" --config "$cfg" events now
        expect 2 "cannot read $WORK/missing.yaml" -- "$B" --config "$cfg" apply -f "$WORK/missing.yaml"
        expect 2 "usage: bramble apply -f FILE" -- "$B" --config "$cfg" apply
done
# A bad apply file: one line naming the file, the line and the field, and
# nothing is sent (the master is not even asked: the dead config is used).
printf 'services:\n  web:\n    image: x\n    replicas: many\n' >"$WORK/bad.yaml"
expect 2 "$WORK/bad.yaml:4: services.web.replicas: must be a whole number from 0 to 1000" -- "$B" --config "$WORK/dead.json" apply -f "$WORK/bad.yaml"
printf '{"services": {"web": {"image": "x",\n  "health": {"tcp": 80, "cmd": "true"}}}}\n' >"$WORK/bad.json"
expect 2 "$WORK/bad.json:2: services.web.health: give exactly one of cmd, http and tcp" -- "$B" --config "$WORK/dead.json" apply -f "$WORK/bad.json"
expect 2 "" -- "$B"

# ---- bramble: refused by the master (exit 1) ----
expect 1 "no node named 'nosuch'" -- "$B" node rm nosuch
expect 1 "no token" "zzzzzz" -- "$B" token revoke zzzzzz
expect 1 "token id" -- "$B" token revoke NOT-AN-ID
expect 1 "no node named 'nosuch'" -- "$B" logs nosuch/web
expect 1 "no node named 'nosuch'" -- "$B" logs -f nosuch --kernel
# None of that changed anything.
cli_json "len(d)" -o json token list
assert_eq "$NTOK" "$Q" "number of tokens after the failed commands"
cli_json "d" -o json nodes
assert_eq "[]" "$Q" "nodes after the failed commands"

# ---- bramble-agent: configuration (exit 2) ----
A=$BRM_BIN/bramble-agent
agent_cfg() { # FILE JSON
        printf '%s' "$2" >"$1"
}
base="\"master\": \"$MASTER_ADDR\", \"name\": \"pi-cfg\", \"state_dir\": \"$WORK/agents/pi-cfg\""
agent_cfg "$WORK/a1.json" "{$base, \"token\": \"$TOKEN\", \"heartbeat_interval\": \"5x\"}"
expect 2 "heartbeat_interval" "'5x'" -- "$A" --config "$WORK/a1.json"
agent_cfg "$WORK/a2.json" "{$base, \"token\": \"$TOKEN\", \"colour\": \"red\"}"
expect 2 "unknown field" "'colour'" -- "$A" --config "$WORK/a2.json"
agent_cfg "$WORK/a3.json" "{$base, \"token\": \"$TOKEN\","
expect 2 "not valid JSON" -- "$A" --config "$WORK/a3.json"
agent_cfg "$WORK/a4.json" "{$base, \"token\": \"bramble1:1234:abc.def\"}"
expect 2 "'token'" -- "$A" --config "$WORK/a4.json"
agent_cfg "$WORK/a5.json" "{\"master\": \"nonsense\", \"name\": \"pi-cfg\", \"token\": \"$TOKEN\"}"
expect 2 "'master'" "nonsense" -- "$A" --config "$WORK/a5.json"
agent_cfg "$WORK/a5b.json" "{$base, \"token\": \"$TOKEN\", \"master\": \"nonsense\"}"
expect 2 "field 'master' is given more than once" -- "$A" --config "$WORK/a5b.json"
agent_cfg "$WORK/a6.json" "[1, 2]"
expect 2 "JSON object" -- "$A" --config "$WORK/a6.json"
expect 2 "cannot read config" -- "$A" --config "$WORK/nonexistent.json"
# The same checks on flags.
expect 2 "--token" "token" -- "$A" --master "$MASTER_ADDR" --name pi-cfg --state-dir "$WORK/agents/pi-cfg" --token not-a-token
expect 2 "--heartbeat-interval" "5x" -- "$A" --master "$MASTER_ADDR" --name pi-cfg --state-dir "$WORK/agents/pi-cfg" --token "$TOKEN" --heartbeat-interval 5x
expect 2 "--name" "Bad_Name" -- "$A" --master "$MASTER_ADDR" --name Bad_Name --state-dir "$WORK/agents/pi-cfg" --token "$TOKEN"
# No master and no token: nothing to find a master with (with a token, a
# missing master means "auto": found on the LAN by mDNS).
expect 2 "'master'" "required" -- "$A" --name pi-cfg --state-dir "$WORK/agents/pi-cfg"
agent_cfg "$WORK/a7.json" "{\"master\": [\"auto\", \"$MASTER_ADDR\"], \"name\": \"pi-cfg\", \"token\": \"$TOKEN\"}"
expect 2 "'master'" "cannot be combined" -- "$A" --config "$WORK/a7.json"
# Not joined and no token.
expect 2 "no join token" -- "$A" --master "$MASTER_ADDR" --name pi-cfg --state-dir "$WORK/agents/pi-cfg"
# None of the rejected agents joined or spent the token.
cli_json "d" -o json nodes
assert_eq "[]" "$Q" "nodes after the rejected agent configurations"
token_field "$(token_id "$TOKEN")" "t['uses']"
assert_eq 0 "$Q" "uses of the token after the rejected agent configurations"

# ---- bramble-master: flags (exit 2, nothing created) ----
M=$BRM_BIN/bramble-master
expect 2 "--listen" "'nonsense'" -- "$M" --data-dir "$WORK/m2" --listen nonsense
expect 2 "--heartbeat-interval" "'5x'" -- "$M" --data-dir "$WORK/m2" --heartbeat-interval 5x
expect 2 "--grace" "'0'" -- "$M" --data-dir "$WORK/m2" --grace 0
expect 2 "--cert-validity" "'30s'" -- "$M" --data-dir "$WORK/m2" --cert-validity 30s
expect 2 "--data-dir" -- "$M" --listen "127.0.0.1:$DEAD_PORT"
[[ ! -e "$WORK/m2" ]] || fail "bramble-master created its data dir $WORK/m2 although its flags were rejected"

# The master that was running is unaffected.
alive "$MASTER_PID" || fail "the master died"
cli_ok nodes >/dev/null

pass
