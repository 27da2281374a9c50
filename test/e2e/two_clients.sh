#!/usr/bin/env bash
# Two mounts of one cluster: close-to-open consistency (data, size and mtime written and closed on
# one client are seen by an open on the other), and an open file unlinked by the other client stays
# readable and writable until its last close, then is reclaimed.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2
A=$MNT
B=$(mount_again second)

log "close-to-open"
head -c 3000000 /dev/urandom >"$E2E_TMP/data"
cp "$E2E_TMP/data" "$A/shared"
cmp "$E2E_TMP/data" "$B/shared" || fail "client B does not read what client A wrote and closed"
touch -d "2022-02-02 02:02:02" "$A/shared"
echo tail >>"$A/shared"
sleep 1.2  # attribute caches last 1 s (attr_timeout): after that, B must see A's change
[[ $(stat -c %s "$B/shared") == 3000005 ]] || fail "client B sees size $(stat -c %s "$B/shared"), want 3000005"
[[ "$(tail -c 5 "$B/shared")" == tail ]] || fail "client B does not see the appended data"

log "open on A, unlinked on B"
inodes() { basalt status --dir "$CLUSTER" | sed -n 's/.*, \([0-9]*\) inodes,.*/\1/p'; }
before=$(inodes)
echo "still here" >"$A/doomed"
[[ $(inodes) == $((before + 1)) ]] || fail "creating a file did not add an inode ($before -> $(inodes))"
exec {fd}<>"$A/doomed"
rm "$B/doomed"
[[ ! -e "$B/doomed" ]] || fail "the name is still visible on B after rm"
sleep 1.2
[[ ! -e "$A/doomed" ]] || fail "the name is still visible on A after rm on B"
[[ "$(cat <&$fd)" == "still here" ]] || fail "the open file is not readable after unlink by another client"
echo "more" >&$fd
[[ $(inodes) == $((before + 1)) ]] || fail "the unlinked file was reclaimed while still open"
exec {fd}>&-
reclaimed() { [[ $(inodes) == "$before" ]]; }
wait_for 10 "the unlinked file to be reclaimed after its last close" reclaimed
log "ok"
