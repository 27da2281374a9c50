#!/usr/bin/env bash
# Two mounts of one cluster: close-to-open consistency (data, size and mtime written and closed on
# one client are seen by an open on the other), and an open file unlinked by the other client stays
# readable and writable until its last close, then is reclaimed. Caches: the kernel keeps attributes
# and names for attr_timeout/entry_timeout (60 s), so what one client changes must reach the other's
# caches by the metadata server's push, well before that.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2
A=$MNT
B=$(mount_again second)

log "close-to-open"
head -c 3000000 /dev/urandom >"$E2E_TMP/data"
cp "$E2E_TMP/data" "$A/shared"
cmp "$E2E_TMP/data" "$B/shared" || fail "client B does not read what client A wrote and closed"
touch -d "2022-02-02 02:02:02" "$A/shared"
echo tail >>"$A/shared"
# B has the attributes cached for 60 s: only the pushed invalidation can show it the change.
wait_for 3 "client B to see A's append in stat" eval '[[ $(stat -c %s "$B/shared") == 3000005 ]]'
[[ "$(tail -c 5 "$B/shared")" == tail ]] || fail "client B does not see the appended data"

log "writes, then futimens or ftruncate on the open file (one commit carries both): B sees both"
"$PY" - "$A/timed" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666)
os.write(fd, b"x" * 5000)
os.utime(fd, ns=(1_000_000_000_000_000_000, 1_500_000_000_123_456_789))  # cp -a's futimens
os.close(fd)
PYEOF
[[ $(stat -c %s "$B/timed") == 5000 ]] || fail "B sees size $(stat -c %s "$B/timed") after write + futimens, not 5000"
[[ $(stat -c %Y "$B/timed") == 1500000000 ]] || fail "B sees mtime $(stat -c %Y "$B/timed") after futimens, not 1500000000"
"$PY" - "$A/timed" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"y" * 100, 9000)
os.ftruncate(fd, 7000)  # the write's commit lands first, then the truncate
os.close(fd)
PYEOF
wait_for 3 "B to see the write then truncate" eval '[[ $(stat -c %s "$B/timed") == 7000 ]]'
# A refused futimens (explicit times by a non-owner) still commits the writes made before it.
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
chmod 666 "$A/timed"
as_user "$PY" - "$A/timed" <<'PYEOF' || fail "the non-owner's write or its refused futimens went wrong"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"z" * 1000, 20000)
try:
    os.utime(fd, ns=(1, 1))
    sys.exit("futimens with explicit times by a non-owner succeeded")
except PermissionError:
    pass
os.close(fd)
PYEOF
wait_for 3 "B to see the non-owner's write despite its refused futimens" eval '[[ $(stat -c %s "$B/timed") == 21000 ]]'
[[ "$(tail -c 3 "$B/timed")" == zzz ]] || fail "B does not read the non-owner's write"

log "open on A, unlinked on B"
inodes() { basalt status --dir "$CLUSTER" | sed -n 's/.*, \([0-9]*\) inodes,.*/\1/p'; }
before=$(inodes)
echo "still here" >"$A/doomed"
[[ $(inodes) == $((before + 1)) ]] || fail "creating a file did not add an inode ($before -> $(inodes))"
exec {fd}<>"$A/doomed"
rm "$B/doomed"
[[ ! -e "$B/doomed" ]] || fail "the name is still visible on B after rm"
wait_for 3 "A to drop the name removed on B" eval '[[ ! -e "$A/doomed" ]]'
[[ "$(cat <&$fd)" == "still here" ]] || fail "the open file is not readable after unlink by another client"
echo "more" >&$fd
[[ $(inodes) == $((before + 1)) ]] || fail "the unlinked file was reclaimed while still open"
exec {fd}>&-
reclaimed() { [[ $(inodes) == "$before" ]]; }
wait_for 10 "the unlinked file to be reclaimed after its last close" reclaimed
log "pushed invalidations: names, attributes and data cached on B follow A's changes"
mkdir "$A/watch"
echo one >"$A/watch/f"
ls -l "$B/watch" >/dev/null; stat "$B/watch/f" >/dev/null; cat "$B/watch/f" >/dev/null  # cache all
chmod 600 "$A/watch/f"
wait_for 3 "B to see the chmod" eval '[[ $(stat -c %a "$B/watch/f") == 600 ]]'
mv "$A/watch/f" "$A/watch/g"
wait_for 3 "B to see the rename" eval '[[ ! -e "$B/watch/f" && -e "$B/watch/g" ]]'
echo "two two" >"$A/watch/g"
wait_for 3 "B to see the new size" eval '[[ $(stat -c %s "$B/watch/g") == 8 ]]'
[[ "$(cat "$B/watch/g")" == "two two" ]] || fail "B reads stale data after A rewrote the file"
[[ ! -e "$B/watch/h" ]] || fail "h exists before it was made"  # B now caches "no such name"
touch "$A/watch/h"
wait_for 3 "B to see the new name (its negative entry dropped)" eval '[[ -e "$B/watch/h" ]]'
rm "$A/watch/h"
wait_for 3 "B to lose the removed name" eval '[[ ! -e "$B/watch/h" ]]'
log "a directory A made is known in full on A (absent names answered there): B's changes show"
mkdir "$A/made"
touch "$A/made/own" && mv "$A/made/own" "$A/made/moved" && ln "$A/made/moved" "$A/made/linked" &&
  rm "$A/made/linked" || fail "A's own changes in its new directory"
[[ -e "$A/made/moved" && ! -e "$A/made/own" && ! -e "$A/made/linked" ]] || fail "A's names after its own changes"
[[ ! -e "$A/made/fromB" ]] || fail "a name nobody made exists"
touch "$B/made/fromB"
wait_for 3 "A to see the name B made in A's directory" eval '[[ -e "$A/made/fromB" ]]'
rm "$B/made/moved"
wait_for 3 "A to lose the name B removed" eval '[[ ! -e "$A/made/moved" ]]'
mkdir "$A/made/sub"
touch "$A/made/sub/a"
mv "$B/made/sub/a" "$B/made/sub/b"
wait_for 3 "A to see B's rename in a directory A made" eval '[[ -e "$A/made/sub/b" && ! -e "$A/made/sub/a" ]]'
log "cached xattr answers follow changes (this mount's and the other's)"
getcap_of() { getfattr --absolute-names --only-values -n security.basalt_test "$1" 2>/dev/null; }
[[ -z "$(getcap_of "$B/watch/g")" ]] || fail "security.basalt_test is set before anyone set it"
setfattr -n security.basalt_test -v one "$A/watch/g"
wait_for 3 "B to see A's new xattr" eval '[[ $(getcap_of "$B/watch/g") == one ]]'
setfattr -n security.basalt_test -v two "$B/watch/g"
[[ $(getcap_of "$B/watch/g") == two ]] || fail "B does not read back its own setxattr"
wait_for 3 "A to see B's changed xattr" eval '[[ $(getcap_of "$A/watch/g") == two ]]'
setfattr -x security.basalt_test "$A/watch/g"
wait_for 3 "B to see the xattr removed" eval '[[ -z $(getcap_of "$B/watch/g") ]]'
touch "$A/watch/new"  # created here: known to have no xattrs, until the other mount sets one
setfattr -n security.basalt_test -v three "$B/watch/new"
wait_for 3 "A to see an xattr set on its new file" eval '[[ $(getcap_of "$A/watch/new") == three ]]'

log "ok"
