#!/usr/bin/env bash
# No timer of a closed connection touches the next one. The master asks for
# a heartbeat every 100 ms, and the agent reaches it through slow_proxy.py,
# which holds every handshake for 1 s: a heartbeat timer left running from
# the lost session would fire several times inside the reconnect handshake
# and abort it ("sending heartbeat failed: Transport endpoint is not
# connected"), sending the agent into another backoff. The master is killed
# (-9) and restarted on the same port; the agent must be back on its first
# try after the master returns, within its backoff cap (10 s for a node that
# has joined) + the proxy's 1 s + slack.
source "$(dirname "$0")/lib.sh"

PROXY_DELAY=1

# sessions N: the agent has logged at least N sessions with a master.
sessions() {
        [[ $(grep -c "connected to master at" "$AGENT" || true) -ge $1 ]]
}

start_master --heartbeat-interval 100ms
TOKEN=$(create_token --ttl 1h --uses 1)

PROXY_PORT=$(free_port)
PROXY_LOG=$LOGS/proxy.log
python3 "$BRM_SRC/tests/integration/slow_proxy.py" "$PROXY_PORT" "$MASTER_PORT" "$PROXY_DELAY" >"$PROXY_LOG" 2>&1 &
track $! "slow_proxy.py (port $PROXY_PORT)"
wait_for 5 log_has "$PROXY_LOG" listening || fail "slow_proxy.py did not start listening within 5 s"

# The agent knows only the proxy.
MASTER_ADDR_DIRECT=$MASTER_ADDR
MASTER_ADDR=127.0.0.1:$PROXY_PORT
start_agent pi-1 --token "$TOKEN"
MASTER_ADDR=$MASTER_ADDR_DIRECT
AGENT=${AGENT_LOG[pi-1]}
wait_for 15 node_is pi-1 Ready || fail "setup: pi-1 not Ready within 15 s through the proxy: $(node_state pi-1)"
assert_file_contains "$AGENT" "heartbeat every 100 ms" "agent log (interval from the master's HelloAck)"

# The master goes away without a word; the agent notices and retries.
stop_pid "$MASTER_PID" KILL 10
wait_for 10 log_has "$AGENT" "cannot reach master" ||
        fail "the agent did not report a failed attempt within 10 s of the master's kill"
sleep 3

# Back on the same port. Count the proxy's connections to it from now on.
before=$(grep -c upstream "$PROXY_LOG" || true)
start_master --heartbeat-interval 100ms
t_up=$(now_ms)
wait_for 15 sessions 2 ||
        fail "the agent did not get a session within 15 s of the master's return (backoff cap 10 s + ${PROXY_DELAY} s proxy + slack)"
took=$(($(now_ms) - t_up))
wait_for 5 node_is pi-1 Ready || fail "pi-1 has a session but is not Ready: $(node_state pi-1)"
log "pi-1 back $took ms after the master returned"

assert_file_lacks "$AGENT" "sending heartbeat failed" "agent log (a heartbeat due during the reconnect handshake aborted it)"
after=$(grep -c upstream "$PROXY_LOG" || true)
assert_eq 1 "$((after - before))" "connections that reached the restarted master before the agent was back (it must succeed on its first try)"

# The session works: heartbeats keep coming at 100 ms for a while, nothing aborted.
sleep 1
assert_eq Ready "$(node_state pi-1)" "pi-1 one second later"
assert_file_lacks "$AGENT" "sending heartbeat failed" "agent log at the end"
# While the master was down the proxy accepted, found no master and
# closed: said in words.
assert_file_contains "$AGENT" "connection closed by the peer" "agent log while the master was down"
pass "back $took ms after the master returned, on the first try"
