#!/usr/bin/env bash
# The data path when chunk servers fail: kill -9 of a chunk server in the middle of a large write
# (the write completes and reads back exactly), and a flipped byte in a chunk file on disk (found by
# its CRC; reads are served from the other replica; `basalt verify` names the bad replica).
source "$(dirname "$0")/lib.sh"
# Small chunks so that a 200 MiB file has chunks on every server.
start_cluster --chunks 3 --replicas 2 --chunk-size 4194304

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
ino=$(stat -c %i "$MNT/small")
basalt verify --dir "$CLUSTER" >"$E2E_TMP/verify0.log" 2>&1 || { cat "$E2E_TMP/verify0.log"; fail "verify before the damage"; }
# The chunk's replicas: the chunk files of exactly 3 MiB (the big file's chunks are 4 MiB).
mapfile -t replicas < <(find "$CLUSTER"/chunk*/chunks -type f ! -name '*.crc' -size $((3 << 20))c)
(( ${#replicas[@]} == 2 )) || fail "expected 2 replicas of the 3 MiB chunk, found ${#replicas[@]}: ${replicas[*]}"
for bad in "${replicas[@]}"; do
  cp "$bad" "$E2E_TMP/saved"
  byte=$(( (RANDOM % 3000 + 10) * 1024 ))
  orig=$(dd if="$bad" bs=1 skip=$byte count=1 status=none | od -An -tu1 | tr -d ' ')
  printf "\\x$(printf %02x $(( (orig + 1) % 256 )))" | dd of="$bad" bs=1 seek=$byte conv=notrunc status=none
  echo 3 >/proc/sys/vm/drop_caches
  cmp "$MNT/small" "$E2E_TMP/small.src" || fail "reading with a damaged replica ($bad) gave wrong data"
  if basalt verify --dir "$CLUSTER" >"$E2E_TMP/verify.log" 2>&1; then
    cat "$E2E_TMP/verify.log"
    fail "basalt verify did not notice the flipped byte in $bad"
  fi
  grep -q "cannot read the replica" "$E2E_TMP/verify.log" || { cat "$E2E_TMP/verify.log"; fail "verify: no bad replica named"; }
  grep -qi "crc\|checksum" "$CLUSTER"/logs/chunk*.log || fail "no chunk server logged the checksum mismatch"
  cp "$E2E_TMP/saved" "$bad"
done
log "ok (inode $ino)"
