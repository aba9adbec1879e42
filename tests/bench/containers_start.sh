#!/usr/bin/env bash
# Container supervision benchmark: time from brm_supervisor_apply to the
# container's process running (its exec done), beside 'runc run --detach' of
# the same bundle in the same run (alternating which goes first), and the
# agent's own share (apply -> shim running). Target: agent overhead under 5 ms.
# Prints figures, asserts nothing. Needs root and runc, like tests/containers.
#
#   tests/bench/containers_start.sh [N]
#
# Environment: BRM_BIN (default build/host/bin) holds supervise and bramble-shim.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRM_BIN=${BRM_BIN:-$here/../../build/host/bin}
[[ -x $BRM_BIN/supervise && -x $BRM_BIN/bramble-shim ]] || {
        echo "containers_start.sh: $BRM_BIN has no supervise/bramble-shim: build first (cmake --build build/host)" >&2
        exit 2
}
export BRM_BIN
exec "$BRM_BIN/supervise" bench-start "${1:-20}" 2> >(grep -v ' info ' >&2)
