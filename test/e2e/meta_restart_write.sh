#!/usr/bin/env bash
# A new file written right after the metadata server restarts (as after a failover), before the
# chunk servers have registered with it again: the allocation waits for them instead of failing
# with EIO ("no chunk server is available ... none alive").
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2
echo before >"$MNT/before"
meta=$(pid_of meta)
log "kill -9 of basalt-meta; the chunk servers back off while it is away"
kill -KILL "$meta"
sleep 3   # not a wait for a condition: the point is that the chunk servers' backoff grows
basalt up --dir "$CLUSTER" --mount "" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting basalt-meta"
"$PY" - "$MNT/after" <<'PYEOF' || fail "a write right after the restart failed"
import os, sys, time
t = time.monotonic()
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"after\n" * 1000)
os.fsync(fd)
os.close(fd)
print("create + write + fsync right after the restart: %.2f s" % (time.monotonic() - t))
PYEOF
check "the new file reads back" test "$(head -c 6 "$MNT/after")" = "after"
check "the old file is there" test "$(cat "$MNT/before")" = before
log "ok"
