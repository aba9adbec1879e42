#!/usr/bin/env bash
# Builds the Bramble Raspberry Pi SD-card image from Debian 13 (trixie) arm64
# packages and the cross-built agent, without root:
#
#   build/image/bramble-rpi-arm64.img       raw disk image (MBR, 4 partitions:
#                                           boot, root A, root B, data)
#   build/image/bramble-rpi-arm64.img.xz    the same, compressed
#   build/image/bramble-rpi-arm64.img.bmap  block map (bmaptool / bramble flash)
#
# Usage: image/build.sh [--quiet]
#
# Environment:
#   BRM_IMAGE_CACHE     .debs, apt's private state and the unpacked kernel
#                       (default build/image-cache); fetched once, reused
#   BRM_IMAGE_OUT       output directory (default build/image)
#   BRM_AGENT_BIN       an arm64 bramble-agent to use as is (default: the
#                       rpi-arm64 build's, brought up to date with cmake)
#   BRM_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   BRM_IMAGE_REFRESH   1: fetch the newest trixie packages again
#   SOURCE_DATE_EPOCH   build time stamped into the image (the node's clock
#                       never starts earlier); default now
#   BRM_IMAGE_NOXZ      1: skip the .img.xz (tests do not need it)
#   BRM_IMAGE_VERSION   the image's version, stamped into /etc/os-release
#                       (IMAGE_VERSION) and reported by every node; default
#                       `git describe --always --dirty` of the source tree
#   BRM_IMAGE_TEST_OVERLAY  a directory that makes a test image (never one
#                       to release; use it with another BRM_IMAGE_OUT):
#                       overlay.conf (bash) may set TEST_PACKAGES,
#                       TEST_BINARIES (as BINARIES) and TEST_MODULES;
#                       rootfs/ is copied over the root (e.g. a step in
#                       etc/bramble/boot.d/, which rc.boot runs last)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd -P)
SUITE=trixie
ARCH=arm64
TRIPLET=aarch64-linux-gnu
MIRROR=${BRM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CACHE=${BRM_IMAGE_CACHE:-$SRC/build/image-cache}
OUT=${BRM_IMAGE_OUT:-$SRC/build/image}
AGENT=${BRM_AGENT_BIN:-$SRC/build/rpi-arm64/bin/bramble-agent}
BUILD_TIME=${SOURCE_DATE_EPOCH:-$(date +%s)}
IMAGE_VERSION=${BRM_IMAGE_VERSION:-$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)}
[[ $IMAGE_VERSION =~ ^[A-Za-z0-9][A-Za-z0-9._+~-]{0,62}$ ]] ||
  { echo "image/build.sh: error: BRM_IMAGE_VERSION '$IMAGE_VERSION' is not 1-63 of A-Z a-z 0-9 . _ + ~ - (starting with a letter or digit)" >&2; exit 1; }
NAME=bramble-rpi-arm64
QUIET=0
[[ ${1:-} == --quiet ]] && QUIET=1

# The boards, in the order of their config.txt sections (see board/README.md).
BOARDS=(pi3 pi3plus pi4 pi400 cm4 zero2w virt)

# Partition layout (MiB): boot (FAT), root slot A, root slot B (the same
# size), data. The data partition is small in the image and grows to the end
# of the card on first boot.
ALIGN_MIB=4
BOOT_MIB=128
DATA_MIB=64
# MBR disk identifier: root=PARTUUID=<id>-02 (slot a) or -03 (slot b) on the
# kernel command line.
DISK_ID=b7a3b1e0
# The slots: their letters, their root partitions, and the committed one.
SLOTS=(a b)
declare -A SLOT_PART=([a]=02 [b]=03)
SLOT_COMMITTED=a

