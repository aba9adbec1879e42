#!/usr/bin/env bash
# Services on four real agents with the real runtime: 3 replicas land on 3
# distinct nodes; constraints, --max-per-node, memory reservations and
# cordon are honoured; an impossible service is pending with its reason and
# placed as soon as a node fits; scale up and down; drain moves a node's
# replicas away one at a time; bad requests change nothing; events say
# what was decided. (sleep, as the containers' init, ignores SIGTERM: a removed
# replica goes after the 10 s stop grace.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/svclib.sh"

svc_cluster 4

# ---- spread ----
cli_ok service create web --image "$ROOTFS" --replicas 3 -- sleep 100000 >/dev/null
wait_running web 3 20
where=$(placement web)
nodes=$(tr ' ' '\n' <<<"$where" | cut -d= -f2 | sort -u | wc -l)
assert_eq 3 "$nodes" "distinct nodes of web's 3 replicas ($where)"
# The runtimes agree with the master.
assert_eq 3 "$(cluster_running web. "${NODES[@]}" | wc -w)" "web replicas the runtimes run ($(cluster_running web. "${NODES[@]}"))"
cli_ok ps
assert_contains "$CLI_OUT" "web" "bramble ps lists the replicas with their service"
cli_json "sorted(c['service'] for c in d if c.get('service'))" -o json ps
assert_eq '["web", "web", "web"]' "$Q" "service field of the replicas in ps -o json"

# ---- constraints and labels ----
cli_ok node label pi-4 zone=attic disk=ssd >/dev/null
cli_json "[n['labels'] for n in d if n['name'] == 'pi-4'][0]" -o json nodes
assert_contains "$Q" "zone=attic" "pi-4's labels"
assert_contains "$Q" "arch=" "pi-4's built-in labels"
cli_ok service create attic --image "$ROOTFS" --replicas 2 --constraint zone=attic --max-per-node 1 -- sleep 100000 >/dev/null
wait_running attic 1 20
sleep 1
assert_eq "attic.1=pi-4" "$(placement attic)" "replicas of a service constrained to zone=attic (one node has it; two wanted, at most one per node)"
svc_q attic "d['pending_reason']"
assert_contains "$Q" "zone=attic" "why attic's second replica waits"
# A label removed: the constraint no longer holds for new placements only.
cli_ok node label pi-3 zone=attic >/dev/null
wait_running attic 2 20
assert_eq "attic.1=pi-4 attic.2=pi-3" "$(placement attic)" "attic once pi-3 has the label too"
cli_ok node label pi-3 zone- >/dev/null
cli_json "[n['labels'] for n in d if n['name'] == 'pi-3'][0]" -o json nodes
assert_not_contains "$Q" "zone=attic" "pi-3's labels after 'zone-'"
cli_ok service rm attic >/dev/null

# ---- memory reservations and the impossible service ----
cli_ok service create big --image "$ROOTFS" --replicas 1 --memory 64G -- sleep 100000 >/dev/null
sleep 2
svc_q big "[d['running'], d['pending_reason']]"
assert_contains "$Q" "no Ready node with 65536 MiB free" "why a 64 GiB replica is pending"
assert_contains "$Q" "4 without the memory" "why a 64 GiB replica is pending"
cli_ok service ls
assert_contains "$CLI_OUT" "big" "service ls"
cli_ok service rm big >/dev/null

# ---- an image the store lacks is pulled first; one that cannot be pulled says why ----
cli_ok service create ghost --image 127.0.0.1:9/nothing/here:1 -- sleep 1 >/dev/null
_pull_failed() {
        svc_q ghost "d['pending_reason']"
        [[ "$Q" == *"pulling 127.0.0.1:9/nothing/here:1 failed"* ]]
}
wait_for 20 _pull_failed || fail "ghost's pending reason after a failed pull: $Q"
cli_ok events
assert_contains "$CLI_OUT" "ghost: pulling 127.0.0.1:9/nothing/here:1" "events of a service whose image is pulled"
cli_ok service rm ghost >/dev/null

# ---- max-per-node and scaling ----
cli_ok service create one --image "$ROOTFS" --replicas 5 --max-per-node 1 -- sleep 100000 >/dev/null
wait_running one 4 20
sleep 1
assert_eq 4 "$(running_count one)" "replicas of 'one' (--max-per-node 1, 4 nodes, 5 wanted)"
svc_q one "d['pending_reason']"
assert_contains "$Q" "4 at --max-per-node" "why the fifth replica of 'one' waits"
cli_ok service scale one 2 >/dev/null
wait_running one 2 20
_runtime_two() { [[ $(cluster_running one. "${NODES[@]}" | wc -w) -eq 2 ]]; }
wait_for 30 _runtime_two || fail "containers of 'one' after scaling to 2: $(cluster_running one. "${NODES[@]}")"
cli_ok service rm one >/dev/null

# ---- cordon: no new replicas ----
cli_ok node cordon pi-1 >/dev/null
cli_json "[n['schedule'] for n in d if n['name'] == 'pi-1'][0]" -o json nodes
assert_eq cordoned "$Q" "pi-1's scheduling after cordon"
cli_ok service create side --image "$ROOTFS" --replicas 3 -- sleep 100000 >/dev/null
wait_running side 3 20
assert_not_contains "$(placement side)" "=pi-1" "replicas of a service created while pi-1 is cordoned"
cli_ok node uncordon pi-1 >/dev/null
cli_ok service rm side >/dev/null

# ---- drain: web's replicas move off, each replacement running first ----
victim=$(node_of web web.1)
cli_ok node drain "$victim" --timeout 60s
assert_contains "$CLI_OUT" "drained" "bramble node drain output"
assert_not_contains "$(placement web)" "=$victim" "web after draining $victim"
assert_eq 3 "$(running_count web)" "web replicas running after the drain"
# Done means the node runs none: its heartbeat lists no replica running.
assert_eq "" "$(runtime_running "$victim" web.)" "web containers left on drained $victim"
cli_ok node uncordon "$victim" >/dev/null

# ---- bad requests change nothing ----
expect_refused 1 "no service named 'nope'" service scale nope 3
expect_refused 1 "exists" service create web --image "$ROOTFS" --replicas 1 -- sleep 1
expect_refused 2 "constraint" service create bad --image "$ROOTFS" --constraint "zone" -- sleep 1
expect_refused 1 "no node named 'ghost'" node label ghost a=b
expect_refused 1 "replica of service web" rm "$(node_of web web.2)/web.2"
cli_json "sorted(s['name'] for s in d)" -o json service ls
assert_eq '["web"]' "$Q" "services after the refused requests"

# ---- events ----
cli_ok events
assert_contains "$CLI_OUT" "service web created" "events"
assert_contains "$CLI_OUT" "draining" "events"
cli_ok service rm web >/dev/null
wait_for 30 none_running web. "${NODES[@]}" ||
        fail "web containers left after service rm: $(cluster_running web. "${NODES[@]}")"
pass
