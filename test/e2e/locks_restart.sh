#!/usr/bin/env bash
# Lock state is part of the metadata server's durable state: a restart of basalt-meta keeps the
# locks of the mounts that come back, and a blocked F_SETLKW survives it (the mount re-sends the
# wait on its resumed session) and is granted when the holder unlocks afterwards.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lockers.bash"
start_cluster --chunks 1 --replicas 1
A=$MNT
B=$(mount_again second)
echo data >"$A/f"
locker a "$A/f"
locker b "$B/f"
locker c "$B/f"   # probes while b is blocked
tell a set w 0 100
answer_is a "set w 0 100 -> OK"
tell a set r 200 0
answer_is a "set r 200 0 -> OK"
tell b wait w 50 1
sleep 0.5
pending b "wait w 50 1"

log "restart basalt-meta"
meta=$(pid_of meta)
kill -TERM "$meta"
wait_for 20 "basalt-meta to stop" bash -c "! kill -0 $meta 2>/dev/null"
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting basalt-meta"
grep -q "1 inodes with locks" "$CLUSTER/logs/meta.log" || fail "the restarted server did not restore the locks"

tell c set r 10 1
answer_is c "set r 10 1 -> EAGAIN" 30   # a's write lock survived
tell c set w 300 1
answer_is c "set w 300 1 -> EAGAIN"     # and its read lock to EOF
tell c get w 0 0
answer_is c "get w 0 0 -> w 0 100 pid=${LOCKER_PID[a]}"
pending b "wait w 50 1"
tell a set u 0 100
answer_is a "set u 0 100 -> OK"
answer_is b "wait w 50 1 -> OK" 30
grep -q "session .* resumed" "$CLUSTER/logs/meta.log" || fail "the mounts did not resume their sessions"
for n in a b c; do tell $n quit; done
log "ok"
