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
