# Shared helpers for the integration tests. Each test script sources this
# file first:
#
#     source "$(dirname "$0")/lib.sh"
#
# It starts real bramble-master / bramble-agent processes on 127.0.0.1 only,
# in a private temporary directory that is removed on exit, and kills every
# process it started when the script ends for any reason (success, failed
# assertion, set -e abort, Ctrl-C).
#
# Environment:
#   BRM_BIN   (required) directory holding bramble-master, bramble-agent,
#             bramble and brm_probe (CTest sets it to <build>/bin)
#   BRM_SRC   source tree (defaults to two levels above this file); used for
#             the fixture roots in tests/unit/fixtures
#   BRM_KEEP  if set to 1, keep the temporary directory (its path is printed)
#   BRM_SLOW  whole-number multiplier for every wait_for timeout (default 1),
#             for very slow machines; the default bounds already allow for
#             the sanitizer build and a parallel ctest
#
# Exit codes: 0 pass, 1 fail (fail prints the reason and the tail of every
# log), 77 skip.

set -Eeuo pipefail

if [[ -z "${BRM_BIN:-}" ]]; then
        echo "lib.sh: BRM_BIN is not set: point it at the build's bin directory (e.g. BRM_BIN=build/host/bin)" >&2
        exit 2
fi
BRM_BIN=$(cd "$BRM_BIN" && pwd) || {
        echo "lib.sh: BRM_BIN=$BRM_BIN is not a directory" >&2
        exit 2
}
for _b in bramble-master bramble-agent bramble; do
        if [[ ! -x "$BRM_BIN/$_b" ]]; then
                echo "lib.sh: $BRM_BIN/$_b is missing or not executable (build first)" >&2
                exit 2
        fi
