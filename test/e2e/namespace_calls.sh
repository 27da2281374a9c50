#!/usr/bin/env bash
# Every namespace call through a real mount, with its success and errno cases, run side by side on
# a local directory: the mount must give the same result as the local filesystem.
source "$(dirname "$0")/lib.sh"
start_cluster

LOCAL=$E2E_TMP/local
mkdir -p "$LOCAL"

# same OP ARGS (with @ for the root of each tree): the errno (or OK + result) must match local.
same() {
  local op=$1
  shift
  local la=() ma=()
  for a in "$@"; do la+=("${a//@/$LOCAL}"); ma+=("${a//@/$MNT}"); done
  local want got
  want=$("$PY" "$E2E_DIR/sys.py" "$op" "${la[@]}" 2>&1 | sed "s|$LOCAL|@|g")
  got=$("$PY" "$E2E_DIR/sys.py" "$op" "${ma[@]}" 2>&1 | sed "s|$MNT|@|g")
  [[ "$want" == "$got" ]] || fail "$op $*: local gave '$want', basalt gave '$got'"
}

# --- mkdir / rmdir
same mkdir @/d
same mkdir @/d                      # EEXIST
same mkdir @/nope/d                 # ENOENT
same mkdir @/d/sub
same rmdir @/d                      # ENOTEMPTY
same rmdir @/d/sub
same rmdir @/d/sub                  # ENOENT
same mkdir "@/$(printf 'n%.0s' {1..256})"   # ENAMETOOLONG
same mkdir "@/$(printf 'n%.0s' {1..255})"   # 255 bytes is fine
same stat @/d

# --- files: create, O_EXCL, O_TRUNC, unlink
same open @/f "O_CREAT|O_WRONLY" 0640
same open @/f "O_CREAT|O_EXCL|O_WRONLY"     # EEXIST
same open @/f "O_RDWR|O_TRUNC"
same open @/missing O_RDONLY                # ENOENT
same open @/f/x "O_CREAT|O_WRONLY"          # ENOTDIR
same open @/d "O_WRONLY"                    # EISDIR
same stat @/f
same unlink @/d                             # EISDIR
same rmdir @/f                              # ENOTDIR
same unlink @/nothing                       # ENOENT

# --- special files
same mkfifo @/fifo
same mknod @/sock sock
same mknod @/chr chr 1 3
same mknod @/blk blk 7 0
for n in fifo sock chr blk; do same stat "@/$n"; done
[[ "$(stat -c %t:%T "$MNT/chr")" == "1:3" ]] || fail "char device numbers wrong: $(stat -c %t:%T "$MNT/chr")"

# --- symlinks
same symlink f @/link
same readlink @/link
same symlink f @/link                       # EEXIST
same readlink @/f                           # EINVAL
same symlink "$(printf 't%.0s' {1..4096})" @/longlink   # ENAMETOOLONG
same symlink "$(printf 't%.0s' {1..4095})" @/okaylink
same stat @/link

# --- hard links
same link @/f @/f2
same stat @/f
same link @/d @/d2                          # EPERM
same link @/f @/f2                          # EEXIST
same unlink @/f2
same stat @/f

# --- rename
same mkdir @/r
same mkdir @/r/a
same mkdir @/r/b
same open @/r/file "O_CREAT|O_WRONLY"
same rename @/r/a @/r/a/inside              # EINVAL
same rename @/r/file @/r/a                  # EISDIR
same rename @/r/a @/r/file                  # ENOTDIR
same rename @/r/a @/r/b                     # replaces an empty dir
same listdir @/r
same stat @/r
same mkdir @/r/c
same open @/r/c/x "O_CREAT|O_WRONLY"
same rename @/r/b @/r/c                     # ENOTEMPTY
same rename @/r/file @/r/c/x                # replaces a file
same listdir @/r/c
same rename @/r/c @/d/moved                 # across directories
same stat @/d
same stat @/r
same renameat2 @/d/moved @/r/b 1            # RENAME_NOREPLACE: EEXIST
same open @/r/y "O_CREAT|O_WRONLY"
same renameat2 @/r/y @/d/moved 2            # RENAME_EXCHANGE
same stat @/r/y
same stat @/d/moved
same rename @/r/b @/r/b                     # same name: no-op

