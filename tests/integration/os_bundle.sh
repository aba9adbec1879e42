#!/usr/bin/env bash
# OS update bundles: 'bramble node upgrade --upload-only' makes a bundle of
# the built SD-card image (image/build.sh's build/image/bramble-rpi-arm64.img,
# or BRM_OS_IMAGE) and stores it on a master on loopback as
# bramble-os:VERSION (docker.io/library/bramble-os:VERSION, as the master
# names it), listed for linux/arm64, its parts named
# root.squashfs first then boot/ sorted; the .img.xz of the same image
# gives the same manifest. Broken images (cut short, an .xz cut short, a
# version.txt of another architecture, partition 2 without squashfs) are
# each refused with their one line before anything is sent: no blob and
# no name more on the master. Argument errors exit 2.
source "$(dirname "$0")/lib.sh"

command -v mcopy >/dev/null || skip "mtools is not installed (apt-get install mtools)"
command -v xz >/dev/null || skip "xz is not installed (apt-get install xz-utils)"
IMG=${BRM_OS_IMAGE:-$BRM_SRC/build/image/bramble-rpi-arm64.img}
[[ -f "$IMG" ]] || skip "no image at $IMG (build it with image/build.sh, or set BRM_OS_IMAGE)"
export MTOOLS_SKIP_CHECK=1
# The partitions from the MBR, in bytes.
part() { # IMG N -> "OFFSET SIZE"
        python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(512)
e = d[446 + 16 * (int(sys.argv[2]) - 1):][:16]
lba, n = struct.unpack("<II", e[8:16])
print(lba * 512, n * 512)' "$1" "$2"
}
read -r BOOT_OFF _ < <(part "$IMG" 1)
read -r ROOT_OFF _ < <(part "$IMG" 2)
mtype -i "$IMG@@$BOOT_OFF" ::slot-a/version.txt >"$WORK/version.txt" 2>/dev/null ||
        skip "$IMG has no slot-a/version.txt (built before it: rebuild it with image/build.sh)"
VERSION=$(sed -n 's/^version=//p' "$WORK/version.txt")
[[ -n "$VERSION" ]] || fail "slot-a/version.txt of $IMG names no version"
log "image $IMG, version $VERSION"

start_master
# The CLI's temporary files (the decompressed image, the slots' files).
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
blob_count() { find "$MASTER_DIR/images/blobs/sha256" -type f 2>/dev/null | wc -l; }
os_refs() {
        cli -o json image ls
        [[ $CLI_RC -eq 0 ]] || fail "bramble image ls: $CLI_ERR"
        printf '%s' "$CLI_OUT" | python3 -c '
import json, sys
print(" ".join(sorted(x["ref"] + "=" + x["platforms"] for x in json.load(sys.stdin) if "bramble-os" in x["ref"])))'
}

# ---- arguments: each a one-line error, exit 2, before anything ----
expect_refused 2 "invalid --parallel '0'" node upgrade pi-a --image "$IMG" --parallel 0
expect_refused 2 "not both" node upgrade pi-a --all --image "$IMG"
expect_refused 2 "--image FILE.img[.xz] is required" node upgrade --all
expect_refused 2 "cannot read $WORK/none.img" node upgrade --all --image "$WORK/none.img"
expect_refused 2 "which nodes?" node upgrade --image "$IMG"
expect_refused 2 "invalid --confirm-within 'soon'" node upgrade --all --image "$IMG" --confirm-within soon
assert_eq 0 "$(blob_count)" "blobs stored after argument errors"

