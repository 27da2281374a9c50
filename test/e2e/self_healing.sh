#!/usr/bin/env bash
# Self-healing: kill -9 of a chunk server during a continuous write-and-verify workload. No error
# reaches the workload, every file verifies, and every chunk is back to 2 live replicas in bounded
# time. The server then returns with its old data: no stale read, and its stale replicas are deleted.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 4 --replicas 2 --chunk-size 1048576

# `basalt status` exits 1 while a server is down: read its output, not its exit code.
status_text() { basalt status --dir "$CLUSTER" 2>/dev/null || true; }
status_field() {  # status_field NAME: a number from `basalt status`'s "Chunks:" line
  status_text | sed -n "s/.*$1 \([0-9]*\).*/\1/p" | head -1
}

log "initial data"
mkdir "$MNT/data" "$E2E_TMP/src"
for i in $(seq 1 30); do head -c $((2 << 20)) /dev/urandom >"$E2E_TMP/src/f$i"; done
cp "$E2E_TMP"/src/f* "$MNT/data/"
sync

log "continuous write-and-verify workload"
cat >"$E2E_TMP/workload.sh" <<'W'
set -e
src=$1 dst=$2 stop=$3
n=0
while [[ ! -e $stop ]] && (( n < 2000 )); do
  n=$((n + 1))
  f=$src/f$(( n % 30 + 1 ))
  cp "$f" "$dst/w$n"
  cmp "$f" "$dst/w$n"
  rm -f "$dst/w$((n - 3))"
done
echo "$n rounds"
W
bash "$E2E_TMP/workload.sh" "$E2E_TMP/src" "$MNT/data" "$E2E_TMP/stop" >"$E2E_TMP/workload.log" 2>&1 &
workload=$!
E2E_EXTRA_PIDS+=("$workload")
sleep 2
victim=$(pid_of chunk3)
kill -9 "$victim"
log "killed chunk3 (pid $victim)"

healed() {
  [[ "$(status_field under-replicated)" == 0 && "$(status_field missing)" == 0 ]] &&
    status_text | grep -Eq "^  #3 .*(SUSPECT|DEAD)"
}
start=$SECONDS
wait_for 120 "every chunk back to 2 live replicas" healed
log "redundancy restored $((SECONDS - start)) s after the kill ($(status_field 'repairs done') repairs)"
touch "$E2E_TMP/stop"
wait "$workload" || { cat "$E2E_TMP/workload.log"; fail "an error reached the workload during the failure"; }
log "workload: $(tail -1 "$E2E_TMP/workload.log") without an error"

for i in $(seq 1 30); do cmp "$E2E_TMP/src/f$i" "$MNT/data/f$i" || fail "f$i differs after the repair"; done
basalt verify --dir "$CLUSTER" >"$E2E_TMP/verify.log" 2>&1 || { cat "$E2E_TMP/verify.log"; fail "verify after the repair"; }
read -r chunks _ replicas _ < <(awk '/chunks,/ {print $1, $2, $3, $4}' "$E2E_TMP/verify.log")
(( replicas == 2 * chunks )) || fail "after the repair: $chunks chunks but $replicas replicas"

log "the dead server returns with its old data"
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting chunk3"
echo 3 >/proc/sys/vm/drop_caches
for i in $(seq 1 30); do cmp "$E2E_TMP/src/f$i" "$MNT/data/f$i" || fail "f$i reads differently with chunk3 back"; done
stale_gone() { [[ -z "$(find "$CLUSTER/chunk3/chunks" -type f ! -name '*.crc' -newer "$E2E_TMP/up.log" -prune -o -type f ! -name '*.crc' -print)" ]]; }
wait_for 60 "chunk3's stale replicas to be deleted" stale_gone
log "ok"
