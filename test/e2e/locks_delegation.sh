#!/usr/bin/env bash
# Lock delegation (docs/meta.md): a mount alone on a file's locks decides them itself, and no other
# mount can tell. A lock loop on one mount takes one delegation (`basalt status` counts it); another
# mount's F_GETLK, F_SETLK and F_SETLKW recall it and see the delegated locks; data written on the
# delegate before the recall, through a descriptor still open, is what the next holder reads; a
# delegation survives a restart of basalt-meta; and a mount killed while holding one loses its
# locks when its lease expires (2 s here).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lockers.bash"
start_cluster --chunks 1 --replicas 1 --session-lease-ms 2000
A=$MNT
B=$(mount_again second)
echo data >"$A/f"
echo data >"$A/g"
echo data >"$A/h"

status() { "$BIN/basalt" status --dir "$CLUSTER" 2>&1; }

log "a lock loop on one mount: decided there, under one delegation"
"$PY" - "$A/f" <<'PY' || fail "the lock loop failed"
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for i in range(3000):
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 4096, (i % 256) * 4096)
    fcntl.lockf(fd, fcntl.LOCK_UN, 4096, (i % 256) * 4096)
PY
status | grep -q "1 delegated to mounts; 1 delegations granted, 0 recalled" || { status; fail "no delegation after the lock loop"; }

log "another mount sees the delegated locks: F_GETLK and F_SETLK recall the delegation"
locker a "$A/f"
tell a set w 0 100
answer_is a "set w 0 100 -> OK"
locker b "$B/f"
tell b get w 0 10
answer_is b "get w 0 10 -> w 0 100 pid=${LOCKER_PID[a]}"
status | grep -q "1 inodes decided here, 0 delegated to mounts; 1 delegations granted, 1 recalled" ||
  { status; fail "the delegation was not recalled"; }
tell b set w 50 10
answer_is b "set w 50 10 -> EAGAIN"
tell b set w 100 10
answer_is b "set w 100 10 -> OK"
tell a set u 0 0
answer_is a "set u 0 0 -> OK"
tell b set u 0 0
answer_is b "set u 0 0 -> OK"

log "what the delegate wrote before the recall (its descriptor still open) is what the next holder reads"
"$PY" - "$A/g" "$E2E_TMP/writer.ready" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"written under a delegated lock\n")
open(sys.argv[2], "w").close()
time.sleep(30)  # keeps the descriptor open: no close, no flush
PY
writer=$!
E2E_EXTRA_PIDS+=("$writer")
wait_for 10 "the writer to write" test -e "$E2E_TMP/writer.ready"
locker c "$A/g"
tell c set w 0 0
answer_is c "set w 0 0 -> OK"
status | grep -q "1 delegated to mounts; 2 delegations granted" || { status; fail "g was not delegated"; }
tell c set u 0 0
answer_is c "set u 0 0 -> OK"
locker d "$B/g"
tell d wait w 0 0
answer_is d "wait w 0 0 -> OK"
got=$(cat "$B/g")
[[ "$got" == "written under a delegated lock" ]] || fail "the next holder read '$got'"
kill "$writer" 2>/dev/null || true
tell d set u 0 0
answer_is d "set u 0 0 -> OK"

log "a delegation survives a restart of basalt-meta"
locker e "$A/h"
tell e set w 0 0
answer_is e "set w 0 0 -> OK"
status | grep -q "1 delegated to mounts" || { status; fail "h was not delegated"; }
meta=$(pid_of meta)
kill -TERM "$meta"
wait_for 20 "basalt-meta to stop" bash -c "! kill -0 $meta 2>/dev/null"
"$BIN/basalt" up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting basalt-meta"
status | grep -q "1 delegated to mounts" || { status; fail "the restarted server forgot the delegation"; }
locker f "$B/h"
tell f set w 0 0
answer_is f "set w 0 0 -> EAGAIN" 20

log "a mount killed while it holds a delegation: its locks go with its lease"
tell f wait w 0 0
tell e set w 0 0  # still decided (and held) on A
answer_is e "set w 0 0 -> OK"
killed_at=$SECONDS
kill -9 "$(mount_pid "$A")"
answer_is f "wait w 0 0 -> OK" 15
log "granted $((SECONDS - killed_at)) s after the kill"
for n in b d f; do tell $n quit; done
log "ok"
