#!/usr/bin/env bash
# The master's registry client (master/regpull.c) against Debian's
# docker-registry on 127.0.0.1 with TLS (a test CA) and htpasswd Basic
# auth, driven by regpull_driver: a single-platform image, the right
# manifest of a two-platform index (and the error for a missing one),
# wrong credentials, a missing tag, an untrusted certificate, a pull cut
# short and resumed with a Range request, a cancel, a 500, a registry that
# never answers, a refused connection, and a Bearer token that is not
# sent on to the host a blob redirect points at.
source "$(dirname "$0")/lib.sh"

for t in docker-registry skopeo umoci htpasswd openssl python3 sha256sum; do
        command -v "$t" >/dev/null || skip "needs $t (scripts/bootstrap installs docker-registry, skopeo, umoci, apache2-utils)"
done
BUSYBOX=$(command -v busybox || true)
[[ -n "$BUSYBOX" ]] || skip "needs busybox (package busybox-static) for the test images"
DRIVER=$BRM_BIN/regpull_driver
[[ -x "$DRIVER" ]] || fail "$DRIVER missing (build first)"
PEERS=$BRM_SRC/tests/integration/regpull_peers.py

# ---- a registry with TLS and Basic auth ----
PORT=$(free_port)
REG=127.0.0.1:$PORT
CERTS=$WORK/certs.d
mkdir -p "$CERTS/$REG" "$WORK/pki"
(
        cd "$WORK/pki"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
                -keyout ca.key -out ca.crt 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
                -keyout srv.key -out srv.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\n' >ext
        openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext \
                -out srv.crt 2>/dev/null
) || fail "openssl could not make the test certificates"
cp "$WORK/pki/ca.crt" "$CERTS/$REG/ca.crt"
htpasswd -Bbn tester s3cret >"$WORK/htpasswd" 2>/dev/null
write_config() { # PORT
        cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$1
  tls:
    certificate: $WORK/pki/srv.crt
    key: $WORK/pki/srv.key
auth:
  htpasswd:
    realm: test-realm
    path: $WORK/htpasswd
YML
}
REG_PID=
start_registry() {
        write_config "$PORT"
        docker-registry serve "$WORK/registry.yml" >>"$LOGS/registry.log" 2>&1 &
        REG_PID=$!
        track $REG_PID "docker-registry"
        wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || fail "docker-registry did not listen on $REG"
}
start_registry

# ---- test images, made with umoci from a busybox root ----
OCI=$WORK/oci
umoci init --layout "$OCI"
make_image() { # TAG ARCH EXTRA_MIB
        local tag=$1 arch=$2 mib=$3 b=$WORK/bundle-$1
        umoci new --image "$OCI:$tag"
        umoci unpack --image "$OCI:$tag" "$b" >/dev/null
        mkdir -p "$b/rootfs/bin"
        cp "$BUSYBOX" "$b/rootfs/bin/busybox"
        ln -sf busybox "$b/rootfs/bin/sh"
        echo "$arch" >"$b/rootfs/which"
        if ((mib)); then
                head -c $((mib << 20)) /dev/urandom >"$b/rootfs/random"
        fi
        umoci repack --image "$OCI:$tag" "$b"
        umoci config --image "$OCI:$tag" --os linux --architecture "$arch" --config.cmd /bin/sh
        rm -rf "$b"
}
make_image hello amd64 0
make_image hello-arm64 arm64 0
make_image big amd64 24
make_image zstd amd64 1
# A two-platform index of the amd64 and arm64 images, written into the layout.
python3 - "$OCI" <<'PY'
import hashlib, json, os, sys
oci = sys.argv[1]
idx = json.load(open(os.path.join(oci, "index.json")))
by = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in idx["manifests"]}
ms = []
for tag, arch in (("hello", "amd64"), ("hello-arm64", "arm64")):
    d = dict(by[tag]); d.pop("annotations", None)
    d["platform"] = {"os": "linux", "architecture": arch}
    ms.append(d)
body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": ms}).encode()
dig = hashlib.sha256(body).hexdigest()
open(os.path.join(oci, "blobs", "sha256", dig), "wb").write(body)
idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + dig,
                         "size": len(body), "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(idx, open(os.path.join(oci, "index.json"), "w"))
PY
push() { # TAG DEST [--all]
        skopeo --insecure-policy copy -q ${3:-} --dest-cert-dir "$CERTS/$REG" --dest-creds tester:s3cret \
                "oci:$OCI:$1" "docker://$REG/$2" >>"$LOGS/skopeo.log" 2>&1 || fail "skopeo could not push $1 to $2"
}
push hello test/hello:1
push big test/big:1
push multi test/multi:1 --all

