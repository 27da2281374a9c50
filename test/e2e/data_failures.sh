#!/usr/bin/env bash
# The data path when chunk servers fail: kill -9 of a chunk server in the middle of a large write
# (the write completes and reads back exactly), and a flipped byte in a chunk file on disk (found by
# its CRC; reads are served from the other replica; `basalt verify` names the bad replica).
source "$(dirname "$0")/lib.sh"
# Small chunks so that a 200 MiB file has chunks on every server; a scrub pass every 5 s.
start_cluster --chunks 3 --replicas 2 --chunk-size 4194304 --scrub-interval 5

log "kill -9 of a chunk server during a 200 MiB write"
head -c 200M /dev/urandom >"$E2E_TMP/big.src"
want=$(sha256sum <"$E2E_TMP/big.src" | cut -d' ' -f1)
dd if="$E2E_TMP/big.src" of="$MNT/big" bs=1M conv=fsync status=none &
writer=$!
E2E_EXTRA_PIDS+=("$writer")
wait_for 30 "the writer to get going" bash -c "(( \$(stat -c %s '$MNT/big' 2>/dev/null || echo 0) > 20 * 1024 * 1024 ))"
victim=$(pid_of chunk2)
kill -9 "$victim"
log "killed chunk2 (pid $victim) at $(stat -c %s "$MNT/big") bytes"
wait "$writer" || fail "the write failed after a chunk server died"
sync
echo 3 >/proc/sys/vm/drop_caches
got=$(sha256sum <"$MNT/big" | cut -d' ' -f1)
[[ "$got" == "$want" ]] || fail "the file reads back differently after the kill (sha256 $got, want $want)"
log "write completed and verified"

log "restart the dead server: the cluster is whole again"
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting chunk2"
got=$(sha256sum <"$MNT/big" | cut -d' ' -f1)
[[ "$got" == "$want" ]] || fail "the file reads back differently after chunk2 came back"
rm -f "$MNT/big"

log "a flipped byte in a chunk file on disk"
head -c 3M /dev/urandom >"$E2E_TMP/small.src"
cp "$E2E_TMP/small.src" "$MNT/small"
sync
# Chunk files come and go meanwhile (the rebalancer moves chunks after the restart above): find
# fails on a file deleted between listing its directory and looking at it, which is no error here.
replicas_of_small() { { find "$CLUSTER"/chunk*/chunks -type f ! -name '*.crc' -size $((3 << 20))c 2>/dev/null || true; }; }
healthy() {
  [[ $(replicas_of_small | wc -l) == 2 ]] && basalt verify --dir "$CLUSTER" >"$E2E_TMP/verify.log" 2>&1
}
flip_byte() {  # flip_byte FILE: adds 1 to one byte somewhere in the middle
  local byte=$(( (RANDOM % 3000 + 10) * 1024 ))
  local orig=$(dd if="$1" bs=1 skip=$byte count=1 status=none | od -An -tu1 | tr -d ' ')
  printf "\\x$(printf %02x $(( (orig + 1) % 256 )))" | dd of="$1" bs=1 seek=$byte conv=notrunc status=none
}
wait_for 60 "the new file to have 2 identical replicas" healthy

# 1. Reads meet the bad block: a client's read is served right (from the other replica if it met
#    it), `basalt verify` (which reads every replica) names it, and the bad replica is reported,
#    dropped and copied again from the good one.
bad=$(replicas_of_small | head -1)
[[ -n "$bad" ]] || fail "no replica of the 3 MiB file found on the chunk servers"
flip_byte "$bad"
echo 3 >/proc/sys/vm/drop_caches
cmp "$MNT/small" "$E2E_TMP/small.src" || fail "reading with a damaged replica ($bad) gave wrong data"
basalt verify --dir "$CLUSTER" >"$E2E_TMP/verify1.log" 2>&1 || true
grep -q "CRC mismatch" "$CLUSTER"/logs/chunk*.log || fail "no chunk server logged the checksum mismatch"
grep -q "dropped the damaged replica" "$CLUSTER"/logs/chunk*.log || fail "the damaged replica was not reported"
wait_for 60 "the damaged replica to be replaced after a read met it" healthy
log "a read met the bad block: served from the other replica, and the replica was repaired"

# 2. Nobody reads it: the scrubber finds the bad block and the replica is repaired.
bad=$(replicas_of_small | tail -1)
[[ -n "$bad" ]] || fail "no replica of the 3 MiB file found on the chunk servers"
flip_byte "$bad"
scrubbed() { grep -q "scrubber: chunk .* is damaged" "$CLUSTER"/logs/chunk*.log; }
wait_for 60 "the scrubber to find the flipped byte" scrubbed
wait_for 60 "the damaged replica to be replaced after the scrubber found it" healthy
echo 3 >/proc/sys/vm/drop_caches
cmp "$MNT/small" "$E2E_TMP/small.src" || fail "the file differs after the scrubber's repair"
log "the scrubber found the bad block and the replica was repaired"
log "ok"
