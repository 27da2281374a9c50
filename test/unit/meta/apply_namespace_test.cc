// Remove (unlink, rmdir) and Link.
#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;

TEST_CASE("unlink of the last name makes the inode an orphan and updates the parent") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  auto a = f.remove(kRootIno, "f", false);
  REQUIRE(code(a) == 0);
  CHECK(a.effects.orphaned == std::vector<uint64_t>{ino});
  CHECK(f.lookupIno(kRootIno, "f") == 0);
  CHECK(f.inode(ino).nlink == 0);
  CHECK(f.inode(ino).ctime.sec == f.now);
  CHECK(f.hasRow(Table::kOrphans, inoKey(ino)));
  CHECK(f.inode(kRootIno).mtime.sec == f.now);
  f.expectClean();
}

TEST_CASE("unlink of one of two hard links keeps the inode") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "a"));
  REQUIRE(code(f.link(ino, kRootIno, "b")) == 0);
  CHECK(f.inode(ino).nlink == 2);
  auto a = f.remove(kRootIno, "a", false);
  REQUIRE(code(a) == 0);
  CHECK(a.effects.orphaned.empty());
  CHECK(f.inode(ino).nlink == 1);
  CHECK(f.lookupIno(kRootIno, "b") == ino);
  f.expectClean();
}

TEST_CASE("unlink and rmdir refuse the wrong kind, missing names, dot entries and non-empty dirs") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  REQUIRE(code(f.file(d, "inner")) == 0);
  REQUIRE(code(f.file(kRootIno, "file")) == 0);
  CHECK(code(f.remove(kRootIno, "d", false)) == EISDIR);
  CHECK(code(f.remove(kRootIno, "file", true)) == ENOTDIR);
  CHECK(code(f.remove(kRootIno, "d", true)) == ENOTEMPTY);
  CHECK(code(f.remove(kRootIno, "missing", false)) == ENOENT);
  CHECK(code(f.remove(kRootIno, ".", true)) == EINVAL);
  CHECK(code(f.remove(kRootIno, "..", true)) == ENOTEMPTY);
  CHECK(code(f.remove(kRootIno, ".", false)) == EISDIR);
  CHECK(code(f.remove(inoOf(f.file(kRootIno, "plain")), "x", false)) == ENOTDIR);
  CHECK(code(f.remove(d, "inner", false)) == 0);
  auto rm = f.remove(kRootIno, "d", true);
  REQUIRE(code(rm) == 0);
  CHECK(rm.effects.orphaned == std::vector<uint64_t>{d});
  CHECK(f.inode(kRootIno).nlink == 2);
  CHECK(f.inode(d).nlink == 0);
  f.expectClean();
}

TEST_CASE("remove needs write and search permission on the directory") {
  Fixture f;
  REQUIRE(code(f.file(kRootIno, "f")) == 0);
  CHECK(code(f.remove(kRootIno, "f", false, kAlice)) == EACCES);
  CHECK(code(f.remove(kRootIno, "nope", false, kAlice)) == ENOENT);  // lookup fails first, as in Linux
}

TEST_CASE("in a sticky directory only the file's owner, the directory's owner or root may remove") {
  Fixture f;
  uint64_t tmp = inoOf(f.mkdir(kRootIno, "tmp", 01777));
  Cred carol = user(1003, 1003);
  REQUIRE(code(f.file(tmp, "bobs", 0666, kBob)) == 0);
  CHECK(code(f.remove(tmp, "bobs", false, kAlice)) == EPERM);
  CHECK(code(f.remove(tmp, "bobs", false, kBob)) == 0);
  REQUIRE(code(f.file(tmp, "bobs2", 0666, kBob)) == 0);
  CHECK(code(f.remove(tmp, "bobs2", false, kRoot)) == 0);
  // A sticky directory owned by carol: she may remove others' files in it.
  uint64_t own = inoOf(f.mkdir(tmp, "carols", 01777, carol));
  REQUIRE(code(f.file(own, "bobs", 0666, kBob)) == 0);
  CHECK(code(f.remove(own, "bobs", false, kAlice)) == EPERM);
  CHECK(code(f.remove(own, "bobs", false, carol)) == 0);
  f.expectClean();
}

TEST_CASE("link adds a name; directories, existing names, unlinked inodes and the link limit fail") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  auto a = f.link(ino, d, "g");
  REQUIRE(code(a) == 0);
  CHECK(a.reply().getAttr().getNlink() == 2);
  CHECK(f.lookupIno(d, "g") == ino);
  CHECK(f.inode(ino).ctime.sec == f.now);
  CHECK(code(f.link(d, kRootIno, "dlink")) == EPERM);
  CHECK(code(f.link(ino, d, "g")) == EEXIST);
  CHECK(code(f.link(ino, 999, "x")) == ENOENT);
  CHECK(code(f.link(999, d, "x")) == ENOENT);
  CHECK(code(f.link(ino, ino, "x")) == ENOTDIR);
  CHECK(code(f.link(ino, d, std::string(256, 'x'))) == ENAMETOOLONG);
  CHECK(code(f.link(ino, d, "h", kAlice)) == EACCES);
  uint64_t gone = inoOf(f.file(kRootIno, "gone"));
  REQUIRE(code(f.remove(kRootIno, "gone", false)) == 0);
  CHECK(code(f.link(gone, d, "back")) == ENOENT);
  {
    Txn txn = f.store->beginWrite();
    auto n = loadInode(txn, ino);
    n->nlink = kMaxLink;
    saveInode(txn, *n);
    txn.commit();
  }
  CHECK(code(f.link(ino, d, "many")) == EMLINK);
}

TEST_CASE("a retried unlink is answered from the dedup table, not applied twice") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "a"));
  REQUIRE(code(f.link(ino, kRootIno, "b")) == 0);
  auto first = f.remove(kRootIno, "a", false, kRoot, 9, 1);
  REQUIRE(code(first) == 0);
  // Someone re-creates the name; the retry must not remove it.
  REQUIRE(code(f.link(ino, kRootIno, "a")) == 0);
  auto retry = f.remove(kRootIno, "a", false, kRoot, 9, 1);
  CHECK(code(retry) == 0);
  CHECK(retry.effects.replayed);
  CHECK(f.lookupIno(kRootIno, "a") == ino);
  CHECK(f.inode(ino).nlink == 2);
}
