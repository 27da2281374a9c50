#!/usr/bin/env bash
# New files created just after a chunk server hangs (SIGSTOP). A create assigns its file's first
# chunk to the chunk's replicas while it commits; an assignment the hung server never answers
# fails once the server is suspected (1.5 s of silence) or at the call deadline (2.5 s), and the
# chunk is then placed anew without it (or the hung backup leaves the set). Each create + write +
# close must cost that once (1.8 s here): before the fix the appointment was redone from scratch,
# the hung server was called again, and the writer waited twice (4.3 s here, and a 4.3 s stall
# that failed heal_hang in CI). Every file reads back.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2
MAX_SECONDS=3.0

mkdir "$MNT/n"
echo warm >"$MNT/n/warm" || fail "writing a file before the hang"
victim=$(pid_of chunk2)
kill -STOP "$victim"
log "SIGSTOP chunk2 (pid $victim); 8 new files at once"

# 8 files at once, so that some (all but (1/3)^8 of the time) have a replica on the hung server
# before it is suspected (1.5 s) and new chunks avoid it.
read -r slowest worst <<<"$("$PY" - "$MNT/n" <<'P'
import os, sys, threading, time
d = sys.argv[1]
took = {}
def make(i):
    t0 = time.monotonic()
    fd = os.open(f"{d}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, f"file {i}\n".encode())
    os.close(fd)
    took[i] = time.monotonic() - t0
threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
i = max(took, key=took.get)
print(f"{took[i]:.3f} f{i}")
P
)"
[[ -n "$slowest" ]] || fail "creating the files failed"
kill -CONT "$victim"
log "the slowest create + write + close took $slowest s ($worst)"
for i in $(seq 0 7); do
  [[ "$(cat "$MNT/n/f$i")" == "file $i" ]] || fail "n/f$i reads back wrong"
done
"$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$slowest" "$MAX_SECONDS" ||
  fail "a new file took $slowest s while chunk2 hung (more than $MAX_SECONDS s: the hung server's deadline was waited out twice)"
placed=$(grep -c "held no data yet: replaced by chunk" "$CLUSTER/logs/meta.log" || true)
dropped=$(grep -c "did not accept the assignment; dropping them" "$CLUSTER/logs/meta.log" || true)
log "ok ($placed chunks placed anew without chunk2, $dropped sets that dropped it)"
