#!/usr/bin/env bash
# Containers from the master's image store: the node fetches the image's
# blobs over its own session and unpacks them with bramble-unpack.
#  - a run of a cluster reference prints its output through bramble logs;
#  - a second container of the same image starts without a second transfer,
#    and a layer two images share is fetched once;
#  - images loaded with bramble image load (oci-archive with gzip layers,
#    docker-archive) run with their own command;
#  - an image without the node's platform is refused at bramble run;
#  - a blob corrupted in the master's store fails the container with a
#    one-line reason naming the digest, and leaves nothing in the node's
#    blobs;
#  - an agent killed -9 in the middle of a large blob resumes from its .part
#    file, and the master's log shows the stream started at that offset;
#    ps shows "pulling N% of M MiB" meanwhile;
#  - a container removed while it pulls goes at once;
#  - a session lost mid-fetch (master restart) resumes from the .part file
#    on the next session, and two containers of one image share the fetch;
#  - a container restarts from the node's copy while the master is down,
#    also when the agent restarts then.
# The store is filled without the CLI (tests/integration/oci_image.py).
source "$(dirname "$0")/lib.sh"

need_containers
ROOTFS=$WORK/rootfs
busybox_rootfs "$ROOTFS"
HERE=$(cd "$(dirname "$0")" && pwd)
STORE=$WORK/master/images
HOST_ARCH=$(python3 -c 'import platform; m = platform.machine(); print({"x86_64": "amd64", "aarch64": "arm64"}.get(m, m))')
OTHER_ARCH=$([[ $HOST_ARCH == arm64 ]] && echo amd64 || echo arm64)

put_image() { # REF [oci_image.py args...]
        local ref=$1
        shift
        python3 "$HERE/oci_image.py" "$STORE" "$ref" --rootfs "$ROOTFS" "$@"
}
app=$(put_image example.com/app:1)
put_image example.com/other-arch:1 --arch "$OTHER_ARCH" >/dev/null
broken=$(put_image example.com/broken:1 --random-mib 1)
big=$(put_image example.com/big:1 --random-mib 48)
put_image example.com/big2:1 --random-mib 24 >/dev/null
big3=$(put_image example.com/big3:1 --random-mib 24)
field() { printf '%s' "$1" | json_query "$2"; }

start_master
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10 s: $(node_state pi-1)"
NODE_LAYOUT=${AGENT_STATE[pi-1]}/images/layout

sent_lines() { grep -c "sent .* bytes of sha256:" "$MASTER_LOG" || true; }

