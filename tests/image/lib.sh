# Helpers for the image tests (sourced). BRM_BIN: a host build's bin dir
# (bramble, bramble-master); BRM_SRC: the source tree.
set -euo pipefail
BRM_SRC=${BRM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BRM_BIN=${BRM_BIN:-$BRM_SRC/build/host/bin}
. "$BRM_SRC/image/qemu.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
pass() { echo "ok: $*"; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; pass "$1 = '$3'"; }
expect_grep() { # WHAT PATTERN FILE
	grep -qE -- "$2" "$3" || { tail -n 30 "$3" >&2; fail "$1: /$2/ not in $3"; }
	pass "$1"
}

# The tools every test needs; the image is built when missing.
image_test_init() {
	brm_need_tools "$@"
	[ -x "$BRM_BIN/bramble" ] || skip "no bramble in BRM_BIN=$BRM_BIN (build the host preset first)"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/brm-image-test.XXXXXX")
	NODES=()
	trap image_test_cleanup EXIT
	IMG=$(brm_image_path "$BRM_SRC") || fail "image/build.sh failed"
}

image_test_cleanup() {
	local n
	for n in "${NODES[@]}"; do brm_node_stop "$n"; done
	[ -n "${REGISTRY_PID:-}" ] && { kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null || true; }
	[ -d "${WORK:-}/master" ] && brm_master_stop "$WORK/master"
	[ -n "${LOOPDEV:-}" ] && { umount "$WORK/mnt" 2>/dev/null || true; losetup -d "$LOOPDEV" 2>/dev/null || true; }
	if [ "${BRM_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}

# since T0: seconds from T0 (date +%s.%N) to now, one decimal.
since() { awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}'; }

# card_fat DIR: the boot partition of node DIR's card as it is now, once,
# into $WORK/fat.vfat (stop the node first); fat_file NAME: a file of it.
card_fat() { brm_node_fat "$1" "$WORK/fat.vfat" || fail "cannot read the boot partition of $1's card"; }
fat_file() { mtype -i "$WORK/fat.vfat" "::$1" | tr -d '\r\0'; }

# The image commands are in this bramble (cli/image.c and cli/flash.c, in the
# command table of cli/main.c).
need_image_cli() {
	"$BRM_BIN/bramble" image configure --help >/dev/null 2>&1 ||
		skip "$BRM_BIN/bramble has no 'image configure' command"
	"$BRM_BIN/bramble" flash --help >/dev/null 2>&1 || skip "$BRM_BIN/bramble has no 'flash' command"
}

# boot_wait NODE_DIR NAME TIMEOUT: waits for Ready, prints seconds since QEMU start.
boot_wait() {
	if ! brm_wait_ready "$BRM_BIN" "$2" "$3"; then
		echo "--- console of $1 (last 40 lines)" >&2
		tail -n 40 "$1/console.log" >&2
		fail "node $2 not Ready within $3 s"
	fi
	awk -v s="$(cat "$1/started")" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}'
}

# image_variant NAME VERSION [OVERLAY]: an image of these sources with
# another BRM_IMAGE_VERSION (and a test overlay) in build/image-update-NAME,
# rebuilt when its sources changed; prints its path.
image_variant() {
	local out=$BRM_SRC/build/image-update-$1 img
	img=$out/bramble-rpi-arm64.img
	mkdir -p "$out"
	(
		flock 9
		if [ ! -f "$img" ] || [ "$(sed -n 's/^version=//p' "$out/bramble-rpi-arm64.info" 2>/dev/null)" != "$2" ] ||
			[ -n "$(find "$BRM_SRC/image" "$BRM_SRC/board" ${3:+"$3"} "$BRM_SRC/build/rpi-arm64/bin/bramble-agent" \
				-newer "$img" 2>/dev/null | head -n1)" ]; then
			echo "building image $2 (image/build.sh)" >&2
			env BRM_IMAGE_VERSION="$2" BRM_IMAGE_NOXZ=1 BRM_IMAGE_OUT="$out" ${3:+BRM_IMAGE_TEST_OVERLAY="$3"} \
				"$BRM_SRC/image/build.sh" --quiet >"$out/build.log" 2>&1 || exit 1
		fi
	) 9>"$out/.lock" || fail "building image $2 failed: $(tail -n 3 "$out/build.log")"
	echo "$img"
}
