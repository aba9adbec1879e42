#!/usr/bin/env bash
# Containers through the operator's path: bramble -> master -> node -> OCI
# runtime, with real cgroups. Bad requests are refused with their reason and
# change nothing; a container runs and shows in ps; one that allocates past
# its 32 MiB limit is OOM-killed, reported as such and restarted; stop,
# start and rm converge on the node.
source "$(dirname "$0")/lib.sh"

container_node

# Bad requests: each names what is wrong, and nothing is created.
expect_refused 1 "no node named 'nosuch'" run nosuch web --image "$ROOTFS" -- sleep 100
expect_refused 2 "invalid --memory '64Q'" run pi-1 web --image "$ROOTFS" --memory 64Q -- sleep 100
expect_refused 2 "invalid --cpus '0'" run pi-1 web --image "$ROOTFS" --cpus 0 -- sleep 100
expect_refused 2 "invalid --cpus '-1'" run pi-1 web --image "$ROOTFS" --cpus -1 -- sleep 100
expect_refused 2 "not a valid container name" run pi-1 Bad_Name --image "$ROOTFS" -- sleep 100
expect_refused 2 "--image is required" run pi-1 web -- sleep 100
expect_refused 1 "/no/such/image" run pi-1 web --image /no/such/image -- sleep 100
expect_refused 2 "invalid --cap-add 'SYS_FLY'" run pi-1 web --image "$ROOTFS" --cap-add SYS_FLY -- sleep 100
expect_refused 2 "capability NET_ADMIN is both added and dropped" run pi-1 web --image "$ROOTFS" \
        --cap-add net_admin --cap-drop CAP_NET_ADMIN -- sleep 100
expect_refused 2 "invalid --security-opt 'apparmor=x'" run pi-1 web --image "$ROOTFS" --security-opt apparmor=x -- sleep 100
expect_refused 2 "cannot read the seccomp profile /no/such.json" run pi-1 web --image "$ROOTFS" \
        --security-opt seccomp=/no/such.json -- sleep 100
printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_SOMETIMES"}]}' >"$WORK/bad-profile.json"
expect_refused 1 "syscalls[0].action: unknown action 'SCMP_ACT_SOMETIMES'" run pi-1 web --image "$ROOTFS" \
        --security-opt seccomp="$WORK/bad-profile.json" -- sleep 100
cli -o json ps
assert_eq "[]" "$(printf '%s' "$CLI_OUT" | tr -d ' \n\t')" "containers after refused requests"

# A container that runs.
cli run pi-1 web --image "$ROOTFS" --memory 32M --pids 50 -- sleep 1000
[[ $CLI_RC -eq 0 ]] || fail "bramble run web: exit $CLI_RC: $CLI_ERR"
wait_for 20 ps_is web running || fail "web not running within 20 s: $(ps_field web 'c')"
pid=$(ps_field web 'c["pid"]')
((pid > 0)) || fail "web runs but reports pid $pid"
kill -0 "$pid" || fail "web's pid $pid is not a live process"
grep -q sleep "/proc/$pid/cmdline" || fail "pid $pid is not the container's sleep: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
expect_refused 1 "already exists" run pi-1 web --image "$ROOTFS" -- sleep 5
# The node reports its shims' memory in its heartbeats once one runs.
has_shim_rss() { local v; v=$(node_field pi-1 shim_rss_bytes); [[ $v =~ ^[0-9]+$ ]] && ((v > 0)); }
wait_for 10 has_shim_rss || fail "pi-1 reports no shim_rss_bytes while web runs: $(nodes_dump)"
shim_rss=$(node_field pi-1 shim_rss_bytes)
((shim_rss < 16 << 20)) || fail "shim_rss_bytes $shim_rss for one shim is not plausible"
log "one shim: shim_rss_bytes $((shim_rss / 1024)) KiB, agent_rss_bytes $(($(node_field pi-1 agent_rss_bytes) / 1024)) KiB"

# Past its memory limit: OOM-killed, reported, restarted with backoff.
cli run pi-1 hog --image "$ROOTFS" --memory 32M --restart always -- tail /dev/zero
[[ $CLI_RC -eq 0 ]] || fail "bramble run hog: exit $CLI_RC: $CLI_ERR"
# The reason shows while the container waits out its backoff; a restart
# clears it, so look for one snapshot that shows the kill.
deadline=$(($(now_ms) + 40000))
seen_oom=""
while (($(now_ms) < deadline)); do
        st=$(ps_field hog '"%s %s %s %s" % (c["oom_kills"], c["restarts"], c["reason"] or "-", c["exit_code"])')
        read -r ooms restarts reason exit_code <<<"$st"
        [[ -z "$seen_oom" && "$reason" == OOMKilled && "$exit_code" == 137 ]] && seen_oom=$st
        [[ -n "$seen_oom" ]] && [[ "$restarts" =~ ^[0-9]+$ ]] && ((restarts >= 1)) && break
        sleep 0.3
