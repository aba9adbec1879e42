#!/usr/bin/env bash
# OS updates a node must refuse before anything is written to its card,
# with a real master, a real agent and bundles made by bramble node upgrade
# from the built image. The agent runs here with --root: a /proc/cmdline
# saying it booted slot a and an os-release with its version, which is all
# that makes it take updates; its os_update_hook (the image's update.sh,
# which writes partitions) is a script that records any call, and none may
# happen. Refused: a bundle for another architecture (the image is arm64,
# this machine is not); a bundle whose part in the master's store does not
# match its digest (the fetch checks every blob). Each is reported by the
# node as the update's reason, and the rollout stops there.
source "$(dirname "$0")/lib.sh"

command -v mcopy >/dev/null || skip "mtools is not installed (apt-get install mtools)"
IMG=${BRM_OS_IMAGE:-$BRM_SRC/build/image/bramble-rpi-arm64.img}
[[ -f "$IMG" ]] || skip "no image at $IMG (build it with image/build.sh, or set BRM_OS_IMAGE)"
[[ "$(uname -m)" != aarch64 ]] || skip "this machine is arm64 like the image: the architecture case needs another"
export MTOOLS_SKIP_CHECK=1
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"

# The node: slot a of the Bramble image, version v1.
HOOK=$WORK/hook.sh
printf '#!/bin/sh\necho "$@" >>%s/hook.calls\nexit 1\n' "$WORK" >"$HOOK"
chmod +x "$HOOK"
start_image_node upd-a v1 "$HOOK"
node_json() { cli -o json nodes; printf '%s' "$CLI_OUT" | json_query "$1"; }
assert_eq "a" "$(node_json '[n.get("slot", "") for n in d if n["name"] == "upd-a"][0]')" "the slot upd-a reports"

# update_field FIELD: upd-a's update status as the master shows it.
update_field() {
        node_json '[(n.get("update") or {}).get("'"$1"'", "") for n in d if n["name"] == "upd-a"][0]'
}

# ---- another architecture ----
cli node upgrade upd-a --image "$IMG" --healthy-for 1s
assert_eq 1 "$CLI_RC" "exit status of an upgrade to an arm64 bundle ($CLI_ERR)"
assert_contains "$CLI_OUT$CLI_ERR" "upd-a failed: the bundle is for arm64; this node is" "the rollout's end"
[[ ! -e "$WORK/hook.calls" ]] || fail "the slot writer was run: $(cat "$WORK/hook.calls")"
log "an arm64 bundle refused by an $(uname -m) node before anything was written"

# ---- a part that does not match its digest ----
# The same image for this machine's architecture (the CLI accepts it),
# then one of its parts altered in the master's store, its size kept.
ARCH=$(case "$(uname -m)" in x86_64) echo amd64 ;; armv7l) echo arm ;; *) echo "$(uname -m)" ;; esac)
cp --sparse=always "$IMG" "$WORK/native.img"
boot_off=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(512); print(struct.unpack("<I", d[454:458])[0] * 512)' "$WORK/native.img")
for s in a b; do
        mtype -i "$WORK/native.img@@$boot_off" "::slot-$s/version.txt" | tr -d '\r' |
                sed -e "s/^version=.*/version=v2-$ARCH/" -e "s/^arch=.*/arch=$ARCH/" >"$WORK/version.txt"
        mcopy -o -i "$WORK/native.img@@$boot_off" "$WORK/version.txt" "::slot-$s/version.txt" || fail "mcopy version.txt"
done
cli node upgrade --upload-only --image "$WORK/native.img"
[[ $CLI_RC -eq 0 ]] || fail "storing the $ARCH bundle: $CLI_ERR"
DIGEST=$(printf '%s' "$CLI_OUT" | sed -n 's/.*(\(sha256:[0-9a-f]*\)).*/\1/p')
part=$(python3 - "$MASTER_DIR/images" "$DIGEST" <<'PY'
import json, sys
m = json.load(open(f"{sys.argv[1]}/blobs/sha256/{sys.argv[2][7:]}"))
print([l["digest"][7:] for l in m["layers"] if l["annotations"]["org.opencontainers.image.title"] == "boot/initrd.img"][0])
PY
)
blob=$MASTER_DIR/images/blobs/sha256/$part
[[ -f "$blob" ]] || fail "no blob $blob"
printf 'X' | dd of="$blob" bs=1 seek=1000 conv=notrunc status=none
cli node upgrade upd-a --bundle "bramble-os:v2-$ARCH" --healthy-for 1s
assert_eq 1 "$CLI_RC" "exit status of an upgrade whose part does not match ($CLI_ERR)"
[[ ! -e "$WORK/hook.calls" ]] || fail "the slot writer was run: $(cat "$WORK/hook.calls")"
assert_eq failed "$(update_field state)" "upd-a's update state"
reason=$(update_field reason)
assert_contains "$reason" "download of the bundle failed" "upd-a's reason"
log "upd-a: $reason"
[[ ! -e "$WORK/hook.calls" ]] || fail "the slot writer was run: $(cat "$WORK/hook.calls")"
log "a part that does not match its digest refused before anything was written"
cli -o json node upgrade --status
assert_eq stopped "$(printf '%s' "$CLI_OUT" | json_query 'd["rollout"]["state"]')" "the rollout's state"
pass "both refused before the slot writer ran; the rollout stopped at the refusal"
