#!/usr/bin/env bash
# The master's HTTPS port lets nobody in without valid auth: every request
# without a valid token or session gets 401 and nothing else; a metrics
# token reads /metrics only; a one-time link works once and not after it
# expires; a revoked token ends its sessions at once; malformed, oversized
# and body-carrying requests get a clear 4xx and the port keeps serving.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed (scripts/bootstrap installs it)"

# Without --http-listen, tokens are refused with the reason.
start_master
expect_refused 1 "this master serves no HTTPS: start it with --http-listen" api-token create --role metrics
stop_pid "$MASTER_PID"
rm -rf "$MASTER_DIR"

# Eight connections at most: four of them for event streams.
start_master_http --http-max-connections 8
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10s: $(node_state pi-1)"

# CLI argument errors: one line, exit 2.
expect_refused 2 "invalid --role 'admin': expected metrics or viewer" api-token create --role admin
expect_refused 2 "api-token create needs --role metrics or --role viewer" api-token create
expect_refused 2 "invalid --ttl 'soon'" api-token create --role metrics --ttl soon
expect_refused 1 "no API token with id 'zzzzzz'" api-token revoke zzzzzz

# No auth at all: 401 and a one-line body, for every path.
for p in / /app.js /metrics /api/state /api/stream /api/whoami "/api/logs?node=pi-1&container=x" /nope; do
        expect_http 401 "$p"
        assert_eq 1 "$(printf '%s\n' "$HTTP_BODY" | wc -l)" "lines of the 401 body for $p"
        assert_contains "$HTTP_BODY" "401 Unauthorized" "401 body for $p"
        assert_not_contains "$HTTP_BODY" "pi-1" "401 body for $p"
done

# A metrics token: /metrics yes, the dashboard no.
cli api-token create --role metrics --description prometheus
((CLI_RC == 0)) || fail "api-token create exited $CLI_RC: $CLI_ERR"
METRICS=$CLI_OUT
[[ "$METRICS" =~ ^bramble-api1:[a-z0-9]{6}\.[a-z0-9]{32}$ ]] || fail "unexpected token form: $METRICS"
expect_http 200 /metrics -H "Authorization: Bearer $METRICS"
assert_contains "$HTTP_BODY" 'bramble_node_ready{node="pi-1"} 1' "/metrics with the metrics token"
assert_contains "$HTTP_HEADERS" "Content-Type: text/plain; version=0.0.4" "/metrics content type"
expect_http 403 /api/state -H "Authorization: Bearer $METRICS"
expect_http 403 / -H "Authorization: Bearer $METRICS"
# The right form with a wrong secret, another scheme, garbage: 401.
expect_http 401 /metrics -H "Authorization: Bearer ${METRICS%?????}aaaaa"
expect_http 401 /metrics -H "Authorization: Basic ${METRICS#bramble-api1:}"
expect_http 401 /metrics -H "Authorization: Bearer x"
cli -o json api-token ls
python3 - "$CLI_OUT" <<'PY' || fail "api-token ls -o json: $CLI_OUT"
import json, sys
t = [x for x in json.loads(sys.argv[1]) if x["description"] == "prometheus"]
assert len(t) == 1 and t[0]["role"] == "metrics" and not t[0]["revoked"] and t[0]["last_used"], t
PY
cli api-token ls
assert_contains "$CLI_OUT" "ID       ROLE     STATUS" "api-token ls header"

