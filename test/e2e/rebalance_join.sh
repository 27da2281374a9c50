#!/usr/bin/env bash
# Rebalancing: a 5th chunk server joins a cluster of 4 holding 250 chunks; only the chunks whose ring
# placement changed move to it (about 1/5 of the replicas), everything verifies, every chunk has
# exactly 2 replicas. Then `basalt drain` empties it again (and it stays draining across a restart of
# the metadata server), and everything verifies again.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 4 --replicas 2 --chunk-size 1048576

status_text() { basalt status --dir "$CLUSTER" 2>/dev/null || true; }
rebalance_field() {  # rebalance_field N: the Nth number of the "Rebalance:" line
  status_text | awk -v n="$1" '/^Rebalance:/ {gsub(/[^0-9 ]/, ""); split($0, f, " +"); print f[n + 1]}'
}
chunks_on() { status_text | awk -v s="#$1" '$1 == s {for (i = 1; i < NF; i++) if ($(i + 1) == "chunks,") print $i}'; }
rebalanced() { [[ "$(rebalance_field 1)" == 0 && "$(rebalance_field 2)" == 0 ]]; }
verify_exactly_two() {  # every chunk has exactly 2 identical replicas
  basalt verify --dir "$CLUSTER" >"$E2E_TMP/verify.log" 2>&1 || { cat "$E2E_TMP/verify.log"; fail "verify $1"; }
  read -r chunks _ replicas _ < <(awk '/chunks,/ {print $1, $2, $3, $4}' "$E2E_TMP/verify.log")
  (( replicas == 2 * chunks )) || fail "$1: $chunks chunks but $replicas replicas"
  log "$1: $chunks chunks, $replicas identical replicas"
}
compare_all() {
  echo 3 >/proc/sys/vm/drop_caches
  for i in $(seq 1 50); do cmp "$E2E_TMP/src/f$i" "$MNT/d/f$i" || fail "f$i differs $1"; done
}

log "writing 50 files of 5 MiB (250 chunks of 1 MiB)"
mkdir "$MNT/d" "$E2E_TMP/src"
for i in $(seq 1 50); do head -c $((5 << 20)) /dev/urandom >"$E2E_TMP/src/f$i"; done
cp "$E2E_TMP"/src/f* "$MNT/d/"
sync
wait_for 30 "nothing to rebalance before the join" rebalanced
chunks_on 1 | grep -qx '[0-9]*[1-9][0-9]*' || fail "cannot read chunk1's chunk count from basalt status: $(status_text)"
verify_exactly_two "before the join"
total=$(awk '/chunks,/ {print $3}' "$E2E_TMP/verify.log")
done_before=$(rebalance_field 3)

log "a 5th chunk server joins"
basalt add-chunk --dir "$CLUSTER" >>"$E2E_TMP/up.log" 2>&1 || { tail "$E2E_TMP/up.log"; fail "basalt add-chunk"; }
alive5() { status_text | grep -Eq '^  #5 .*  alive'; }
wait_for 20 "the 5th server to be alive" alive5
started() { (( $(rebalance_field 1) + $(rebalance_field 2) + $(rebalance_field 3) > done_before )); }
wait_for 30 "the rebalancer to start" started
start=$SECONDS
wait_for 120 "rebalancing to finish" rebalanced
moved=$(( $(rebalance_field 3) - done_before ))
holds() { [[ "$(chunks_on "$1")" == "$2" ]]; }
wait_for 30 "chunk5's heartbeat to report the $moved chunks moved to it" holds 5 "$moved"
on5=$(chunks_on 5)
log "rebalanced in $((SECONDS - start)) s: $moved of $total replicas moved; chunk5 holds $on5"
frac=$(awk -v m="$moved" -v t="$total" 'BEGIN {printf "%.3f", m / t}')
awk -v f="$frac" 'BEGIN {exit !(f >= 0.10 && f <= 0.35)}' || fail "moved fraction $frac is not about 1/5 (0.10..0.35)"
awk -v n="$on5" -v t="$total" 'BEGIN {exit !(n / t >= 0.10 && n / t <= 0.35)}' || fail "chunk5 holds $on5 of $total replicas"
verify_exactly_two "after the join"
compare_all "after the join"
# The moved replicas are deleted on the servers they left: the disks hold exactly 2 per chunk.
on_disk_is() {
  [[ "$(status_text | awk '$1 ~ /^#[0-9]/ && $2 ~ /:/ {for (i = 1; i < NF; i++) if ($(i + 1) == "chunks,") s += $i} END {print s}')" == "$1" ]]
}
wait_for 30 "the servers to hold exactly $total replicas" on_disk_is "$total"

log "basalt drain 5"
start=$SECONDS
basalt drain 5 --dir "$CLUSTER" --wait --timeout 120 >"$E2E_TMP/drain.log" 2>&1 || { cat "$E2E_TMP/drain.log"; fail "basalt drain 5 --wait"; }
log "drained in $((SECONDS - start)) s: $(tail -1 "$E2E_TMP/drain.log")"
[[ "$(chunks_on 5)" == 0 ]] || fail "chunk5 still holds $(chunks_on 5) chunks after the drain"
status_text | grep -A1 '^  #5 ' | grep -q 'draining: 0 chunks left' || fail "status does not show chunk5 drained: $(status_text)"

log "restart the metadata server: chunk5 stays draining (it is recorded in the servers table)"
meta_pid=$(pid_of meta)
kill -TERM "$meta_pid"
gone() { ! kill -0 "$meta_pid" 2>/dev/null; }
wait_for 30 "the metadata server to stop" gone
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || { tail "$E2E_TMP/up.log"; fail "restarting the metadata server"; }
still_draining() { status_text | grep -A1 '^  #5 .*  alive' | grep -q 'draining: 0 chunks left'; }
wait_for 30 "chunk5 to re-register, still draining and empty" still_draining
wait_for 30 "nothing left to rebalance" rebalanced
verify_exactly_two "after the drain"
basalt verify --dir "$CLUSTER" --list | grep -q '#5@' && fail "a chunk still names chunk5 after the drain"
compare_all "after the drain"

log "new files stay off the draining server"
head -c $((8 << 20)) /dev/urandom >"$E2E_TMP/src/new"
cp "$E2E_TMP/src/new" "$MNT/d/new"
sync
basalt verify --dir "$CLUSTER" --list | grep -q '#5@' && fail "a new chunk was placed on the draining chunk5"
cmp "$E2E_TMP/src/new" "$MNT/d/new" || fail "the new file differs"
log "ok"
