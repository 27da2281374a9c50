#!/usr/bin/env bash
# A hung chunk server (SIGSTOP for 90 s) during a continuous write-and-verify workload: deadlines,
# not TCP, detect the hang, so no single write+fsync of the workload stalls longer than 3 s; the
# redundancy is restored while it hangs; after SIGCONT its outdated replicas are never served (every
# file reads back right with cold caches) and are deleted, and every chunk ends with exactly 2
# identical replicas.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 4 --replicas 2 --chunk-size 1048576
HANG_SECONDS=${HANG_SECONDS:-90}
MAX_STALL=3.0

status_text() { basalt status --dir "$CLUSTER" 2>/dev/null || true; }
status_field() { status_text | sed -n "s/.*$1 \([0-9]*\).*/\1/p" | head -1; }
rebalance_field() { status_text | awk -v n="$1" '/^Rebalance:/ {gsub(/[^0-9 ]/, ""); split($0, f, " +"); print f[n + 1]}'; }
chunk_files() { find "$CLUSTER/$1/chunks" -type f ! -name '*.*' -printf '%f\n' 2>/dev/null | sort; }

mkdir "$MNT/w" "$E2E_TMP/ref"
for i in $(seq 1 40); do head -c $((1 << 20)) /dev/urandom >"$E2E_TMP/ref/old$i"; done
cp "$E2E_TMP"/ref/old* "$MNT/w/"
sync
"$PY" "$E2E_DIR/hang_workload.py" "$MNT/w" "$E2E_TMP/ref" "$E2E_TMP/stop" >"$E2E_TMP/workload.log" 2>&1 &
workload=$!
E2E_EXTRA_PIDS+=("$workload")

# The victim: the backup of the chunk log0 is appending to, just after that chunk began (so the next
# appends forward to the hung backup: the backup path is measured for sure; the victim is usually
# also the primary of some chunks being written). The primary of a new chunk is its first replica.
pick_victim() {
  local size ino idx
  size=$(stat -c %s "$MNT/w/log0" 2>/dev/null) || return 1
  (( size > 0 && size % (1 << 20) <= (256 << 10) )) || return 1
  ino=$(stat -c %i "$MNT/w/log0")
  idx=$((size >> 20))
  VID=$(basalt verify --dir "$CLUSTER" --list 2>/dev/null |
    awk -v i="$ino" -v x="$idx" '$1 == "chunk" && $5 == i && $7 == x":" {split($9, r, "@"); sub("#", "", r[1]); print r[1]}')
  [[ -n "$VID" ]]
}
wait_for 60 "log0 to begin a new chunk" pick_victim
vaddr=$(status_text | awk -v s="#$VID" '$1 == s {print $2}')
VNAME=$(basename "$(grep -l " $vaddr" "$CLUSTER"/run/chunk* | head -1)")
[[ -n "$VNAME" ]] || fail "no chunk server process listens on $vaddr (#$VID)"
victim=$(pid_of "$VNAME")
before=$(chunk_files "$VNAME" | wc -l)
t0=$SECONDS
kill -STOP "$victim"
log "SIGSTOP $VNAME (#$VID, pid $victim, the backup of log0's current chunk) holding $before chunk files; it hangs for $HANG_SECONDS s"

# Cold reads of the files written before the hang, while it hangs: replicas on the hung server are
# still in their sets (for the repair delay); a read it does not answer asks the next replica.
echo 3 >/proc/sys/vm/drop_caches
read -r read_stall read_file < <("$PY" - "$MNT/w" "$E2E_TMP/ref" <<'P'
import os, sys, time
dst, ref = sys.argv[1], sys.argv[2]
worst, name = 0.0, ""
for i in range(1, 41):
    t0 = time.monotonic()
    with open(os.path.join(dst, f"old{i}"), "rb") as f:
        data = f.read()
    dt = time.monotonic() - t0
    with open(os.path.join(ref, f"old{i}"), "rb") as f:
        if f.read() != data:
            print(f"differs old{i}")
            sys.exit(0)
    if dt > worst:
        worst, name = dt, f"old{i}"
print(f"{worst:.3f} {name}")
P
)
[[ "$read_stall" != differs ]] || fail "$read_file read back differently while $VNAME hangs"
log "cold reads of the 40 older files while $VNAME hangs: the slowest file took $read_stall s ($read_file)"
awk -v s="$read_stall" -v m="$MAX_STALL" 'BEGIN {exit !(s <= m)}' || fail "a reader stalled ${read_stall} s (> ${MAX_STALL} s)"

