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

log "explicit times after writes (cp -a: write, futimens, close) stay; a later write moves mtime"
python3 - "$MNT" <<'PY' || fail "times set after writes"
import os, sys, time
mnt = sys.argv[1]
explicit = (1_100_000_000_123_456_789, 1_000_000_000_987_654_321)  # atime, mtime in ns
def check(name, want_mtime, want_size, want_data):
    st = os.stat(f"{mnt}/{name}")
    if want_mtime is not None and st.st_mtime_ns != want_mtime:
        sys.exit(f"{name}: mtime {st.st_mtime_ns}, want {want_mtime}")
    if st.st_size != want_size:
        sys.exit(f"{name}: size {st.st_size}, want {want_size}")
    with open(f"{mnt}/{name}", "rb") as f:
        if f.read() != want_data:
            sys.exit(f"{name}: the data differs")
    return st
# Small and large writes, then futimens, then close: the times are the explicit ones.
for name, size in (("t-small", 6892), ("t-large", 9 << 20)):
    data = os.urandom(size)
    fd = os.open(f"{mnt}/{name}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.write(fd, data)
    os.utime(fd, ns=explicit)
    os.fchmod(fd, 0o644)
    os.close(fd)
    st = check(name, explicit[1], size, data)
    if st.st_atime_ns != explicit[0]:
        sys.exit(f"{name}: atime {st.st_atime_ns}, want {explicit[0]}")
    check(name, explicit[1], size, data)  # still so after the cache expired or not
# A write after the times moves mtime again.
data = os.urandom(8192)
fd = os.open(f"{mnt}/t-after", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
os.write(fd, data[:4096])
os.utime(fd, ns=explicit)
os.write(fd, data[4096:])
os.close(fd)
st = check("t-after", None, 8192, data)
if abs(st.st_mtime - time.time()) > 60:
    sys.exit(f"t-after: a write after futimens left mtime at {st.st_mtime_ns}")
# utimensat by path with nothing written: as before.
open(f"{mnt}/t-path", "w").close()
os.utime(f"{mnt}/t-path", ns=explicit)
check("t-path", explicit[1], 0, b"")
# UTIME_NOW after writes: mtime is about now, size is right.
fd = os.open(f"{mnt}/t-now", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
os.write(fd, data)
os.utime(fd)
os.close(fd)
st = check("t-now", None, 8192, data)
if abs(st.st_mtime - time.time()) > 60:
    sys.exit(f"t-now: mtime {st.st_mtime_ns}")
PY
# Another mount sees the same after the closes: the server has the times, sizes and data.
other=$(mount_again other)
for f in t-small t-large; do
  [[ "$(stat -c '%Y %s' "$other/$f")" == "1000000000 $(stat -c %s "$MNT/$f")" ]] ||
    fail "$f seen from another mount: $(stat -c '%Y %s' "$other/$f")"
  cmp -s "$other/$f" "$MNT/$f" || fail "$f differs seen from another mount"
done

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
