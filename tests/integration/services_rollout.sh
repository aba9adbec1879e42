#!/usr/bin/env bash
# Rolling updates on three real agents. To a good spec: replicas are
# replaced one at a time, start-first, and at no moment do fewer than
# N - parallelism replicas run healthy. To a bad spec (its health check
# fails): the first new replica turns unhealthy, the rollout stops and rolls
# back by itself, and the service ends on the old spec with N healthy.
# 'bramble service rollback' does it by hand. Health at the service level:
# an exec, an HTTP and a TCP check.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/svclib.sh"

svc_cluster 3
for a in httpd test; do ln -sf busybox "$ROOTFS/bin/$a"; done
mkdir -p "$ROOTFS/www"
echo ok >"$ROOTFS/www/ok.html"

healthy_count() {
        svc_q "$1" "len([r for r in d['replicas'] if r['state'] == 'running' and r['health'] == 'healthy'])"
        printf '%s' "$Q"
}
_n_healthy() { [[ $(healthy_count "$1") == "$2" ]]; }

# ---- health checks at the service level ----
PORT=$(free_port)
cli_ok service create page --image "$ROOTFS" --replicas 1 --health-http "$PORT/ok.html" --health-interval 500ms \
        -- httpd -f -p "127.0.0.1:$PORT" -h /www >/dev/null
wait_for 20 _n_healthy page 1 || fail "page (HTTP check) not healthy within 20 s: $(svc_dump page)"
cli_ok service rm page >/dev/null
PORT=$(free_port)
cli_ok service create tcp --image "$ROOTFS" --replicas 1 --health-tcp "$PORT" --health-interval 500ms \
        -- httpd -f -p "127.0.0.1:$PORT" -h /www >/dev/null
wait_for 20 _n_healthy tcp 1 || fail "tcp (TCP check) not healthy within 20 s: $(svc_dump tcp)"
cli_ok service rm tcp >/dev/null

# ---- a good rollout ----
cli_ok service create web --image "$ROOTFS" --replicas 3 --env MODE=v1 \
        --health-cmd 'test "$MODE" != bad' --health-interval 500ms --health-retries 2 \
        --update-monitor 15s -- sleep 100000 >/dev/null
wait_for 30 _n_healthy web 3 || fail "web not 3 healthy within 30 s: $(svc_dump web)"
svc_q web "d['version']"
v1=$Q

cli_ok service update web --env MODE=v2 >/dev/null
low=3
_rolled() {
        local h
        h=$(healthy_count web)
        ((h < low)) && low=$h
        svc_q web "[d['update_state'], sorted(set(r['version'] for r in d['replicas']))]"
        [[ "$Q" == '["completed", '* && "$Q" != *","*","* ]]
}
wait_for 60 _rolled || fail "the rollout of web did not complete within 60 s: $(svc_dump web)"
log "good rollout: at least $low of 3 healthy throughout"
((low >= 2)) || fail "only $low replicas of web were healthy during a rollout with parallelism 1 (expected at least 2)"
svc_q web "sorted(set(r['version'] for r in d['replicas']))"
assert_eq "[$((v1 + 1))]" "$Q" "versions of web's replicas after the rollout"
svc_q web "d['spec']['container']['env']"
assert_eq '["MODE=v2"]' "$Q" "web's spec after the rollout"
assert_eq 3 "$(healthy_count web)" "healthy replicas of web after the rollout"

# ---- a bad rollout rolls itself back ----
cli_ok service update web --env MODE=bad >/dev/null
_rolled_back() {
        svc_q web "d['update_state']"
        [[ "$Q" == rolled-back ]]
}
wait_for 60 _rolled_back || fail "web did not roll back within 60 s: $(svc_dump web)"
svc_q web "[d['update_reason'], d['spec']['container']['env']]"
assert_contains "$Q" "unhealthy" "why web rolled back"
assert_contains "$Q" "MODE=v2" "web's spec after the automatic rollback"
wait_for 30 _n_healthy web 3 || fail "web not 3 healthy after the rollback: $(svc_dump web)"
# The replaced ones stop (sleep ignores SIGTERM: killed after the 10 s grace).
_three() { [[ $(cluster_running web. "${NODES[@]}" | wc -w) -eq 3 ]]; }
wait_for 30 _three || fail "web containers after the rollback: $(cluster_running web. "${NODES[@]}") (expected 3)"
cli_ok events
assert_contains "$CLI_OUT" "rolling back" "events of the bad rollout"

# ---- by hand ----
cli_ok service update web --env MODE=v3 >/dev/null
wait_for 60 _rolled || fail "the rollout to v3 did not complete: $(svc_dump web)"
cli_ok service rollback web >/dev/null
wait_for 60 _rolled_back || fail "the rollback by hand did not complete: $(svc_dump web)"
svc_q web "d['spec']['container']['env']"
assert_eq '["MODE=v2"]' "$Q" "web's spec after 'service rollback'"
pass
