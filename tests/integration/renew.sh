#!/usr/bin/env bash
# Certificate renewal: with --cert-validity 1m an agent keeps its first
# certificate for the first part of its life (not renewed before half of it,
# 30 s), asks for a new one at two thirds (~40 s), gets it before it expires
# (by 55 s), stores it, renews exactly once, and stays Ready; a restarted
# agent works with the renewed certificate. Takes about 50 s.
source "$(dirname "$0")/lib.sh"

VALIDITY_S=60
start_master --cert-validity 1m
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN"
CRT=${AGENT_STATE[pi-1]}/node.crt
wait_for 5 test -s "$CRT" || fail "pi-1 has no node.crt 5s after start"
t_issue=$(now_ms)

HAVE_OPENSSL=false
command -v openssl >/dev/null 2>&1 && HAVE_OPENSSL=true
cert_id() { # a fingerprint of the certificate in node.crt
        if $HAVE_OPENSSL; then
                openssl x509 -in "$CRT" -noout -serial 2>/dev/null | cut -d= -f2
        else
                sha256_of "$CRT"
        fi
}
not_after_s() { # notAfter of node.crt in epoch seconds (empty without openssl)
        $HAVE_OPENSSL || return 0
        date -d "$(openssl x509 -in "$CRT" -noout -enddate | cut -d= -f2)" +%s
}
cert_dates() {
        $HAVE_OPENSSL && openssl x509 -in "$CRT" -noout -startdate -enddate | tr '\n' ' '
        return 0
}
not_before_s() {
        $HAVE_OPENSSL || return 0
        date -d "$(openssl x509 -in "$CRT" -noout -startdate | cut -d= -f2)" +%s
}
ID0=$(cert_id)
NA0=$(not_after_s)
NB0=$(not_before_s)
DATES0=$(cert_dates)
SPAN_NOTE=
if $HAVE_OPENSSL; then
        SPAN_NOTE=" At issue, $(((t_issue / 1000 - NB0) * 100 / (NA0 - NB0)))% of the certificate's notBefore..notAfter span had already passed (notBefore is $((t_issue / 1000 - NB0)) s before the join); the agent renews at 67%."
fi
wait_for 5 node_is pi-1 Ready || fail "pi-1 expected Ready, got $(node_state pi-1)"
[[ -n "$ID0" ]] || fail "cannot read $CRT"
if $HAVE_OPENSSL; then
        left=$((NA0 - t_issue / 1000))
        ((left >= VALIDITY_S - 5 && left <= VALIDITY_S + 5)) ||
                fail "the join certificate expires in ${left}s, expected about ${VALIDITY_S}s (--cert-validity 1m)"
fi
log "joined; certificate $ID0 expires at $NA0"

# Not renewed during the first half of its life: renewing is for the last
# third, not for every heartbeat.
renewed_early() {
        [[ "$(cert_id)" != "$ID0" ]] || grep -qF "certificate renewed" "${AGENT_LOG[pi-1]}"
}
half=$((VALIDITY_S * 1000 / 2))
while (($(now_ms) - t_issue < half)); do
        if renewed_early; then
                local_ms=$(($(now_ms) - t_issue))
                sleep 2.5 # to show whether it keeps renewing
                n=$(grep -c "renewed the certificate of node pi-1" "$MASTER_LOG" || true)
                fail "the certificate was renewed ${local_ms} ms after the join, expected no renewal before ${half} ms (half of the ${VALIDITY_S} s validity; renewal is due at two thirds). The master renewed it $n time(s) within $(($(now_ms) - t_issue)) ms of the join. Join certificate: ${DATES0:-?}(serial $ID0); node.crt now: $(cert_dates)(serial $(cert_id)).$SPAN_NOTE"
        fi
        sleep 0.5
done
assert_eq "Ready" "$(node_state pi-1)" "pi-1 state at half of the certificate lifetime"

# Renewed at two thirds (~40 s), well before it expires (60 s).
renewed() {
        [[ "$(cert_id)" != "$ID0" ]] && grep -qF "certificate renewed" "${AGENT_LOG[pi-1]}"
}
limit=$((VALIDITY_S * 1000 * 55 / 60))
until renewed; do
        (($(now_ms) - t_issue < limit)) ||
                fail "no renewal $(($(now_ms) - t_issue)) ms after the join (due at two thirds of ${VALIDITY_S} s): node.crt serial still $(cert_id)"
        sleep 0.5
done
t_renew=$(($(now_ms) - t_issue))
log "renewed ${t_renew} ms after the join"
ID1=$(cert_id)
if $HAVE_OPENSSL; then
        NA1=$(not_after_s)
        ((NA1 > NA0)) || fail "the renewed certificate expires at $NA1, not later than the first one ($NA0)"
fi
assert_file_contains "${AGENT_LOG[pi-1]}" "asking the master to renew it" "agent log"
assert_file_contains "$MASTER_LOG" "renewed the certificate of node pi-1" "master log"
# The same key: node.key untouched, and the master accepts the new cert.
sleep 2
assert_eq "Ready" "$(node_state pi-1)" "pi-1 state after the renewal"
n=$(grep -c "renewed the certificate of node pi-1" "$MASTER_LOG" || true)
assert_eq 1 "$n" "number of renewals 2 s after the first (one is due per certificate)"
c=$(grep -c "connected to master" "${AGENT_LOG[pi-1]}" || true)
assert_eq 1 "$c" "number of connections of pi-1 (a renewal must not drop the session)"

# A restarted agent presents the renewed certificate and is accepted.
stop_pid "${AGENT_PID[pi-1]}" TERM 10
start_agent pi-1
wait_for 8 log_has "${AGENT_LOG[pi-1]}" "connected to master" ||
        fail "pi-1 restarted with the renewed certificate did not connect within 8s"
wait_for 3 node_is pi-1 Ready || fail "pi-1 after restart: expected Ready, got $(node_state pi-1)"
assert_eq "$ID1" "$(cert_id)" "node.crt after the restart (the renewed one)"
assert_file_lacks "${AGENT_LOG[pi-1]}" "refused" "restarted agent log"

pass
