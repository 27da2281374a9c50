#!/usr/bin/env bash
# Three metadata servers replicate their state (Raft over the command log): kill -9 of the leader
# in the middle of a create+write+fsync workload loses no acknowledged file and the workload goes
# on without an error; the killed server comes back and catches up; a server whose data dir was
# wiped is rebuilt from a snapshot and then carries the cluster through another failover; the
# whole cluster stops and starts again with everything there.
source "$(dirname "$0")/lib.sh"
start_cluster --metas 3 --chunks 3 --replicas 2

status() { basalt status --dir "$CLUSTER" 2>&1 || true; }
# The node number of the leader, from `basalt status` ("  #N HOST:PORT  leader ...").
leader() { status | sed -n 's/^  #\([0-9]*\) [^ ]*  leader .*/\1/p' | head -n 1; }
# Every listed server's log ends at the same entry (three lines, one distinct value).
caught_up() {
  local ends
  ends=$(status | sed -n 's/^  #[0-9]* [^ ]*  [a-z]*  log to entry \([0-9]*\),.*/\1/p')
  [[ $(wc -l <<<"$ends") -eq 3 && $(sort -u <<<"$ends" | wc -l) -eq 1 ]]
}

wait_for 30 "a leader" bash -c "[[ -n \$(basalt status --dir '$CLUSTER' 2>&1 | grep '  leader ') ]]"
check "status lists three metadata servers" bash -c "[[ \$(basalt status --dir '$CLUSTER' | grep -c '^  #[0-9]* 127') -ge 3 ]]"

# The workload: create, write, fsync, close files one after the other; a file is listed in the
# acknowledgement log only after close returned. Any error ends it and is written to ERRORS.
ACKS=$E2E_TMP/acks
ERRORS=$E2E_TMP/errors
STOP=$E2E_TMP/stop
: >"$ACKS"
start_workload() {
  rm -f "$STOP"
  "$PY" - "$MNT/work" "$ACKS" "$ERRORS" "$STOP" "$1" <<'EOF' &
import os, sys, time
d, acks, errors, stop, prefix = sys.argv[1:6]
os.makedirs(d, exist_ok=True)
slowest = 0.0
i = 0
with open(acks, "a") as log:
    while not os.path.exists(stop) and i < 100000:
        name = os.path.join(d, "%s%05d" % (prefix, i))
        t = time.monotonic()
        try:
            fd = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
            os.write(fd, (name + "\n").encode() * 10)
            os.fsync(fd)
            os.close(fd)
        except OSError as e:
            open(errors, "a").write("%s: %s\n" % (name, e))
            break
        slowest = max(slowest, time.monotonic() - t)
        log.write(name + "\n")
        log.flush()
        i += 1
print("workload %s: %d files, slowest %.2f s" % (prefix, i, slowest), flush=True)
EOF
  WORKLOAD=$!
  E2E_EXTRA_PIDS+=("$WORKLOAD")
}
acked() { wc -l <"$ACKS"; }
# Waits until the workload acknowledged `n` more files than now (or failed).
progresses() {
  local want=$(($(acked) + $1))
  wait_for "$2" "the workload to acknowledge $1 more files" \
    bash -c "[[ \$(wc -l <'$ACKS') -ge $want || -s '$ERRORS' ]]"
  [[ ! -s "$ERRORS" ]] || fail "the workload saw errors: $(cat "$ERRORS")"
}
stop_workload() {
  touch "$STOP"
  wait "$WORKLOAD" || fail "the workload failed"
  [[ ! -s "$ERRORS" ]] || fail "the workload saw errors: $(cat "$ERRORS")"
}
# Every acknowledged file is there with its content, read through a fresh mount (no cache).
verify_acked() {
  local m
  m=$(mount_again "verify$1")
  "$PY" - "$ACKS" "$MNT" "$m" <<'EOF' || fail "acknowledged files are missing or wrong"
import sys
acks, mnt, other = sys.argv[1:4]
names = [l.strip() for l in open(acks) if l.strip()]
bad = 0
for n in names:
    want = (n + "\n").encode() * 10
    try:
        got = open(n.replace(mnt, other, 1), "rb").read()
    except OSError as e:
        got = str(e).encode()
    if got != want:
        bad += 1
        if bad < 5: print("bad:", n, got[:80])
print("%d acknowledged files checked, %d bad" % (len(names), bad))
sys.exit(1 if bad else 0)
EOF
  fusermount3 -u "$m"
}
kill_leader() {
  local n pid
  n=$(leader)
  [[ -n "$n" ]] || fail "no leader to kill"
  pid=$(pid_of "meta$n")
  log "kill -9 of the leader, meta$n (pid $pid), after $(acked) files"
  kill -KILL "$pid"
  KILLED=$n
}

log "1. failover under load"
start_workload a
progresses 20 30
kill_leader
progresses 30 60     # the new leader carries the workload on
new=$(leader)
[[ -n "$new" && "$new" != "$KILLED" ]] || fail "no new leader after killing meta$KILLED"
log "meta$new leads now"
stop_workload
verify_acked 1

log "2. the killed server comes back and catches up"
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting meta$KILLED"
wait_for 30 "all three logs to end at the same entry" caught_up

log "3. a wiped server is rebuilt from a snapshot"
victim=$(( new % 3 + 1 ))
[[ "$victim" != "$new" ]] || victim=$(( victim % 3 + 1 ))
kill -KILL "$(pid_of "meta$victim")"
rm -rf "$CLUSTER/meta$victim"
start_workload b
progresses 30 60
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting meta$victim"
wait_for 60 "the wiped server to catch up" caught_up
grep -q "snapshot of .* bytes sent" "$CLUSTER"/logs/meta*.log || fail "no snapshot was sent"

log "4. failover again, now relying on the rebuilt server"
kill_leader
progresses 30 60
stop_workload
verify_acked 2
log "5. the whole cluster stops and starts again: the metadata servers elect anew, nothing is lost"
basalt down --dir "$CLUSTER" >"$E2E_TMP/down.log" 2>&1 || { cat "$E2E_TMP/down.log"; fail "basalt down"; }
start_cluster
wait_for 30 "a leader after the restart" bash -c "[[ -n \$(basalt status --dir '$CLUSTER' 2>&1 | grep '  leader ') ]]"
verify_acked 3
log "ok: $(acked) acknowledged files, none lost, no errors"