# ---- the image, stored ----
t0=$(date +%s.%N)
cli node upgrade --upload-only --image "$IMG"
[[ $CLI_RC -eq 0 ]] || fail "bramble node upgrade --upload-only: $CLI_ERR"
t1=$(date +%s.%N)
assert_contains "$CLI_OUT" "stored docker.io/library/bramble-os:$VERSION (sha256:" "the upload's output"
DIGEST=$(printf '%s' "$CLI_OUT" | sed -n 's/.*(\(sha256:[0-9a-f]*\)).*/\1/p')
[[ "$CLI_ERR" != *"on the master already"* ]] || fail "the first upload found parts on an empty master: $CLI_ERR"
assert_eq "docker.io/library/bramble-os:$VERSION=linux/arm64" "$(os_refs)" "the bundle in 'image ls'"
# The manifest in the store: the parts, their media type and titles.
python3 - "$MASTER_DIR/images" "$DIGEST" "$VERSION" >"$WORK/parts.txt" <<'PY' || fail "the stored manifest: $(cat "$WORK/parts.txt")"
import json, sys
store, digest, version = sys.argv[1:]
blob = lambda d: open(f"{store}/blobs/sha256/{d[7:]}", "rb").read()
m = json.loads(blob(digest))
cfg = json.loads(blob(m["config"]["digest"]))
assert cfg["architecture"] == "arm64" and cfg["os"] == "linux", cfg
assert cfg["config"]["Labels"]["org.bramble.os.version"] == version, cfg
titles = [l["annotations"]["org.opencontainers.image.title"] for l in m["layers"]]
assert titles[0] == "root.squashfs", titles
assert titles[1:] == sorted(titles[1:]), titles
assert all(t.startswith(("boot/", "boot-a/", "boot-b/")) for t in titles[1:]), titles
assert {"boot/vmlinuz", "boot/initrd.img", "boot/version.txt"} <= set(titles), titles
assert all(l["mediaType"] == "application/vnd.bramble.os.part.v1" for l in m["layers"])
assert cfg["rootfs"]["diff_ids"] == [l["digest"] for l in m["layers"]]
for l in m["layers"]:
    print(l["annotations"]["org.opencontainers.image.title"], l["size"], l["digest"])
print("total", sum(l["size"] for l in m["layers"]))
PY
log "stored in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s: $(awk '{printf "%s %s; ", $1, $2}' "$WORK/parts.txt")"
root_size=$(awk '$1 == "root.squashfs" {print $2}' "$WORK/parts.txt")
(( root_size % 4096 == 0 )) || fail "root.squashfs is $root_size bytes, not whole 4 KiB blocks"
root_digest=$(awk '$1 == "root.squashfs" {print $3}' "$WORK/parts.txt")
cmp -n "$root_size" <(tail -c +$((ROOT_OFF + 1)) "$IMG") "$MASTER_DIR/images/blobs/sha256/${root_digest#sha256:}" ||
        fail "root.squashfs differs from partition 2"
log "root.squashfs is partition 2's first $root_size bytes"
BLOBS=$(blob_count)

# ---- the same image compressed: the same bundle ----
xz -0 -T2 -c "$IMG" >"$WORK/os.img.xz"
cli node upgrade --upload-only --image "$WORK/os.img.xz"
[[ $CLI_RC -eq 0 ]] || fail "bramble node upgrade --upload-only of the .img.xz: $CLI_ERR"
assert_contains "$CLI_OUT" "stored docker.io/library/bramble-os:$VERSION ($DIGEST)" "the .img.xz's bundle (same manifest)"
# Its parts are on the master already: none is sent again.
nparts=$(grep -vc '^total ' "$WORK/parts.txt")
assert_contains "$CLI_ERR" "$nparts of $nparts parts were on the master already" "the second upload's output"
assert_eq "$BLOBS" "$(blob_count)" "blobs after storing the same bundle again"
[[ -z "$(ls -A "$TMPDIR")" ]] || fail "temporary files left in TMPDIR: $(ls -A "$TMPDIR")"

