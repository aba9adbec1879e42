#!/usr/bin/env bash
# Images into the master's store from files: an oci-archive and a
# docker-archive of the same image (built with umoci from busybox, written
# with skopeo), listed with their platform and size, readable by skopeo in
# the store itself; an archive loaded again sends no blob the master holds;
# bad archives (a blob whose bytes do not match its
# digest, one cut short, a manifest naming a blob it does not carry, a
# docker layer that is not its config's diff_id) each give one line and
# name nothing; rm and prune.
source "$(dirname "$0")/lib.sh"

command -v umoci >/dev/null || skip "umoci is not installed (apt-get install umoci)"
command -v skopeo >/dev/null || skip "skopeo is not installed (apt-get install skopeo)"
BUSYBOX=$(command -v busybox || true)
[[ -n "$BUSYBOX" ]] || skip "busybox is not installed"

# ---- an image ----
L=$WORK/layout
umoci init --layout "$L" >/dev/null
umoci new --image "$L:t" >/dev/null
umoci unpack --rootless --image "$L:t" "$WORK/bundle" >/dev/null
busybox_rootfs "$WORK/bundle/rootfs"
umoci repack --image "$L:t" "$WORK/bundle" >/dev/null
umoci config --image "$L:t" --config.cmd "echo" --config.cmd "hello from an archive" >/dev/null
skopeo copy -q oci:"$L":t oci-archive:"$WORK/app.tar":example.com/app:1 >/dev/null ||
        fail "skopeo cannot write an oci-archive"
skopeo copy -q oci:"$L":t docker-archive:"$WORK/dock.tar":example.com/dock:2 >/dev/null ||
        fail "skopeo cannot write a docker-archive"

start_master
blob_count() { find "$MASTER_DIR/images/blobs/sha256" -type f | wc -l; }
tmp_count() { find "$MASTER_DIR/images/tmp" -type f | wc -l; }
image_field() { # REF EXPR
        cli -o json image ls
        [[ $CLI_RC -eq 0 ]] || fail "bramble image ls: $CLI_ERR"
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
c = [x for x in json.load(sys.stdin) if x["ref"] == sys.argv[1]]
print(eval(sys.argv[2], {"c": c[0]}) if c else "absent")' "$1" "$2"
}

# ---- an oci-archive ----
cli image load "$WORK/app.tar"
[[ $CLI_RC -eq 0 ]] || fail "bramble image load app.tar: $CLI_ERR"
assert_contains "$CLI_OUT" "loaded example.com/app:1 (sha256:" "image load's output"
arch=$(case $(uname -m) in aarch64) echo arm64 ;; x86_64) echo amd64 ;; *) uname -m ;; esac)
assert_eq "linux/$arch" "$(image_field example.com/app:1 'c["platforms"]')" "the image's platform"
size=$(image_field example.com/app:1 'c["size"]')
((size > $(stat -c %s "$BUSYBOX") / 3)) || fail "the image's size is $size bytes: less than its busybox layer"
log "oci-archive loaded: $size bytes; $(blob_count) blobs"
# The store is an OCI layout standard tools read.
out=$(skopeo inspect --raw oci:"$MASTER_DIR/images":example.com/app:1) || fail "skopeo cannot read the master's store"
assert_contains "$out" '"layers"' "skopeo inspect of the store"
cli image ls
assert_contains "$CLI_OUT" "example.com/app:1" "bramble image ls"
# Loaded again: every blob is on the master already, none is sent.
before=$(blob_count)
cli image load "$WORK/app.tar"
[[ $CLI_RC -eq 0 ]] || fail "bramble image load app.tar again: $CLI_ERR"
assert_eq "$before" "$(grep -c 'on the master already$' <<<"$CLI_ERR")" "blobs found on the master when app.tar is loaded again"
assert_eq "$before" "$(blob_count)" "blobs after loading app.tar again"

# ---- a docker-archive: the same layers, a manifest written for it ----
before=$(blob_count)
cli image load "$WORK/dock.tar"
[[ $CLI_RC -eq 0 ]] || fail "bramble image load dock.tar: $CLI_ERR"
assert_eq "linux/$arch" "$(image_field example.com/dock:2 'c["platforms"]')" "the docker image's platform"
log "docker-archive loaded: $(( $(blob_count) - before )) new blobs"
cli image load --name example.com/renamed:3 "$WORK/dock.tar"
[[ $CLI_RC -eq 0 ]] || fail "bramble image load --name: $CLI_ERR"
assert_eq "linux/$arch" "$(image_field example.com/renamed:3 'c["platforms"]')" "--name"
# docker save (25 and later): an OCI layout whose ref.name is the tag alone,
# the full name in io.containerd.image.name.
cp -a "$L" "$WORK/dsave"
python3 - "$WORK/dsave" <<'PY'
import json, sys
p = sys.argv[1] + "/index.json"
idx = json.load(open(p))
idx["manifests"][0]["annotations"] = {"io.containerd.image.name": "docker.io/library/myapp:7",
                                      "org.opencontainers.image.ref.name": "7"}