# ---- a container from the master's store ----
cli_ok run pi-1 app --restart never --image example.com/app:1 -- echo hello-from-the-master >/dev/null
wait_for 30 ps_is app exited || fail "app did not run to its end within 30 s: $(ps_field app 'c')"
assert_eq 0 "$(ps_field app 'c["exit_code"]')" "app's exit code"
out=$(cli_ok logs pi-1/app)
assert_contains "$out" "hello-from-the-master" "bramble logs pi-1/app"
for d in $(field "$app" '" ".join([d["manifest"], d["config"]] + d["layers"])'); do
        [[ -f $NODE_LAYOUT/blobs/sha256/${d#sha256:} ]] || fail "blob $d is not in the node's layout"
done
first=$(sent_lines)
assert_eq 3 "$first" "blob streams the master sent for app (config, layer, manifest)"
assert_file_contains "$NODE_LAYOUT/index.json" '"org.bramble.ref":"example.com/app:1"' "the node's index.json"
# The node says in its heartbeats which images it holds; image ls shows it.
held_by() { # REF NODE
        [[ "$(cli_ok -o json image ls "$1" | python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)[0]["nodes"]))')" == "$2" ]]
}
wait_for 10 held_by example.com/app:1 pi-1 || fail "image ls does not show example.com/app:1 on pi-1: $(cli_ok image ls)"
log "image ls: $(cli_ok image ls | tail -n +2 | head -n 1)"

# The same image again: no transfer.
cli_ok run pi-1 app2 --restart never --image example.com/app:1 -- echo second >/dev/null
wait_for 30 ps_is app2 exited || fail "app2 did not run to its end within 30 s: $(ps_field app2 'c')"
assert_contains "$(cli_ok logs pi-1/app2)" "second" "bramble logs pi-1/app2"
assert_eq "$first" "$(sent_lines)" "blob streams after a second container of the same image"

# ---- images loaded with bramble image load (gzip layers, the image's own
# command; an oci-archive and a docker-archive) ----
if command -v umoci >/dev/null && command -v skopeo >/dev/null; then
        L=$WORK/umoci
        umoci init --layout "$L" >/dev/null
        umoci new --image "$L:t" >/dev/null
        umoci unpack --rootless --image "$L:t" "$WORK/bundle" >/dev/null
        busybox_rootfs "$WORK/bundle/rootfs"
        umoci repack --image "$L:t" "$WORK/bundle" >/dev/null
        umoci config --image "$L:t" --config.cmd "echo" --config.cmd "hello from an archive" >/dev/null
        skopeo copy -q oci:"$L":t oci-archive:"$WORK/app.tar":example.com/loaded:1 >/dev/null
        skopeo copy -q oci:"$L":t docker-archive:"$WORK/dock.tar":example.com/dock:2 >/dev/null
        cli_ok image load "$WORK/app.tar" >/dev/null
        cli_ok image load "$WORK/dock.tar" >/dev/null
        for img in example.com/loaded:1 example.com/dock:2; do
                name=${img#example.com/}
                name=${name%%:*}
                cli_ok run pi-1 "$name" --restart never --image "$img" >/dev/null
                wait_for 30 ps_is "$name" exited || fail "$name ($img) did not run within 30 s: $(ps_field "$name" 'c')"
                assert_contains "$(cli_ok logs "pi-1/$name")" "hello from an archive" "bramble logs pi-1/$name ($img)"
        done
        log "images loaded with bramble image load (oci-archive, docker-archive) run from the store"
else
        log "umoci or skopeo missing: the bramble image load part is left out"
fi

# ---- refusals at run ----
expect_refused 1 "has no linux/$HOST_ARCH variant (it has linux/$OTHER_ARCH)" \
        run pi-1 arch --image example.com/other-arch:1 -- true
# An image the store lacks is pulled first (pull-through); a registry that
# is not there (a closed loopback port) fails the run with why.
closed=$(free_port)
expect_refused 1 "pulling 127.0.0.1:$closed/nosuch:1 failed: registry 127.0.0.1:$closed: cannot connect" \
        run pi-1 nosuch --image "127.0.0.1:$closed/nosuch:1" -- true
assert_eq absent "$(ps_field arch 'c')" "a refused container"

# ---- a corrupted blob ----
layer=$(field "$broken" 'd["layers"][1]')
python3 - "$STORE/blobs/sha256/${layer#sha256:}" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000)
    b = f.read(1)
    f.seek(1000)
    f.write(bytes([b[0] ^ 0xff]))
EOF
cli_ok run pi-1 broken --restart never --image example.com/broken:1 -- true >/dev/null
wait_for 30 ps_is broken failed || fail "broken did not fail within 30 s: $(ps_field broken 'c')"
reason=$(ps_field broken 'c["reason"]')
assert_contains "$reason" "blob $layer from the master does not match its digest" "broken's reason"
[[ "$reason" != *$'\n'* ]] || fail "broken's reason is more than one line: $reason"
[[ ! -e $NODE_LAYOUT/blobs/sha256/${layer#sha256:} ]] || fail "the corrupt blob was stored on the node"
[[ ! -e $NODE_LAYOUT/tmp/${layer#sha256:}.part ]] || fail "the corrupt blob's part was left on the node"
# Its first layer is app's (the same root file system): not fetched again.
shared=$(field "$broken" 'd["layers"][0]')
assert_eq "$(field "$app" 'd["layers"][0]')" "$shared" "the first layer of broken:1 and app:1"
assert_eq 1 "$(grep -c "sent [0-9]* bytes of $shared from offset 0 to pi-1" "$MASTER_LOG")" \
        "streams of the layer app:1 and broken:1 share"

# ---- a fetch cut by kill -9 resumes from its .part file ----
# pi-2 reaches the master through a proxy passing 4 MiB/s, so the 48 MiB
# layer takes seconds, long enough to cut it.
PROXY_PORT=$(free_port)
python3 "$HERE/slow_proxy.py" "$PROXY_PORT" "$MASTER_PORT" 0 4096 >"$LOGS/proxy.log" 2>&1 &
track $! "slow_proxy.py (port $PROXY_PORT)"
wait_for 5 log_has "$LOGS/proxy.log" listening || fail "slow_proxy.py did not start listening within 5 s"
TOKEN2=$(create_token --ttl 1h --uses 1)
MASTER_ADDR_DIRECT=$MASTER_ADDR
MASTER_ADDR=127.0.0.1:$PROXY_PORT
start_agent pi-2 --token "$TOKEN2"
wait_for 15 node_is pi-2 Ready || fail "pi-2 not Ready within 15 s: $(node_state pi-2)"
cli_ok run pi-2 big --restart never --image example.com/big:1 -- echo big-ran >/dev/null
layer=$(field "$big" 'd["layers"][1]')
size=$(stat -c %s "$STORE/blobs/sha256/${layer#sha256:}")
part=${AGENT_STATE[pi-2]}/images/layout/tmp/${layer#sha256:}.part
part_over() { local n; n=$(stat -c %s "$part" 2>/dev/null || echo 0); ((n > 6 << 20)); }
# ps shows how far the pull is.
pulling() { [[ "$(ps_field big 'c["reason"]' pi-2)" =~ ^pulling\ [0-9]+%\ of\ 49\.[0-9]\ MiB$ ]]; }
wait_for 10 pulling || fail "ps does not show the pull's progress: $(ps_field big 'c' pi-2)"
log "ps while pulling: $(ps_field big '"%s, %s" % (c["state"], c["reason"])' pi-2)"
wait_for 30 part_over || fail "the big layer's part did not pass 6 MiB within 30 s: $(ps_field big 'c' pi-2)"
kill -9 "${AGENT_PID[pi-2]}"
reap "${AGENT_PID[pi-2]}"
cut=$(stat -c %s "$part")
((cut < size)) || fail "the layer was complete ($cut of $size bytes) before the agent was killed"
log "agent killed with $cut of $size bytes of $layer in its part file"
start_agent pi-2
big_state() { [[ "$(ps_field big 'c["state"]' pi-2)" == "$1" ]]; }
wait_for 60 big_state exited || fail "big did not run after the resumed fetch within 60 s: $(ps_field big 'c' pi-2)"
assert_contains "$(cli_ok logs pi-2/big)" "big-ran" "bramble logs pi-2/big"
resumed=$(grep -o "sent [0-9]* bytes of $layer from offset [0-9]* to pi-2 (complete)" "$MASTER_LOG" || true)
[[ -n "$resumed" ]] || fail "the master's log has no completed stream of $layer"
read -r _ sent _ _ _ _ _ offset _ <<<"$resumed"
((offset >= cut && offset > 0)) || fail "the resumed stream started at $offset, not at the part's $cut bytes or later"
assert_eq "$size" "$((offset + sent))" "bytes of the layer after the resume (offset + sent)"
[[ -f ${AGENT_STATE[pi-2]}/images/layout/blobs/sha256/${layer#sha256:} ]] || fail "the resumed layer is not stored"
log "resumed at byte $offset, $sent bytes sent after it"

# A container removed while its image is fetched goes at once; the fetch
# goes on for the next one.
cli_ok run pi-2 big2 --restart never --image example.com/big2:1 -- true >/dev/null
pulling2() { [[ "$(ps_field big2 'c["reason"]' pi-2)" == pulling* ]]; }
wait_for 10 pulling2 || fail "big2 does not show its pull: $(ps_field big2 'c' pi-2)"
t0=$(now_ms)
cli_ok rm pi-2/big2 >/dev/null
gone() { [[ "$(ps_field big2 'c' pi-2)" == absent ]]; }
wait_for 10 gone || fail "big2, removed while pulling, is still listed: $(ps_field big2 'c' pi-2)"
assert_file_contains "${AGENT_LOG[pi-2]}" "big2: changed while its image was fetched" "pi-2's log"
log "big2 removed while pulling: gone from ps in $(($(now_ms) - t0)) ms"

# The session lost mid-fetch (the master restarted): the agent waits and
# goes on from its .part file on the next session. Two containers of the
# image share the one fetch.
cli_ok run pi-2 big3 --restart never --image example.com/big3:1 -- echo big3-ran >/dev/null
cli_ok run pi-2 big3b --restart never --image example.com/big3:1 -- echo big3b-ran >/dev/null
layer3=$(field "$big3" 'd["layers"][1]')
part=${AGENT_STATE[pi-2]}/images/layout/tmp/${layer3#sha256:}.part
wait_for 30 part_over || fail "big3's part did not pass 6 MiB within 30 s: $(ps_field big3 'c' pi-2)"
stop_pid "$MASTER_PID"
cut=$(stat -c %s "$part")
start_master
big3_done() { [[ "$(ps_field big3 'c["state"]' pi-2)" == exited ]]; }
wait_for 60 big3_done || fail "big3 did not run after the master came back: $(ps_field big3 'c' pi-2)"
assert_contains "$(cli_ok logs pi-2/big3)" "big3-ran" "bramble logs pi-2/big3"
big3b_done() { [[ "$(ps_field big3b 'c["state"]' pi-2)" == exited ]]; }
wait_for 30 big3b_done || fail "big3b did not run: $(ps_field big3b 'c' pi-2)"
assert_contains "$(cli_ok logs pi-2/big3b)" "big3b-ran" "bramble logs pi-2/big3b"
streams=$(cat "$LOGS"/master-*.log | grep -c "sent [0-9]* bytes of $layer3 from" || true)
assert_eq 2 "$streams" "streams of big3's layer for two containers (one cut by the restart, one resumed)"
resumed=$(grep -o "sent [0-9]* bytes of $layer3 from offset [0-9]* to pi-2 (complete)" "$MASTER_LOG" || true)
read -r _ sent _ _ _ _ _ offset _ <<<"$resumed"
[[ -n "$resumed" ]] && ((offset >= cut && offset > 0)) ||
        fail "after the master's restart, $layer3 was not resumed from the part's $cut bytes: ${resumed:-no stream}"
log "session lost at $cut bytes of big3's layer; resumed at $offset on the next session"
MASTER_ADDR=$MASTER_ADDR_DIRECT

# ---- a restart needs no master ----
cli_ok run pi-1 loop --restart always --image example.com/app:1 -- sh -c 'echo tick; sleep 0.3' >/dev/null
starts() { grep -c "loop: started" "${AGENT_LOG[pi-1]}" || true; }
more_starts() { (($(starts) >= $1)); }
wait_for 20 more_starts 1 || fail "loop did not start within 20 s: $(ps_field loop 'c')"
stop_pid "$MASTER_PID"
n=$(starts)
wait_for 20 more_starts $((n + 1)) || fail "loop was not restarted while the master was down"
# An agent restarted during the outage starts it from the node's layout.
stop_pid "${AGENT_PID[pi-1]}"
start_agent pi-1
wait_for 20 log_has "${AGENT_LOG[pi-1]}" "loop: started" ||
        fail "the agent restarted during the outage did not start loop from its layout"
assert_file_lacks "${AGENT_LOG[pi-1]}" "image example.com/app:1: fetching it" "the restarted agent's log"

pass
