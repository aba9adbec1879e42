#!/usr/bin/env bash
# The dashboard in a real browser (headless Chromium driven over the
# DevTools pipe by cdp.py): a one-time link signs in; the page shows every
# node with its state (and the OS version and slot one reports); an agent killed turns NotReady on the same page,
# without a reload, within the grace plus slack; a node's detail opens from
# the URL hash; revoking the browser's token signs the page out. The browser
# trusts the master's certificate by its key (the SPKI hash of the served
# certificate), nothing wider; without it the page does not load. (curl
# checks the 401s of a missing cookie, a reused or expired code and a
# revoked token in integration.http_auth.)
# Where containers can run (root, runc or crun, a static busybox), a
# container's log follows live on the page, its markup shown as text; an
# unknown container's log is an error on the page; removing the container
# ends its log there, for good (no reconnection by itself).
# Screenshots: dashboard.png (1280x900) and dashboard-phone.png (390x844)
# in the work directory and in <build>/artifacts.
source "$(dirname "$0")/lib.sh"

CHROMIUM=${BRM_CHROMIUM:-/usr/bin/chromium-headless-shell}
[[ -x "$CHROMIUM" ]] || skip "no headless Chromium at $CHROMIUM (Debian package chromium-headless-shell)"
command -v curl >/dev/null || skip "no curl (scripts/bootstrap installs it)"
command -v openssl >/dev/null || skip "no openssl (scripts/bootstrap installs it)"
CDP=(python3 "$BRM_SRC/tests/integration/cdp.py" --chromium "$CHROMIUM")
ARTIFACTS=$BRM_BIN/../artifacts

start_master_http
TOKEN=$(create_token --ttl 1h --uses 2)
start_agent pi-1 --token "$TOKEN"
# pi-2 sees itself as the Bramble image would (--root): version 1.4.2,
# booted from slot b; the page shows both.
ROOT2=$WORK/root-pi-2
mkdir -p "$ROOT2/proc" "$ROOT2/etc"
echo "console=ttyAMA0 root=PARTUUID=b7a3b1e0-03 bramble.slot=b" >"$ROOT2/proc/cmdline"
printf 'NAME="Bramble"\nIMAGE_VERSION=1.4.2\n' >"$ROOT2/etc/os-release"
start_agent pi-2 --token "$TOKEN" --root "$ROOT2"
wait_for 10 all_in_state Ready pi-1 pi-2 || fail "setup: nodes not Ready within 10 s: $(states pi-1 pi-2)"

# A container whose log the page follows, where containers can run.
LOG_STEPS=()
if [[ $(id -u) -eq 0 ]] && { command -v runc || command -v crun; } >/dev/null &&
        BUSYBOX=$(command -v busybox) && { ldd "$BUSYBOX" 2>&1 || true; } | grep -q "not a dynamic executable"; then
        ROOTFS=$WORK/rootfs
        busybox_rootfs "$ROOTFS"
        cli run pi-1 chatter --image "$ROOTFS" -- sh -c \
                'i=0; while true; do echo "line $i <b>bold</b>"; echo "err $i" >&2; i=$((i+1)); sleep 0.2; done'
        ((CLI_RC == 0)) || fail "bramble run chatter exited $CLI_RC: $CLI_ERR"
        wait_for 20 ps_is chatter running || fail "chatter not running within 20 s: $(ps_field chatter c)"
        LOG_STEPS=(
                until "(location.hash = 'node=pi-1', true)" 1
                wait 'chatter\s+–\s+\S+\s+running' 5
                until "(location.hash = 'logs=pi-1/chatter', true)" 1
                wait 'following' 10 wait 'line [0-9]+ <b>bold</b>' 10 wait 'err [0-9]+' 5
                until "document.querySelectorAll('#log b').length === 0" 1
                until "document.querySelectorAll('#log .err').length > 0" 1
                shot "$WORK/dashboard-log.png"
                sync removed
                wait 'ended: container removed' 15
                sleep 2.5 wait 'ended: container removed' 0.1 gone 'following' 0.1
                until "(location.hash = 'logs=pi-1/nosuch', true)" 1
                until "!document.getElementById('l-again').hidden" 10
                text "$WORK/nosuch.txt"
                until "(location.hash = 'logs=nosuch/x', true)" 1
                until "!document.getElementById('l-again').hidden" 10
                until "document.getElementById('l-state').className === 'bad-text'" 1
                text "$WORK/nosuch-node.txt"
        )
else
        log "note: containers cannot run here; the log view is not checked"
fi

# ---- the HTTP side, with curl ----
# (401 without a cookie, for a reused or expired code and a revoked token:
# integration.http_auth.) The page itself, with a session: built in, with
# its type.
dashboard_login
expect_http 200 / -b "$SESSION_COOKIE"
assert_contains "$HTTP_HEADERS" "Content-Type: text/html; charset=utf-8" "headers of /"
assert_contains "$HTTP_BODY" '<script src="/app.js"' "body of /"
expect_http 200 /app.js -b "$SESSION_COOKIE"
assert_contains "$HTTP_HEADERS" "Content-Type: text/javascript" "headers of /app.js"
cli api-token revoke "$LOGIN_TOKEN" # done with this one
expect_http 401 /app.js -b "$SESSION_COOKIE"

# ---- the browser ----

