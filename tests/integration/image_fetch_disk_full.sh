#!/usr/bin/env bash
# A cluster image that does not fit on the node: its images directory is a
# 24 MiB tmpfs; an image of 2 MiB is fetched and runs, then one with a
# 40 MiB layer fills the file system. The container fails with one line
# naming the blob and the free space, the partial blob is removed (the
# space comes back), and what was stored before stays and still runs.
source "$(dirname "$0")/lib.sh"

need_containers
ROOTFS=$WORK/rootfs
busybox_rootfs "$ROOTFS"
HERE=$(cd "$(dirname "$0")" && pwd)
STORE=$WORK/master/images
FS=$WORK/agents/pi-1/images
small_tmpfs "$FS" 24 "the node's images directory"
field() { printf '%s' "$1" | json_query "$2"; }
app=$(python3 "$HERE/oci_image.py" "$STORE" example.com/app:1 --rootfs "$ROOTFS")
huge=$(python3 "$HERE/oci_image.py" "$STORE" example.com/huge:1 --rootfs "$ROOTFS" --random-mib 40)

start_master
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10 s: $(node_state pi-1)"
LAYOUT=$FS/layout
state_is() { [[ "$(ps_field "$1" 'c["state"]')" == "$2" ]]; }

cli_ok run pi-1 app --restart never --image example.com/app:1 -- echo first >/dev/null
wait_for 30 state_is app exited || fail "app did not run within 30 s: $(ps_field app 'c')"
stored=$(ls "$LAYOUT/blobs/sha256" | sort)

cli_ok run pi-1 huge --restart never --image example.com/huge:1 -- true >/dev/null
wait_for 60 state_is huge failed || fail "huge did not fail within 60 s: $(ps_field huge 'c')"
layer=$(field "$huge" 'd["layers"][1]')
reason=$(ps_field huge 'c["reason"]')
[[ "$reason" =~ ^node\'s\ disk\ is\ full\ while\ fetching\ blob\ $layer\ \([0-9]+\ KiB\ free\)$ ]] ||
        fail "huge's reason: expected \"node's disk is full while fetching blob $layer (N KiB free)\", got: $reason"
[[ ! -e $LAYOUT/tmp/${layer#sha256:}.part ]] || fail "the partial blob was left on the full file system"
free_kib=$(($(stat -f -c '%a * %S' "$FS") / 1024))
((free_kib > 4096)) || fail "only $free_kib KiB free on the images file system after the failed fetch"
for b in $stored; do
        [[ -f $LAYOUT/blobs/sha256/$b ]] || fail "blob $b, stored before, is gone"
done
assert_file_contains "$LAYOUT/index.json" '"org.bramble.ref":"example.com/app:1"' "the node's index.json"
cli_ok run pi-1 app2 --restart never --image example.com/app:1 -- echo second >/dev/null
wait_for 30 state_is app2 exited || fail "app2 did not run within 30 s: $(ps_field app2 'c')"
assert_contains "$(cli_ok logs pi-1/app2)" "second" "bramble logs pi-1/app2"
log "huge: $reason"
pass