# --- setattr: chmod, chown, truncate, utimes
same chmod @/f 4755
same stat @/f
same chown @/f 1234 5678                    # root may; clears setuid
same stat @/f
same truncate @/f 12345
same stat @/f
same truncate @/f 10
same stat @/f
same utime @/f 1000000000123456789 1100000000987654321
[[ "$(stat -c %X.%x "$MNT/f")" == *"2001-09-09 01:46:40.123456789"* ]] || fail "atime with ns lost: $(stat -c %x "$MNT/f")"
[[ "$(stat -c %y "$MNT/f")" == *"2004-11-09 11:33:20.987654321"* ]] || fail "mtime with ns lost: $(stat -c %y "$MNT/f")"
touch -d "2020-02-03 04:05:06" "$MNT/f"
[[ "$(stat -c %y "$MNT/f")" == "2020-02-03 04:05:06.000000000"* ]] || fail "touch -d: $(stat -c %y "$MNT/f")"
before=$(stat -c %Z "$MNT/f")
sleep 1.1
chmod 600 "$MNT/f"
(( $(stat -c %Z "$MNT/f") > before )) || fail "chmod did not move ctime"

# --- xattrs
same setxattr @/f user.color blue
same getxattr @/f user.color
same setxattr @/f user.color red 1          # XATTR_CREATE: EEXIST
same setxattr @/f user.size big 2           # XATTR_REPLACE: ENODATA
same getxattr @/f user.nothing              # ENODATA
same setxattr @/f user.size big
same listxattr @/f
same removexattr @/f user.size
same removexattr @/f user.size              # ENODATA
same listxattr @/f
same setxattr @/f trusted.t value
same getxattr @/f trusted.t
setfattr -n user.tool -v hello "$MNT/f"
[[ "$(getfattr --only-values -n user.tool "$MNT/f")" == hello ]] || fail "setfattr/getfattr"

# --- permissions as an ordinary user (uid 1000)
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
mkdir -p "$MNT/priv" "$LOCAL/priv"
chmod 700 "$MNT/priv" "$LOCAL/priv"
mkdir -p "$MNT/pub" "$LOCAL/pub"
chmod 1777 "$MNT/pub" "$LOCAL/pub"
for root in "$LOCAL" "$MNT"; do
  touch "$root/pub/roots"
  as_user touch "$root/pub/mine"
done
usame() {  # like `same` but as uid 1000
  local op=$1; shift
  local la=() ma=()
  for a in "$@"; do la+=("${a//@/$LOCAL}"); ma+=("${a//@/$MNT}"); done
  local want got
  want=$(as_user "$PY" "$E2E_DIR/sys.py" "$op" "${la[@]}" 2>&1 | sed "s|$LOCAL|@|g")
  got=$(as_user "$PY" "$E2E_DIR/sys.py" "$op" "${ma[@]}" 2>&1 | sed "s|$MNT|@|g")
  [[ "$want" == "$got" ]] || fail "as uid 1000: $op $*: local gave '$want', basalt gave '$got'"
}
usame listdir @/priv                        # EACCES
usame open @/priv/x "O_CREAT|O_WRONLY"      # EACCES
usame unlink @/pub/roots                    # sticky: EPERM
usame unlink @/pub/mine
usame chmod @/f 777                         # EPERM
usame chown @/pub 1000 1000                 # EPERM
usame access @/f 2
usame mkdir @/pub/ud
usame stat @/pub/ud

# --- readdir: every entry once, while the directory changes
mkdir "$MNT/many"
for i in $(seq 1 500); do : >"$MNT/many/file$i"; done
[[ $(ls "$MNT/many" | wc -l) == 500 ]] || fail "readdir of 500 entries gave $(ls "$MNT/many" | wc -l)"
"$PY" - "$MNT/many" <<'PY' || fail "readdir while the directory changes"
import os, sys
d = sys.argv[1]
seen = []
with os.scandir(d) as it:
    for i, e in enumerate(it):
        seen.append(e.name)
        if i == 100:
            for k in range(1, 50):          # remove entries already listed
                os.unlink(os.path.join(d, "file%d" % k))
            for k in range(1000, 1100):     # and add new ones
                open(os.path.join(d, "new%d" % k), "w").close()
dups = len(seen) - len(set(seen))
untouched = {"file%d" % k for k in range(50, 501)}
missing = untouched - set(seen)
if dups or missing:
    print("duplicates:", dups, "missing untouched:", sorted(missing)[:5])
    sys.exit(1)
PY

# --- statfs
df -P "$MNT" | tail -1 | awk '{ exit !($2 > 0) }' || fail "statfs shows no capacity: $(df -P "$MNT")"
"$PY" -c "import os,sys; s=os.statvfs(sys.argv[1]); sys.exit(0 if s.f_namemax==255 else 1)" "$MNT" || fail "namemax is not 255"
log "ok"