# Packages: the kernel and firmware, the tools on the root, and the runtime
# libraries. Only the shared libraries the binaries need (readelf closure) end
# up on the image, so listing a package here costs nothing by itself.
KERNEL_META=linux-image-arm64
PACKAGES=(
  raspi-firmware u-boot-rpi busybox-static crun openntpd e2fsprogs dosfstools golang-github-containers-common
  libc6 libgcc-s1 libuv1t64 libmbedtls21 libmbedx509-7 libmbedcrypto16 libprotobuf-c1 libcjson1
  libmdnsd1t64
  libcap2 libseccomp2 libsystemd0 libyajl2
  libext2fs2t64 libcom-err2 libblkid1 libuuid1
  libarchive13t64 libacl1 libbz2-1.0 liblz4-1 libxxhash0 liblzma5 libnettle8t64 libxml2 libzstd1 zlib1g
  wpasupplicant libdbus-1-3 libnl-3-200 libnl-genl-3-200 libnl-route-3-200 libpcsclite1
  libssl3t64
  wireless-regdb firmware-brcm80211
)
# Binaries on the root: package:path-in-package:path-on-image
BINARIES=(
  busybox-static:usr/bin/busybox:usr/bin/busybox
  crun:usr/bin/crun:usr/bin/crun
  e2fsprogs:usr/sbin/resize2fs:usr/sbin/resize2fs
  dosfstools:usr/sbin/fsck.fat:usr/sbin/fsck.fat
  openntpd:usr/sbin/ntpd:usr/sbin/ntpd
  wpasupplicant:usr/sbin/wpa_supplicant:usr/sbin/wpa_supplicant
)
# busybox applets linked on the root and in the initramfs.
APPLETS=(
  sh ash awk basename blockdev cat chmod chown cp cut date dd df dirname dmesg du echo env expr
  false find free grep halt head hexdump hostname id ifconfig init insmod ip ipcalc kill killall less ln
  logger ls lsmod mdev mkdir mknod mktemp modinfo modprobe more mount mv nc netstat
  nslookup od pidof ping poweroff printf ps pwd readlink realpath reboot rm rmdir rmmod route sed
  seq setsid sh sha256sum sleep sort stat switch_root sync sysctl tail tee test touch tr true
  udhcpc umount uname uniq uptime vi watch wc wget which xargs xxd
)

TEST_PACKAGES=() TEST_BINARIES=() TEST_MODULES=()
OVERLAY=${BRM_IMAGE_TEST_OVERLAY:-}
if [[ -n $OVERLAY ]]; then
  [[ -d $OVERLAY ]] || { echo "image/build.sh: error: BRM_IMAGE_TEST_OVERLAY=$OVERLAY is not a directory" >&2; exit 1; }
  # shellcheck disable=SC1091
  [[ -f $OVERLAY/overlay.conf ]] && . "$OVERLAY/overlay.conf"
  PACKAGES+=("${TEST_PACKAGES[@]}")
  BINARIES+=("${TEST_BINARIES[@]}")
fi

say() { [[ $QUIET == 1 ]] || echo "image: $*" >&2; }
die() { echo "image/build.sh: error: $*" >&2; exit 1; }

for t in flock dpkg-deb apt-get apt-cache sfdisk mkfs.vfat mcopy mmd mkfs.ext4 mksquashfs cpio gzip xz readelf depmod modprobe truncate bmaptool mkimage mkenvimage lz4; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' not found (run scripts/bootstrap: packages dosfstools mtools fdisk squashfs-tools cpio kmod binutils bmap-tools u-boot-tools lz4)"
done
export MTOOLS_SKIP_CHECK=1

T0=$(date +%s.%N)
mkdir -p "$CACHE/debs" "$OUT"
CACHE=$(cd "$CACHE" && pwd -P)
OUT=$(cd "$OUT" && pwd -P)
# One build at a time per output directory (they share $OUT/work).
exec 8>"$OUT/.build.lock"
flock 8

# ------------------------------------------------------------------- agent --
# The agent is brought up to date by the rpi-arm64 build (a no-op when it
# is), unless BRM_AGENT_BIN names a ready binary.
if [[ -z ${BRM_AGENT_BIN:-} ]]; then
  if [[ ! -f $SRC/build/rpi-arm64/CMakeCache.txt ]]; then
    say "configuring the arm64 cross build (cmake --preset rpi-arm64)"
    (cd "$SRC" && cmake --preset rpi-arm64 >/dev/null) || die "cmake --preset rpi-arm64 failed"
  fi
  (cd "$SRC" && cmake --build build/rpi-arm64 --target bramble-agent bramble-shim bramble-unpack bramble-browse -j"$(nproc)" >"$OUT/agent-build.log" 2>&1) ||
    die "cross-building bramble-agent failed (see $OUT/agent-build.log)"
fi
[[ -x $AGENT ]] || die "$AGENT is not an executable"
readelf -h "$AGENT" 2>/dev/null | grep -q AArch64 || die "$AGENT is not an arm64 executable"