# ---- helpers ----
# pull DATA REF ARGS...: runs the driver; OUT holds its output, RC its exit code.
pull() {
        local data=$1 ref=$2
        shift 2
        RC=0
        OUT=$(timeout 120 "$DRIVER" "$data" "$ref" "$@" 2>>"$LOGS/driver.err") || RC=$?
        printf '%s\n' "--- $ref $*" "$OUT" >>"$LOGS/driver.log"
        ((RC != 124)) || fail "regpull_driver $ref did not finish within 120 s"
}
AUTH=(--certs-dir "$CERTS" --user tester --password s3cret)
blobs_of() { ls "$1/images/blobs/sha256" 2>/dev/null | sort; }
# Every stored blob's name is its SHA-256.
check_blobs() { # DATA
        local f
        for f in "$1"/images/blobs/sha256/*; do
                [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$(basename "$f")" ]] || fail "blob $f does not hash to its name"
        done
}
# The blob of the layout holding FILE's text in image TAG's (only) layer.
layer_of() { # TAG
        python3 - "$OCI" "$1" <<'PY'
import json, os, sys
oci, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(oci, "index.json")))
m = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
man = json.load(open(os.path.join(oci, "blobs", "sha256", m["digest"][7:])))
print(m["digest"][7:], man["config"]["digest"][7:], " ".join(l["digest"][7:] for l in man["layers"]))
PY
}

# ---- a single-platform image ----
pull "$WORK/d1" "$REG/test/hello:1" --platform linux/amd64 "${AUTH[@]}"
((RC == 0)) || fail "pull of test/hello:1 failed: $OUT"
assert_contains "$OUT" "ok $REG/test/hello:1 sha256:" "pull result"
read -r man cfg layers <<<"$(layer_of hello)"
for h in $man $cfg $layers; do
        [[ -f "$WORK/d1/images/blobs/sha256/$h" ]] || fail "blob $h of test/hello:1 not stored; have: $(blobs_of "$WORK/d1")"
done
check_blobs "$WORK/d1"
assert_contains "$OUT" "ok $REG/test/hello:1 sha256:$man application/vnd.oci.image.manifest.v1+json" "top descriptor"
gap=$(sed -n 's/^loop_max_gap_ms //p' <<<"$OUT")
log "single image pulled; longest loop gap ${gap} ms"

# Again: everything is there, nothing is fetched but the manifest.
pull "$WORK/d1" "$REG/test/hello:1" --platform linux/amd64 "${AUTH[@]}"
((RC == 0)) || fail "second pull failed: $OUT"

# A single-platform image of another platform is refused.
pull "$WORK/d1b" "$REG/test/hello:1" --platform linux/arm64 "${AUTH[@]}"
assert_contains "$OUT" "is linux/amd64 only (wanted linux/arm64)" "platform of a single image"

# ---- the index: only the platform asked for ----
pull "$WORK/d2" "$REG/test/multi:1" --platform linux/arm64 "${AUTH[@]}"
((RC == 0)) || fail "pull of the index failed: $OUT"
assert_contains "$OUT" "application/vnd.oci.image.index.v1+json" "top descriptor of an index"
read -r aman acfg alayers <<<"$(layer_of hello-arm64)"
read -r xman xcfg xlayers <<<"$(layer_of hello)"
for h in $aman $acfg $alayers; do
        [[ -f "$WORK/d2/images/blobs/sha256/$h" ]] || fail "arm64 blob $h not stored"
done
for h in $xman $xcfg; do
        [[ ! -f "$WORK/d2/images/blobs/sha256/$h" ]] || fail "amd64 blob $h stored, though only linux/arm64 was asked for"
done
# The arm64 layer says so.
last=${alayers##* }
which=$(tar -xzOf "$WORK/d2/images/blobs/sha256/$last" which 2>/dev/null || tar -xzOf "$WORK/d2/images/blobs/sha256/$last" ./which)
assert_eq arm64 "$which" "/which in the arm64 layer"
check_blobs "$WORK/d2"

pull "$WORK/d3" "$REG/test/multi:1" --platform linux/riscv64 "${AUTH[@]}"
((RC != 0)) || fail "pull of a missing platform succeeded: $OUT"
assert_contains "$OUT" "image $REG/test/multi:1 has no linux/riscv64 variant (it has linux/amd64, linux/arm64)" "missing platform"

# ---- authentication, names, TLS ----
pull "$WORK/d4" "$REG/test/hello:1" --platform linux/amd64 --certs-dir "$CERTS" --user tester --password wrong
assert_contains "$OUT" "error 13 registry $REG: authentication failed for test/hello (401)" "wrong password"
[[ -z "$(blobs_of "$WORK/d4")" ]] || fail "a refused pull stored blobs: $(blobs_of "$WORK/d4")"
pull "$WORK/d4" "$REG/test/hello:1" --platform linux/amd64 --certs-dir "$CERTS"
assert_contains "$OUT" "registry $REG: test/hello needs credentials (401)" "no credentials"
pull "$WORK/d4" "$REG/test/hello:nope" --platform linux/amd64 "${AUTH[@]}"
assert_contains "$OUT" "error 2 registry $REG: manifest test/hello:nope not found" "missing tag"
pull "$WORK/d4" "$REG/test/hello:1" --platform linux/amd64 --certs-dir "$WORK/nowhere" --user tester --password s3cret
assert_contains "$OUT" "not trusted" "unknown CA"
assert_contains "$OUT" "$WORK/nowhere/$REG/ca.crt" "unknown CA names the certs.d file"
pull "$WORK/d4" "$REG/test/hello@sha256:0000000000000000000000000000000000000000000000000000000000000000" --platform linux/amd64 "${AUTH[@]}"
((RC != 0)) || fail "pull of an unknown digest succeeded"
[[ -z "$(blobs_of "$WORK/d4")" ]] || fail "refused pulls stored blobs: $(blobs_of "$WORK/d4")"

# ---- cut short, then resumed with a Range request ----
read -r bman bcfg blayers <<<"$(layer_of big)"
TPORT=$(free_port)
mkdir -p "$CERTS/127.0.0.1:$TPORT"
cp "$WORK/pki/ca.crt" "$CERTS/127.0.0.1:$TPORT/"
python3 "$PEERS" throttle "$TPORT" "$PORT" $((4 << 20)) >"$LOGS/throttle.log" 2>&1 &
THR=$!
track $THR "throttling proxy"
wait_for 10 grep -q listening "$LOGS/throttle.log" || fail "throttling proxy did not start"
"$DRIVER" "$WORK/d5" "127.0.0.1:$TPORT/test/big:1" --platform linux/amd64 --stall 3 "${AUTH[@]}" >"$LOGS/cut.out" 2>&1 &
DRV=$!
track $DRV "regpull_driver (cut short)"
# Stop the registry once some megabytes of the big layer are in.
got_some() { awk '$1 == "progress" && $3 >= 6291456 && $3 < $4 { f = 1 } END { exit !f }' "$LOGS/cut.out"; }
wait_for 30 got_some || fail "the big layer did not start arriving: $(tail -3 "$LOGS/cut.out")"
stop_pid $REG_PID KILL
wait_for 20 _not_alive $DRV || fail "the driver did not end after the registry stopped"
reap $DRV
cut=$(cat "$LOGS/cut.out")
((REAP_RC != 0)) || fail "pull succeeded though the registry stopped: $cut"
assert_contains "$cut" "error 104 registry 127.0.0.1:$TPORT: connection lost while fetching blob test/big@" "pull with the registry stopped"
log "cut short: $(grep '^error' <<<"$cut")"
partial=$(find "$WORK/d5/images/tmp" -type f -size +1M | head -1)
[[ -n "$partial" ]] || fail "no partial file kept in images/tmp: $(ls -la "$WORK/d5/images/tmp")"
psize=$(stat -c %s "$partial")
start_registry
pull "$WORK/d5" "$REG/test/big:1" --platform linux/amd64 "${AUTH[@]}"
((RC == 0)) || fail "resumed pull failed: $OUT"
for h in $bman $bcfg $blayers; do
        [[ -f "$WORK/d5/images/blobs/sha256/$h" ]] || fail "blob $h of test/big:1 not stored after the resume"
done
check_blobs "$WORK/d5"
gap=$(sed -n 's/^loop_max_gap_ms //p' <<<"$OUT")
# Its 50 ms timer never waits long (a generous bound: CI runs this beside
# other tests on two cores, under ASan too).
((gap < 1000)) || fail "the driver's loop was blocked for ${gap} ms during a 24 MiB pull"
grep -E "\"GET /v2/test/big/blobs/sha256:[0-9a-f]+ HTTP/[0-9.]+\" 206 " "$LOGS/registry.log" >/dev/null ||
        fail "no 206 answer to a Range request in the registry's log"
log "resumed from a ${psize}-byte partial with a Range request (206)"

# ---- cancel ----
"$DRIVER" "$WORK/d6" "127.0.0.1:$TPORT/test/big:1" --platform linux/amd64 --cancel-after 2097152 "${AUTH[@]}" \
        >"$LOGS/cancel.out" 2>&1 || true
assert_contains "$(cat "$LOGS/cancel.out")" "error 125 " "cancelled pull"
assert_contains "$(cat "$LOGS/cancel.out")" "cancelled" "cancelled pull"

# ---- broken registries, in bounded time ----
SPORT=$(free_port)
python3 "$PEERS" status "$SPORT" 500 >"$LOGS/status.log" 2>&1 &
track $! "HTTP 500 server"
wait_for 10 grep -q listening "$LOGS/status.log" || fail "500 server did not start"
pull "$WORK/d7" "127.0.0.1:$SPORT/test/hello:1" --platform linux/amd64 --insecure
assert_contains "$OUT" "registry 127.0.0.1:$SPORT: HTTP 500 fetching manifest test/hello:1" "500"
# Plain HTTP only when asked for.
pull "$WORK/d7" "127.0.0.1:$SPORT/test/hello:1" --platform linux/amd64
((RC != 0)) || fail "https pull from a plain HTTP server succeeded"
log "plain HTTP without --insecure: $(grep '^error' <<<"$OUT")"

# A manifest larger than any real one (the limit is 4 MiB): refused, nothing stored.
HPORT=$(free_port)
python3 "$PEERS" huge "$HPORT" >"$LOGS/huge.log" 2>&1 &
track $! "oversized manifest server"
wait_for 10 grep -q listening "$LOGS/huge.log" || fail "oversized manifest server did not start"
pull "$WORK/d9" "127.0.0.1:$HPORT/test/hello:1" --platform linux/amd64 --insecure
assert_contains "$OUT" "is larger than 4194304 bytes" "an oversized manifest"
[[ -z "$(ls -A "$WORK/d9/images/blobs/sha256" 2>/dev/null)" ]] || fail "an oversized manifest left blobs"
log "oversized manifest: $(grep '^error' <<<"$OUT")"

QPORT=$(free_port)
python3 "$PEERS" silent "$QPORT" >"$LOGS/silent.log" 2>&1 &
track $! "silent server"
wait_for 10 grep -q listening "$LOGS/silent.log" || fail "silent server did not start"
t0=$(now_ms)
pull "$WORK/d7" "127.0.0.1:$QPORT/test/hello:1" --platform linux/amd64 --insecure --stall 2
el=$(($(now_ms) - t0))
assert_contains "$OUT" "error 110 registry 127.0.0.1:$QPORT: no progress within 2 s" "silent registry"
((el < 10000)) || fail "the silent registry took ${el} ms to fail (stall limit 2 s)"
log "silent registry failed after ${el} ms"

RPORT=$(free_port)
pull "$WORK/d7" "127.0.0.1:$RPORT/test/hello:1" --platform linux/amd64 --insecure
assert_contains "$OUT" "error 111 registry 127.0.0.1:$RPORT: cannot connect" "connection refused"

# ---- a Bearer token stays with the registry across a blob redirect ----
head -c 100000 /dev/urandom >"$WORK/redir.blob"
KPORT=$(free_port)
BPORT=$(free_port)
cp "$WORK/redir.blob" "$LOGS/redirect.log.blob"
python3 "$PEERS" sink "$KPORT" "$WORK/sink.auth" "$WORK/redir.blob" >"$LOGS/sink.log" 2>&1 &
track $! "blob storage stand-in"
python3 "$PEERS" redirect "$BPORT" "$KPORT" "$LOGS/redirect.log" >"$LOGS/redirect.out" 2>&1 &
track $! "redirecting registry stand-in"
wait_for 10 grep -q listening "$LOGS/sink.log" || fail "sink did not start"
wait_for 10 grep -q listening "$LOGS/redirect.out" || fail "redirecting registry did not start"
pull "$WORK/d8" "127.0.0.1:$BPORT/r/x:1" --platform linux/arm64 --insecure
((RC == 0)) || fail "pull through a Bearer token and a redirect failed: $OUT"
assert_eq none "$(cat "$WORK/sink.auth")" "Authorization header sent to the redirect's host"
[[ -f "$WORK/d8/images/blobs/sha256/$(sha256sum "$WORK/redir.blob" | cut -d' ' -f1)" ]] || fail "redirected blob not stored"

# ---- through the master and the CLI ----
start_master
cli image pull "$REG/test/hello:1"
[[ $CLI_RC -eq 1 ]] || fail "a pull before any login: exit $CLI_RC ($CLI_OUT)"
log "before login: $CLI_ERR"
cli registry login "$REG" --username tester --password-stdin --ca-file "$WORK/pki/ca.crt" <<<'wrong'
[[ $CLI_RC -eq 0 ]] || fail "bramble registry login: $CLI_ERR"
cli image pull "$REG/test/hello:1"
[[ $CLI_RC -eq 1 ]] || fail "a pull with a wrong password: exit $CLI_RC"
assert_contains "$CLI_ERR" "authentication failed for test/hello (401)" "a wrong password"
[[ $(grep -c . <<<"$CLI_ERR") -eq 1 ]] || fail "a wrong password: more than one line: $CLI_ERR"
cli registry login "$REG" --username tester --password-stdin --ca-file "$WORK/pki/ca.crt" <<<'s3cret'
[[ $CLI_RC -eq 0 ]] || fail "bramble registry login: $CLI_ERR"
# Two pulls of one image at once share one transfer: the second asks while
# the first is still fetching 24 MiB through the 4 MiB/s proxy.
TREG=127.0.0.1:$TPORT
cli registry login "$TREG" --username tester --password-stdin --ca-file "$WORK/pki/ca.crt" <<<'s3cret'
[[ $CLI_RC -eq 0 ]] || fail "bramble registry login $TREG: $CLI_ERR"
"$BRM_BIN/bramble" image pull "$TREG/test/big:1" >"$WORK/pull2.out" 2>&1 &
p2=$!
pulling() { grep -q "pulling $TREG/test/big:1" "$MASTER_LOG"; }
wait_for 10 pulling || fail "the first pull of $TREG/test/big:1 did not start: $(cat "$WORK/pull2.out")"
cli image pull "$TREG/test/big:1"
[[ $CLI_RC -eq 0 ]] || fail "the second, concurrent pull of big:1: $CLI_ERR"
wait "$p2" || fail "the first pull of big:1 failed: $(cat "$WORK/pull2.out")"
pulls=$(grep -c "pulling $TREG/test/big:1" "$MASTER_LOG" || true)
assert_eq 1 "$pulls" "registry pulls started for two concurrent 'image pull' of one image"
cli image pull "$REG/test/multi:1" --platform linux/arm64
[[ $CLI_RC -eq 0 ]] || fail "bramble image pull multi: $CLI_ERR"
assert_contains "$CLI_OUT" "pulled $REG/test/multi:1 (sha256:" "image pull's output"
cli -o json image ls "$REG/test/multi:1"
[[ $CLI_RC -eq 0 ]] || fail "bramble image ls: $CLI_ERR"
assert_eq "linux/arm64" "$(printf '%s' "$CLI_OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["platforms"])')" \
        "the platforms pulled"
# A line per blob once it is complete (no terminal here), from the pull
# that fetched the 24 MiB.
assert_contains "$(cat "$WORK/pull2.out")" "sha256:" "image pull's progress lines"
log "progress of a 24 MiB pull: $(tr '\n' ' ' <"$WORK/pull2.out")"
cli image pull "$REG/test/multi:1" --platform linux/riscv64
[[ $CLI_RC -eq 1 ]] || fail "a missing platform: exit $CLI_RC"
assert_contains "$CLI_ERR" "has no linux/riscv64 variant (it has linux/amd64, linux/arm64)" "a missing platform"
cli image pull "$REG/test/hello:nope"
[[ $CLI_RC -eq 1 ]] || fail "a missing tag: exit $CLI_RC"
assert_contains "$CLI_ERR" "not found" "a missing tag"
cli image pull "no such ref"
[[ $CLI_RC -eq 1 ]] || fail "a malformed reference: exit $CLI_RC"
log "a malformed reference: $CLI_ERR"
# skopeo reads what the master stored.
out=$(skopeo inspect --raw oci:"$MASTER_DIR/images:$REG/test/multi:1") || fail "skopeo cannot read the pulled image"
assert_contains "$out" "manifests" "skopeo inspect of the pulled index"

# ---- bramble run of an image the master does not have: pulled first ----
if [[ $(id -u) -eq 0 ]] && { command -v runc || command -v crun; } >/dev/null; then
        TOKEN=$(create_token --ttl 1h --uses 1)
        start_agent pi-1 --token "$TOKEN"
        wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10 s: $(node_state pi-1)"
        cli run pi-1 which --image "$REG/test/hello:1" --restart never -- /bin/busybox cat /which
        [[ $CLI_RC -eq 0 ]] || fail "bramble run of an image not yet pulled: $CLI_ERR"
        assert_contains "$(grep "pulled $REG/test/hello:1" "$MASTER_LOG")" "pulled" "the master's log"
        which_out() { cli logs pi-1/which; [[ "$CLI_OUT" == amd64 ]]; }
        wait_for 30 which_out || fail "the pulled image's container printed '$CLI_OUT' ($CLI_ERR), expected amd64"
        # The two-platform image, of which only arm64 was pulled: the master
        # pulls this node's amd64 manifest, and that variant is what runs.
        cli run pi-1 multi --image "$REG/test/multi:1" --restart never -- /bin/busybox cat /which
        [[ $CLI_RC -eq 0 ]] || fail "bramble run of the amd64 variant of multi:1: $CLI_ERR"
        multi_out() { cli logs pi-1/multi; [[ "$CLI_OUT" == amd64 ]]; }
        wait_for 30 multi_out || fail "multi:1 on an amd64 node printed '$CLI_OUT' ($CLI_ERR), expected amd64"
        cli -o json image ls "$REG/test/multi:1"
        assert_eq "linux/amd64, linux/arm64" "$(printf '%s' "$CLI_OUT" | python3 -c 'import json,sys; print(", ".join(sorted(json.load(sys.stdin)[0]["platforms"].split(", "))))')" \
                "the platforms of multi:1 after the run"
        # zstd layers.
        skopeo --insecure-policy copy -q --format oci --dest-compress-format zstd --dest-cert-dir "$CERTS/$REG" \
                --dest-creds tester:s3cret "oci:$OCI:zstd" "docker://$REG/test/zstd:1" >>"$LOGS/skopeo.log" 2>&1 ||
                fail "skopeo could not push a zstd image"
        cli run pi-1 zstd --image "$REG/test/zstd:1" --restart never -- /bin/busybox cat /which
        [[ $CLI_RC -eq 0 ]] || fail "bramble run of a zstd image: $CLI_ERR"
        zstd_out() { cli logs pi-1/zstd; [[ "$CLI_OUT" == amd64 ]]; }
        wait_for 30 zstd_out || fail "the zstd image's container printed '$CLI_OUT' ($CLI_ERR)"
        grep -rq "tar+zstd" "$MASTER_DIR/images/blobs/sha256" || fail "no zstd layer in the master's store"
        log "multi:1 ran its amd64 variant; a zstd image ran"
        cli image rm "$REG/test/hello:1"
        [[ $CLI_RC -eq 1 ]] || fail "image rm of an image in use: exit $CLI_RC"
        assert_contains "$CLI_ERR" "is used by container pi-1/which" "image rm of an image in use"
        cli run pi-1 nope --image "$REG/test/absent:1" -- true
        [[ $CLI_RC -eq 1 ]] || fail "bramble run of an image the registry lacks: exit $CLI_RC"
        assert_contains "$CLI_ERR" "pulling $REG/test/absent:1 failed:" "bramble run of an image the registry lacks"
        log "run of a missing image: $CLI_ERR"
else
        log "not root or no OCI runtime: the pull-through run is not tried here"
fi

# ---- a registry serving a blob whose bytes do not match its digest ----
layer_data=$(find "$WORK/registry" -path "*/blobs/sha256/*/data" -size +20M | head -n 1)
[[ -n "$layer_data" ]] || fail "cannot find the big layer in the registry's storage"
python3 - "$layer_data" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000)
    b = f.read(1)
    f.seek(1000)
    f.write(bytes([b[0] ^ 0xff]))
PY
pull "$WORK/d10" "$REG/test/big:1" --platform linux/amd64 "${AUTH[@]}"
((RC != 0)) || fail "a corrupt blob from the registry was accepted"
assert_contains "$OUT" "does not match its digest" "a corrupt blob from the registry"
[[ -z "$(find "$WORK/d10/images/blobs/sha256" -size +20M)" ]] || fail "the corrupt layer was stored"
log "corrupt blob: $(grep '^error' <<<"$OUT")"

pass "pulls, platform choice, auth, 404, TLS, resume, cancel, 500, silence, refusal, redirect, the CLI, corrupt blobs"