# ---- broken images: one line each, nothing sent ----
refused() { # WHAT NEEDLE FILE
        cli node upgrade --upload-only --image "$3"
        [[ $CLI_RC -eq 1 ]] || fail "$1: expected exit 1, got $CLI_RC ($CLI_OUT $CLI_ERR)"
        assert_contains "$CLI_ERR" "$2" "$1's error"
        # Stage lines ("decompressing ...") may come before it; the error is one line.
        [[ $(printf '%s\n' "$CLI_ERR" | grep -c '^bramble') -eq 1 ]] || fail "$1: not one line of error: $CLI_ERR"
        assert_eq "$BLOBS" "$(blob_count)" "blobs after $1"
        assert_eq "docker.io/library/bramble-os:$VERSION=linux/arm64" "$(os_refs)" "names after $1"
        rm -f "$3"
}
size=$(stat -c %s "$IMG")
head -c $((size - 1048576)) "$IMG" >"$WORK/cut.img"
refused "a truncated .img" "truncated: partition 4 ends at $size bytes, the file has $((size - 1048576))" "$WORK/cut.img"
head -c $(($(stat -c %s "$WORK/os.img.xz") / 2)) "$WORK/os.img.xz" >"$WORK/cut.img.xz"
refused "a truncated .img.xz" "the xz stream is cut short or damaged" "$WORK/cut.img.xz"
cp --sparse=always "$IMG" "$WORK/riscv.img"
sed 's/^arch=.*/arch=riscv64/' "$WORK/version.txt" >"$WORK/version-riscv.txt"
for s in a b; do
        mcopy -o -i "$WORK/riscv.img@@$BOOT_OFF" "$WORK/version-riscv.txt" "::slot-$s/version.txt" ||
                fail "mcopy cannot write slot-$s/version.txt"
done
refused "arch=riscv64" "slot-a/version.txt: arch 'riscv64' is not one Bramble images are built for" "$WORK/riscv.img"
cp --sparse=always "$IMG" "$WORK/noboot.img"
mdel -i "$WORK/noboot.img@@$BOOT_OFF" ::slot-b/u-boot.bin || fail "mdel cannot remove slot-b/u-boot.bin"
refused "a slot without U-Boot" "the boot partition has no slot-b/u-boot.bin (an image from before the Pis booted through U-Boot" "$WORK/noboot.img"
cp --sparse=always "$IMG" "$WORK/nosquash.img"
printf 'XXXX' | dd of="$WORK/nosquash.img" bs=1 seek="$ROOT_OFF" conv=notrunc status=none
refused "partition 2 without squashfs" "partition 2 holds no squashfs file system" "$WORK/nosquash.img"

# ---- the requests: a master refusing them (no such node, or one without
# OS updates) is one line and exit 1, after the bundle is stored ----
cli node upgrade pi-none --image "$IMG" --detach
[[ $CLI_RC -eq 1 ]] || fail "node upgrade of an unknown node: expected exit 1, got $CLI_RC ($CLI_OUT $CLI_ERR)"
[[ $(printf '%s\n' "$CLI_ERR" | grep -c '^bramble') -eq 1 ]] || fail "node upgrade's refusal: $CLI_ERR"
assert_contains "$CLI_ERR" "stored docker.io/library/bramble-os:$VERSION ($DIGEST" "node upgrade's stored line"
assert_eq "$BLOBS" "$(blob_count)" "blobs after node upgrade of the same bundle"
cli node rollback pi-none
[[ $CLI_RC -eq 1 ]] || fail "node rollback of an unknown node: expected exit 1, got $CLI_RC ($CLI_OUT $CLI_ERR)"
cli nodes
assert_contains "$CLI_OUT" " VERSION " "the nodes table's header"

# ---- status without a rollout ----
cli node upgrade --status
[[ $CLI_RC -eq 0 ]] || fail "bramble node upgrade --status: $CLI_ERR"
assert_contains "$CLI_OUT" "NODE" "--status's table"
cli -o json node upgrade --status
[[ $CLI_RC -eq 0 ]] || fail "bramble -o json node upgrade --status: $CLI_ERR"
assert_eq "[] None" "$(printf '%s' "$CLI_OUT" | python3 -c 'import json, sys; o = json.load(sys.stdin); print(o["nodes"], o["rollout"])')" \
        "--status -o json without nodes or rollout"
pass "os bundles"
