#!/usr/bin/env bash
# Locks of a mount that dies or is cut off go when its session lease expires (2 s here): a waiter on
# another mount is then granted the lock. A mount that comes back after its lease expired does not
# keep the locks it lost: its next lock call on that file fails (ENOLCK) and its log says why.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lockers.bash"
start_cluster --chunks 1 --replicas 1 --session-lease-ms 2000
A=$MNT
B=$(mount_again second)
C=$(mount_again third)
echo data >"$A/f"
echo data >"$A/g"

log "kill -9 of the holder's basalt-mount: the waiter is granted when the lease expires"
locker a "$A/f"
locker b "$B/f"
tell a set w 0 0
answer_is a "set w 0 0 -> OK"
tell b wait w 0 0
sleep 0.5
pending b "wait w 0 0"
killed_at=$SECONDS
kill -9 "$(mount_pid "$A")"
answer_is b "wait w 0 0 -> OK" 15
log "granted $((SECONDS - killed_at)) s after the kill (lease 2 s)"
grep -q "lease expired" "$CLUSTER/logs/meta.log" || fail "the metadata server did not log the lease expiry"
grep -q "released its locks on 1 inodes" "$CLUSTER/logs/meta.log" || fail "the metadata server did not log the release"
kill -9 "${LOCKER_PID[a]}" 2>/dev/null || true

log "a mount frozen past its lease loses its locks, and its next lock call says so"
locker c "$C/g"
locker d "$B/g"
tell c set w 0 10
answer_is c "set w 0 10 -> OK"
tell d wait w 0 10
sleep 0.5
pending d "wait w 0 10"
kill -STOP "$(mount_pid "$C")"
answer_is d "wait w 0 10 -> OK" 15
kill -CONT "$(mount_pid "$C")"
tell c set w 20 10
answer_is c "set w 20 10 -> ENOLCK" 20
tell c set w 40 10
answer_is c "set w 40 10 -> ENOLCK" 20  # until the file is closed
grep -q "ENOLCK" "$(mount_log "$C")" || fail "the mount that lost its locks did not log why"
# d still holds the lock the frozen mount lost.
tell c get w 0 10
answer_is c "get w 0 10 -> ENOLCK"
tell c close
tell c reopen
answer_is c "reopen -> OK"
tell c set w 0 1
answer_is c "set w 0 1 -> EAGAIN"
tell c get w 0 1
answer_is c "get w 0 1 -> w 0 10 pid=${LOCKER_PID[d]}"
grep -h "ENOLCK" "$(mount_log "$C")" | head -2
for n in b c d; do tell $n quit; done
log "ok"
