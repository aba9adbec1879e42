#!/usr/bin/env bash
# An OCI image layout built here with umoci from busybox (two layers: the
# second deletes a file, so it carries a whiteout), configured with its own
# entrypoint, command and environment, runs under the supervisor from the
# layout directory and from an oci-archive tarball of it. The container
# prints from its entrypoint, checks the whiteout and exits 3.
#
# Environment: BRM_BIN (holds supervise and bramble-shim). Exits 77 when it
# cannot run here (not root, no umoci / runc / busybox).
set -euo pipefail

skip() { echo "SKIP: $*" >&2; exit 77; }
[[ $(id -u) == 0 ]] || skip "needs root"
command -v umoci >/dev/null || skip "umoci is not installed (apt-get install umoci)"
command -v runc >/dev/null || skip "runc is not installed (apt-get install runc)"
[[ -x /bin/busybox ]] || skip "/bin/busybox is missing (apt-get install busybox-static)"
[[ -n ${BRM_BIN:-} && -x $BRM_BIN/supervise ]] || { echo "image.sh: BRM_BIN must hold supervise" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/brm-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
layout=$work/layout
umoci init --layout "$layout"
umoci new --image "$layout:t"
umoci unpack --image "$layout:t" "$work/bundle" >/dev/null
root=$work/bundle/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/dev" "$root/sys" "$root/tmp" "$root/run"
cp /bin/busybox "$root/bin/"
for a in sh echo test '[' cat sleep; do ln -s busybox "$root/bin/$a"; done
echo "gone in layer 2" > "$root/etc/deleteme"
umoci repack --image "$layout:t" "$work/bundle"
# A second layer on top of the first: unpack the new tag, delete, repack.
umoci unpack --image "$layout:t" "$work/bundle2" >/dev/null
rm "$work/bundle2/rootfs/etc/deleteme"
umoci repack --image "$layout:t" "$work/bundle2"
umoci config --image "$layout:t" --config.entrypoint /bin/sh --config.entrypoint -c \
        --config.cmd 'echo "$GREETING from the entrypoint"; [ ! -e /etc/deleteme ] && echo whiteout honoured; exit 3' \
        --config.env GREETING=hello --config.workingdir /
umoci gc --layout "$layout"
layers=$(umoci stat --image "$layout:t" | grep -c '^sha256:')
[[ $layers == 2 ]] || { echo "image.sh: expected 2 layers, umoci made $layers" >&2; exit 1; }

"$BRM_BIN/supervise" image "$layout:t"
tar -C "$layout" -cf "$work/image.tar" .
"$BRM_BIN/supervise" image "$work/image.tar:t"
echo "image.sh: passed"
