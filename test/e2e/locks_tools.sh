#!/usr/bin/env bash
# Applications that coordinate through locks, one per mount: flock(1) around a read-modify-write
# of a shared counter from shell loops, and two sqlite3 processes inserting 1,000 rows each (one
# transaction per row, default rollback journal) into one database.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 1 --replicas 1
A=$MNT
B=$(mount_again second)

log "flock -x around a read-modify-write, 100 rounds on each mount"
echo 0 >"$A/counter"
bump() {
  local m=$1
  for _ in $(seq 100); do
    flock -x "$m/lockfile" -c "v=\$(cat '$m/counter'); echo \$((v + 1)) >'$m/counter'"
  done
}
touch "$A/lockfile"
start=$SECONDS
bump "$A" &
pa=$!
bump "$B" &
pb=$!
E2E_EXTRA_PIDS+=("$pa" "$pb")
timeout 120 bash -c "while kill -0 $pa 2>/dev/null || kill -0 $pb 2>/dev/null; do sleep 0.2; done" ||
  fail "the flock loops did not finish within 120 s"
wait "$pa" || fail "the flock loop on mount A failed"
wait "$pb" || fail "the flock loop on mount B failed"
got=$(cat "$A/counter")
[[ "$got" == 200 ]] || fail "counter is $got after 2 x 100 locked increments, want 200 (lost updates)"
log "200 locked increments in $((SECONDS - start)) s"

log "flock -n fails while the other mount holds the lock"
flock -x "$A/lockfile" -c "flock -n -x '$B/lockfile' true" && fail "flock -n on B succeeded while A held the lock"

log "names another mount changed are seen right after a lock is granted (not after entry_timeout)"
echo old >"$A/j"
exec {keep}<"$A/j"        # the old inode stays alive (open) after its name is replaced
cat "$B/j" >/dev/null     # B caches the name j -> old inode for entry_timeout (1 s)
rm "$A/j"
echo new >"$A/j"
got=$("$PY" -c 'import fcntl, sys; l = open(sys.argv[1], "a"); fcntl.flock(l, fcntl.LOCK_EX); print(open(sys.argv[2]).read().strip())' "$B/lockfile" "$B/j")
exec {keep}<&-
[[ "$got" == new ]] || fail "after taking a lock, B read '$got' through its cached name, want 'new'"

log "two sqlite3 processes, one per mount, 1,000 single-row transactions each"
sqlite3 "$A/db" "PRAGMA journal_mode=DELETE; CREATE TABLE t (who TEXT, n INTEGER);" >/dev/null
insert() {
  local m=$1 who=$2
  {
    echo ".timeout 60000"
    echo ".log stderr"
    for i in $(seq 1000); do echo "INSERT INTO t VALUES ('$who', $i);"; done
  } | sqlite3 "$m/db"
}
start=$SECONDS
insert "$A" a >"$E2E_TMP/sqlite_a.log" 2>&1 &
pa=$!
insert "$B" b >"$E2E_TMP/sqlite_b.log" 2>&1 &
pb=$!
E2E_EXTRA_PIDS+=("$pa" "$pb")
timeout 400 bash -c "while kill -0 $pa 2>/dev/null || kill -0 $pb 2>/dev/null; do sleep 0.5; done" ||
  fail "the sqlite3 writers did not finish within 400 s"
wait "$pa" || { cat "$E2E_TMP/sqlite_a.log" >&2; fail "sqlite3 on mount A failed"; }
wait "$pb" || { cat "$E2E_TMP/sqlite_b.log" >&2; fail "sqlite3 on mount B failed"; }
[[ ! -s "$E2E_TMP/sqlite_a.log" && ! -s "$E2E_TMP/sqlite_b.log" ]] ||
  { cat "$E2E_TMP/sqlite_a.log" "$E2E_TMP/sqlite_b.log" >&2; fail "sqlite3 reported errors"; }
log "2,000 transactions in $((SECONDS - start)) s"
for m in "$A" "$B"; do
  [[ $(sqlite3 "$m/db" "SELECT count(*) FROM t;") == 2000 ]] ||
    fail "$m/db has $(sqlite3 "$m/db" "SELECT count(*) FROM t;") rows, want 2000"
  [[ $(sqlite3 "$m/db" "SELECT count(DISTINCT who || n) FROM t;") == 2000 ]] || fail "$m/db has duplicate rows"
  [[ $(sqlite3 "$m/db" "PRAGMA integrity_check;") == ok ]] || fail "$m/db: integrity_check: $(sqlite3 "$m/db" "PRAGMA integrity_check;")"
done
log "ok"