json.dump(idx, open(p, "w"))
PY
tar -C "$WORK/dsave" -cf "$WORK/dsave.tar" .
cli image load "$WORK/dsave.tar"
[[ $CLI_RC -eq 0 ]] || fail "bramble image load of a docker save layout: $CLI_ERR"
assert_contains "$CLI_OUT" "loaded docker.io/library/myapp:7 (sha256:" "a docker save layout"
cli image rm myapp:7
[[ $CLI_RC -eq 0 ]] || fail "bramble image rm myapp:7: $CLI_ERR"
# Short names are kept in full, as Docker reads them.
cli image load --name busybox:mine "$WORK/app.tar"
[[ $CLI_RC -eq 0 ]] || fail "bramble image load --name busybox:mine: $CLI_ERR"
assert_contains "$CLI_OUT" "loaded docker.io/library/busybox:mine (sha256:" "a short name"
cli image ls busybox:mine
[[ $CLI_RC -eq 0 ]] || fail "bramble image ls busybox:mine: $CLI_ERR"
cli image rm busybox:mine
[[ $CLI_RC -eq 0 ]] || fail "bramble image rm busybox:mine: $CLI_ERR"

# ---- bad archives: one line each, nothing named, nothing half-written ----
bad_load() { # FILE EXPECTED WHAT
        cli image load --name example.com/bad:1 "$1"
        [[ $CLI_RC -eq 1 ]] || fail "$3: exit $CLI_RC, expected 1 ($CLI_OUT $CLI_ERR)"
        # Without a terminal, stderr has a line per blob stored, then the error.
        local err
        err=$(grep '^bramble:' <<<"$CLI_ERR" || true)
        assert_contains "$err" "$2" "$3"
        [[ $(grep -c . <<<"$err") -eq 1 ]] || fail "$3: more than one line of error: $CLI_ERR"
        [[ "$(image_field example.com/bad:1 c)" == absent ]] || fail "$3: the bad image was named"
        wait_for 5 tmp_empty || fail "$3: temporary files left in the store: $(ls "$MASTER_DIR/images/tmp")"
}
tmp_empty() { [[ $(tmp_count) -eq 0 ]]; }
# A blob whose bytes do not match its name: one the master does not hold
# (a blob it holds is not sent again, whatever the archive's copy is).
cp -a "$L" "$WORK/corrupt"
printf 'not these bytes' >"$WORK/corrupt/blobs/sha256/$(printf 'other bytes' | sha256sum | cut -c1-64)"
tar -C "$WORK/corrupt" -cf "$WORK/corrupt.tar" .
bad_load "$WORK/corrupt.tar" "does not match its digest" "a corrupt blob"
# Cut short.
head -c $(($(stat -c %s "$WORK/app.tar") / 2)) "$WORK/app.tar" >"$WORK/cut.tar"
bad_load "$WORK/cut.tar" "nothing was named" "a truncated archive"
# A manifest naming a blob the archive lacks.
# (A layer the master already has would be no gap: the manifest gets one more.)
cp -a "$L" "$WORK/missing"
absent=$(python3 - "$WORK/missing" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
m = json.load(open(d + "/blobs/sha256/" + idx["manifests"][0]["digest"][7:]))
ghost = os.urandom(64)
m["layers"].append({"mediaType": m["layers"][0]["mediaType"], "digest": "sha256:" + hashlib.sha256(ghost).hexdigest(), "size": 64})
raw = json.dumps(m).encode()
h = hashlib.sha256(raw).hexdigest()
open(d + "/blobs/sha256/" + h, "wb").write(raw)
idx["manifests"][0].update(digest="sha256:" + h, size=len(raw))
open(d + "/index.json", "w").write(json.dumps(idx))
print(m["layers"][-1]["digest"])
PY
)
tar -C "$WORK/missing" -cf "$WORK/missing.tar" .
bad_load "$WORK/missing.tar" "names blob $absent, which is not stored" "a missing blob"
# A docker layer that is not what its config says.
mkdir "$WORK/dock" && tar -C "$WORK/dock" -xf "$WORK/dock.tar"
python3 - "$WORK/dock" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
cfg = json.load(open(d + "/" + m[0]["Config"]))
cfg["rootfs"]["diff_ids"][-1] = "sha256:" + "0" * 64
open(d + "/" + m[0]["Config"], "w").write(json.dumps(cfg))
PY
tar -C "$WORK/dock" -cf "$WORK/dock-bad.tar" .
bad_load "$WORK/dock-bad.tar" "but its config's diff_id" "a docker layer that is not its diff_id"
printf 'not an archive at all\n' >"$WORK/junk.tar"
bad_load "$WORK/junk.tar" "image load $WORK/junk.tar:" "a file that is no archive"
cli image load "$WORK/nonexistent.tar"
[[ $CLI_RC -eq 2 ]] || fail "a missing file: exit $CLI_RC, expected 2"
# The good images are untouched.
assert_eq "linux/$arch" "$(image_field example.com/app:1 'c["platforms"]')" "app:1 after the bad loads"