# The master's certificate as served, by the hash of its public key.
SPKI=$(openssl s_client -connect "127.0.0.1:$HTTP_PORT" -CAfile "$HTTP_CA" </dev/null 2>/dev/null |
        openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
[[ ${#SPKI} -eq 44 ]] || fail "no SPKI hash of the master's certificate (got '$SPKI')"

# Without that trust the page does not load: nothing else is ignored.
cli -o json dashboard
OTHER_URL=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$CLI_OUT")
if "${CDP[@]}" --dir "$WORK/untrusted" open "$OTHER_URL" >"$LOGS/cdp-untrusted.log" 2>&1; then
        fail "the page loaded without trusting the master's key: $(cat "$LOGS/cdp-untrusted.log")"
fi
assert_file_contains "$LOGS/cdp-untrusted.log" "ERR_CERT" "Chromium without the SPKI pin"

cli -o json dashboard
((CLI_RC == 0)) || fail "bramble dashboard exited $CLI_RC: $CLI_ERR"
URL=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$CLI_OUT")
URL_TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["id"])' <<<"$CLI_OUT")
[[ "$URL" == "$HTTP_URL/"* ]] || fail "bramble dashboard printed '$URL', expected a link under $HTTP_URL"

# The NotReady must show within the grace (3 x 1 s after the last
# heartbeat, pushed at once by the master) plus slack, as not_ready.sh.
NOTREADY_S=$((6 * BRM_SLOW))
# The master ends a revoked token's event stream at once and refuses its
# retry; the page also asks /api/whoami every 15 s.
SIGNOUT_S=$((20 * BRM_SLOW))
B=$WORK/browser
"${CDP[@]}" --dir "$B" --spki "$SPKI" \
        open "$URL" \
        wait 'pi-1\s+Ready' 15 wait 'pi-2\s+Ready\s+1\.4\.2 · slot b\s' 5 wait '2/2\s+nodes Ready' 5 wait '\blive\b' 5 \
        wait 'Signed in as viewer' 5 \
        mark \
        sync killed \
        wait 'pi-2\s+NotReady' "$NOTREADY_S" \
        wait 'pi-1\s+Ready' 1 wait '1/2\s+nodes Ready' 2 wait 'pi-2: NotReady' 2 \
        marked \
        shot "$WORK/dashboard.png" \
        size 390x844 shot "$WORK/dashboard-phone.png" size 1280x900 \
        until "(location.hash = 'node=pi-1', true)" 1 \
        wait 'Agent\s+[0-9]' 5 wait 'Kernel' 1 \
        "${LOG_STEPS[@]}" \
        until "(location.hash = 'state=NotReady', true)" 1 \
        wait '1 of 2 shown' 5 gone 'pi-1\s+Ready' 2 \
        marked \
        sync revoked \
        wait 'Signed out — run `bramble dashboard` for a new link' "$SIGNOUT_S" \
        >"$LOGS/cdp.log" 2>&1 &
CDP_PID=$!
track "$CDP_PID" "cdp.py (headless Chromium)"

_cdp_at() { [[ -e "$B/$1.ready" ]] || ! alive "$CDP_PID"; }
wait_for 60 _cdp_at killed || fail "the browser did not show the cluster within 60 s"
alive "$CDP_PID" || { reap "$CDP_PID"; fail "the browser's checks failed before the kill (exit $REAP_RC):
$(cat "$LOGS/cdp.log")"; }
VICTIM=${AGENT_PID[pi-2]}
kill -KILL "$VICTIM"
reap "$VICTIM"
touch "$B/killed.go"

if ((${#LOG_STEPS[@]})); then
        wait_for 40 _cdp_at removed || fail "the browser did not reach the container's removal within 40 s"
        alive "$CDP_PID" || { reap "$CDP_PID"; fail "the browser's checks failed in the log view (exit $REAP_RC):
$(cat "$LOGS/cdp.log")"; }
        cli rm pi-1/chatter
        ((CLI_RC == 0)) || fail "bramble rm pi-1/chatter exited $CLI_RC: $CLI_ERR"
        touch "$B/removed.go"
fi
wait_for 40 _cdp_at revoked || fail "the browser did not reach the sign-out step within 40 s"
alive "$CDP_PID" || { reap "$CDP_PID"; fail "the browser's checks failed after the kill (exit $REAP_RC):
$(cat "$LOGS/cdp.log")"; }
cli api-token revoke "$URL_TOKEN"
((CLI_RC == 0)) || fail "api-token revoke $URL_TOKEN exited $CLI_RC: $CLI_ERR"
touch "$B/revoked.go"

wait_for 45 _not_alive "$CDP_PID" || fail "the browser's checks did not end within 45 s"
reap "$CDP_PID"
cat "$LOGS/cdp.log" >&2
((REAP_RC == 0)) || fail "the browser's checks failed (exit $REAP_RC), see above"
shown=$(awk '/sync killed/ { t0 = $2 } /wait \/pi-2\\s\+NotReady\/: ok/ { sub(/s\]/, "", $2); sub(/s\]/, "", t0); printf "%d", ($2 - t0) * 1000 }' "$LOGS/cdp.log")
log "the page showed pi-2 NotReady ${shown} ms after its agent was killed (grace 3 s)"

if ((${#LOG_STEPS[@]})); then
        log "an unknown container's log, as the page shows it: $(grep -A1 '^nosuch on pi-1$' "$WORK/nosuch.txt" | tail -n1)"
        log "an unknown node's (HTTP 404): $(grep -A1 '^x on nosuch$' "$WORK/nosuch-node.txt" | tail -n1)"
fi
mkdir -p "$ARTIFACTS"
cp "$WORK"/dashboard*.png "$ARTIFACTS/"
log "screenshots: $(cd "$ARTIFACTS" && pwd)/dashboard.png, dashboard-phone.png"
pass
