#!/usr/bin/env bash
# A damaged database stops the master with one line that names the file,
# says it is damaged and gives the --restore command for the newest
# snapshot: for pages overwritten with garbage (header intact), for a
# truncated file and for an empty one; likewise a truncated ca.crt. After
# --restore of that snapshot the master starts, the node that joined
# before the snapshot comes back Ready with its own certificate (no new
# join), and a token made before the snapshot still admits a new node. The
# replaced files are kept, not deleted.
source "$(dirname "$0")/lib.sh"

start_master --snapshot-interval 1 --snapshot-keep 5
SNAPS=$MASTER_DIR/snapshots
CA_SUM=$(sha256_of "$MASTER_DIR/ca.crt")
TOKEN=$(create_token --ttl 1h --uses 1)
start_agent pi-1 --token "$TOKEN"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10s: $(node_state pi-1)"
TOKEN2=$(create_token --ttl 1h --uses 1)
TID2=$(token_id "$TOKEN2")
# A snapshot that holds both.
count_written() { grep -c "snapshots/.* written in" "$MASTER_LOG" || true; }
n0=$(count_written)
wait_for 10 eval '(($(count_written) >= n0 + 2))' || fail "no snapshot written within 10s after the join"
stop_pid "$MASTER_PID" TERM 10
assert_eq 0 "$STOP_RC" "exit code of bramble-master after SIGTERM"
NEWEST=$(ls "$SNAPS" | tail -1)
assert_eq "pi-1" "$(sqlite_query "$SNAPS/$NEWEST/bramble.db" "SELECT name FROM nodes")" "nodes in $NEWEST"

DB=$MASTER_DIR/bramble.db
GOOD=$WORK/good.db
cp "$DB" "$GOOD"
pages=$(($(stat -c %s "$DB") / 4096))
((pages >= 3)) || fail "bramble.db has only $pages pages; the test needs 3"
HINT="bramble-master --data-dir $MASTER_DIR --restore $SNAPS/$NEWEST"

refused_start() { # WHAT NEEDLE
        master_cmd --data-dir "$MASTER_DIR" --listen "127.0.0.1:$MASTER_PORT"
        assert_eq 1 "$MCMD_RC" "exit code of a start with $1"
        assert_contains "$MCMD_ERR" "$2" "error for $1"
        assert_contains "$MCMD_ERR" "$HINT" "error for $1 (the restore command for the newest snapshot)"
        assert_eq 1 "$(printf '%s\n' "$MCMD_ERR" | wc -l)" "lines of the error for $1: $MCMD_ERR"
        log "$1: $MCMD_ERR"
}

# Every page after the first (the header) overwritten with garbage.
dd if=/dev/urandom of="$DB" bs=4096 seek=1 count=$((pages - 1)) conv=notrunc status=none
refused_start "garbage pages" "database $DB is damaged (quick_check: "
cp "$GOOD" "$DB"
truncate -s $((pages / 2 * 4096 + 100)) "$DB"
refused_start "a truncated database" "database $DB is damaged (quick_check: "
: >"$DB"
refused_start "an empty database" "database $DB is empty but the cluster CA in $MASTER_DIR exists"
cp "$GOOD" "$DB"
cp "$MASTER_DIR/ca.crt" "$WORK/ca.crt"
head -c 300 "$WORK/ca.crt" >"$MASTER_DIR/ca.crt"
refused_start "a truncated ca.crt" "cluster CA unusable: $MASTER_DIR/ca.crt: not a valid PEM certificate (300 bytes: truncated or damaged)"
rm "$MASTER_DIR/ca.crt"
refused_start "a missing ca.crt" "cluster CA unusable: $MASTER_DIR/ca.crt is missing but $MASTER_DIR/ca.key exists"
[[ ! -e "$MASTER_DIR/ca.crt" ]] || fail "a refused start wrote $MASTER_DIR/ca.crt"
head -c 300 "$WORK/ca.crt" >"$MASTER_DIR/ca.crt"

# Damaged again (garbage), then restored.
dd if=/dev/urandom of="$DB" bs=4096 seek=1 count=$((pages - 1)) conv=notrunc status=none
DAMAGED_SUM=$(sha256_of "$DB")
master_cmd --data-dir "$MASTER_DIR" --restore "$SNAPS/$NEWEST"
assert_eq 0 "$MCMD_RC" "exit code of --restore (stderr: $MCMD_ERR)"
assert_contains "$MCMD_OUT" "restored $MASTER_DIR from the snapshot $SNAPS/$NEWEST (bramble.db, ca.key, ca.crt, admin.json, join-token)" "--restore output"
ASIDE=$(ls -d "$MASTER_DIR"/before-restore-*)
assert_contains "$MCMD_OUT" "the state it replaced is kept in $ASIDE" "--restore output"
assert_eq "$DAMAGED_SUM" "$(sha256_of "$ASIDE/bramble.db")" "sha256 of the damaged database kept in $ASIDE"
assert_eq 300 "$(stat -c %s "$ASIDE/ca.crt")" "size of the truncated ca.crt kept in $ASIDE"
assert_eq "$CA_SUM" "$(sha256_of "$MASTER_DIR/ca.crt")" "sha256 of the restored ca.crt"
assert_eq 600 "$(file_mode "$MASTER_DIR/ca.key")" "mode of the restored ca.key"
assert_eq 700 "$(file_mode "$ASIDE")" "mode of $ASIDE"
[[ ! -e "$MASTER_DIR/.restore-tmp" && ! -e "$MASTER_DIR/restore-in-progress" ]] ||
        fail "--restore left its stage or marker in $MASTER_DIR"

start_master --snapshot-interval 0
assert_file_contains "$MASTER_LOG" "(1 nodes known" "log of the master after the restore"
assert_file_lacks "$MASTER_OUT" "created a new cluster" "stdout of the master after the restore"
wait_for 20 node_is pi-1 Ready || fail "pi-1 not Ready within 20s of the restored master's start: $(node_state pi-1)"
c=$(grep -c "joined the cluster" "${AGENT_LOG[pi-1]}" || true)
assert_eq 1 "$c" "'joined the cluster' lines in the log of pi-1 (it must come back with its certificate)"
token_field "$TID2" "[t['uses'], t['revoked']]"
assert_eq "[0, false]" "$Q" "token $TID2 [uses, revoked] after the restore"
start_agent pi-2 --token "$TOKEN2"
wait_for 10 node_is pi-2 Ready || fail "pi-2 (joining with a token from before the snapshot) not Ready: $(node_state pi-2)"

pass
