#!/usr/bin/env bash
# 'bramble top' against a master and two agents: pi-a reads this host,
# pi-b the recorded Raspberry Pi 3 tree (55.8 C, under-voltage and
# throttled now). One frame (--once, or stdout not a terminal) sorted by
# temperature lists the hotter node first with its throttle flags loud;
# -o json is 'bramble nodes -o json' sorted; bad flags are refused with
# exit 2 before any connection. On a pseudo-terminal (util-linux script):
# t switches to the temperature order and q quits with status 0, the
# terminal given back; a stopped master shows as an error in the header
# until it is back; SIGTERM restores the terminal too.
source "$(dirname "$0")/lib.sh"

command -v script >/dev/null || skip "needs util-linux script for a pseudo-terminal"
command -v pgrep >/dev/null || skip "needs pgrep (procps)"
RPI3=$FIXTURES/rpi3
[[ -d "$RPI3/proc" ]] || fail "fixture root $RPI3 is missing"

start_master
TOKEN=$(create_token --ttl 1h --uses 2)
start_agent pi-a --token "$TOKEN"
start_agent pi-b --token "$TOKEN" --root "$RPI3"
wait_for 10 all_in_state Ready pi-a pi-b || fail "setup: expected pi-a=Ready pi-b=Ready within 10s, got $(states pi-a pi-b)"
# The host may have a thermal zone of its own: the expected order comes
# from the figures the master holds (a node without one goes last).
wait_for 5 eval '[[ "$(node_field pi-b temp_celsius)" == 55.8 ]]' ||
        fail "pi-b reports no temperature 55.8 from its fixture: $(nodes_dump)"
BY_TEMP=$(nodes_json | json_query '" ".join(n["name"] for n in sorted(d, key=lambda n: (-n.get("temp_celsius", -1e9), n["name"])))')
log "expected order by temperature: $BY_TEMP"

# ---- one frame ----

cli_ok top --once --sort temp >/dev/null
mapfile -t L <<<"$CLI_OUT"
assert_contains "${L[0]}" "cluster: 2 nodes, 2 Ready | containers 0/0 running" "header of 'top --once --sort temp'"
assert_contains "${L[0]}" "| sort: temp" "header of 'top --once --sort temp'"
[[ "${L[1]}" =~ ^NAME\ +STATE\ +CPU%\ +MEM\ +TEMP\ +THROTTLE ]] || fail "column titles: got '${L[1]}'"
assert_eq "$BY_TEMP" "$(awk 'NR > 2 { printf "%s%s", sep, $1; sep = " " }' <<<"$CLI_OUT")" "rows of 'top --once --sort temp'"
rowb=$(awk '$1 == "pi-b"' <<<"$CLI_OUT")
assert_contains "$rowb" "55.8C" "pi-b row"
assert_contains "$rowb" "UNDERVOLT THROTTLED" "pi-b row"
assert_contains "$rowb" "Raspberry Pi 3 Model B Plus Rev 1.3" "pi-b row"
assert_not_contains "$CLI_OUT" $'\033' "'top --once' output (no escape sequences)"
[[ "$BY_TEMP" == "pi-b pi-a" ]] || log "note: this host's thermal zone is hotter than the fixture's 55.8 C"

# Not a terminal: one frame without --once too. By name, pi-a first;
# by CPU too (the fixture's /proc/stat never moves, so pi-b has no CPU
# figure and goes last).
cli_ok top --sort name >/dev/null
assert_eq "pi-a pi-b" "$(awk 'NR > 2 { printf "%s%s", sep, $1; sep = " " }' <<<"$CLI_OUT")" "rows of 'top --sort name'"
cli_ok top --interval 1s >/dev/null
assert_contains "$(head -1 <<<"$CLI_OUT")" "| sort: cpu" "header of 'top' (default order)"
assert_eq "pi-a pi-b" "$(awk 'NR > 2 { printf "%s%s", sep, $1; sep = " " }' <<<"$CLI_OUT")" "rows of 'top' by CPU"