done
BRM_SRC=${BRM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FIXTURES=$BRM_SRC/tests/unit/fixtures
TEST_NAME=$(basename "$0" .sh)
BRM_SLOW=${BRM_SLOW:-1}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/brm-it-$TEST_NAME.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS"

declare -a BRM_PIDS=()         # every process started by this test
declare -A BRM_PID_DESC=()     # pid -> what it is, for messages
declare -A AGENT_PID=()        # agent name -> pid of the latest instance
declare -A AGENT_LOG=()        # agent name -> log of the latest instance
declare -A AGENT_STATE=()      # agent name -> state dir of the latest instance
declare -A _LOG_SEQ=()

_BRM_FAILED=0
_BRM_ERR_AT=
trap '_BRM_ERR_AT="line $LINENO: $BASH_COMMAND"' ERR

_brm_cleanup() {
        local rc=$? pid left
        trap - EXIT INT TERM ERR
        if ((rc != 0 && rc != 77 && !_BRM_FAILED)); then
                # set -e stopped the script on a command nobody checked.
                echo "FAIL [$TEST_NAME]: stopped with status $rc${_BRM_ERR_AT:+ after a failed command at $_BRM_ERR_AT}" >&2
                dump_logs
        fi
        # Polite first, so the sanitizer build can report leaks; then firm.
        for pid in "${BRM_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for _ in $(seq 1 40); do
                left=0
                for pid in "${BRM_PIDS[@]}"; do
                        if kill -0 "$pid" 2>/dev/null; then
                                left=1
                                break
                        fi
                done
                ((left)) || break
                sleep 0.1
        done
        for pid in "${BRM_PIDS[@]}"; do
                kill -KILL "$pid" 2>/dev/null || true
        done
        for pid in "${BRM_PIDS[@]}"; do
                { wait "$pid"; } 2>/dev/null || true
        done
        _brm_remove_containers
        _brm_unmount
        _brm_rmcgroups
        if [[ "${BRM_KEEP:-0}" == 1 ]]; then
                echo "lib.sh: kept $WORK" >&2
        else
                rm -rf "$WORK"
        fi
        exit "$rc"
}
# Containers outlive their agent on purpose; the ones a test started go
# with the test (their shims then exit by themselves).
_brm_remove_containers() {
        local root rt id
        for root in "$WORK"/agents/*/runtime; do
                [[ -d "$root" ]] || continue
                for rt in runc crun; do
                        command -v "$rt" >/dev/null || continue
                        for id in $("$rt" --root "$root" list -q 2>/dev/null); do
                                "$rt" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
                        done
                done
        done
}
# Memory cgroups made for agents (BRM_OWN_CGROUP), removed once empty.
declare -a BRM_CGROUPS=()
declare -A AGENT_MASTER=()
_brm_rmcgroups() {
        local cg d
        for cg in "${BRM_CGROUPS[@]}"; do
                [[ -d "$cg" ]] || continue
                find "$cg" -mindepth 1 -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null || true; done
                rmdir "$cg" 2>/dev/null || true
        done
        return 0
}
# File systems a test mounted (small_tmpfs), unmounted after the processes
# and containers are gone, newest first, before the work directory goes.
declare -a BRM_MOUNTS=()
_brm_unmount() {
        local i
        for ((i = ${#BRM_MOUNTS[@]} - 1; i >= 0; i--)); do
                mountpoint -q "${BRM_MOUNTS[i]}" && umount -l "${BRM_MOUNTS[i]}"
        done
        return 0
}

# small_tmpfs DIR MIB WHAT: a tmpfs of MIB MiB at DIR (made if missing),
# unmounted when the test ends; skips the test, naming WHAT, when it
# cannot be mounted.
small_tmpfs() {
        local err
        command -v mount >/dev/null || skip "no mount command"
        mkdir -p "$1"
        if ! err=$(mount -t tmpfs -o "size=${2}m,mode=0700" "brm-$TEST_NAME" "$1" 2>&1); then
                skip "cannot mount a $2 MiB tmpfs as $3: $err"
        fi
        BRM_MOUNTS+=("$1")
}
trap _brm_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- reporting ----

now_ms() {
        local t=${EPOCHREALTIME/./}
        echo $((t / 1000))
}

log() {
        printf '[%s %s] %s\n' "$(date +%H:%M:%S.%3N)" "$TEST_NAME" "$*" >&2
}

dump_logs() {
        local f
        for f in "$LOGS"/*; do
                [[ -f "$f" ]] || continue
                echo "----- tail of ${f#"$WORK"/} -----" >&2
                tail -n 40 "$f" >&2 || true
        done
}

fail() {
        _BRM_FAILED=1
        echo "FAIL [$TEST_NAME]: $*" >&2
        dump_logs
        exit 1
}

skip() {
        echo "SKIP [$TEST_NAME]: $*" >&2
        exit 77
}

# Problems a sanitizer build reports on stderr (ASan, LSan, UBSan). Every
# process here logs to a file in $LOGS, so a report fails the test even when
# the process survived it.
SANITIZER_PATTERN='runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: AddressSanitizer|SUMMARY: UndefinedBehaviorSanitizer'

check_sanitizers() {
        local f hits=""
        for f in "$LOGS"/*; do
                [[ -f "$f" ]] || continue
                if grep -qE "$SANITIZER_PATTERN" "$f"; then
                        hits+="  ${f#"$WORK"/}: $(grep -m1 -E "$SANITIZER_PATTERN" "$f")"$'\n'
                fi
        done
        [[ -z "$hits" ]] || fail "sanitizer report(s) in process logs:
$hits"
}

# stop_all: SIGTERM to every process still running, waits for them (so that
# a sanitizer build writes its leak reports), SIGKILL after 10 s.
stop_all() {
        local pid t0
        t0=$(now_ms)
        for pid in "${BRM_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for pid in "${BRM_PIDS[@]}"; do
                if ! wait_for 10 _not_alive "$pid"; then
                        kill -KILL "$pid" 2>/dev/null || true
                        log "${BRM_PID_DESC[$pid]} did not exit within 10s of SIGTERM; killed"
                fi
                reap "$pid"
        done
        (($(now_ms) - t0 < 2000)) || log "note: stopping ${#BRM_PIDS[@]} processes took $(($(now_ms) - t0)) ms"
        BRM_PIDS=()
}

# pass: ends the test successfully, after stopping every process and
# checking the logs for sanitizer reports.
pass() {
        stop_all
        check_sanitizers
        log "PASS${1:+: $*}"
        exit 0
}

assert_eq() { # EXPECTED ACTUAL WHAT
        [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
        [[ "$1" == *"$2"* ]] || fail "$3: expected text containing '$2', got: $1"
}

assert_not_contains() { # HAYSTACK NEEDLE WHAT
        [[ "$1" != *"$2"* ]] || fail "$3: expected text without '$2', got: $1"
}

assert_file_contains() { # FILE FIXED-STRING WHAT
        grep -qF -- "$2" "$1" 2>/dev/null ||
                fail "$3: expected ${1#"$WORK"/} to contain '$2' (it does not)"
}

assert_file_lacks() { # FILE FIXED-STRING WHAT
        if grep -F -- "$2" "$1" 2>/dev/null; then
                fail "$3: expected ${1#"$WORK"/} not to contain '$2' (matching lines above)"
        fi
}

# ---- processes ----

# Registers a background process so the EXIT trap ends it.
track() { # PID DESCRIPTION
        BRM_PIDS+=("$1")
        BRM_PID_DESC[$1]=$2
}

alive() {
        kill -0 "$1" 2>/dev/null
}

# Sends SIG (default TERM), waits up to TIMEOUT seconds (default 10) for the
# process to end and sets STOP_RC to its exit status. Fails if it does not
# end.
STOP_RC=
stop_pid() { # PID [SIG] [TIMEOUT]
        local pid=$1 sig=${2:-TERM} timeout=${3:-10}
        kill "-$sig" "$pid" 2>/dev/null || true
        if ! wait_for "$timeout" _not_alive "$pid"; then
                fail "${BRM_PID_DESC[$pid]:-process $pid} did not exit within ${timeout}s of SIG$sig"
        fi
        reap "$pid"
        STOP_RC=$REAP_RC
}

# reap PID: collects an ended child's exit status into REAP_RC, without the
# shell's "Killed" notice.
REAP_RC=
reap() {
        REAP_RC=0
        { wait "$1"; } 2>/dev/null || REAP_RC=$?
}

_not_alive() {
        ! kill -0 "$1" 2>/dev/null
}

# wait_for TIMEOUT_S CMD...: runs CMD every 0.1 s until it succeeds (returns
# 0) or TIMEOUT_S (may be fractional) has passed (returns 1). The bound is
# scaled by BRM_SLOW.
wait_for() {
        local timeout=$1
        shift
        local deadline=$(($(now_ms) + ${timeout%.*} * 1000 * BRM_SLOW))
        if [[ "$timeout" == *.* ]]; then
                local frac=${timeout#*.}000
                deadline=$((deadline + 10#${frac:0:3} * BRM_SLOW))
        fi
        while :; do
                if "$@"; then
                        return 0
                fi
                (($(now_ms) < deadline)) || return 1
                sleep 0.1
        done
}

# ---- ports ----

# A free TCP port on 127.0.0.1, chosen below the kernel's ephemeral range so
# that outgoing connections of parallel tests cannot take it in between.
free_port() {
        local lo hi p
        read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
        local top=$((lo > 20000 ? lo - 1 : 32767)) bottom=20000
        for _ in $(seq 1 200); do
                p=$((bottom + (RANDOM * 32768 + RANDOM) % (top - bottom)))
                if python3 - "$p" <<'EOF' 2>/dev/null; then
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()
EOF
                        echo "$p"
                        return 0
                fi
        done
        fail "no free port found on 127.0.0.1"
}

# ---- master ----

# start_master [extra bramble-master args...]
# Starts the primary master (data dir $WORK/master unless MASTER_DIR is set,
# port MASTER_PORT or a free one), waits until it listens, and sets
# MASTER_PID, MASTER_PORT, MASTER_ADDR, MASTER_DIR, MASTER_LOG,
# MASTER_OUT (stdout) and exports BRAMBLE_CONFIG. If the port was chosen here
# and turns out taken, another one is tried.
start_master() {
        MASTER_DIR=${MASTER_DIR:-$WORK/master}
        local fixed_port=${MASTER_PORT:-}
        local tries=0
        while :; do
                MASTER_PORT=${fixed_port:-$(free_port)}
                if launch_master master "$MASTER_DIR" "$MASTER_PORT" "$@"; then
                        break
                fi
                tries=$((tries + 1))
                if [[ -n "$fixed_port" || $tries -ge 3 ]] || ! grep -q "cannot listen" "$LAUNCH_LOG"; then
                        fail "bramble-master did not start (see ${LAUNCH_LOG#"$WORK"/})"
                fi
        done
        MASTER_PID=$LAUNCH_PID
        MASTER_LOG=$LAUNCH_LOG
        MASTER_OUT=$LAUNCH_OUT
        MASTER_ADDR=127.0.0.1:$MASTER_PORT
        export BRAMBLE_CONFIG=$MASTER_DIR/admin.json
}

# launch_master TAG DATA_DIR PORT [extra args...]: starts a master with a 1 s
# heartbeat interval and grace 3 (extra args may override them) and waits up
# to 15 s for "listening on". Returns 1 if it exited instead. Sets LAUNCH_PID,
# LAUNCH_LOG (stderr) and LAUNCH_OUT (stdout).
launch_master() {
        local tag=$1 dir=$2 port=$3
        shift 3
        local seq=$((${_LOG_SEQ[$tag]:-0} + 1))
        _LOG_SEQ[$tag]=$seq
        LAUNCH_LOG=$LOGS/$tag-$seq.log
        LAUNCH_OUT=$LOGS/$tag-$seq.stdout
        "$BRM_BIN/bramble-master" --data-dir "$dir" --listen "127.0.0.1:$port" --heartbeat-interval 1s --grace 3 \
                "$@" >"$LAUNCH_OUT" 2>"$LAUNCH_LOG" &
        LAUNCH_PID=$!
        track "$LAUNCH_PID" "bramble-master ($tag #$seq, port $port)"
        wait_for 15 _master_up_or_dead "$LAUNCH_PID" "$LAUNCH_LOG" || true
        if ! grep -q "listening on" "$LAUNCH_LOG"; then
                alive "$LAUNCH_PID" && fail "bramble-master ($tag) did not report 'listening on' within 15s"
                reap "$LAUNCH_PID"
                return 1
        fi
        [[ -s "$dir/admin.json" ]] || fail "bramble-master ($tag) is listening but wrote no $dir/admin.json"
        return 0
}

_master_up_or_dead() { # PID LOG
        grep -q "listening on" "$2" 2>/dev/null || ! alive "$1"
}

# ---- agents ----

# start_image_node NAME VERSION HOOK: a master, and an agent that sees
# itself as the Bramble image on slot a at VERSION (--root $WORK/root: a
# /proc/cmdline and an os-release, which is all that makes it take OS
# updates) with HOOK as its os_update_hook; waits until it is Ready.
start_image_node() {
        local root=$WORK/root token
        mkdir -p "$root/proc" "$root/etc"
        echo "console=ttyAMA0 root=PARTUUID=b7a3b1e0-02 bramble.slot=a" >"$root/proc/cmdline"
        printf 'NAME="Bramble"\nIMAGE_VERSION=%s\n' "$2" >"$root/etc/os-release"
        start_master
        token=$(cli_ok token create --ttl 10m)
        start_agent "$1" --token "$token" --root "$root" --os-update-hook "$3"
        _image_node_ready() { [[ "$(node_state "$1")" == Ready ]]; }
        wait_for 30 _image_node_ready "$1" || fail "$1 not Ready within 30 s"
}

# start_agent NAME [extra bramble-agent args...]
# Starts an agent for node NAME against the primary master with a 1 s
# heartbeat and state dir $WORK/agents/NAME (pass --state-dir to override;
# the last flag wins). Pass --token / --root as needed. Sets AGENT_PID[NAME],
# AGENT_LOG[NAME], AGENT_STATE[NAME] and LAST_PID. Does not wait for
# anything.
start_agent() {
        local name=$1
        shift
        local seq=$((${_LOG_SEQ[agent-$name]:-0} + 1)) state=$WORK/agents/$name a
        _LOG_SEQ[agent-$name]=$seq
        local prev=
        for a in "$@"; do
                [[ "$prev" == --state-dir ]] && state=$a
                prev=$a
        done
        local logf=$LOGS/agent-$name-$seq.log
        local -a wrap=()
        # Agents sharing one host share its cgroups: a container named alike
        # on two of them (a replica moved while its old node runs on) needs
        # each agent in a memory cgroup of its own (cgroup v1 here).
        if [[ "${BRM_OWN_CGROUP:-0}" == 1 ]]; then
                local mem cg
                mem=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
                if [[ -n "$mem" && -d /sys/fs/cgroup/memory ]]; then
                        cg=/sys/fs/cgroup/memory${mem%/}/brm-test-$$-$name
                        mkdir -p "$cg"
                        BRM_CGROUPS+=("$cg")
                        wrap=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg")
                fi
        fi
        "${wrap[@]}" "$BRM_BIN/bramble-agent" --master "${AGENT_MASTER[$name]:-$MASTER_ADDR}" --name "$name" \
                --state-dir "$WORK/agents/$name" --heartbeat-interval 1s "$@" >"$logf" 2>&1 &
        LAST_PID=$!
        track "$LAST_PID" "bramble-agent $name #$seq"
        AGENT_PID[$name]=$LAST_PID
        AGENT_LOG[$name]=$logf
        AGENT_STATE[$name]=$state
}

# ---- CLI ----

# cli ARGS...: runs bramble (with BRAMBLE_CONFIG) and sets CLI_RC, CLI_OUT and
# CLI_ERR; never aborts the script.
cli() {
        local o=$WORK/cli.out e=$WORK/cli.err
        CLI_RC=0
        "$BRM_BIN/bramble" "$@" >"$o" 2>"$e" || CLI_RC=$?
        CLI_OUT=$(cat "$o")
        CLI_ERR=$(cat "$e")
        no_sanitizer_report "bramble $*" "$CLI_ERR"
}

# no_sanitizer_report WHAT STDERR_TEXT: fails the test if a sanitizer build
# reported a problem (the exit code is then the sanitizer's, not the tool's).
no_sanitizer_report() {
        if [[ "$2" =~ $SANITIZER_PATTERN ]]; then
                fail "$1: sanitizer report on stderr (exit code $CLI_RC):
$(printf '%s\n' "$2" | grep -E -A12 "$SANITIZER_PATTERN" | head -40)"
        fi
}

# expect_refused RC NEEDLE ARGS...: bramble ARGS must exit RC with NEEDLE in
# its stderr.
expect_refused() { # RC NEEDLE ARGS...
        local rc=$1 needle=$2
        shift 2
        cli "$@"
        [[ $CLI_RC -eq $rc ]] || fail "bramble $*: expected exit $rc, got $CLI_RC ($CLI_ERR)"
        assert_contains "$CLI_ERR" "$needle" "error of 'bramble $*'"
}

# cli_ok ARGS...: like cli but fails the test unless bramble exits 0; prints
# stdout.
cli_ok() {
        cli "$@"
        [[ $CLI_RC -eq 0 ]] || fail "bramble $* exited $CLI_RC (expected 0): $CLI_ERR $(master_status)"
        printf '%s\n' "$CLI_OUT"
}

# Why a CLI call may have failed: whether the primary master still runs.
master_status() {
        [[ -n "${MASTER_PID:-}" ]] || return 0
        if alive "$MASTER_PID"; then
                echo "(bramble-master pid $MASTER_PID is running)"
        else
                echo "(bramble-master pid $MASTER_PID is NOT running any more: it crashed, or something outside this test stopped it; see its log)"
        fi
}

# nodes_json: the JSON array from 'bramble -o json nodes' (fails the test if
# the CLI fails).
nodes_json() {
        cli -o json nodes
        [[ $CLI_RC -eq 0 ]] || fail "bramble -o json nodes exited $CLI_RC: $CLI_ERR $(master_status)"
        printf '%s\n' "$CLI_OUT"
}

# nodes_dump: the node list for a failure message (never fails).
nodes_dump() {
        cli -o json nodes
        printf '%s' "$CLI_OUT${CLI_ERR:+ (stderr: $CLI_ERR)}" | tr -s ' \t\n' ' '
}

# json_query PYTHON_EXPR: evaluates EXPR with the JSON from stdin bound to
# 'd' and prints the result (strings bare, others as JSON).
json_query() {
        python3 -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))
' "$1"
}

# cli_json EXPR ARGS...: runs 'bramble ARGS' (which must exit 0) and sets Q
# to EXPR evaluated on its JSON output (see json_query). Call it directly,
# not in $(...), so that a failure ends the test at once.
Q=
cli_json() {
        local expr=$1
        shift
        cli "$@"
        [[ $CLI_RC -eq 0 ]] || fail "bramble $* exited $CLI_RC (expected 0): $CLI_ERR $(master_status)"
        Q=$(printf '%s' "$CLI_OUT" | json_query "$expr" 2>&1) ||
                fail "evaluating $expr on the output of 'bramble $*' failed: $Q
output: $CLI_OUT"
}

# token_field ID EXPR: sets Q to EXPR evaluated on the token's entry ('t')
# in 'bramble -o json token list'.
token_field() {
        cli_json "[($2) for t in d if t['id'] == '$1']" -o json token list
        [[ "$Q" != "[]" ]] || fail "token $1 is not in 'bramble token list': $CLI_OUT"
        Q=$(printf '%s' "$Q" | json_query "d[0]")
}

# node_state NAME: prints Ready, NotReady, "absent" if the master does not
# list the node, or "<bramble failed ...>" if the CLI failed.
node_state() {
        cli -o json nodes
        if [[ $CLI_RC -ne 0 ]]; then
                echo "<bramble -o json nodes failed ($CLI_RC): $CLI_ERR $(master_status)>"
                return 0
        fi
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    if n.get("name") == sys.argv[1]:
        print(n.get("state"))
        break
else:
    print("absent")
' "$1"
}

# node_field NAME FIELD: prints one field of a node ("<missing>" if absent).
node_field() {
        cli -o json nodes
        if [[ $CLI_RC -ne 0 ]]; then
                echo "<bramble -o json nodes failed ($CLI_RC): $CLI_ERR $(master_status)>"
                return 0
        fi
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    if n.get("name") == sys.argv[1]:
        v = n.get(sys.argv[2], "<missing>")
        print(v if isinstance(v, str) else json.dumps(v))
        break
else:
    print("<no node>")
' "$1" "$2"
}

# states NAME...: "name=state ..." for every NAME in one CLI call.
states() {
        cli -o json nodes
        if [[ $CLI_RC -ne 0 ]]; then
                echo "cli-error($CLI_RC: $CLI_ERR $(master_status))"
                return 0
        fi
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
st = {n.get("name"): n.get("state") for n in json.load(sys.stdin)}
print(" ".join("%s=%s" % (a, st.get(a, "absent")) for a in sys.argv[1:]))
' "$@"
}

# all_in_state STATE NAME...: true when every NAME is in STATE.
all_in_state() {
        local want=$1
        shift
        local expect="" n
        for n in "$@"; do expect+="$n=$want "; done
        [[ "$(states "$@")" == "${expect% }" ]]
}

node_is() { # NAME STATE
        [[ "$(node_state "$1")" == "$2" ]]
}

# create_token ARGS...: prints a new token made with 'bramble token create'.
create_token() {
        cli token create "$@"
        [[ $CLI_RC -eq 0 ]] || fail "bramble token create $* exited $CLI_RC: $CLI_ERR $(master_status)"
        [[ "$CLI_OUT" =~ ^bramble1:[0-9a-f]{64}:[a-z0-9]{6}\.[a-z0-9]{32}$ ]] ||
                fail "bramble token create printed '$CLI_OUT', expected bramble1:<64 hex>:<id>.<secret>"
        printf '%s\n' "$CLI_OUT"
}

token_id() { # TOKEN
        local rest=${1##*:}
        echo "${rest%%.*}"
}

# log_has FILE STRING: grep -F, for use with wait_for.
log_has() {
        grep -qF -- "$2" "$1" 2>/dev/null
}

sha256_of() {
        sha256sum "$1" | cut -d' ' -f1
}

rss_kib() { # PID
        awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# The probe tool built from tests/integration/probe.c.
need_probe() {
        PROBE=$BRM_BIN/brm_probe
        [[ -x "$PROBE" ]] || fail "$PROBE is missing: build the brm_probe target (tests/integration/CMakeLists.txt)"
}

# ---- containers ----

# need_containers: skips the test unless this host can run containers (root,
# an OCI runtime, a static busybox for the test root file system).
need_containers() {
        [[ $(id -u) -eq 0 ]] || skip "needs root for cgroups and the OCI runtime"
        command -v runc >/dev/null || command -v crun >/dev/null || skip "no OCI runtime (runc or crun) installed"
        BUSYBOX=$(command -v busybox || true)
        [[ -n "$BUSYBOX" ]] && { ldd "$BUSYBOX" 2>&1 || true; } | grep -q "not a dynamic executable" ||
                skip "needs a static busybox (package busybox-static) for the test root file system"
}

# busybox_rootfs DIR: a root file system of one static busybox and links for
# the applets the tests use.
busybox_rootfs() {
        local dir=$1 a
        mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/etc"
        cp "$BUSYBOX" "$dir/bin/busybox"
        for a in sh sleep usleep tail cat echo true false ls seq yes head printf; do
                ln -sf busybox "$dir/bin/$a"
        done
}

# container_node [bramble-agent args...]: the usual start of a container
# test: skips unless containers can run here, makes $ROOTFS, starts a master
# and node pi-1 (with the given agent args) and waits until it is Ready.
container_node() {
        need_containers
        ROOTFS=$WORK/rootfs
        busybox_rootfs "$ROOTFS"
        start_master
        TOKEN=$(create_token --ttl 1h --uses 1)
        start_agent pi-1 --token "$TOKEN" "$@"
        wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10 s: $(node_state pi-1)"
}

# ps_field NAME EXPR [NODE]: the value of the Python expression EXPR on the
# container's ps object c (node pi-1 unless given), "absent" if there is none.
ps_field() {
        cli -o json ps "${3:-pi-1}"
        [[ $CLI_RC -eq 0 ]] || { echo "ps-failed"; return; }
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
c = [x for x in json.load(sys.stdin) if x["name"] == sys.argv[1]]
print(eval(sys.argv[2], {"c": c[0]}) if c else "absent")' "$1" "$2"
}
# ps_is NAME STATE: for wait_for, which evaluates it every time.
ps_is() {
        [[ "$(ps_field "$1" 'c["state"]')" == "$2" ]]
}

# ---- the master's state on disk ----

# master_cmd ARGS...: runs bramble-master to its end (a --restore, or a start
# that must be refused) and sets MCMD_RC, MCMD_OUT and MCMD_ERR. A process
# that is still running after 20 s fails the test.
master_cmd() {
        local o=$WORK/mcmd.out e=$WORK/mcmd.err
        MCMD_RC=0
        timeout 20 "$BRM_BIN/bramble-master" "$@" >"$o" 2>"$e" || MCMD_RC=$?
        MCMD_OUT=$(cat "$o")
        MCMD_ERR=$(cat "$e")
        ((MCMD_RC != 124)) || fail "bramble-master $* was still running after 20 s"
        no_sanitizer_report "bramble-master $*" "$MCMD_ERR"
}

# sqlite_query FILE SQL: prints the rows of SQL on the database FILE (read
# only), one per line, columns separated by '|'; "ERROR: ..." if it fails.
sqlite_query() {
        python3 - "$1" "$2" <<'PY'
import sqlite3, sys
try:
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    for row in db.execute(sys.argv[2]):
        print("|".join(str(c) for c in row))
    db.close()
except Exception as e:
    print("ERROR: %s" % e)
PY
}

# file_mode PATH: its permission bits in octal, e.g. 600.
file_mode() {
        stat -c %a "$1"
}

# ---- the master's HTTPS port ----

# start_master_http [extra bramble-master args...]: start_master with
# --http-listen on a free port; sets HTTP_PORT, HTTP_URL and HTTP_CA (the
# cluster CA, from 'bramble dashboard --ca').
start_master_http() {
        HTTP_PORT=$(free_port)
        start_master --http-listen "127.0.0.1:$HTTP_PORT" "$@"
        HTTP_URL=https://127.0.0.1:$HTTP_PORT
        HTTP_CA=$WORK/cluster-ca.pem
        cli dashboard --ca
        ((CLI_RC == 0)) || fail "bramble dashboard --ca exited $CLI_RC: $CLI_ERR"
        printf '%s\n' "$CLI_OUT" >"$HTTP_CA"
}

# http PATH [curl args...]: GET over HTTPS, trusting only the cluster CA;
# sets HTTP_CODE, HTTP_BODY and HTTP_HEADERS.
http() {
        local path=$1
        shift
        HTTP_CODE=$(curl -sS --max-time 20 --cacert "$HTTP_CA" -D "$WORK/http.headers" -o "$WORK/http.body" \
                -w '%{http_code}' "$@" "$HTTP_URL$path" 2>"$WORK/http.err") || HTTP_CODE=000
        HTTP_BODY=$(cat "$WORK/http.body" 2>/dev/null)
        HTTP_HEADERS=$(tr -d '\r' <"$WORK/http.headers" 2>/dev/null)
}

# expect_http CODE PATH [curl args...]
expect_http() {
        local want=$1
        shift
        http "$@"
        [[ "$HTTP_CODE" == "$want" ]] ||
                fail "GET $1: expected HTTP $want, got $HTTP_CODE ($(head -c 300 <<<"$HTTP_BODY") $(cat "$WORK/http.err"))"
}

# dashboard_login [bramble dashboard args...]: a one-time link, redeemed;
# sets LOGIN_URL, LOGIN_TOKEN (the token id) and SESSION_COOKIE.
dashboard_login() {
        cli -o json dashboard "$@"
        ((CLI_RC == 0)) || fail "bramble dashboard exited $CLI_RC: $CLI_ERR"
        LOGIN_URL=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$CLI_OUT")
        LOGIN_TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["id"])' <<<"$CLI_OUT")
        expect_http 200 "${LOGIN_URL#"$HTTP_URL"}"
        SESSION_COOKIE=$(sed -n 's/^Set-Cookie: \(bramble_session=[0-9a-f]*\);.*/\1/p' <<<"$HTTP_HEADERS")
        [[ -n "$SESSION_COOKIE" ]] || fail "the sign-in set no session cookie: $HTTP_HEADERS"
}
