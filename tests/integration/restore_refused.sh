#!/usr/bin/env bash
# --restore refuses, with one line that says why, and changes nothing in
# the data dir: while a master runs on it; for a path that does not exist
# or is not a directory; for a snapshot whose database is damaged, whose
# ca.key is missing, whose ca.crt is truncated, or whose key belongs to
# another CA. A master does not start on a data dir whose restore was
# interrupted.
source "$(dirname "$0")/lib.sh"

start_master
SNAPS=$MASTER_DIR/snapshots
NEWEST=$(ls "$SNAPS" | tail -1)
[[ -n "$NEWEST" ]] || fail "no snapshot at start in $SNAPS"

master_cmd --data-dir "$MASTER_DIR" --restore "$SNAPS/$NEWEST"
assert_eq 1 "$MCMD_RC" "exit code of --restore while the master runs"
assert_contains "$MCMD_ERR" "$MASTER_DIR is in use by a running bramble-master (pid $MASTER_PID): stop it before --restore" \
        "error of --restore while the master runs"
master_cmd --data-dir "$MASTER_DIR" --listen "127.0.0.1:$(free_port)"
assert_eq 1 "$MCMD_RC" "exit code of a second master on the same data dir"
assert_contains "$MCMD_ERR" "is in use by a running bramble-master (pid $MASTER_PID)" "error of a second master"
stop_pid "$MASTER_PID" TERM 10

# Everything in the data dir except the lock, with its checksum.
manifest() {
        (cd "$MASTER_DIR" && find . -type f ! -name master.lock -print0 | sort -z | xargs -0 sha256sum)
}
BEFORE=$(manifest)

refused() { # WHAT SNAPSHOT NEEDLE
        master_cmd --data-dir "$MASTER_DIR" --restore "$2"
        assert_eq 1 "$MCMD_RC" "exit code of --restore with $1"
        assert_contains "$MCMD_ERR" "bramble-master: --restore $2: $3" "error of --restore with $1"
        assert_contains "$MCMD_ERR" "; nothing was changed" "error of --restore with $1"
        assert_eq 1 "$(printf '%s\n' "$MCMD_ERR" | wc -l)" "lines of the error for $1: $MCMD_ERR"
        assert_eq "$BEFORE" "$(manifest)" "data dir after the refused --restore with $1"
        log "$1: $MCMD_ERR"
}

refused "a missing path" "$WORK/nope" "No such file or directory: expected a snapshot directory such as $MASTER_DIR/snapshots/<newest>"
refused "a file" "$MASTER_DIR/ca.crt" "not a directory"
refused "the data dir" "$MASTER_DIR" "that is the data dir itself"
mkdir "$WORK/empty"
refused "an empty directory" "$WORK/empty" "$WORK/empty holds no bramble.db: not a snapshot"

bad() { # NAME: a copy of the newest snapshot to spoil
        rm -rf "$WORK/$1"
        cp -a "$SNAPS/$NEWEST" "$WORK/$1"
        echo "$WORK/$1"
}
d=$(bad garbage)
dd if=/dev/urandom of="$d/bramble.db" bs=4096 seek=1 count=2 conv=notrunc status=none
refused "a damaged database" "$d" "the snapshot's database $d/bramble.db is damaged too (quick_check: "
d=$(bad truncated)
truncate -s 5000 "$d/bramble.db"
refused "a truncated database" "$d" "the snapshot's database $d/bramble.db is damaged too"
d=$(bad nokey)
rm "$d/ca.key"
refused "no ca.key" "$d" "the snapshot's CA is unusable: $d/ca.key is missing but $d/ca.crt exists"
d=$(bad shortcrt)
head -c 200 "$SNAPS/$NEWEST/ca.crt" >"$d/ca.crt"
refused "a truncated ca.crt" "$d" "the snapshot's CA is unusable: $d/ca.crt: not a valid PEM certificate (200 bytes"
# Another cluster's key beside this cluster's certificate.
launch_master other "$WORK/other" "$(free_port)" --snapshot-interval 0 || fail "the other master did not start"
stop_pid "$LAUNCH_PID" TERM 10
d=$(bad otherkey)
cp "$WORK/other/ca.key" "$d/ca.key"
refused "another CA's key" "$d" "the snapshot's CA is unusable: $d/ca.key does not belong to $d/ca.crt"

# An interrupted restore keeps the master from starting.
echo "$SNAPS/$NEWEST" >"$MASTER_DIR/restore-in-progress"
master_cmd --data-dir "$MASTER_DIR" --listen "127.0.0.1:$(free_port)"
assert_eq 1 "$MCMD_RC" "exit code of a start after an interrupted restore"
assert_contains "$MCMD_ERR" "$MASTER_DIR/restore-in-progress: a restore into $MASTER_DIR was interrupted" "error of that start"
# Running it again completes it (by the snapshot's name).
master_cmd --data-dir "$MASTER_DIR" --restore "$NEWEST"
assert_eq 0 "$MCMD_RC" "exit code of --restore $NEWEST (stderr: $MCMD_ERR)"
[[ ! -e "$MASTER_DIR/restore-in-progress" ]] || fail "--restore left the marker"
start_master --snapshot-interval 0
cli_ok nodes >/dev/null

pass