done
[[ -n "$seen_oom" ]] || fail "hog: never reported reason OOMKilled with exit 137 within 40 s; last: $st"
[[ "$ooms" =~ ^[0-9]+$ ]] && ((ooms >= 1)) || fail "hog: expected oom_kills >= 1, got: $st"
((restarts >= 1)) || fail "hog: expected a restart after the OOM kill, got: $st"
log "hog OOM-killed (oom_kills restarts reason exit: $seen_oom) and restarted"

# stop, start, rm converge on the node.
# Less confinement than the defaults is said in ps, human and JSON.
printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod", "fchmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}' >"$WORK/profile.json"
cli run pi-1 admin --image "$ROOTFS" --restart never --cap-add SYS_PTRACE --cap-drop chown \
        --security-opt seccomp="$WORK/profile.json" -- sh -c 'chmod 600 /tmp 2>&1; echo chmod-exit=$?'
[[ $CLI_RC -eq 0 ]] || fail "bramble run admin: exit $CLI_RC: $CLI_ERR"
cli run pi-1 loose --image "$ROOTFS" --restart never --security-opt seccomp=unconfined -- true
[[ $CLI_RC -eq 0 ]] || fail "bramble run loose: exit $CLI_RC: $CLI_ERR"
assert_eq "seccomp=custom cap-add=SYS_PTRACE cap-drop=CHOWN" "$(ps_field admin 'c["security"]')" "ps -o json security of admin"
assert_eq "seccomp=unconfined" "$(ps_field loose 'c["security"]')" "ps -o json security of loose"
assert_eq "" "$(ps_field web 'c["security"]')" "ps -o json security of web"
cli ps pi-1
assert_contains "$CLI_OUT" "SECURITY: pi-1/admin runs with seccomp=custom cap-add=SYS_PTRACE cap-drop=CHOWN" "bramble ps"
assert_contains "$CLI_OUT" "SECURITY: pi-1/loose runs with seccomp=unconfined" "bramble ps"
# inspect: the whole spec, confinement included, human and JSON.
cli inspect pi-1/admin
[[ $CLI_RC -eq 0 ]] || fail "bramble inspect pi-1/admin: exit $CLI_RC: $CLI_ERR"
assert_contains "$CLI_OUT" "cap-add       SYS_PTRACE" "bramble inspect"
assert_contains "$CLI_OUT" "seccomp       the container's own profile" "bramble inspect"
assert_contains "$CLI_OUT" "SECURITY: pi-1/admin runs with seccomp=custom cap-add=SYS_PTRACE cap-drop=CHOWN" "bramble inspect"
cli -o json inspect pi-1/admin
[[ $CLI_RC -eq 0 ]] || fail "bramble -o json inspect pi-1/admin: exit $CLI_RC: $CLI_ERR"
assert_eq "custom ['SYS_PTRACE'] ['chown'] never admin" "$(printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
o = json.load(sys.stdin)
s = o["spec"]
print(s["seccomp"], s["cap_add"], s["cap_drop"], s["restart"], o["name"])')" "inspect -o json"
cli -o json inspect pi-1/web
assert_eq "default 33554432 50 [] ''" "$(printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
o = json.load(sys.stdin)
s = o["spec"]
print(s["seccomp"], s["memory_max"], s["pids_max"], s["cap_add"], repr(o["security"]))')" "inspect -o json of web"
expect_refused 1 "no container named 'nosuch' on pi-1" inspect pi-1/nosuch
expect_refused 2 "usage: bramble inspect NODE/NAME" inspect pi-1
# The custom profile is the container's filter: its chmod is refused.
wait_for 20 ps_is admin exited || fail "admin did not finish within 20 s: $(ps_field admin 'c')"
cli logs pi-1/admin
assert_contains "$CLI_OUT" "chmod-exit=1" "the container's output under its own profile"
cli rm pi-1/admin
cli rm pi-1/loose

cli stop pi-1/web
[[ $CLI_RC -eq 0 ]] || fail "bramble stop: $CLI_ERR"
wait_for 20 ps_is web stopped || fail "web not stopped within 20 s: $(ps_field web 'c')"
wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "web stopped, but its process $pid still runs"
cli start pi-1/web
wait_for 20 ps_is web running || fail "web not running again within 20 s: $(ps_field web 'c')"
pid=$(ps_field web 'c["pid"]')
cli rm pi-1/web
cli rm pi-1/hog
[[ $CLI_RC -eq 0 ]] || fail "bramble rm: $CLI_ERR"
cli -o json ps pi-1
assert_eq "[]" "$(printf '%s' "$CLI_OUT" | tr -d ' \n\t')" "containers after rm"
# Containers outlive their agent by design, so the node must really have
# removed them before the test stops it.
wait_for 20 sh -c "! kill -0 $pid 2>/dev/null" || fail "web removed, but its process $pid still runs"
runtime_root=${AGENT_STATE[pi-1]}/runtime
wait_for 20 sh -c "[ -z \"\$(ls '$runtime_root' 2>/dev/null)\" ]" ||
        fail "the runtime still knows containers after rm: $(ls "$runtime_root")"
expect_refused 1 "no container named 'web'" stop pi-1/web
pass