# ---------------------------------------------------------------- download --
APTDIR=$CACHE/apt
APT_OPTS=(
  -o "Dir::State=$APTDIR/state" -o "Dir::State::status=/dev/null" -o "Dir::Cache=$APTDIR/cache"
  -o "Dir::Etc::SourceList=$APTDIR/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
  -o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH" -o "APT::Sandbox::User=root" -q
)
apt_update() {
  [[ -n ${APT_UPDATED:-} ]] && return 0
  mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial"
  # raspi-firmware is in non-free-firmware.
  echo "deb [arch=$ARCH signed-by=$KEYRING] $MIRROR $SUITE main non-free-firmware" >"$APTDIR/sources.list"
  apt-get "${APT_OPTS[@]}" update >"$APTDIR/apt.log" 2>&1 ||
    die "apt-get update for $SUITE/$ARCH failed (see $APTDIR/apt.log): $(grep -m1 -E '^(E|W):' "$APTDIR/apt.log" || tail -n1 "$APTDIR/apt.log")"
  APT_UPDATED=1
}
deb_for() {
  local f
  for f in "$CACHE/debs/$1"_*_"$ARCH".deb "$CACHE/debs/$1"_*_all.deb; do
    [[ -f $f ]] && { echo "$f"; return 0; }
  done
  return 1
}
# The kernel package's real name (linux-image-<abi>-arm64) is remembered so a
# warm build needs no network.
KPKG_FILE=$CACHE/kernel-package
if [[ ${BRM_IMAGE_REFRESH:-0} == 1 || ! -s $KPKG_FILE ]]; then
  apt_update
  kpkg=$(apt-cache "${APT_OPTS[@]}" depends "$KERNEL_META" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [[ -n $kpkg ]] || die "cannot resolve $KERNEL_META in $SUITE"
  echo "$kpkg" >"$KPKG_FILE"
fi
KPKG=$(cat "$KPKG_FILE")
ALL=("$KPKG" "${PACKAGES[@]}")
missing=()
for p in "${ALL[@]}"; do
  if [[ ${BRM_IMAGE_REFRESH:-0} == 1 ]] || ! deb_for "$p" >/dev/null; then missing+=("$p"); fi
done
if ((${#missing[@]})); then
  apt_update
  say "downloading ${#missing[@]} Debian $SUITE $ARCH packages into $CACHE/debs"
  for p in "${missing[@]}"; do rm -f "$CACHE/debs/$p"_*_"$ARCH".deb "$CACHE/debs/$p"_*_all.deb; done
  (cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" download "${missing[@]}") >>"$APTDIR/apt.log" 2>&1 ||
    die "downloading ${missing[*]} failed (see $APTDIR/apt.log): $(grep -m1 -E '^E:' "$APTDIR/apt.log" || tail -n1 "$APTDIR/apt.log")"
  for p in "${missing[@]}"; do deb_for "$p" >/dev/null || die "package $p was not downloaded (see $APTDIR/apt.log)"; done
fi

# ------------------------------------------------------------------ unpack --
W=$OUT/work
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
POOL=$W/pool
for p in "${PACKAGES[@]}"; do dpkg-deb -x "$(deb_for "$p")" "$POOL"; done

# The kernel is unpacked (and depmod'ed) once per kernel version.
kdeb=$(deb_for "$KPKG")
KTREE=$CACHE/unpacked/$(basename "$kdeb" .deb)
if [[ ! -f $KTREE/.complete ]]; then
  say "unpacking $(basename "$kdeb")"
  rm -rf "$CACHE/unpacked"
  mkdir -p "$KTREE"
  dpkg-deb -x "$kdeb" "$KTREE"
  kver=$(ls "$KTREE/usr/lib/modules")
  depmod -b "$KTREE/usr" "$kver" || die "depmod on the unpacked kernel failed"
  touch "$KTREE/.complete"
fi
KVER=$(ls "$KTREE/usr/lib/modules")
KMODS=$KTREE/usr/lib/modules/$KVER
KERNEL_IMG=$KTREE/boot/vmlinuz-$KVER
DTBDIR=$KTREE/usr/lib/linux-image-$KVER/broadcom
FWDIR=$POOL/usr/lib/raspi-firmware
UBOOT_RPI=$POOL/usr/lib/u-boot/rpi_arm64/u-boot.bin
[[ -f $KERNEL_IMG && -d $DTBDIR && -d $FWDIR && -f $UBOOT_RPI ]] || die "kernel, DTBs, firmware or U-Boot missing after unpacking"

# ------------------------------------------------------------------- boards --
# list FILE: the non-comment words of a board file.
list() { [[ -f $1 ]] && sed -e 's/#.*//' "$1" | tr -s ' \t' '\n\n' | sed '/^$/d' || true; }
boot_mods=($(list "$SRC/board/common/modules-boot"))
all_mods=("${boot_mods[@]}" $(list "$SRC/board/common/modules"))
for b in "${BOARDS[@]}"; do
  [[ -f $SRC/board/$b/board.conf ]] || die "board/$b/board.conf is missing"
  boot_mods+=($(list "$SRC/board/$b/modules-boot"))
  all_mods+=($(list "$SRC/board/$b/modules-boot") $(list "$SRC/board/$b/modules"))
done
all_mods+=("${TEST_MODULES[@]}")
boot_mods=($(printf '%s\n' "${boot_mods[@]}" | sort -u))
all_mods=($(printf '%s\n' "${all_mods[@]}" | sort -u))

SOFTDEPS=()
# install_modules DESTROOT MODULE...: the modules and their dependencies,
# decompressed (busybox modprobe reads plain .ko), plus depmod's indexes.
install_modules() {
  local dest=$1 m line f rel sd mods=()
  shift
  mkdir -p "$dest/usr/lib/modules/$KVER"
  # Soft dependencies (ext4 needs the crc32c hash) are not in modules.dep.
  for m in "$@"; do
    mods+=("$m")
    for sd in $(modinfo -b "$KTREE/usr" -k "$KVER" -F softdep "$m" 2>/dev/null | tr ' ' '\n' | grep -v ':$'); do
      modinfo -b "$KTREE/usr" -k "$KVER" -n "$sd" >/dev/null 2>&1 && mods+=("$sd") && SOFTDEPS+=("$sd")
    done
  done
  for m in "${mods[@]}"; do
    if grep -q "/${m//[-_]/[-_]}\.ko" "$KMODS/modules.builtin"; then continue; fi
    modprobe -d "$KTREE/usr" -S "$KVER" --show-depends "$m" >"$W/deps" 2>"$W/deps.err" ||
      die "kernel module '$m' (board/*/modules*) is not in $KPKG: $(head -n1 "$W/deps.err")"
    while read -r line; do
      case $line in
      insmod\ *)
        f=${line#insmod }; f=${f%% *}
        rel=${f#"$KTREE"/usr/lib/modules/"$KVER"/}
        [[ -f $dest/usr/lib/modules/$KVER/${rel%.xz} ]] && continue
        mkdir -p "$dest/usr/lib/modules/$KVER/$(dirname "$rel")"
        xz -dc "$f" >"$dest/usr/lib/modules/$KVER/${rel%.xz}"
        ;;
      esac
    done <"$W/deps"
  done
  cp "$KMODS/modules.order" "$KMODS/modules.builtin" "$KMODS/modules.builtin.modinfo" "$dest/usr/lib/modules/$KVER/"
  depmod -b "$dest/usr" "$KVER" || die "depmod for $dest failed"
}

# ------------------------------------------------------------------ rootfs --
R=$W/root
mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib/$TRIPLET,etc,proc,sys,dev,run,tmp,data,boot/firmware,root}
ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"
ln -s /data/var "$R/var"
chmod 1777 "$R/tmp"; chmod 700 "$R/root"
for spec in "${BINARIES[@]}"; do
  IFS=: read -r pkg from to <<<"$spec"
  [[ -f $POOL/$from ]] || die "$from is not in package $pkg"
  install -m 755 "$POOL/$from" "$R/$to"
done
install -m 755 "$AGENT" "$R/usr/bin/bramble-agent"
# The per-container shim lives next to the agent, where the agent looks first.
SHIM=${BRM_SHIM_BIN:-$(dirname "$AGENT")/bramble-shim}
[[ -x $SHIM ]] || die "$SHIM is not an executable (build the bramble-shim target)"
install -m 755 "$SHIM" "$R/usr/bin/bramble-shim"
# The image helper too: the agent runs it to unpack OCI images.
UNPACK=${BRM_UNPACK_BIN:-$(dirname "$AGENT")/bramble-unpack}
[[ -x $UNPACK ]] || die "$UNPACK is not an executable (build the bramble-unpack target)"
install -m 755 "$UNPACK" "$R/usr/bin/bramble-unpack"
# The mDNS browse helper: the agent runs it to find the master ("master":
# "auto"); it links libmdnsd (libmdnsd1t64 above), which the agent does not.
BROWSE=${BRM_BROWSE_BIN:-$(dirname "$AGENT")/bramble-browse}
[[ -x $BROWSE ]] || die "$BROWSE is not an executable (build the bramble-browse target)"
install -m 755 "$BROWSE" "$R/usr/bin/bramble-browse"
for a in "${APPLETS[@]}"; do [[ -e $R/usr/bin/$a ]] || ln -s busybox "$R/usr/bin/$a"; done
# Every container's default seccomp profile: the one Podman and CRI-O use,
# maintained in Debian (the agent translates it for each container).
[[ -f $POOL/usr/share/containers/seccomp.json ]] || die "seccomp.json is not in golang-github-containers-common"
install -D -m 644 "$POOL/usr/share/containers/seccomp.json" "$R/usr/share/containers/seccomp.json"
# A sample container image on every node: a minimal busybox root file system
# (a directory is one of the image forms the agent runs), for the demo and
# for trying 'bramble run NODE NAME --image /usr/share/bramble/rootfs/busybox'.
SAMPLE=$R/usr/share/bramble/rootfs/busybox
mkdir -p "$SAMPLE"/{bin,proc,sys,dev,tmp,run,etc,root}
install -m 755 "$POOL/usr/bin/busybox" "$SAMPLE/bin/busybox"
for a in sh ash sleep tail cat echo ls ps top free df yes head seq date uname hostname env true false dd wc; do
  ln -s busybox "$SAMPLE/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$SAMPLE/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$SAMPLE/etc/group"
ln -s ../bin/busybox "$R/usr/sbin/init"

# Shared libraries: the closure of every binary's DT_NEEDED, from the pool.
find_lib() {
  local d
  for d in "usr/lib/$TRIPLET" usr/lib lib/$TRIPLET lib; do
    [[ -e $POOL/$d/$1 ]] && { echo "$POOL/$d/$1"; return 0; }
  done
  return 1
}
queue=()
while IFS= read -r -d '' f; do
  readelf -h "$f" >/dev/null 2>&1 && queue+=("$f")
done < <(find "$R/usr/bin" "$R/usr/sbin" -type f -print0)
seen=" "
while ((${#queue[@]})); do
  f=${queue[0]}; queue=("${queue[@]:1}")
  for lib in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [[ $seen == *" $lib "* ]] && continue
    seen="$seen$lib "
    src=$(find_lib "$lib") || die "library $lib (needed by ${f#"$R"/}) is in none of the packages; add its package to PACKAGES"
    cp -L "$src" "$R/usr/lib/$TRIPLET/$lib"
    queue+=("$R/usr/lib/$TRIPLET/$lib")
  done
done
# The ELF interpreter (/lib/ld-linux-aarch64.so.1 via the /lib symlink).
cp -L "$POOL/usr/lib/ld-linux-aarch64.so.1" "$R/usr/lib/ld-linux-aarch64.so.1"
printf '/usr/lib/%s\n' "$TRIPLET" >"$R/etc/ld.so.conf"

install_modules "$R" "${all_mods[@]}"
# Wi-Fi: the regulatory database (cfg80211 loads it, and checks its
# signature, from /lib/firmware) and the firmware files of each board's
# Wi-Fi chip (board/*/wifi-firmware), with the files their links point to.
install -D -m 644 "$POOL/usr/lib/firmware/regulatory.db-debian" "$R/usr/lib/firmware/regulatory.db"
install -D -m 644 "$POOL/usr/lib/firmware/regulatory.db.p7s-debian" "$R/usr/lib/firmware/regulatory.db.p7s"
fw_copy() { # PATH relative to usr/lib/firmware
  local src=$POOL/usr/lib/firmware/$1 dst=$R/usr/lib/firmware/$1
  [[ -e $src || -L $src ]] || die "Wi-Fi firmware $1 (board/*/wifi-firmware) is not in firmware-brcm80211"
  [[ -e $dst || -L $dst ]] && return 0
  mkdir -p "$(dirname "$dst")"
  cp -P "$src" "$dst"
  if [[ -L $src ]]; then
    local t
    t=$(realpath -m --relative-to="$POOL/usr/lib/firmware" "$(dirname "$src")/$(readlink "$src")")
    fw_copy "$t"
  fi
}
for b in "${BOARDS[@]}"; do
  for f in $(list "$SRC/board/$b/wifi-firmware"); do fw_copy "$f"; done
done

# Loaded at boot whatever the hardware (file systems, container plumbing),
# with the soft dependencies busybox modprobe does not follow.
common_mods=($(list "$SRC/board/common/modules-boot") $(list "$SRC/board/common/modules"))
printf '%s\n' "${SOFTDEPS[@]}" "${common_mods[@]}" | awk '!seen[$0]++' >"$W/modules-load"

cp -a "$SRC/image/rootfs/etc/." "$R/etc/"
cp "$W/modules-load" "$R/etc/bramble/modules"
ln -s /run/resolv.conf "$R/etc/resolv.conf"
ln -s /run/hostname "$R/etc/hostname"
ln -s /run/hosts "$R/etc/hosts"
echo "$BUILD_TIME" >"$R/etc/bramble/build-time"
agent_version=$(strings "$AGENT" | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+$' || echo unknown)
cat >"$R/etc/os-release" <<EOF
PRETTY_NAME="Bramble node (Debian $SUITE packages)"
NAME="Bramble"
ID=bramble
ID_LIKE=debian
VERSION_ID="$agent_version"
IMAGE_ID=bramble-rpi-arm64
IMAGE_VERSION="$IMAGE_VERSION"
BUILD_ID="$(date -u -d "@$BUILD_TIME" +%Y%m%dT%H%M%SZ)"
HOME_URL="https://github.com/"
EOF
{
  echo "# Debian $SUITE $ARCH packages in this image (dpkg-deb names)"
  for p in "${ALL[@]}"; do basename "$(deb_for "$p")" .deb; done
} >"$R/etc/bramble/packages"
chmod 600 "$R/etc/shadow"
if [[ -n $OVERLAY ]]; then
  [[ -d $OVERLAY/rootfs ]] && cp -a "$OVERLAY/rootfs/." "$R/"
  echo 'VARIANT="test image (BRM_IMAGE_TEST_OVERLAY), not for release"' >>"$R/etc/os-release"
fi

# ------------------------------------------------------------- initramfs --
I=$W/initramfs
mkdir -p "$I"/{bin,sbin,etc,proc,sys,dev,run,newroot,usr}
cp "$POOL/usr/bin/busybox" "$I/bin/busybox"
for a in "${APPLETS[@]}"; do [[ -e $I/bin/$a ]] || ln -s busybox "$I/bin/$a"; done
for a in mdev modprobe switch_root blockdev; do ln -s ../bin/busybox "$I/sbin/$a"; done
install -m 755 "$SRC/image/initramfs/init" "$I/init"
ln -s /bin/busybox "$I/sbin/init"
install_modules "$I/usr-modules" "${boot_mods[@]}"
mkdir -p "$I/lib"; mv "$I/usr-modules/usr/lib/modules" "$I/lib/modules"; rm -rf "$I/usr-modules"
printf '%s\n' "${SOFTDEPS[@]}" "${boot_mods[@]}" | awk '!seen[$0]++' >"$I/etc/modules-boot"
find "$I" -exec touch -h -d "@$BUILD_TIME" {} +
(cd "$I" && find . | LC_ALL=C sort | cpio -o -H newc --owner 0:0 --quiet | gzip -9 -n) >"$W/initrd.img"

# ---------------------------------------------------------- boot (FAT32) --
# The Pi firmware, config.txt and boot.scr at the top; each root slot's
# U-Boot, kernel, initramfs, device trees and command line in its own
# directory, slot-a/ and slot-b/ (the firmware's os_prefix). Both slots
# start as the same system (see image/README.md, "Slots").
B=$W/boot
mkdir -p "$B"
cmdline=$(list "$SRC/board/common/cmdline.txt" | tr '\n' ' ' | sed 's/ $//')
slot_cmdline() { # SLOT [EXTRA]: the kernel command line booting that slot's root
  echo "${cmdline//root=ROOT/root=PARTUUID=$DISK_ID-${SLOT_PART[$1]}} bramble.slot=$1${2:+ $2}"
}
# The kernel, Debian's arm64 Image (36 MiB, the bulk of a slot and of an
# update bundle), as an LZ4 frame: 16 MiB. booti in U-Boot (boot.scr)
# decompresses it; LZ4 rather than gzip (13 MiB) because it decompresses
# several times faster, which on a Pi's SD card more than pays for the
# 3 MiB more it reads.
# Made once per kernel, beside the unpacked package.
if [[ ! -f $KTREE/vmlinuz.lz4 ]]; then
  lz4 -9 -q -f "$KERNEL_IMG" "$KTREE/vmlinuz.lz4.$$" && mv -f "$KTREE/vmlinuz.lz4.$$" "$KTREE/vmlinuz.lz4" ||
    die "lz4 could not compress $KERNEL_IMG"
fi
for s in "${SLOTS[@]}"; do
  mkdir -p "$B/slot-$s"
  cp "$KTREE/vmlinuz.lz4" "$B/slot-$s/vmlinuz"
  cp "$W/initrd.img" "$B/slot-$s/initrd.img"
  # What the Pi firmware starts (config.txt kernel=, under os_prefix): U-Boot,
  # which runs boot.scr.
  cp "$UBOOT_RPI" "$B/slot-$s/u-boot.bin"
  slot_cmdline "$s" >"$B/slot-$s/cmdline.txt"
  # The same line for U-Boot (boot.scr), which reads name=value files.
  echo "bramble_cmdline=$(slot_cmdline "$s")" >"$B/slot-$s/bootargs.txt"
  # What the slot holds, for an update bundle made of this image (bramble
  # node upgrade --image) and for the node (the other slot's version).
  printf 'version=%s\narch=arm64\nkernel=%s\nbuild_time=%s\n' "$IMAGE_VERSION" "$KVER" "$BUILD_TIME" >"$B/slot-$s/version.txt"
done
: >"$W/config-boards"
for b in "${BOARDS[@]}"; do
  NAME_B= FILTER= FIRMWARE=
  # shellcheck disable=SC1090
  NAME_B=$(. "$SRC/board/$b/board.conf"; echo "$NAME")
  FILTER=$(. "$SRC/board/$b/board.conf"; echo "$FILTER")
  FIRMWARE=$(. "$SRC/board/$b/board.conf"; echo "$FIRMWARE")
  for f in $FIRMWARE; do
    [[ -f $FWDIR/$f ]] || die "board/$b: firmware file $f is not in raspi-firmware"
    cp "$FWDIR/$f" "$B/$f"
  done
  dtbs=($(list "$SRC/board/$b/dtbs"))
  for d in "${dtbs[@]}"; do
    [[ -f $DTBDIR/$d ]] || die "board/$b: device tree $d is not in $KPKG"
    for s in "${SLOTS[@]}"; do cp "$DTBDIR/$d" "$B/slot-$s/$d"; done
  done
  [[ -n $FILTER ]] || continue
  # U-Boot boots every board with the slot's bootargs.txt; the firmware's
  # cmdline= would not reach the kernel.
  [[ -z $(list "$SRC/board/$b/cmdline.txt") ]] ||
    die "board/$b/cmdline.txt: per-board kernel arguments do not reach the kernel (U-Boot boots every board with the slot's bootargs.txt); put them in board/common/cmdline.txt"
  {
    echo
    echo "# $NAME_B (board/$b)"
    echo "[$FILTER]"
    ((${#dtbs[@]})) && echo "device_tree=${dtbs[0]}"
    sed '/^$/d' "$SRC/board/$b/config.txt" 2>/dev/null || true
  } >>"$W/config-boards"
done
# config_txt SLOT: the firmware's configuration starting SLOT's U-Boot.
# os_prefix applies to the kernel (here u-boot.bin), cmdline.txt and the
# device trees. The firmware's own tryboot is not used: Debian's kernel
# cannot ask for it (reboot "0 tryboot" needs the Raspberry Pi kernel's
# firmware driver), and boot.scr tries a slot on every board the same way.
config_txt() {
  echo "# Raspberry Pi boot configuration, written by image/build.sh from board/*/config.txt."
  echo "# https://www.raspberrypi.com/documentation/computers/config_txt.html"
  echo
  cat "$SRC/board/common/config.txt"
  echo "# The committed root slot: slot-$1/ holds its U-Boot, kernel, initramfs and device trees."
  echo "os_prefix=slot-$1/"
  cat "$W/config-boards"
  printf '\n[all]\n'
}
config_txt "$SLOT_COMMITTED" >"$B/config.txt"
# The slot state, for the bootloader (boot.scr) and the node: the committed
# slot, and a try of one slot at the next boot (consumed by that boot).
echo "bramble_slot=$SLOT_COMMITTED" >"$B/bramble-slot.txt"
echo "bramble_try=none" >"$B/bramble-try.txt"
# U-Boot's environment on the Pis (without its comments).
grep -v '^#' "$SRC/image/uboot-rpi.env" >"$W/uboot-rpi.env.txt"
mkenvimage -s 0x4000 -o "$B/uboot.env" "$W/uboot-rpi.env.txt" || die "mkenvimage could not make uboot.env of image/uboot-rpi.env"
SOURCE_DATE_EPOCH=$BUILD_TIME mkimage -A arm64 -O linux -T script -C none -n "Bramble A/B boot" -d "$SRC/image/boot.cmd" "$B/boot.scr" >/dev/null ||
  die "mkimage could not make boot.scr from image/boot.cmd"
cp "$SRC/image/bramble.json.template" "$B/bramble.json"
cp "$SRC/image/bramble.json.template" "$B/bramble.json.template"

boot_img=$W/boot.img
mkfs.vfat -F 32 -n BRAMBLEBOOT -i "$DISK_ID" -C "$boot_img" $((BOOT_MIB * 1024)) >/dev/null ||
  die "mkfs.vfat failed"
(cd "$B" && find . -exec touch -d "@$BUILD_TIME" {} + && mcopy -i "$boot_img" -s -m -o ./* ::/) ||
  die "mcopy into the boot file system failed"

# --------------------------------------------------------- root (squashfs) --
root_img=$W/root.sqfs
find "$R" -exec touch -h -d "@$BUILD_TIME" {} +
mksquashfs "$R" "$root_img" -comp xz -b 256K -all-root -noappend -no-progress -quiet \
  -mkfs-time "$BUILD_TIME" -all-time "$BUILD_TIME" >/dev/null || die "mksquashfs failed"

# ------------------------------------------------------------- data (ext4) --
D=$W/data
mkdir -p "$D/bramble" "$D/log" "$D/var/lib" "$D/var/log" "$D/var/tmp"
chmod 700 "$D/bramble"
data_img=$W/data.ext4
# nodiscard: mke2fs must not assume the holes of the image file read as
# zeros on a card (it would mark inode tables as zeroed); the kernel zeroes
# them in the background on first mount instead.
E2FSPROGS_FAKE_TIME=$BUILD_TIME mkfs.ext4 -q -F -L bramble-data -U clear -E root_owner=0:0,nodiscard,lazy_itable_init=1 -T default \
  -d "$D" "$data_img" "${DATA_MIB}M" >/dev/null || die "mkfs.ext4 failed"

# --------------------------------------------------------------- assemble --
mib() { echo $((($1 + 1048575) / 1048576)); }
root_mib=$(( ($(mib "$(stat -c %s "$root_img")") + ALIGN_MIB - 1) / ALIGN_MIB * ALIGN_MIB ))
p1=$ALIGN_MIB
p2=$((p1 + BOOT_MIB))
p3=$((p2 + root_mib))
p4=$((p3 + root_mib))
total=$((p4 + DATA_MIB))
img=$W/$NAME.img
rm -f "$img"
truncate -s "${total}M" "$img"
sfdisk -q "$img" <<EOF >/dev/null || die "sfdisk failed"
label: dos
label-id: 0x$DISK_ID
unit: sectors

start=$((p1 * 2048)), size=$((BOOT_MIB * 2048)), type=c, bootable
start=$((p2 * 2048)), size=$((root_mib * 2048)), type=83
start=$((p3 * 2048)), size=$((root_mib * 2048)), type=83
start=$((p4 * 2048)), size=$((DATA_MIB * 2048)), type=83
EOF
put() { dd if="$1" of="$img" bs=1M seek="$2" conv=notrunc,sparse status=none || die "writing $1 into the image failed"; }
put "$boot_img" "$p1"
# The FAT tables must be written whole: a free cluster is a zero entry, and
# a card holds old data where the image has a hole (bmap skips holes).
bpb() { od -An -tu"$2" -j "$1" -N"$2" "$boot_img" | tr -d ' '; }
fat_end=$(( ($(bpb 14 2) + $(bpb 16 1) * $(bpb 36 4)) * 512 + 1048575 ))
dd if="$boot_img" of="$img" bs=1M seek="$p1" count=$((fat_end / 1048576 + 1)) conv=notrunc status=none || die "writing the FAT tables failed"
# Root slot B starts as a copy of A: a fresh card can try either slot, and
# the first update writes B whole anyway.
put "$root_img" "$p2"
put "$root_img" "$p3"
put "$data_img" "$p4"

mv -f "$img" "$OUT/$NAME.img"
img=$OUT/$NAME.img
rm -f "$OUT/$NAME.img.bmap" "$OUT/$NAME.img.xz"
bmaptool create -o "$OUT/$NAME.img.bmap" "$img" 2>"$W/bmap.err" || die "bmaptool create failed: $(tail -n1 "$W/bmap.err")"
if [[ ${BRM_IMAGE_NOXZ:-0} != 1 ]]; then
  # A 64 MiB dictionary reaches back over a whole slot: slot b, a copy of
  # slot a, costs next to nothing compressed (65 MiB to decompress).
  xz -T0 --lzma2=preset=6,dict=64MiB -k -f -c "$img" >"$OUT/$NAME.img.xz.tmp" && mv "$OUT/$NAME.img.xz.tmp" "$OUT/$NAME.img.xz"
fi
{
  echo "kernel=$KVER"
  echo "version=$IMAGE_VERSION"
  echo "build_time=$BUILD_TIME"
  echo "disk_id=$DISK_ID"
  echo "boot_mib=$BOOT_MIB root_mib=$root_mib data_mib=$DATA_MIB total_mib=$total"
  echo "slots=${SLOTS[*]} committed=$SLOT_COMMITTED"
} >"$OUT/$NAME.info"
T1=$(date +%s.%N)
say "$img: ${total} MiB (boot ${BOOT_MIB}, root ${root_mib} x 2 slots, data ${DATA_MIB}), kernel $KVER, built in $(awk "BEGIN {printf \"%.1f\", $T1 - $T0}") s"
