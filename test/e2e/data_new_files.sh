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

# A create's reply carries the layout of the file's first chunk (its primary holds a lease), so
# the first write to a new file goes straight to the primary: the mount asks the metadata server
# for no layout. Before the fix, the first open of the new inode dropped that layout again and
# every new file cost a getLayout.
layouts() { basalt status --dir "$CLUSTER" | sed -n 's/.* \([0-9]*\) layouts$/\1/p'; }
before=$(layouts)
[[ -n "$before" ]] || fail "basalt status shows no layout count"
mkdir "$MNT/fresh"
for i in $(seq 1 40); do printf 'file %d\n' "$i" > "$MNT/fresh/f$i" || fail "write of fresh/f$i"; done
after=$(layouts)
asked=$((after - before))
(( asked < 10 )) || fail "40 new small files asked for $asked layouts (the create's reply carries chunk 0's)"
for i in $(seq 1 40); do [[ "$(cat "$MNT/fresh/f$i")" == "file $i" ]] || fail "fresh/f$i reads back wrong"; done
log "ok (40 new files asked for $asked layouts)"

# A directory this mount made stays known in full through its own chmod and utimes (rsync and tar
# set a new directory's mode and times at once): the lookup the kernel makes before each create
# is answered by the mount. Before the fix the chmod made the mount forget the directory, and
# each of these 30 creates asked the metadata server first.
lookups() { basalt status --dir "$CLUSTER" | sed -n 's/.*reads asked: \([0-9]*\) lookups.*/\1/p'; }
before=$(lookups)
[[ -n "$before" ]] || fail "basalt status shows no lookup count"
mkdir "$MNT/moded"
chmod 0750 "$MNT/moded"
touch -d '2020-01-02 03:04:05' "$MNT/moded"
for i in $(seq 1 30); do printf 'g %d\n' "$i" > "$MNT/moded/g$i" || fail "write of moded/g$i"; done
asked=$(( $(lookups) - before ))
(( asked < 10 )) || fail "30 creates in a directory this mount made and chmod'ed asked for $asked lookups"
[[ "$(stat -c %a "$MNT/moded")" == 750 ]] || fail "moded lost its mode"
for i in $(seq 1 30); do [[ "$(cat "$MNT/moded/g$i")" == "g $i" ]] || fail "moded/g$i reads back wrong"; done
log "ok (30 creates in a chmod'ed new directory asked for $asked lookups)"