healed() {  # a scan after the repairs began finds nothing under-replicated or missing
  status_text | grep -Eq "^  #$VID .*(SUSPECT|DEAD)" &&
    [[ "$(status_field 'repairs done')" -gt 0 && "$(status_field 'in flight')" == 0 ]] &&
    [[ "$(status_field under-replicated)" == 0 && "$(status_field missing)" == 0 ]]
}
wait_for 60 "redundancy restored while $VNAME hangs" healed
log "redundancy restored $((SECONDS - t0)) s into the hang ($(status_field 'repairs done') repairs)"
dead() { status_text | grep -Eq "^  #$VID .*DEAD"; }
wait_for $((HANG_SECONDS + 10)) "$VNAME to be declared dead" dead
log "$VNAME declared dead $((SECONDS - t0)) s into the hang"
sleep $(( HANG_SECONDS - (SECONDS - t0) > 0 ? HANG_SECONDS - (SECONDS - t0) : 0 ))
stale=$(chunk_files "$VNAME")
kill -CONT "$victim"
log "SIGCONT $VNAME after $((SECONDS - t0)) s; it holds $(echo "$stale" | grep -c .) chunk files, all of versions before the hang"
sleep 3
touch "$E2E_TMP/stop"
wait "$workload" || { cat "$E2E_TMP/workload.log"; fail "an error reached the workload"; }
grep slow: "$E2E_TMP/workload.log" | tail -n 20 || true
summary=$(tail -1 "$E2E_TMP/workload.log")
log "workload: $summary; $(grep 'longest read-back' "$E2E_TMP/workload.log")"
# Which paths the hang took (for the record): clients resent to a new primary after asking, primaries
# dropped the hung backup after their forward deadline, fresh chunks were placed anew.
drops=$(grep -c "replica #$VID .* failed" "$CLUSTER/logs/meta.log" || true)
log "paths: $(cat "$CLUSTER"/logs/mount*.log | grep -c 'resending there' || true) resends to a new primary," \
  "$drops drops of $VNAME reported by primaries (hung backup)," \
  "$(grep -c 'held no data yet: replaced' "$CLUSTER/logs/meta.log" || true) fresh chunks placed anew"
(( drops > 0 )) || fail "no primary dropped the hung backup $VNAME: the backup path was not exercised"
stall=$(sed -n 's/.* longest \([0-9.]*\) s.*/\1/p' <<<"$summary")
[[ -n "$stall" ]] || fail "the workload did not report its longest operation: $summary"
awk -v s="$stall" -v m="$MAX_STALL" 'BEGIN {exit !(s <= m)}' || fail "the writer stalled ${stall} s (> ${MAX_STALL} s)"

log "cold read-back of everything"
echo 3 >/proc/sys/vm/drop_caches
n=0
for f in "$E2E_TMP"/ref/*; do
  cmp "$f" "$MNT/w/$(basename "$f")" || fail "$(basename "$f") reads back differently after $VNAME returned"
  n=$((n + 1))
done
log "$n files read back identical ($(du -sm "$E2E_TMP/ref" | cut -f1) MiB)"

settled() {
  [[ "$(rebalance_field 1)" == 0 && "$(rebalance_field 2)" == 0 && "$(status_field under-replicated)" == 0 ]] || return 1
  basalt verify --dir "$CLUSTER" --list >"$E2E_TMP/verify.log" 2>&1 || return 1
  read -r chunks _ replicas _ < <(awk '/chunks,/ {print $1, $2, $3, $4}' "$E2E_TMP/verify.log")
  (( replicas == 2 * chunks )) || return 1
  # The victim's disk holds exactly the chunks the map places on it: every stale replica is gone.
  [[ "$(chunk_files "$VNAME")" == "$(awk -v s=" #$VID@" '/^chunk / && index($0, s) {printf "%016x\n", $2}' "$E2E_TMP/verify.log" | sort)" ]]
}
wait_for 60 "$VNAME's stale replicas deleted and every chunk at exactly 2 identical replicas" settled
now=$(chunk_files "$VNAME")
kept=$(comm -12 <(echo "$stale") <(echo "$now") | grep -c . || true)
log "settled $((SECONDS - t0)) s after the SIGSTOP: $(awk '/chunks,/ {print $1, "chunks,", $3, "replicas"}' "$E2E_TMP/verify.log");" \
  "$VNAME held $(echo "$stale" | grep -c .) stale chunk files, now $(echo "$now" | grep -c .)" \
  "(the rebalancer moved its ring share back: $kept of them at a new version)"
(( $(echo "$stale" | grep -c .) > 0 )) || fail "$VNAME held no chunks when it hung: the test tested nothing"
# Each stale replica was deleted on the victim when it came back (a chunk the ring places there then
# got a fresh copy at a new version from the rebalancer).
for hex in $stale; do
  grep -q "deleting chunk $((16#$hex)) on #$VID " "$CLUSTER/logs/meta.log" || fail "stale chunk $((16#$hex)) was never deleted on $VNAME"
done
echo 3 >/proc/sys/vm/drop_caches
for f in "$E2E_TMP"/ref/*; do cmp "$f" "$MNT/w/$(basename "$f")" || fail "$(basename "$f") differs after the cleanup"; done
log "ok"
