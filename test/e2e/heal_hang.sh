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
chunk_files() { find "$CLUSTER/chunk$1/chunks" -type f ! -name '*.*' -printf '%f\n' 2>/dev/null | sort; }

mkdir "$MNT/w" "$E2E_TMP/ref"
for i in $(seq 1 40); do head -c $((1 << 20)) /dev/urandom >"$E2E_TMP/ref/old$i"; done
cp "$E2E_TMP"/ref/old* "$MNT/w/"
sync
"$PY" "$E2E_DIR/hang_workload.py" "$MNT/w" "$E2E_TMP/ref" "$E2E_TMP/stop" >"$E2E_TMP/workload.log" 2>&1 &
workload=$!
E2E_EXTRA_PIDS+=("$workload")
sleep 4
victim=$(pid_of chunk2)
before=$(chunk_files 2 | wc -l)
t0=$SECONDS
kill -STOP "$victim"
log "SIGSTOP chunk2 (pid $victim) holding $before chunk files; it hangs for $HANG_SECONDS s"

healed() {  # a scan after the repairs began finds nothing under-replicated or missing
  status_text | grep -Eq "^  #2 .*(SUSPECT|DEAD)" &&
    [[ "$(status_field 'repairs done')" -gt 0 && "$(status_field 'in flight')" == 0 ]] &&
    [[ "$(status_field under-replicated)" == 0 && "$(status_field missing)" == 0 ]]
}
wait_for 60 "redundancy restored while chunk2 hangs" healed
log "redundancy restored $((SECONDS - t0)) s into the hang ($(status_field 'repairs done') repairs)"
wait_for $((HANG_SECONDS + 10)) "chunk2 to be declared dead" bash -c "basalt status --dir '$CLUSTER' 2>/dev/null | grep -Eq '^  #2 .*DEAD'"
log "chunk2 declared dead $((SECONDS - t0)) s into the hang"
sleep $(( HANG_SECONDS - (SECONDS - t0) > 0 ? HANG_SECONDS - (SECONDS - t0) : 0 ))
stale=$(chunk_files 2)
kill -CONT "$victim"
log "SIGCONT chunk2 after $((SECONDS - t0)) s; it holds $(echo "$stale" | grep -c .) chunk files, all of versions before the hang"
sleep 3
touch "$E2E_TMP/stop"
wait "$workload" || { cat "$E2E_TMP/workload.log"; fail "an error reached the workload"; }
grep slow: "$E2E_TMP/workload.log" | tail -n 20 || true
summary=$(tail -1 "$E2E_TMP/workload.log")
log "workload: $summary; $(grep 'longest read-back' "$E2E_TMP/workload.log")"
# Which paths the hang took (for the record): clients resent to a new primary after asking, primaries
# dropped the hung backup after their forward deadline, fresh chunks were placed anew.
log "paths: $(cat "$CLUSTER"/logs/mount*.log | grep -c 'resending there' || true) resends to a new primary," \
  "$(grep -c 'replica #2 .* failed' "$CLUSTER/logs/meta.log" || true) drops of chunk2 reported by primaries," \
  "$(grep -c 'held no data yet: replaced' "$CLUSTER/logs/meta.log" || true) fresh chunks placed anew"
stall=$(sed -n 's/.* longest \([0-9.]*\) s.*/\1/p' <<<"$summary")
[[ -n "$stall" ]] || fail "the workload did not report its longest operation: $summary"
awk -v s="$stall" -v m="$MAX_STALL" 'BEGIN {exit !(s <= m)}' || fail "the writer stalled ${stall} s (> ${MAX_STALL} s)"

log "cold read-back of everything"
echo 3 >/proc/sys/vm/drop_caches
n=0
for f in "$E2E_TMP"/ref/*; do
  cmp "$f" "$MNT/w/$(basename "$f")" || fail "$(basename "$f") reads back differently after chunk2 returned"
  n=$((n + 1))
done
log "$n files read back identical ($(du -sm "$E2E_TMP/ref" | cut -f1) MiB)"

settled() {
  [[ "$(rebalance_field 1)" == 0 && "$(rebalance_field 2)" == 0 && "$(status_field under-replicated)" == 0 ]] || return 1
  basalt verify --dir "$CLUSTER" --list >"$E2E_TMP/verify.log" 2>&1 || return 1
  read -r chunks _ replicas _ < <(awk '/chunks,/ {print $1, $2, $3, $4}' "$E2E_TMP/verify.log")
  (( replicas == 2 * chunks )) || return 1
  # chunk2's disk holds exactly the chunks the map places on it: every stale replica is gone.
  [[ "$(chunk_files 2)" == "$(awk '/^chunk / && / #2@/ {printf "%016x\n", $2}' "$E2E_TMP/verify.log" | sort)" ]]
}
wait_for 60 "chunk2's stale replicas deleted and every chunk at exactly 2 identical replicas" settled
now=$(chunk_files 2)
kept=$(comm -12 <(echo "$stale") <(echo "$now") | grep -c . || true)
log "settled $((SECONDS - t0)) s after the SIGSTOP: $(awk '/chunks,/ {print $1, "chunks,", $3, "replicas"}' "$E2E_TMP/verify.log");" \
  "chunk2 held $(echo "$stale" | grep -c .) stale chunk files, now $(echo "$now" | grep -c .)" \
  "(the rebalancer moved its ring share back: $kept of them at a new version)"
(( $(echo "$stale" | grep -c .) > 0 )) || fail "chunk2 held no chunks when it hung: the test tested nothing"
# Each stale replica was deleted on chunk2 when it came back (a chunk the ring places on chunk2 then
# got a fresh copy at a new version from the rebalancer).
for hex in $stale; do
  grep -q "deleting chunk $((16#$hex)) on #2 " "$CLUSTER/logs/meta.log" || fail "stale chunk $((16#$hex)) was never deleted on chunk2"
done
echo 3 >/proc/sys/vm/drop_caches
for f in "$E2E_TMP"/ref/*; do cmp "$f" "$MNT/w/$(basename "$f")" || fail "$(basename "$f") differs after the cleanup"; done
log "ok"
