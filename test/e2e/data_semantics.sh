#!/usr/bin/env bash
# File semantics beyond plain reads and writes: O_DIRECT, O_APPEND from concurrent writers on one
# mount, and the replication of a directory set with `basalt setrepl` (inherited by new files).
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2

log "O_DIRECT"
head -c 4M /dev/urandom >"$E2E_TMP/src"
dd if="$E2E_TMP/src" of="$MNT/direct" bs=1M oflag=direct status=none || fail "O_DIRECT write"
dd if="$MNT/direct" of="$E2E_TMP/back" bs=1M iflag=direct status=none || fail "O_DIRECT read"
cmp "$E2E_TMP/src" "$E2E_TMP/back" || fail "O_DIRECT round trip differs"

log "O_APPEND from two writers at once"
appender() { for i in $(seq 1 300); do printf '%s-%04d-%s\n' "$1" "$i" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" >>"$MNT/appended"; done; }
appender A & a=$!
appender B & b=$!
E2E_EXTRA_PIDS+=("$a" "$b")
wait "$a" && wait "$b" || fail "an appender failed"
[[ $(wc -l <"$MNT/appended") == 600 ]] || fail "appended lines: $(wc -l <"$MNT/appended"), want 600"
[[ $(grep -cE '^[AB]-[0-9]{4}-x{40}$' "$MNT/appended") == 600 ]] || fail "an appended line was torn or overwritten"
for w in A B; do
  [[ $(grep "^$w-" "$MNT/appended" | cut -d- -f2 | sort -c && echo sorted) == sorted ]] || fail "$w's lines out of order"
done

log "basalt setrepl: a directory with 3 replicas"
sync
counts() { basalt verify --dir "$CLUSTER" 2>/dev/null | awk '/chunks,/ {print $1, $3}'; }
read -r chunks0 replicas0 < <(counts)
mkdir "$MNT/triple"
basalt setrepl "$MNT/triple" 3 | grep -q "3 replicas" || fail "basalt setrepl said something else"
mkdir "$MNT/triple/sub"
head -c 100000 /dev/urandom >"$MNT/triple/sub/f"
sync
read -r chunks1 replicas1 < <(counts)
(( chunks1 == chunks0 + 1 && replicas1 == replicas0 + 3 )) ||
  fail "a file under a 3-replica directory: $chunks0/$replicas0 -> $chunks1/$replicas1 chunks/replicas"
if basalt setrepl "$MNT/triple" 17 >/dev/null 2>&1; then fail "setrepl accepted 17 replicas"; fi

log "write-behind: a write that cannot land is reported by close, with EIO"
# A mount that gives up on unreachable servers after 3 s. The file's chunk exists; then every chunk
# server dies. write(2) is answered from the write-behind buffer; close(2) must fail, not lie.
meta=$(awk '{print $2}' "$CLUSTER/run/meta")
WB=$E2E_TMP/wb
mkdir "$WB"
basalt-mount "$meta" "$WB" -o timeout=3,rpc_timeout_ms=1000 >>"$E2E_TMP/wb.log" 2>&1 || fail "mounting $WB"
head -c 200000 /dev/urandom >"$WB/behind"
sync
for c in chunk1 chunk2 chunk3; do kill -9 "$(pid_of $c)"; done
$PY - "$WB/behind" <<'PY' || fail "close did not report the failed background write (see above)"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
n = os.write(fd, b"x" * 65536)   # answered at once: the data is in flight
assert n == 65536, n
try:
    os.close(fd)
except OSError as e:
    print("close failed as it should:", e)
    sys.exit(0 if e.errno == errno.EIO else 1)
print("close succeeded although no chunk server was alive")
sys.exit(1)
PY
fusermount3 -u "$WB"
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting the chunk servers"
log "ok"
