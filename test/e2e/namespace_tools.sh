#!/usr/bin/env bash
# Ordinary tools on the namespace: mkdir -p, ln, ln -s, mv, chmod -R, chown, touch -d, find,
# ls -laR, setfattr/getfattr; the same script on a local directory must give the same listing.
source "$(dirname "$0")/lib.sh"
start_cluster
LOCAL=$E2E_TMP/local
mkdir -p "$LOCAL"

scenario() {
  cd "$1"
  mkdir -p a/b/c/d a/x/y
  touch a/b/file1 a/b/c/file2 a/x/y/file3
  ln a/b/file1 a/b/hard1
  ln -s ../b/file1 a/x/sym1
  ln -s /nonexistent a/dangling
  mv a/x/y a/b/c/y
  mv a/b/c/file2 a/file2-moved
  chmod -R go-rwx a/b
  chmod 2775 a/x
  mkdir a/x/inherits
  chown -R 1000:1000 a/b/c
  chown 1001 a/file2-moved
  touch -d "2021-06-07 08:09:10.123456789" a/b/file1
  touch -h -d "2019-01-01 00:00:00" a/x/sym1
  setfattr -n user.note -v "hello world" a/file2-moved
  # A minimal access ACL (u::rw-, g::---, o::---, as cp -a sets on every file) equal to the mode:
  # ext4 stores nothing and neither may Basalt.
  setfattr -n system.posix_acl_access -v 0x0200000001000600ffffffff04000000ffffffff20000000ffffffff a/b/c/y/file3
  # cp -a creates each file 0600 and then sets the source's mode as a minimal ACL: the mode must
  # follow (it did not: every copied file ended up 0600 with the ACL stored beside it).
  mkdir acl
  (umask 022 && echo data >acl/src644 && touch acl/src755 && chmod 755 acl/src755 && chmod 640 acl/src644)
  touch -d "2020-02-03 04:05:06.5" acl/src644
  cp -a acl/src644 acl/copy640
  cp -a acl/src755 acl/copy755
  # A full ACL (u::rw-, u:1000:r--, g::r--, m::rw-, o::---) is stored; the group bits are its mask.
  touch acl/full
  setfattr -n system.posix_acl_access \
    -v 0x0200000001000600ffffffff02000400e803000004000400ffffffff10000600ffffffff20000000ffffffff acl/full
  cp -a acl/full acl/full-copy
  chmod 604 acl/full-copy  # chmod rewrites the stored ACL's owner, mask and other entries
  cd /
}
scenario "$LOCAL"
scenario "$MNT"

listing() {
  # Directory sizes are filesystem-specific (ext4 says 4096); everything else must match.
  (cd "$1" && find . -printf '%p %y %M %n %U %G %s %l\n' | awk '$2 == "d" {$7 = "-"} {print}' | sort)
}
diff <(listing "$LOCAL") <(listing "$MNT") || fail "find listings differ (left local, right basalt)"
diff <(cd "$LOCAL" && ls -laR --time-style=+%s.%N . | grep -v '^total' | awk '{$6=""; if ($1 ~ /^d/) $5=""; print}') \
     <(cd "$MNT" && ls -laR --time-style=+%s.%N . | grep -v '^total' | awk '{$6=""; if ($1 ~ /^d/) $5=""; print}') ||
  fail "ls -laR differs apart from the times of directories changed by the scenario"
[[ "$(stat -c %y "$MNT/a/b/file1")" == "$(stat -c %y "$LOCAL/a/b/file1")" ]] || fail "touch -d time differs"
# cp -a of a file with data: the copy keeps the source's mtime (the commit of the copy's write at
# close used to move it to the time of the close).
[[ "$(stat -c %y "$MNT/acl/copy640")" == "$(stat -c %y "$LOCAL/acl/copy640")" ]] ||
  fail "cp -a did not keep the mtime: $(stat -c %y "$MNT/acl/copy640") vs $(stat -c %y "$LOCAL/acl/copy640")"
[[ "$(getfattr --only-values -n user.note "$MNT/a/file2-moved")" == "hello world" ]] || fail "getfattr"
xattrs() { (cd "$1" && find . -print0 | sort -z | xargs -0 getfattr -h -d -m - 2>/dev/null); }
diff <(xattrs "$LOCAL") <(xattrs "$MNT") || fail "extended attributes differ (left local, right basalt)"
[[ "$(stat -c %a "$MNT/a/x/inherits")" == "$(stat -c %a "$LOCAL/a/x/inherits")" ]] || fail "setgid inheritance differs"
[[ "$(find "$MNT" -name file3)" == "$MNT/a/b/c/y/file3" ]] || fail "find -name"
rm -rf "$MNT/a" "$MNT/acl"
[[ -z "$(ls -A "$MNT")" ]] || fail "rm -rf left $(ls -A "$MNT")"
log "ok"
