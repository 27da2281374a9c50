#!/usr/bin/env bash
# Many new files written with write-behind: the writes to a new file's first chunk are in flight
# together, so several ask for its layout at once. Each chunk must get exactly one first primary:
# before the fix, a second appointment raced the first and bumped versions over and over (seen as
# "assigned as primary (was vN)" in the chunk logs, and once as a chunk whose primary forwarded at
# an old version forever, failing every write with EIO). Also: everything reads back exactly.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2

log "tar of /usr/include/linux into the mount"
mkdir "$MNT/u"
tar -C /usr/include/linux -cf - . | tar -C "$MNT/u" -xf - || fail "tar extraction into the mount failed"
diff -r /usr/include/linux "$MNT/u" >/dev/null || fail "the extracted tree differs from the source"
reassigned=$(cat "$CLUSTER"/logs/chunk*.log | grep -c "assigned as primary (was v" || true)
(( reassigned == 0 )) || fail "$reassigned new chunks got a second primary appointment while their first writes were in flight"
log "ok ($(find "$MNT/u" -type f | wc -l) files, no chunk appointed twice)"
