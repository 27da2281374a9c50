#!/usr/bin/env bash
# File data through a real mount with 3 chunk servers and 2 replicas, driven by ordinary tools on
# a tree from /usr/include: cp -a + diff -r, rsync twice, tar round trip, git, sqlite3, a 5 GiB
# sparse file, and every replica of every chunk identical.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2
# The tree the tools copy: a part of /usr/include (about 2,000 entries and 25 MiB here: nested
# directories, top-level headers, symlinks) rather than all of it (9,100 entries, 137 MiB): the
# same paths through every tool, in a third of the time the suite's budget allows for it.
SRC="$E2E_TMP/tree"
mkdir -p "$SRC"
(
  cd /usr/include &&
    parts=() && for d in linux asm-generic c++ x86_64-linux-gnu; do [[ -e $d ]] && parts+=("$d"); done &&
    cp -a --parents "${parts[@]}" $(find . -maxdepth 1 \( -type f -o -type l \) -printf '%P\n') "$SRC/"
) || fail "cannot stage the source tree from /usr/include"
log "source tree: $(find "$SRC" | wc -l) entries, $(du -sm "$SRC" | cut -f1) MiB, $(find "$SRC" -type l | wc -l) symlinks"
# KiB the chunk servers hold; files deleted meanwhile by the chunk collector are not an error.
# What the chunk servers hold (the metadata store's LMDB file keeps its high-water mark).
cluster_kib() { { du -sck "$CLUSTER"/chunk* 2>/dev/null || true; } | awk 'END {print $1}'; }

log "cp -a $SRC"
cp -a "$SRC" "$MNT/include"
diff -r --no-dereference "$SRC" "$MNT/include" >/dev/null || fail "diff -r after cp -a found differences"

log "rsync -a twice"
rsync -a "$SRC/" "$MNT/rsynced/"
diff -r --no-dereference "$SRC" "$MNT/rsynced" >/dev/null || fail "diff -r after rsync found differences"
transferred=$(rsync -a --stats "$SRC/" "$MNT/rsynced/" | awk -F: '/Number of regular files transferred/ {gsub(/[ ,]/, "", $2); print $2}')
[[ "$transferred" == 0 ]] || fail "the second rsync transferred $transferred files"

log "tar round trip"
tar -C "$SRC" -cf - . | tar -C "$MNT" -xf - --one-top-level=untarred 2>/dev/null ||
  { mkdir -p "$MNT/untarred" && tar -C "$SRC" -cf - . | tar -C "$MNT/untarred" -xf -; }
diff -r --no-dereference "$SRC" "$MNT/untarred" >/dev/null || fail "diff -r after tar x found differences"
tar -C "$MNT/untarred" -cf "$E2E_TMP/back.tar" . && tar -tf "$E2E_TMP/back.tar" | wc -l >/dev/null ||
  fail "tar c from the mount"

log "git"
(
  cd "$MNT" && mkdir repo && cd repo && git init -q &&
    cp -a "$SRC/linux" . && git add -A &&
    git -c user.name=t -c user.email=t@example.com commit -qm "first" &&
    echo change >>linux/types.h && git -c user.name=t -c user.email=t@example.com commit -qam second &&
    [[ $(git log --oneline | wc -l) == 2 ]] && git fsck --full 2>&1 && [[ -z "$(git status --porcelain)" ]]
) >"$E2E_TMP/git.log" 2>&1 || { cat "$E2E_TMP/git.log"; fail "git init/add/commit/log/fsck"; }

log "sqlite3"
sqlite3 "$MNT/db.sqlite" "create table t(k integer primary key, v text);" ||
  fail "sqlite3 create"
for i in $(seq 1 20); do
  sqlite3 "$MNT/db.sqlite" "begin; $(for j in $(seq 1 50); do echo "insert into t(v) values (hex(randomblob(100)));"; done) commit;" ||
    fail "sqlite3 insert batch $i"
done
[[ $(sqlite3 "$MNT/db.sqlite" "select count(*) from t;") == 1000 ]] || fail "sqlite3 count"
[[ $(sqlite3 "$MNT/db.sqlite" "pragma integrity_check;") == ok ]] || fail "sqlite3 integrity_check"

log "5 GiB sparse file"
sync
before_kib=$(cluster_kib)
head -c 1M /dev/urandom >"$E2E_TMP/head.bin"
head -c 1M /dev/urandom >"$E2E_TMP/tail.bin"
dd if="$E2E_TMP/head.bin" of="$MNT/sparse" bs=1M conv=notrunc status=none
dd if="$E2E_TMP/tail.bin" of="$MNT/sparse" bs=1M seek=5119 conv=notrunc status=none
[[ $(stat -c %s "$MNT/sparse") == $((5 * 1024 * 1024 * 1024)) ]] || fail "sparse size $(stat -c %s "$MNT/sparse")"
cmp <(head -c 1M "$MNT/sparse") "$E2E_TMP/head.bin" || fail "sparse head differs"
cmp <(tail -c 1M "$MNT/sparse") "$E2E_TMP/tail.bin" || fail "sparse tail differs"
cmp <(dd if="$MNT/sparse" bs=1M skip=2000 count=8 status=none) <(head -c 8M /dev/zero) || fail "sparse hole is not zeros"
sync
used=$(( $(cluster_kib) - before_kib ))
log "the 5 GiB sparse file with 2 MiB of data takes $used KiB on the chunk servers (2 replicas)"
(( used < 64 * 1024 )) || fail "the sparse file uses ${used} KiB on the chunk servers"

log "every replica of every chunk identical"
basalt verify --dir "$CLUSTER" >"$E2E_TMP/verify.log" 2>&1 || { tail -20 "$E2E_TMP/verify.log"; fail "basalt verify found differing replicas"; }
grep -q "replicas identical" "$E2E_TMP/verify.log" || { cat "$E2E_TMP/verify.log"; fail "basalt verify said nothing"; }

log "deleting frees chunks"
before=$(cluster_kib)
rm -rf "$MNT/include" "$MNT/rsynced" "$MNT/untarred" "$MNT/sparse"
freed() { (( $(cluster_kib) < before / 2 )); }
wait_for 30 "chunks freed after rm -rf" freed
log "ok"