# A narrow terminal: $COLUMNS when stdout is not one.
COLUMNS=50 cli_ok top --once >/dev/null
long=$(awk 'length($0) > 50' <<<"$CLI_OUT")
[[ -z "$long" ]] || fail "COLUMNS=50: lines wider than 50 columns: $long"
assert_contains "$CLI_OUT" "pi-b" "COLUMNS=50 frame"

# ---- JSON: the nodes as 'bramble nodes -o json' has them, sorted ----

cli_json '[n["name"] for n in d]' -o json top --sort temp
assert_eq "$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1].split()))' "$BY_TEMP")" "$Q" "names in 'bramble -o json top --sort temp'"
TOPJ=$CLI_OUT
cli_ok -o json nodes >/dev/null
problems=$(python3 -c '
import json, sys
top, nodes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
keys = {n["name"]: set(n) for n in nodes}
for n in top:
    if set(n) != keys.get(n["name"]):
        print("%s: keys %s, nodes has %s" % (n["name"], sorted(set(n)), sorted(keys.get(n["name"], []))))
b = [n for n in top if n["name"] == "pi-b"][0]
if b.get("throttle", {}).get("under_voltage") is not True or b.get("temp_celsius") != 55.8:
    print("pi-b: %r" % b)
' "$TOPJ" "$CLI_OUT")
[[ -z "$problems" ]] || fail "bramble -o json top differs from bramble -o json nodes: $problems"
cli_json '[n["name"] for n in d]' top --sort name -o json
assert_eq '["pi-a", "pi-b"]' "$Q" "names in 'bramble top --sort name -o json'"

# ---- bad flags: exit 2, one line naming the flag ----

expect_refused 2 "invalid --sort 'hot': expected cpu, mem, temp or name" top --sort hot
assert_eq 1 "$(grep -c -- --sort <<<"$CLI_ERR")" "lines naming --sort in: $CLI_ERR"
expect_refused 2 "--sort needs a value" top --sort
expect_refused 2 "invalid --interval 'soon'" top --interval soon
expect_refused 2 "invalid --interval '10ms'" top --interval=10ms
expect_refused 2 "unknown option '--fast'" top --fast
expect_refused 2 "unexpected argument 'pi-a'" top pi-a
assert_eq "" "$CLI_OUT" "stdout of a refused 'bramble top'"

# ---- on a terminal ----

# tty_start ARGS...: runs 'bramble top ARGS' on a pseudo-terminal, its keys
# from the fifo on fd 7 and what it draws in $TTY_OUT; sets TTY_PID (the
# script process) and TOP_PID (bramble).
TTY_N=0
tty_start() {
        TTY_N=$((TTY_N + 1))
        TTY_OUT=$WORK/tty-$TTY_N.out
        local fifo=$WORK/keys-$TTY_N
        mkfifo "$fifo"
        # A size for the terminal when TTY_SIZE is set (else top takes 80x24).
        script -qefc "${TTY_SIZE:+stty $TTY_SIZE; }exec $(printf '%q ' "$BRM_BIN/bramble" top "$@")" /dev/null \
                <"$fifo" >"$TTY_OUT" 2>&1 &
        TTY_PID=$!
        track "$TTY_PID" "script running bramble top $*"
        exec 7>"$fifo"
        wait_for 10 log_has "$TTY_OUT" "cluster: 2 nodes" || fail "bramble top $* drew no frame on the terminal: $(cat -v "$TTY_OUT")"
        TOP_PID=$(pgrep -P "$TTY_PID" -x bramble) || fail "no bramble process under script $TTY_PID"
}
tty_end() { # EXPECTED-STATUS WHAT
        wait_for 10 _not_alive "$TTY_PID" || fail "$2: bramble top still running 10s later: $(tail -c 600 "$TTY_OUT" | cat -v)"
        exec 7>&-
        reap "$TTY_PID"
        assert_eq "$1" "$REAP_RC" "$2: exit status"
        no_sanitizer_report "bramble top ($2)" "$(cat "$TTY_OUT")"
        # The alternate screen, the cursor hidden, and both given back last.
        assert_file_contains "$TTY_OUT" $'\033[?1049h\033[?25l' "$2: terminal output"
        [[ "$(tail -c 16 "$TTY_OUT")" == *$'\033[?25h\033[?1049l' ]] ||
                fail "$2: the terminal was not given back at the end: $(tail -c 200 "$TTY_OUT" | cat -v)"
}

tty_start --interval 500ms
assert_file_contains "$TTY_OUT" "| sort: cpu" "first frame"
assert_file_contains "$TTY_OUT" "keys: c cpu, m mem, t temp, n name, q quit" "first frame (its last line)"
assert_file_lacks "$TTY_OUT" "sort: temp" "first frame"
printf t >&7
wait_for 5 log_has "$TTY_OUT" "| sort: temp" || fail "key t: no frame sorted by temperature: $(tail -c 600 "$TTY_OUT" | cat -v)"
# The sort key's title in reverse video.
assert_file_contains "$TTY_OUT" $'\033[7mTEMP\033[0m' "frame after key t"
printf q >&7
tty_end 0 "keys t, q"

# --once on a terminal: one frame, no escape sequences.
script -qefc "$(printf '%q ' "$BRM_BIN/bramble" top --once)" /dev/null </dev/null >"$WORK/once.out" 2>&1 ||
        fail "bramble top --once on a terminal exited $?: $(cat -v "$WORK/once.out")"
assert_file_contains "$WORK/once.out" "cluster: 2 nodes" "top --once on a terminal"
assert_file_lacks "$WORK/once.out" $'\033' "top --once on a terminal (no escape sequences)"

# The master goes: the error in the header, the last figures still shown;
# back on its port, the error goes by itself (the connection is opened
# again). Then SIGTERM gives the terminal back too.
TTY_SIZE="cols 150 rows 30" tty_start --interval 300ms --sort temp
stop_pid "$MASTER_PID" TERM 10
wait_for 5 log_has "$TTY_OUT" "error: cannot connect to master at $MASTER_ADDR" ||
        fail "no error in the header with the master stopped: $(tail -c 800 "$TTY_OUT" | cat -v)"
assert_file_contains "$TTY_OUT" "(retrying every 300ms)" "header with the master stopped"
# 150 columns: room for the model.
assert_file_contains "$TTY_OUT" "Raspberry Pi 3 Model B Plus Rev 1.3" "frame on 150 columns"
alive "$TOP_PID" || fail "bramble top exited when the master stopped"
mark=$(stat -c %s "$TTY_OUT")
start_master
# A frame drawn after the restart with no error line under its header.
recovered() {
        python3 - "$TTY_OUT" "$mark" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()[int(sys.argv[2]):].decode("utf-8", "replace")
frames = [f for f in data.split("\x1b[H")[:-1] if "cluster:" in f]
sys.exit(0 if any("error:" not in f for f in frames) else 1)
PY
}
wait_for 10 recovered || fail "bramble top did not recover after the master came back: $(tail -c 800 "$TTY_OUT" | cat -v)"
# A master that stops answering (SIGSTOP) is waited for 3 s at most per
# refresh: the error shows, and q still quits at once after it.
kill -STOP "$MASTER_PID"
t_stop=$(now_ms)
wait_for 8 log_has "$TTY_OUT" "error: lost the master: master did not reply in time" ||
        fail "no error in the header with the master frozen: $(tail -c 800 "$TTY_OUT" | cat -v)"
log "frozen master shown $(($(now_ms) - t_stop)) ms after SIGSTOP"
kill -CONT "$MASTER_PID"
kill -TERM "$TOP_PID"
tty_end 143 "SIGTERM"

pass
