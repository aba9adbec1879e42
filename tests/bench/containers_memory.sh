#!/usr/bin/env bash
# Container supervision benchmark: resident memory of an agent loop supervising N
# containers (default 20) against the same loop with none, per container,
# and what each bramble-shim costs (VmRSS, Pss, Private_Dirty).
# Target: under 64 KiB per supervised container.
# Prints figures, asserts nothing. Needs root and runc, like tests/containers.
#
#   tests/bench/containers_memory.sh [N]
#
# Environment: BRM_BIN (default build/host/bin) holds supervise and bramble-shim.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
[[ -x $BRM_BIN/supervise && -x $BRM_BIN/bramble-shim ]] || {
        echo "containers_memory.sh: $BRM_BIN has no supervise/bramble-shim: build first (cmake --build build/host)" >&2
        exit 2
}
export BRM_BIN
exec "$BRM_BIN/supervise" bench-memory "${1:-20}" 2> >(grep -v ' info ' >&2)
