#!/usr/bin/env bash
# The local-cluster launcher on real daemons: up, status, a second mount, down, up again with the
# data intact; and basalt-mount's errors for an unreachable server and a bad mountpoint.
source "$(dirname "$0")/lib.sh"

start_cluster --chunks 3 --replicas 2
check "the mount answers" mountpoint -q "$MNT"
check "basalt status reports a healthy cluster" basalt status --dir "$CLUSTER"
basalt status --dir "$CLUSTER" | grep -q "Chunk servers known to it: 3" || fail "status does not show 3 chunk servers"

mkdir -p "$MNT/a/b/c"
touch "$MNT/a/file"
ln -s file "$MNT/a/link"
second=$(mount_again second)
check "a second client sees the tree" test -d "$second/a/b/c"
check "a second client sees the symlink" test "$(readlink "$second/a/link")" = file

basalt down --dir "$CLUSTER" >"$E2E_TMP/down.log"
grep -q "meta: stopped" "$E2E_TMP/down.log" || { cat "$E2E_TMP/down.log"; fail "down did not stop meta"; }
check "nothing mounted after down" bash -c "! mountpoint -q '$MNT' && ! mountpoint -q '$second'"
for f in "$CLUSTER"/run/*; do [[ -e "$f" && "$f" != *.addr ]] && fail "down left a record: $f"; done
pgrep -f "$CLUSTER" >/dev/null && fail "down left processes: $(pgrep -af "$CLUSTER")"

# A cluster made before --metas existed has no metas= in cluster.conf: asking for three keeps its
# one metadata server (and says so), now and at the next start.
sed -i '/^metas=/d' "$CLUSTER/cluster.conf"
start_cluster --metas 3
grep -q "keeps its 1 metadata server" "$E2E_TMP/up.log" || fail "up --metas 3 did not say the cluster keeps its one server"
basalt down --dir "$CLUSTER" >"$E2E_TMP/down.log"
start_cluster
check "the tree survived a restart" test -d "$MNT/a/b/c"
check "the symlink survived a restart" test "$(readlink "$MNT/a/link")" = file

# basalt-mount on its own: clear errors, exit 1.
mkdir -p "$E2E_TMP/lonely"
if out=$(timeout 30 basalt-mount 127.0.0.1:1 "$E2E_TMP/lonely" -o timeout=2 2>&1); then
  fail "mounting an unreachable server succeeded"
fi
grep -qi "cannot reach" <<<"$out" || fail "unreachable server: unclear error: $out"
meta=$(awk '{print $2}' "$CLUSTER/run/meta")
if out=$(timeout 30 basalt-mount "$meta" "$E2E_TMP/no/such/dir" 2>&1); then
  fail "mounting on a missing directory succeeded"
fi
grep -qi "mountpoint" <<<"$out" || fail "bad mountpoint: unclear error: $out"
log "ok"
