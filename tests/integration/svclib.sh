# Helpers for the services tests (sourced after lib.sh).

# svc_cluster N: skips unless containers can run here; makes $ROOTFS (a
# busybox root file system), starts a master and nodes pi-1..pi-N, each
# agent in a memory cgroup of its own, and waits until they are Ready.
# Sets NODES.
svc_cluster() {
        local n
        need_containers
        ROOTFS=$WORK/rootfs
        busybox_rootfs "$ROOTFS"
        BRM_OWN_CGROUP=1
        start_master
        TOKEN=$(create_token --ttl 1h --uses "$1")
        NODES=()
        for ((n = 1; n <= $1; n++)); do
                NODES+=("pi-$n")
                start_agent "pi-$n" --token "$TOKEN"
        done
        wait_for 10 all_in_state Ready "${NODES[@]}" || fail "setup: nodes not Ready: $(states "${NODES[@]}")"
}

# svc_q SERVICE EXPR: sets Q to EXPR evaluated on 'bramble -o json service
# inspect SERVICE' (bound to d: the service, with d['replicas']).
svc_q() {
        cli_json "$2" -o json service inspect "$1"
}

# placement SERVICE: "web.1=pi-1 web.2=pi-3", the running replicas and
# their nodes, by name.
placement() {
        svc_q "$1" "' '.join(sorted(r['name'] + '=' + r['node'] for r in d['replicas'] if r['state'] == 'running'))"
        printf '%s' "$Q"
}

# running_count SERVICE: how many of its replicas run, as the master sees it.
running_count() {
        svc_q "$1" "len([r for r in d['replicas'] if r['state'] == 'running'])"
        printf '%s' "$Q"
}

# wait_running SERVICE N SECONDS: until N replicas run; fails otherwise.
_n_running() { [[ $(running_count "$1") == "$2" ]]; }
wait_running() {
        wait_for "$3" _n_running "$1" "$2" ||
                fail "$1: expected $2 running replicas within $3 s, got $(placement "$1") ($(svc_dump "$1"))"
}

svc_dump() {
        cli -o json service inspect "$1"
        printf '%s' "$CLI_OUT${CLI_ERR:+ (stderr: $CLI_ERR)}" | tr -s ' \t\n' ' ' | cut -c1-3000
}

# runtime_running NODE PREFIX: the containers named PREFIX* that the OCI
# runtime runs for node NODE (its runtime root), by name.
runtime_running() {
        local root=$WORK/agents/$1/runtime rt out=
        for rt in runc crun; do
                command -v "$rt" >/dev/null || continue
                [[ -d "$root" ]] || continue
                out+=$("$rt" --root "$root" list -f json 2>/dev/null | python3 -c '
import json, sys
t = sys.stdin.read().strip()
print(" ".join(sorted(c["id"] for c in (json.loads(t) if t and t != "null" else [])
                      if c["id"].startswith(sys.argv[1]) and c["status"] == "running")))' "$2")
        done
        printf '%s' "$out"
}

# cluster_running PREFIX NODES...: "NODE:ID" of every running container
# named PREFIX* on the given nodes, as the runtimes see it.
cluster_running() {
        local prefix=$1 n id
        shift
        for n in "$@"; do
                for id in $(runtime_running "$n" "$prefix"); do
                        printf '%s:%s ' "$n" "$id"
                done
        done
}

# power_cut NODE: the node's agent, shims and containers die at once, as in
# a power cut: no connection is closed politely, nothing is told.
power_cut() {
        local name=$1 root=$WORK/agents/$1/runtime rt id
        kill -STOP "${AGENT_PID[$name]}" 2>/dev/null || true
        for rt in runc crun; do
                command -v "$rt" >/dev/null || continue
                for id in $("$rt" --root "$root" list -q 2>/dev/null); do
                        "$rt" --root "$root" kill -a "$id" KILL >/dev/null 2>&1 || true
                done
        done
        pkill -KILL -f "bramble-shim [^ ]+ $root " 2>/dev/null || true
        kill -KILL "${AGENT_PID[$name]}" 2>/dev/null || true
        reap "${AGENT_PID[$name]}"
}

# node_of SERVICE REPLICA: the node the master placed REPLICA on.
node_of() {
        svc_q "$1" "[r['node'] for r in d['replicas'] if r['name'] == '$2'][0]"
        printf '%s' "$Q"
}

# none_running PREFIX NODES...: true when no container named PREFIX* runs there.
none_running() {
        [[ -z "$(cluster_running "$@")" ]]
}
