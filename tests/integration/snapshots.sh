#!/usr/bin/env bash
# The master snapshots its state into DATA_DIR/snapshots/<UTC time>/: one at
# start and one every --snapshot-interval. Each is complete (a database
# that passes quick_check and holds what the master held, the CA files
# identical to the data dir's, private files 0600, the directory 0700), no
# temporary directory is left, and only the newest --snapshot-keep stay.
# --snapshot-interval 0 takes none; bad values are refused.
source "$(dirname "$0")/lib.sh"

master_cmd --data-dir "$WORK/x" --snapshot-interval soon
assert_eq 2 "$MCMD_RC" "exit code for --snapshot-interval soon"
assert_contains "$MCMD_ERR" "invalid --snapshot-interval 'soon': expected whole seconds" "error for a bad interval"
master_cmd --data-dir "$WORK/x" --snapshot-keep 0
assert_eq 2 "$MCMD_RC" "exit code for --snapshot-keep 0"
assert_contains "$MCMD_ERR" "invalid --snapshot-keep '0'" "error for keep 0"

start_master --snapshot-interval 1 --snapshot-keep 3
SNAPS=$MASTER_DIR/snapshots
TOKEN=$(create_token --ttl 1h --uses 2)
start_agent pi-1 --token "$TOKEN"
wait_for 10 node_is pi-1 Ready || fail "pi-1 not Ready within 10s: $(node_state pi-1)"

# Six written (one at start, five by the timer), three kept.
count_written() { grep -c "snapshots/.* written in" "$MASTER_LOG" || true; }
wait_for 15 eval '(($(count_written) >= 6))' ||
        fail "expected 6 snapshots written within 15s, the log has $(count_written)"
# Stopped, so that none is pruned while it is looked at.
stop_pid "$MASTER_PID" TERM 10
assert_eq 0 "$STOP_RC" "exit code of bramble-master after SIGTERM"
mapfile -t KEPT < <(ls "$SNAPS")
assert_eq 3 "${#KEPT[@]}" "snapshots kept with --snapshot-keep 3 (found: ${KEPT[*]})"
assert_eq 700 "$(file_mode "$SNAPS")" "mode of $SNAPS"
newest=$(grep -o "snapshots/[0-9TZ]* written" "$MASTER_LOG" | tail -1 | cut -d/ -f2 | cut -d' ' -f1)
[[ " ${KEPT[*]} " == *" $newest "* ]] || fail "the newest snapshot in the log, $newest, is not among those kept: ${KEPT[*]}"
for s in "${KEPT[@]}"; do
        [[ "$s" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || fail "snapshot name '$s' is not YYYYMMDDTHHMMSSZ"
        d=$SNAPS/$s
        assert_eq 700 "$(file_mode "$d")" "mode of $d"
        assert_eq ok "$(sqlite_query "$d/bramble.db" "PRAGMA quick_check")" "quick_check of $d/bramble.db"
        for f in ca.key ca.crt admin.json join-token; do
                [[ -f "$d/$f" ]] || fail "$d has no $f"
                assert_eq "$(sha256_of "$MASTER_DIR/$f")" "$(sha256_of "$d/$f")" "sha256 of $d/$f against the data dir's"
        done
        for f in bramble.db ca.key admin.json join-token; do
                assert_eq 600 "$(file_mode "$d/$f")" "mode of $d/$f"
        done
done
# The node joined before the newest, so the newest holds it and the token's use.
assert_eq "pi-1" "$(sqlite_query "$SNAPS/$newest/bramble.db" "SELECT name FROM nodes")" "nodes in the newest snapshot"
assert_eq "1" "$(sqlite_query "$SNAPS/$newest/bramble.db" "SELECT uses FROM tokens WHERE id='$(token_id "$TOKEN")'")" \
        "uses of the token in the newest snapshot"
leftover=$(find "$SNAPS" -mindepth 1 -maxdepth 1 -name '.*')
assert_eq "" "$leftover" "temporary directories left in $SNAPS"
ms=$(grep -o "written in [0-9]* ms" "$MASTER_LOG" | awk '{print $3}' | sort -n | tail -1)
log "longest snapshot: $ms ms"

# A directory that looks like a temporary snapshot (a master killed while
# writing one) goes at the next start; a complete one stays.
mkdir "$SNAPS/.tmp-20200101T000000Z"
echo half >"$SNAPS/.tmp-20200101T000000Z/bramble.db"
start_master --snapshot-interval 0
[[ ! -e "$SNAPS/.tmp-20200101T000000Z" ]] || fail "the leftover temporary snapshot was not removed at start"
assert_file_contains "$MASTER_LOG" "removed $SNAPS/.tmp-20200101T000000Z, an incomplete snapshot" "master log"
# --snapshot-interval 0: none at start, none later.
sleep 1.5
mapfile -t AFTER < <(ls "$SNAPS")
assert_eq "${KEPT[*]}" "${AFTER[*]}" "snapshots after a start with --snapshot-interval 0"
assert_file_lacks "$MASTER_LOG" "written in" "log of the master with --snapshot-interval 0"

# The database damaged under a running master: its snapshots fail and say
# so, no half or bad copy appears, and none of the good ones is pruned to
# make room.
stop_pid "${AGENT_PID[pi-1]}" TERM 10
stop_pid "$MASTER_PID" TERM 10
start_master --snapshot-interval 1 --snapshot-keep 3
mapfile -t GOOD < <(ls "$SNAPS")
assert_eq 3 "${#GOOD[@]}" "snapshots before the damage"
pages=$(($(stat -c %s "$MASTER_DIR/bramble.db") / 4096))
dd if=/dev/urandom of="$MASTER_DIR/bramble.db" bs=4096 seek=1 count=$((pages - 1)) conv=notrunc status=none
wait_for 5 log_has "$MASTER_LOG" "snapshot: snapshot failed, the previous ones are kept: " ||
        fail "no failed snapshot reported within 5s of damaging the database"
assert_file_contains "$MASTER_LOG" "stored data damaged" "master log (why the snapshot failed)"
assert_file_contains "$MASTER_LOG" "is damaged: stop the master and restore the newest snapshot (of 3) with: bramble-master --data-dir $MASTER_DIR --restore $SNAPS/${GOOD[2]}" "master log"
sleep 1.2
mapfile -t NOW < <(ls "$SNAPS")
assert_eq "${GOOD[*]}" "${NOW[*]}" "snapshots after the database was damaged"
leftover=$(find "$SNAPS" -mindepth 1 -maxdepth 1 -name '.*')
assert_eq "" "$leftover" "temporary directories left in $SNAPS after failed snapshots"

pass