# ---- rm and prune ----
cli image rm example.com/nope:1
[[ $CLI_RC -eq 1 ]] || fail "rm of an unknown image: exit $CLI_RC"
assert_contains "$CLI_ERR" "no image example.com/nope:1" "rm of an unknown image"
cli -o json image prune
[[ $CLI_RC -eq 0 ]] || fail "bramble image prune: $CLI_ERR"
# The corrupt-archive load stored the blobs before its bad one: unnamed, they go.
log "prune after the bad loads: $CLI_OUT"
kept=$(blob_count)
for ref in example.com/app:1 example.com/dock:2 example.com/renamed:3; do
        cli image rm "$ref"
        [[ $CLI_RC -eq 0 ]] || fail "bramble image rm $ref: $CLI_ERR"
done
cli -o json image ls
assert_eq "[]" "$(printf '%s' "$CLI_OUT" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')" "image ls after rm"
cli image prune
[[ $CLI_RC -eq 0 ]] || fail "bramble image prune: $CLI_ERR"
assert_contains "$CLI_OUT" "removed $kept blobs" "prune of everything"
assert_eq 0 "$(blob_count)" "blobs left after the last prune"

# ---- registry credentials: kept on the master, never printed back ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=test-registry-ca \
        -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null || fail "openssl cannot make a CA"
cli registry login 127.0.0.1:5999 --username alice --password-stdin --ca-file "$WORK/ca.crt" <<<'s3cret-pw'
[[ $CLI_RC -eq 0 ]] || fail "bramble registry login: $CLI_ERR"
cli registry login plain.example:5000 --insecure-http
[[ $CLI_RC -eq 0 ]] || fail "bramble registry login --insecure-http: $CLI_ERR"
cli -o json registry ls
[[ $CLI_RC -eq 0 ]] || fail "bramble registry ls: $CLI_ERR"
assert_not_contains "$CLI_OUT" "s3cret" "registry ls -o json"
assert_eq "alice True False|- False True" "$(printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
r = {x["host"]: x for x in json.load(sys.stdin)}
a, p = r["127.0.0.1:5999"], r["plain.example:5000"]
print(a["username"], a["ca"], a["insecure_http"], end="|")
print(p["username"] or "-", p["ca"], p["insecure_http"])')" "registry ls"
cli registry ls
assert_contains "$CLI_OUT" "http (insecure)" "registry ls"
assert_eq 600 "$(stat -c %a "$MASTER_DIR/registries.json")" "the mode of registries.json"
cmp -s "$WORK/ca.crt" "$MASTER_DIR/certs.d/127.0.0.1:5999/ca.crt" || fail "the CA is not in certs.d/127.0.0.1:5999/ca.crt"
cli registry login ../../etc --username x --password-stdin <<<'pw'
[[ $CLI_RC -eq 1 ]] || fail "login to ../../etc: exit $CLI_RC"
assert_contains "$CLI_ERR" "is not a registry host" "login to ../../etc"
printf 'not a certificate\n' >"$WORK/bad.crt"
cli registry login other.example --ca-file "$WORK/bad.crt"
[[ $CLI_RC -eq 1 ]] || fail "login with a bad CA: exit $CLI_RC"
assert_contains "$CLI_ERR" "is not a PEM certificate" "login with a bad CA"
[[ ! -e "$MASTER_DIR/certs.d/other.example" ]] || fail "a bad CA left a directory in certs.d"
cli registry login other.example --username bob
[[ $CLI_RC -eq 2 ]] || fail "--username without --password-stdin: exit $CLI_RC"
cli registry logout 127.0.0.1:5999
[[ $CLI_RC -eq 0 ]] || fail "bramble registry logout: $CLI_ERR"
[[ ! -e "$MASTER_DIR/certs.d/127.0.0.1:5999" ]] || fail "logout left the CA"
assert_file_lacks "$MASTER_DIR/registries.json" "alice" "registries.json after logout"
cli registry logout 127.0.0.1:5999
[[ $CLI_RC -eq 1 ]] || fail "a second logout: exit $CLI_RC"
assert_contains "$CLI_ERR" "not logged in to 127.0.0.1:5999" "a second logout"
pass
