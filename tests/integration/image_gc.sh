#!/usr/bin/env bash
# Unused images collected when the node's disk runs short: a leftover
# .gc- directory of an interrupted collection is swept at start; the images
# directory is a 64 MiB tmpfs and image_gc_free is 36 MiB. Container A of
# image 1 runs and is removed; container B of image 2 runs (and keeps
# running): its fetch and unpack take the free space below 36 MiB, so
# image 1's root file system, its index.json entry and its blobs go (one
# info line says so) and image 2's stay, also while B's fetch is under
# way. Then the file system is filled from outside: B's image, in use, is
# never collected, whatever the shortage, and the agent says there is
# nothing left to remove.
source "$(dirname "$0")/lib.sh"

need_containers
ROOTFS=$WORK/rootfs
busybox_rootfs "$ROOTFS"
HERE=$(cd "$(dirname "$0")" && pwd)
STORE=$WORK/master/images
FS=$WORK/agents/pi-1/images
small_tmpfs "$FS" 64 "the node's images directory"
field() { printf '%s' "$1" | json_query "$2"; }
blobs_of() { field "$1" '" ".join(x[7:] for x in [d["manifest"], d["config"]] + d["layers"])'; }
free_mib() { echo $(($(stat -f -c '%a * %S' "$FS") >> 20)); }
# Each image: busybox and a layer of 10 MiB of random bytes, so about
# 22 MiB on the node once fetched (blobs) and unpacked (root file system).
one=$(python3 "$HERE/oci_image.py" "$STORE" example.com/one:1 --rootfs "$ROOTFS" --random-mib 10)
two=$(python3 "$HERE/oci_image.py" "$STORE" example.com/two:1 --rootfs "$ROOTFS" --random-mib 10)
ONE=$(field "$one" 'd["manifest"][7:]')
TWO=$(field "$two" 'd["manifest"][7:]')

# What an interrupted collection left (a root file system half removed)
# is swept at start.
LEFT=$FS/rootfs/.gc-$(printf '%064d' 7).1700000000000
mkdir -p "$LEFT/rootfs/bin"
echo half >"$LEFT/rootfs/bin/app"

start_master
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN" --image-gc-free 36M
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10 s: $(node_state pi-1)"
wait_for 5 eval '[[ ! -e $LEFT ]]' || fail "the leftover $LEFT was not swept at start"
LAYOUT=$FS/layout
AGENT_LOG_1=${AGENT_LOG[pi-1]}

# ---- image 1: runs, is removed; above the threshold nothing goes ----
cli_ok run pi-1 a --restart never --image example.com/one:1 -- echo from-one >/dev/null
wait_for 30 ps_is a exited || fail "a did not run within 30 s: $(ps_field a 'c')"
[[ -d $FS/rootfs/$ONE ]] || fail "image 1's root file system is not in $FS/rootfs"
log "after image 1: $(free_mib) MiB free"
(($(free_mib) >= 36)) || fail "only $(free_mib) MiB free after image 1: the test's sizes do not fit"
sleep 2
[[ -d $FS/rootfs/$ONE ]] || fail "image 1's root file system went while free space was above the threshold"
cli_ok rm pi-1/a >/dev/null
wait_for 10 eval '[[ $(ps_field a c) == absent ]]' || fail "a was not removed within 10 s"

# ---- image 2 takes the space: image 1 goes, image 2 stays ----
cli_ok run pi-1 b --restart never --image example.com/two:1 -- sleep 600 >/dev/null
wait_for 30 ps_is b running || fail "b did not start within 30 s: $(ps_field b 'c')"
wait_for 20 log_has "$AGENT_LOG_1" "images: disk short of space" ||
        fail "no collection within 20 s ($(free_mib) MiB free): $(tail -5 "$AGENT_LOG_1")"
wait_for 10 eval '[[ ! -e $FS/rootfs/$ONE ]]' || fail "image 1's root file system was not collected"
# One line per collection; the fetch and the unpack of image 2 may each
# start one.
lines=$(grep -F "images: disk short of space (" "$AGENT_LOG_1")
re='images: disk short of space \(([0-9]+) MiB free, below 36 MiB\): removed ([0-9]+) root file systems and ([0-9]+) blobs, ([0-9]+) MiB$'
n_rootfs=0 n_blobs=0 mib=0
while IFS= read -r line; do
        [[ "$line" =~ $re ]] ||
                fail "a collection's line: expected \"images: disk short of space (N MiB free, below 36 MiB): removed K root file systems and J blobs, X MiB\", got: $line"
        n_rootfs=$((n_rootfs + BASH_REMATCH[2])) n_blobs=$((n_blobs + BASH_REMATCH[3])) mib=$((mib + BASH_REMATCH[4]))
done <<<"$lines"
((n_rootfs == 1 && n_blobs >= 3 && mib >= 15)) ||
        fail "removed $n_rootfs root file systems, $n_blobs blobs, $mib MiB; expected 1, at least 3, at least 15: $lines"
# The busybox layer is image 2's too: it stays.
for b in $(blobs_of "$one"); do
        if [[ " $(blobs_of "$two") " == *" $b "* ]]; then
                [[ -f $LAYOUT/blobs/sha256/$b ]] || fail "the layer images 1 and 2 share, $b, was collected"
        else
                [[ ! -e $LAYOUT/blobs/sha256/$b ]] || fail "image 1's blob $b was not collected"
        fi
done
assert_file_lacks "$LAYOUT/index.json" "example.com/one:1" "the node's index.json"
assert_file_contains "$LAYOUT/index.json" "example.com/two:1" "the node's index.json"
for b in $(blobs_of "$two"); do
        [[ -f $LAYOUT/blobs/sha256/$b ]] || fail "image 2's blob $b, in use, was collected"
done
[[ -d $FS/rootfs/$TWO ]] || fail "image 2's root file system, in use, was collected"
compgen -G "$FS/rootfs/.gc-*" >/dev/null && fail "a .gc- directory was left: $(ls -a "$FS/rootfs")"
(($(free_mib) >= 36)) || fail "only $(free_mib) MiB free after the collection"
assert_eq running "$(ps_field b 'c["state"]')" "b's state"
log "collected: $lines"

# ---- short of space with nothing unused: a running container's image stays ----
fill=$(($(free_mib) - 8))
dd if=/dev/zero of="$FS/filler" bs=1M count=$fill status=none 2>/dev/null || true
wait_for 15 log_has "$AGENT_LOG_1" "no unused image left to remove" ||
        fail "no word of the shortage within 15 s ($(free_mib) MiB free): $(tail -5 "$AGENT_LOG_1")"
[[ -d $FS/rootfs/$TWO ]] || fail "image 2's root file system, in use, was collected when space was short"
for b in $(blobs_of "$two"); do
        [[ -f $LAYOUT/blobs/sha256/$b ]] || fail "image 2's blob $b, in use, was collected when space was short"
done
assert_eq running "$(ps_field b 'c["state"]')" "b's state"
rm -f "$FS/filler"
log "$(grep -F 'no unused image left' "$AGENT_LOG_1" | head -1)"
pass
