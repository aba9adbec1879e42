#!/usr/bin/env bash
# The master's registry client (master/regpull.c, through regpull_driver)
# against skopeo, pulling the same image from the same registry in the
# same run: Debian's docker-registry on 127.0.0.1 with TLS and Basic auth,
# an image of one random-content layer (incompressible, so gzip does not
# shrink it) made with umoci. Prints MiB/s for both, from the image's
# stored bytes over wall time, and the regpull driver's longest loop
# stall. A benchmark: it prints figures and asserts nothing about them.
#
#   tests/bench/regpull_bench.sh [--mib N] [--runs N]   (default 100 MiB, 2 runs)
#
# Environment: BRM_BIN (host build bin dir, default build/host/bin),
# BRM_KEEP=1 keeps the work directory. Exits 77 when docker-registry,
# skopeo, umoci or htpasswd are missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_SRC=$(cd "$here/../.." && pwd)
BRM_BIN=${BRM_BIN:-$BRM_SRC/build/host/bin}
MIB=100
RUNS=2
while (($#)); do
        case $1 in
        --mib) MIB=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        *) echo "usage: $0 [--mib N] [--runs N]" >&2; exit 2 ;;
        esac
done
for t in docker-registry skopeo umoci htpasswd openssl python3; do
        command -v "$t" >/dev/null || { echo "SKIP: needs $t (scripts/bootstrap installs it)"; exit 77; }
done
DRIVER=$BRM_BIN/regpull_driver
[[ -x $DRIVER ]] || { echo "SKIP: no regpull_driver in $BRM_BIN"; exit 77; }

W=$(mktemp -d "${TMPDIR:-/tmp}/brm-regpull-bench.XXXXXX")
REG_PID=
cleanup() {
        local rc=$?
        if [[ -n $REG_PID ]]; then
                kill "$REG_PID" 2>/dev/null || true
                wait "$REG_PID" 2>/dev/null || true
        fi
        if [[ ${BRM_KEEP:-0} == 1 ]]; then echo "kept $W"; else rm -rf "$W"; fi
        exit $rc
}
trap cleanup EXIT
now() { date +%s.%N; }

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
mkdir -p "$W/pki" "$W/certs.d/$REG"
(
        cd "$W/pki"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
                -keyout ca.key -out ca.crt
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr
        printf 'subjectAltName=IP:127.0.0.1\n' >ext
        openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out srv.crt
) >/dev/null 2>&1
cp "$W/pki/ca.crt" "$W/certs.d/$REG/"
htpasswd -Bbn bench b3nch >"$W/htpasswd" 2>/dev/null
cat >"$W/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/registry
http:
  addr: $REG
  tls:
    certificate: $W/pki/srv.crt
    key: $W/pki/srv.key
auth:
  htpasswd:
    realm: bench
    path: $W/htpasswd
YML
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.1
done

t0=$(now)
umoci init --layout "$W/oci"
umoci new --image "$W/oci:big"
umoci unpack --image "$W/oci:big" "$W/bundle" >/dev/null
head -c $((MIB << 20)) /dev/urandom >"$W/bundle/rootfs/random"
umoci repack --image "$W/oci:big" "$W/bundle"
rm -rf "$W/bundle"
skopeo --insecure-policy copy -q --dest-cert-dir "$W/certs.d/$REG" --dest-creds bench:b3nch "oci:$W/oci:big" \
        "docker://$REG/bench/big:1"
t1=$(now)
bytes=$(du -sb "$W/oci/blobs" | cut -f1)
calc() { awk "BEGIN { print $1 }"; }
printf 'image: %d MiB random layer, %.1f MiB in blobs; made and pushed in %.1f s\n' "$MIB" \
        "$(calc "$bytes / 1048576")" "$(calc "$t1 - $t0")"

case $(uname -m) in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH=arm ;; esac
mibps() { calc "$1 / 1048576 / ($3 - $2)"; }
for run in $(seq "$RUNS"); do
        rm -rf "$W/data" "$W/skopeo"
        sync
        a=$(now)
        out=$("$DRIVER" "$W/data" "$REG/bench/big:1" --platform "linux/$ARCH" \
                --certs-dir "$W/certs.d" --user bench --password b3nch)
        b=$(now)
        got=$(du -sb "$W/data/images/blobs" | cut -f1)
        gap=$(sed -n 's/^loop_max_gap_ms //p' <<<"$out")
        grep -q '^ok ' <<<"$out" || { echo "regpull failed: $(grep '^error' <<<"$out")"; exit 1; }
        sync
        c=$(now)
        skopeo --insecure-policy copy -q --src-cert-dir "$W/certs.d/$REG" --src-creds bench:b3nch \
                "docker://$REG/bench/big:1" "oci:$W/skopeo:big"
        d=$(now)
        sgot=$(du -sb "$W/skopeo/blobs" | cut -f1)
        printf 'run %d: regpull %.1f MiB in %.2f s = %.0f MiB/s (longest loop stall %s ms); skopeo copy %.1f MiB in %.2f s = %.0f MiB/s\n' \
                "$run" "$(calc "$got / 1048576")" "$(calc "$b - $a")" "$(mibps "$got" "$a" "$b")" "$gap" \
                "$(calc "$sgot / 1048576")" "$(calc "$d - $c")" "$(mibps "$sgot" "$c" "$d")"
done
