#!/usr/bin/env bash
# The master acks every heartbeat, and an agent whose master freezes notices.
#
# The agent reaches the master through a socat TCP proxy (-x: every chunk it
# relays is logged with its direction and length). While all is well the
# master sends something towards the node about once per heartbeat (the
# acks): the agent's session stays up well past its receive-idle timeout
# (4 heartbeat intervals of 1 s). Then the proxy is frozen with SIGSTOP:
# the TCP connection stays open but nothing arrives, and the agent closes
# the session within about 4 intervals and tries again; once the proxy is
# continued it is connected again and Ready.
source "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "socat is not installed (apt-get install socat)"
command -v setsid >/dev/null || skip "setsid (util-linux) is not installed"

start_master
TOKEN=$(create_token --ttl 1h --uses 1)

PROXY_PORT=$(free_port)
PROXY_LOG=$LOGS/proxy.log
# setsid: the proxy and the children it forks per connection form one
# process group, frozen and continued together.
setsid socat -d -x "TCP-LISTEN:$PROXY_PORT,bind=127.0.0.1,reuseaddr,fork" "TCP:$MASTER_ADDR" 2>"$PROXY_LOG" &
PROXY_PID=$!
track "$PROXY_PID" "socat proxy"
wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT" 2>/dev/null || fail "the socat proxy does not listen"

REAL_MASTER=$MASTER_ADDR
MASTER_ADDR=127.0.0.1:$PROXY_PORT
start_agent pi-1 --token "$TOKEN"
MASTER_ADDR=$REAL_MASTER
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready through the proxy within 10s: got $(node_state pi-1)"
wait_for 5 log_has "${AGENT_LOG[pi-1]}" "connected to master at 127.0.0.1:$PROXY_PORT" ||
        fail "pi-1 never said it is connected through the proxy"

# Acks: chunks from the master to the node ('<' in socat's log) keep coming
# about once a heartbeat, and the session outlives the idle timeout.
from_master() { grep -c '^< .* length=' "$PROXY_LOG" || true; }
before=$(from_master)
sleep 6
after=$(from_master)
log "master -> node chunks in 6 s: $((after - before))"
((after - before >= 4)) || fail "the master sent $((after - before)) chunks to the node in 6 s: expected one ack per heartbeat (>= 4)"
n=$(grep -c "connected to master at" "${AGENT_LOG[pi-1]}" || true)
assert_eq 1 "$n" "sessions of pi-1 after 6 s with a live master (the acks must keep it up)"
assert_file_lacks "${AGENT_LOG[pi-1]}" "has not been heard from" "pi-1 log with a live master"

# Freeze the proxy: the connection stays, nothing arrives.
kill -STOP -- "-$PROXY_PID"
t_stop=$(now_ms)
wait_for 8 log_has "${AGENT_LOG[pi-1]}" "has not been heard from" ||
        fail "pi-1 did not notice the frozen master within 8 s (expected about 4 heartbeat intervals)"
t_noticed=$(($(now_ms) - t_stop))
log "pi-1 noticed the frozen master after ${t_noticed} ms"
((t_noticed >= 2500)) || fail "pi-1 gave up on the master after only ${t_noticed} ms: expected about 4 intervals (4 s)"
((t_noticed <= 6500)) || fail "pi-1 noticed the frozen master only after ${t_noticed} ms: expected within 4 intervals plus a tick"

# Continue it: the link reconnects (full jitter, at most 10 s apart).
kill -CONT -- "-$PROXY_PID"
t_cont=$(now_ms)
has_two_sessions() { (($(grep -c "connected to master at" "${AGENT_LOG[pi-1]}") >= 2)); }
wait_for 25 has_two_sessions || fail "pi-1 did not reconnect within 25 s of the proxy continuing"
log "pi-1 reconnected $(($(now_ms) - t_cont)) ms after the proxy continued"
wait_for 5 node_is pi-1 Ready || fail "pi-1 not Ready after reconnecting: got $(node_state pi-1)"
assert_eq "true" "$(node_field pi-1 connected)" "pi-1 connected after the proxy continued"

pass