# The one-time link: a session cookie, HttpOnly, Secure, SameSite=Strict.
dashboard_login
assert_contains "$HTTP_HEADERS" "HttpOnly; Secure; SameSite=Strict" "the session cookie's attributes"
expect_http 200 /api/whoami -b "$SESSION_COOKIE"
assert_contains "$HTTP_BODY" '"role":"viewer"' "/api/whoami"
expect_http 200 /api/state -b "$SESSION_COOKIE"
python3 - "$HTTP_BODY" <<'PY' || fail "/api/state: $(head -c 400 <<<"$HTTP_BODY")"
import json, sys
s = json.loads(sys.argv[1])
assert [n["name"] for n in s["nodes"]] == ["pi-1"] and s["nodes"][0]["state"] == "Ready", s["nodes"]
assert s["containers"] == [] and s["services"] == [] and s["heartbeat_interval_ms"] == 1000, s
PY
expect_http 200 / -b "$SESSION_COOKIE"
assert_contains "$HTTP_HEADERS" "Content-Security-Policy: default-src 'self'" "the page's headers"
etag=$(sed -n 's/^ETag: //p' <<<"$HTTP_HEADERS")
[[ "$etag" =~ ^\"[0-9a-f]{16}\"$ ]] || fail "the page has no ETag: $HTTP_HEADERS"
assert_contains "$HTTP_HEADERS" "Cache-Control: no-cache" "the page's caching"
expect_http 304 / -b "$SESSION_COOKIE" -H "If-None-Match: $etag"
expect_http 200 / -b "$SESSION_COOKIE" -H 'If-None-Match: "0000000000000000"'
expect_http 200 /metrics -b "$SESSION_COOKIE"
assert_contains "$HTTP_HEADERS" "Cache-Control: no-store" "/metrics caching"
# The same link again: 401.
expect_http 401 "${LOGIN_URL#"$HTTP_URL"}"
assert_contains "$HTTP_BODY" "this sign-in link is not valid" "a reused link"
# A cookie that was never issued: 401.
expect_http 401 /api/state -b "bramble_session=$(printf 'a%.0s' {1..64})"

# An expired link: its token lives 2 s, and so does the code.
cli -o json dashboard --ttl 2s
((CLI_RC == 0)) || fail "dashboard --ttl 2s exited $CLI_RC: $CLI_ERR"
SHORT_URL=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$CLI_OUT")
sleep 2.5
expect_http 401 "${SHORT_URL#"$HTTP_URL"}"

# Event streams take at most half the connections (they are never closed
# for room): the fifth of four places is refused, and a place that frees
# is taken again.
for i in 1 2 3 4; do
        curl -sS -N --cacert "$HTTP_CA" -b "$SESSION_COOKIE" --max-time 60 "$HTTP_URL/api/stream" \
                >"$WORK/streams-$i.out" 2>&1 &
        STREAMS[$i]=$!
        track "${STREAMS[$i]}" "curl /api/stream #$i"
        wait_for 5 grep -q '^event: state' "$WORK/streams-$i.out" || fail "stream $i got no state: $(cat "$WORK/streams-$i.out")"
done
expect_http 503 /api/stream -b "$SESSION_COOKIE"
assert_contains "$HTTP_BODY" "too many event streams are open on this port" "a fifth stream"
expect_http 503 "/api/logs?node=pi-1&container=x" -b "$SESSION_COOKIE"
expect_http 200 /api/state -b "$SESSION_COOKIE"
kill "${STREAMS[4]}"
reap "${STREAMS[4]}"
_stream_ok() { http /api/logs -b "$SESSION_COOKIE"; [[ "$HTTP_CODE" == 400 ]]; }
wait_for 5 _stream_ok || fail "a freed stream place was not taken again: HTTP $HTTP_CODE $HTTP_BODY"
for i in 1 2 3; do
        kill "${STREAMS[$i]}"
        reap "${STREAMS[$i]}"
done

# Revoking the session's token signs the browser out at once, its open
# event stream included; a revoked bearer token is refused too.
curl -sS -N --cacert "$HTTP_CA" -b "$SESSION_COOKIE" --max-time 30 "$HTTP_URL/api/stream" >"$WORK/stream.out" 2>&1 &
STREAM=$!
track "$STREAM" "curl /api/stream"
wait_for 5 grep -q '^event: state' "$WORK/stream.out" || fail "no state event on the stream: $(cat "$WORK/stream.out")"
cli api-token revoke "$LOGIN_TOKEN"
((CLI_RC == 0)) || fail "api-token revoke exited $CLI_RC: $CLI_ERR"
t_revoke=$(now_ms)
wait_for 3 _not_alive "$STREAM" || fail "the event stream of a revoked token is still open 3 s later"
reap "$STREAM"
log "the revoked session's event stream closed $(($(now_ms) - t_revoke)) ms after the revoke"
expect_http 401 /api/state -b "$SESSION_COOKIE"
METRICS_ID=${METRICS#bramble-api1:}
METRICS_ID=${METRICS_ID%%.*}
cli api-token revoke "$METRICS_ID"
expect_http 401 /metrics -H "Authorization: Bearer $METRICS"
cli -o json api-token ls
python3 - "$CLI_OUT" "$METRICS_ID" "$LOGIN_TOKEN" <<'PY' || fail "api-token ls after revoking: $CLI_OUT"
import json, sys
t = {x["id"]: x for x in json.loads(sys.argv[1])}
assert t[sys.argv[2]]["revoked"] and t[sys.argv[3]]["revoked"], t
PY

# Malformed and unwanted requests: a clear status, and the port serves on.
raw() { # PAYLOAD_PYTHON_EXPR: sends it over TLS, prints the status line
        python3 - "$HTTP_PORT" "$HTTP_CA" "$1" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15), server_hostname="127.0.0.1")
s.sendall(eval(sys.argv[3]))
data = b""
try:
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.split(b"\r\n")[0].decode(errors="replace"))
PY
}
assert_eq "HTTP/1.1 400 Bad Request" "$(raw 'b"GARBAGE \x00\x01\r\n\r\n"')" "a malformed request line"
assert_eq "HTTP/1.1 431 Request Header Fields Too Large" \
        "$(raw 'b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n"')" "a 20 KB header"
assert_eq "HTTP/1.1 431 Request Header Fields Too Large" \
        "$(raw 'b"GET / HTTP/1.1\r\nCookie: " + b"a" * 2000 + b"\r\n\r\n"')" "a cookie over 512 bytes"
assert_eq "HTTP/1.1 413 Content Too Large" \
        "$(raw 'b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"')" "a request with a body"
assert_eq "HTTP/1.1 405 Method Not Allowed" \
        "$(raw 'b"DELETE /api/state HTTP/1.1\r\nHost: x\r\n\r\n"')" "DELETE"
assert_eq "HTTP/1.1 400 Bad Request" \
        "$(raw 'b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"')" "an upgrade"
dashboard_login
expect_http 200 /api/state -b "$SESSION_COOKIE"
# Keep-alive: two requests on one connection.
out=$(curl -sS --cacert "$HTTP_CA" -b "$SESSION_COOKIE" -w '%{http_code}\n' -o /dev/null -o /dev/null \
        "$HTTP_URL/api/whoami" "$HTTP_URL/api/state" 2>&1)
assert_eq $'200\n200' "$out" "two requests on one connection"
assert_file_contains "$MASTER_LOG" "serving HTTPS on 127.0.0.1:$HTTP_PORT" "master log"
pass
