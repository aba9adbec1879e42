#!/usr/bin/env bash
# The container request path without a runtime in the way: every malformed
# 'bramble run' is refused with its reason and exit 2 before anything is
# sent; a request for an unknown node, or one its node refuses, exits 1
# quickly with the node's reason; nothing refused is ever stored.
source "$(dirname "$0")/lib.sh"

start_master
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10 s: $(node_state pi-1)"

expect_refused 2 "invalid --memory '64Q'" run pi-1 web --image /srv/rootfs --memory 64Q -- sleep 1
expect_refused 2 "invalid --memory-high '1.5G'" run pi-1 web --image /srv/rootfs --memory-high 1.5G
expect_refused 2 "invalid --cpus '0'" run pi-1 web --image /srv/rootfs --cpus 0
expect_refused 2 "invalid --cpus '-0.5'" run pi-1 web --image /srv/rootfs --cpus -0.5
expect_refused 2 "invalid --pids '0'" run pi-1 web --image /srv/rootfs --pids 0
expect_refused 2 "invalid --restart 'sometimes'" run pi-1 web --image /srv/rootfs --restart sometimes
expect_refused 2 "invalid --network 'bridge'" run pi-1 web --image /srv/rootfs --network bridge
expect_refused 2 "invalid --env 'NOEQUALS'" run pi-1 web --image /srv/rootfs --env NOEQUALS
expect_refused 2 "--memory-high must not exceed --memory" run pi-1 web --image /srv/rootfs --memory 32M --memory-high 64M
expect_refused 2 "not a valid container name" run pi-1 Web! --image /srv/rootfs
expect_refused 2 "--image is required" run pi-1 web -- sleep 1
expect_refused 2 "put the container's command after --" run pi-1 web --image /srv/rootfs sleep 1
expect_refused 2 "usage: bramble run NODE NAME" run pi-1
expect_refused 2 "usage: bramble stop NODE/NAME" stop pi-1
expect_refused 1 "no node named 'nosuch'" run nosuch web --image /srv/rootfs
t0=$(now_ms)
expect_refused 1 "node pi-1 refused the container" run pi-1 web --image /no/such/image -- sleep 1
(($(now_ms) - t0 < 5000)) || fail "the node's refusal took $(($(now_ms) - t0)) ms; expected an answer at once"
expect_refused 1 "no container named 'web' on pi-1" rm pi-1/web
cli_json 'len(d)' -o json ps
assert_eq 0 "$Q" "containers stored after refused requests"
pass
