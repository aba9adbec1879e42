#!/usr/bin/env bash
# bramble node rollback with its windows, with a real master and a real
# agent that sees itself as the Bramble image on slot a (--root: a
# /proc/cmdline and an os-release). Its os_update_hook stands in for the
# image's update.sh, which writes the card: it records its calls, marks the
# other slot (try) and does not reboot. The node must mark slot b for one
# try, write the guard's deadline from --confirm-within for the next boot,
# keep --healthy-for for the commit, and report that it is rebooting.
# Bad windows are refused by the CLI before anything is sent.
source "$(dirname "$0")/lib.sh"

HOOK=$WORK/hook.sh
cat >"$HOOK" <<HOOK
#!/bin/sh
echo "\$@" >>$WORK/hook.calls
case \$1 in
try) echo "marked slot \$2"; echo "version=v1" ;;
reboot) echo "rebooting" ;;
*) echo "not expected here"; exit 1 ;;
esac
HOOK
chmod +x "$HOOK"

start_image_node upd-a v2 "$HOOK"

# ---- bad windows: one line, exit 2, nothing sent ----
expect_refused 2 "invalid --confirm-within '5s': expected a duration of at least 10s" node rollback upd-a --confirm-within 5s
expect_refused 2 "--confirm-within (60000ms) must be longer than --healthy-for (120000ms)" \
        node rollback upd-a --confirm-within 1m --healthy-for 2m
expect_refused 2 "one node at a time" node rollback upd-a upd-b
[[ ! -e "$WORK/hook.calls" ]] || fail "the slot writer ran after refused arguments: $(cat "$WORK/hook.calls")"

# ---- the rollback ----
cli_ok node rollback upd-a --confirm-within 2m --healthy-for 10s >/dev/null
assert_contains "$CLI_OUT" "node upd-a: rolling back to its other slot" "node rollback's output"
calls() { [[ "$(cat "$WORK/hook.calls" 2>/dev/null)" == $'try b\nreboot' ]]; }
wait_for 10 calls || fail "the slot writer was not asked to try slot b and reboot: $(cat "$WORK/hook.calls" 2>/dev/null)"
STATE=$WORK/agents/upd-a
assert_eq 120 "$(cat "$STATE/update-confirm-within")" "the guard's deadline for the next boot (s)"
python3 - "$STATE/update.json" <<'PY' || fail "update.json: $(cat "$STATE/update.json")"
import json, sys
u = json.load(open(sys.argv[1]))
assert u["confirm_within_ms"] == 120000, u
assert u["healthy_ms"] == 10000, u
assert u["slot"] == "b" and u["from_slot"] == "a", u
PY
update_state() { cli -o json nodes; printf '%s' "$CLI_OUT" | json_query '[(n.get("update") or {}).get("state", "") for n in d if n["name"] == "upd-a"][0]'; }
rebooting() { [[ "$(update_state)" == rebooting ]]; }
wait_for 10 rebooting || fail "upd-a does not report rebooting: '$(update_state)'"
log "rolled back with --confirm-within 2m --healthy-for 10s: slot b marked, the guard's deadline 120 s, the commit after 10 s healthy"
pass
