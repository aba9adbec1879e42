#!/usr/bin/env bash
# Build a Debian 13 (trixie) arm64 sysroot for cross-compiling Bramble.
#
# Usage: toolchain/sysroot.sh OUTDIR
#
# Downloads the arm64 .debs listed in PACKAGES below with a private apt
# configuration (the host's apt sources are left untouched), unpacks them into
# OUTDIR, adds the merged-/usr symlinks and rewrites absolute symlinks so they
# stay inside OUTDIR.  Idempotent: when OUTDIR/.complete already matches the
# package list nothing is done and nothing is printed.
#
# Environment:
#   BRM_DEB_CACHE        where .debs and apt's private state live
#                        (default: OUTDIR/../sysroot-debs)
#   BRM_SYSROOT_REFRESH  set to 1 to re-download the newest trixie packages
#                        and rebuild OUTDIR even if it is complete
#   BRM_DEBIAN_MIRROR    default http://deb.debian.org/debian
set -euo pipefail

SUITE=trixie
ARCH=arm64
TRIPLET=aarch64-linux-gnu
MIRROR=${BRM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# The full dependency closure, resolved by hand (apt-get download does not
# resolve dependencies).  Runtime-only tools (libc-dev-bin, rpcsvc-proto) and
# doc-only packages (gcc-14-base) are deliberately left out.
PACKAGES=(
  libc6 libc6-dev linux-libc-dev libcrypt1 libcrypt-dev libgcc-s1
  libuv1t64 libuv1-dev
  libmbedcrypto16 libmbedx509-7 libmbedtls21 libmbedtls-dev
  libprotobuf-c1 libprotobuf-c-dev
  libcjson1 libcjson-dev
  # mDNS (finding the master): the master and the agent's bramble-browse.
  libmdnsd1t64 libmdnsd-dev
  libjansson4 libjansson-dev
  libhttp-parser2.9 libhttp-parser-dev
  libsqlite3-0 libsqlite3-dev
  # bramble apply's YAML files.
  libyaml-0-2 libyaml-dev
  # OCI image layouts; the rest is what the linker needs to resolve libarchive.
  libarchive13t64 libarchive-dev
  libacl1 libbz2-1.0 liblz4-1 libxxhash0 liblzma5 libnettle8t64 libxml2 libzstd1 zlib1g
  # The master's registry client: libcurl (OpenSSL flavour) and what the
  # linker needs to resolve it (every library it and they need).
  libcurl4t64 libcurl4-openssl-dev
  libbrotli1 libidn2-0 libunistring5 libnghttp2-14 libnghttp3-9 libpsl5t64 libssh2-1t64 libssl3t64
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
  libldap2 libsasl2-2 libsasl2-modules-db libdb5.3t64
  librtmp1 libgnutls30t64 libgmp10 libhogweed6t64 libp11-kit0 libffi8 libtasn1-6
  # musl's static libc for bramble-shim.
  musl musl-dev
)
# Bump when the layout produced below changes, to force a rebuild.
LAYOUT=1

die() { echo "sysroot.sh: error: $*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 OUTDIR"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
command -v apt-get >/dev/null || die "apt-get not found"

mkdir -p "$1"
OUT=$(cd "$1" && pwd -P)
CACHE=${BRM_DEB_CACHE:-$OUT/../sysroot-debs}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)

STAMP="suite=$SUITE arch=$ARCH layout=$LAYOUT packages=${PACKAGES[*]}"

if [[ ${BRM_SYSROOT_REFRESH:-0} != 1 && -f $OUT/.complete ]] &&
   [[ $(head -n1 "$OUT/.complete") == "$STAMP" ]]; then
  exit 0
fi

# ---------------------------------------------------------------- download --
APTDIR=$CACHE/apt
APT_OPTS=(
  -o "Dir::State=$APTDIR/state"
  -o "Dir::State::status=/dev/null"
  -o "Dir::Cache=$APTDIR/cache"
  -o "Dir::Etc::SourceList=$APTDIR/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=/dev/null"
  -o "APT::Architecture=$ARCH"
  -o "APT::Architectures=$ARCH"
  -o "APT::Sandbox::User=root"
  -q
)

# A package is cached when some PKG_*_arm64.deb exists in CACHE.
deb_for() {
  local f
  for f in "$CACHE/$1"_*_"$ARCH".deb "$CACHE/$1"_*_all.deb; do
    [[ -f $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ ${BRM_SYSROOT_REFRESH:-0} == 1 ]] || ! deb_for "$p" >/dev/null; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "sysroot.sh: downloading ${#missing[@]} Debian $SUITE $ARCH packages into $CACHE" >&2
  mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial"
  echo "deb [arch=$ARCH signed-by=$KEYRING] $MIRROR $SUITE main" >"$APTDIR/sources.list"
  log=$APTDIR/apt.log
  apt-get "${APT_OPTS[@]}" update >"$log" 2>&1 ||
    die "apt-get update for $SUITE/$ARCH failed (see $log): $(grep -m1 -E '^(E|W):' "$log" || tail -n1 "$log")"
  # Drop stale versions of the packages being (re)fetched.
  for p in "${missing[@]}"; do rm -f "$CACHE/$p"_*_"$ARCH".deb "$CACHE/$p"_*_all.deb; done
  (cd "$CACHE" && apt-get "${APT_OPTS[@]}" download "${missing[@]}") >>"$log" 2>&1 ||
    die "downloading ${missing[*]} failed (see $log): $(grep -m1 -E '^E:' "$log" || tail -n1 "$log")"
  for p in "${missing[@]}"; do
    deb_for "$p" >/dev/null || die "package $p was not downloaded (see $log)"
  done
fi

# ------------------------------------------------------------------ unpack --
# Unpack into a fresh directory next to OUT and swap it in at the end, so an
# interrupted run never leaves a half-built sysroot marked complete.
TMP=$(mktemp -d "$OUT.tmp.XXXXXX")
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT

versions=()
for p in "${PACKAGES[@]}"; do
  deb=$(deb_for "$p")
  dpkg-deb -x "$deb" "$TMP" || die "cannot unpack $deb"
  versions+=("$(basename "$deb" .deb)")
done

# Merged /usr: trixie ships everything below usr/, but the ELF interpreter is
# /lib/ld-linux-aarch64.so.1 and some scripts reference /lib/<triplet>.
for d in lib bin sbin; do
  if [[ ! -e $TMP/$d && ! -L $TMP/$d ]]; then
    mkdir -p "$TMP/usr/$d"
    ln -s "usr/$d" "$TMP/$d"
  fi
done
# An aarch64 binary linked with -mabi=lp64 never uses lib64, but keep the
# usual Debian layout so tools that probe it find ld.so.
if [[ -e $TMP/usr/lib64 && ! -e $TMP/lib64 ]]; then ln -s usr/lib64 "$TMP/lib64"; fi

# Rewrite absolute symlinks (libfoo.so -> /lib/<triplet>/libfoo.so.1) as
# relative links inside the sysroot.
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  [[ $target == /* ]] || continue
  rel=$(realpath -s -m --relative-to="$(dirname "$link")" "$TMP$target")
  ln -sfn "$rel" "$link"
done < <(find "$TMP" -type l -print0)

# Sanity checks: things the cross compiler and qemu need.
for f in "usr/lib/$TRIPLET/libc.so.6" "usr/lib/$TRIPLET/crt1.o" "usr/include/stdio.h" \
         "lib/ld-linux-aarch64.so.1" "usr/lib/$TRIPLET/libuv.so" "usr/lib/$TRIPLET/libmbedtls.so" \
         "usr/lib/$TRIPLET/libprotobuf-c.so" "usr/lib/$TRIPLET/libcjson.so" "usr/lib/$TRIPLET/libmdnsd.so" \
         "usr/lib/$TRIPLET/libsqlite3.so" "usr/lib/$TRIPLET/libgcc_s.so.1" "usr/lib/$TRIPLET/libcurl.so"; do
  [[ -e $TMP/$f ]] || die "sysroot is missing $f after unpacking"
done

{
  echo "$STAMP"
  printf '%s\n' "${versions[@]}"
} >"$TMP/.complete"

rm -rf "$OUT.old"
mv "$OUT" "$OUT.old"
mv "$TMP" "$OUT"
rm -rf "$OUT.old"
trap - EXIT
echo "sysroot.sh: Debian $SUITE $ARCH sysroot ready in $OUT" >&2
