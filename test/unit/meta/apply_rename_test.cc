#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;
namespace rpc = basalt::rpc;

TEST_CASE("rename within a directory keeps the inode and moves the name") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "a"));
  auto r = f.rename(kRootIno, "a", kRootIno, "b");
  REQUIRE(code(r) == 0);
  CHECK(f.lookupIno(kRootIno, "a") == 0);
  CHECK(f.lookupIno(kRootIno, "b") == ino);
  CHECK(f.inode(ino).ctime.sec == f.now);
  CHECK(f.inode(kRootIno).mtime.sec == f.now);
  f.expectClean();
}

TEST_CASE("moving a directory to another parent moves its '..' and the parents' link counts") {
  Fixture f;
  uint64_t a = inoOf(f.mkdir(kRootIno, "a"));
  uint64_t b = inoOf(f.mkdir(kRootIno, "b"));
  uint64_t d = inoOf(f.mkdir(a, "d"));
  CHECK(f.inode(a).nlink == 3);
  REQUIRE(code(f.rename(a, "d", b, "d2")) == 0);
  CHECK(f.inode(a).nlink == 2);
  CHECK(f.inode(b).nlink == 3);
  CHECK(f.lookupIno(d, "..") == b);
  CHECK(f.inode(a).mtime.sec == f.now);
  CHECK(f.inode(b).mtime.sec == f.now);
  f.expectClean();
}

TEST_CASE("rename replaces a file (orphaning it) or an empty directory") {
  Fixture f;
  uint64_t src = inoOf(f.file(kRootIno, "src"));
  uint64_t victim = inoOf(f.file(kRootIno, "victim"));
  auto r = f.rename(kRootIno, "src", kRootIno, "victim");
  REQUIRE(code(r) == 0);
  CHECK(r.effects.orphaned == std::vector<uint64_t>{victim});
  CHECK(f.lookupIno(kRootIno, "victim") == src);
  CHECK(f.inode(victim).nlink == 0);

  uint64_t a = inoOf(f.mkdir(kRootIno, "a"));
  uint64_t p = inoOf(f.mkdir(kRootIno, "p"));
  uint64_t empty = inoOf(f.mkdir(p, "empty"));
  REQUIRE(code(f.rename(kRootIno, "a", p, "empty")) == 0);
  CHECK(f.lookupIno(p, "empty") == a);
  CHECK(f.inode(empty).nlink == 0);
  CHECK(f.inode(p).nlink == 3);
  CHECK(f.inode(kRootIno).nlink == 3);  // only p is left under the root
  f.expectClean();
}

TEST_CASE("rename refuses kind mismatches and non-empty targets") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  REQUIRE(code(f.mkdir(kRootIno, "full")) == 0);
  REQUIRE(code(f.file(f.lookupIno(kRootIno, "full"), "x")) == 0);
  REQUIRE(code(f.file(kRootIno, "file")) == 0);
  CHECK(code(f.rename(kRootIno, "file", kRootIno, "d")) == EISDIR);
  CHECK(code(f.rename(kRootIno, "d", kRootIno, "file")) == ENOTDIR);
  CHECK(code(f.rename(kRootIno, "d", kRootIno, "full")) == ENOTEMPTY);
  CHECK(code(f.rename(kRootIno, "missing", kRootIno, "x")) == ENOENT);
  CHECK(code(f.rename(kRootIno, ".", kRootIno, "x")) == EBUSY);
  CHECK(code(f.rename(kRootIno, "file", kRootIno, "..")) == EBUSY);
  CHECK(code(f.rename(kRootIno, "file", kRootIno, "..", rpc::RENAME_FLAG_NO_REPLACE)) == EEXIST);
  CHECK(code(f.rename(kRootIno, "file", 999, "x")) == ENOENT);
  CHECK(code(f.rename(kRootIno, "file", kRootIno, "a/b")) == EINVAL);
  CHECK(f.lookupIno(kRootIno, "d") == d);
  f.expectClean();
}

TEST_CASE("RENAME_NOREPLACE fails on an existing target; both flags together are invalid") {
  Fixture f;
  REQUIRE(code(f.file(kRootIno, "a")) == 0);
  REQUIRE(code(f.file(kRootIno, "b")) == 0);
  CHECK(code(f.rename(kRootIno, "a", kRootIno, "b", rpc::RENAME_FLAG_NO_REPLACE)) == EEXIST);
  CHECK(code(f.rename(kRootIno, "a", kRootIno, "c", rpc::RENAME_FLAG_NO_REPLACE)) == 0);
  CHECK(code(f.rename(kRootIno, "c", kRootIno, "d", rpc::RENAME_FLAG_NO_REPLACE | rpc::RENAME_FLAG_EXCHANGE)) == EINVAL);
  CHECK(code(f.rename(kRootIno, "c", kRootIno, "d", 8)) == EINVAL);
}

TEST_CASE("RENAME_EXCHANGE swaps a file and a directory across parents and fixes link counts") {
  Fixture f;
  uint64_t p1 = inoOf(f.mkdir(kRootIno, "p1"));
  uint64_t p2 = inoOf(f.mkdir(kRootIno, "p2"));
  uint64_t file = inoOf(f.file(p1, "x"));
  uint64_t dir = inoOf(f.mkdir(p2, "y"));
  REQUIRE(code(f.file(dir, "inside")) == 0);  // exchange does not need an empty directory
  CHECK(code(f.rename(p1, "x", p2, "missing", rpc::RENAME_FLAG_EXCHANGE)) == ENOENT);
  REQUIRE(code(f.rename(p1, "x", p2, "y", rpc::RENAME_FLAG_EXCHANGE)) == 0);
  CHECK(f.lookupIno(p1, "x") == dir);
  CHECK(f.lookupIno(p2, "y") == file);
  CHECK(f.inode(p1).nlink == 3);
  CHECK(f.inode(p2).nlink == 2);
  CHECK(f.lookupIno(dir, "..") == p1);
  f.expectClean();
}

TEST_CASE("a directory cannot move into its own subtree") {
  Fixture f;
  uint64_t a = inoOf(f.mkdir(kRootIno, "a"));
  uint64_t b = inoOf(f.mkdir(a, "b"));
  uint64_t c = inoOf(f.mkdir(b, "c"));
  CHECK(code(f.rename(kRootIno, "a", c, "a")) == EINVAL);
  CHECK(code(f.rename(kRootIno, "a", a, "self")) == EINVAL);
  // The target being an ancestor of the source: not empty, or EINVAL for an exchange.
  CHECK(code(f.rename(b, "c", kRootIno, "a")) == ENOTEMPTY);
  CHECK(code(f.rename(b, "c", kRootIno, "a", rpc::RENAME_FLAG_EXCHANGE)) == EINVAL);
  f.expectClean();
}

TEST_CASE("renaming onto another name of the same inode does nothing") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "a"));
  REQUIRE(code(f.link(ino, kRootIno, "b")) == 0);
  REQUIRE(code(f.rename(kRootIno, "a", kRootIno, "b")) == 0);
  CHECK(f.lookupIno(kRootIno, "a") == ino);
  CHECK(f.lookupIno(kRootIno, "b") == ino);
  CHECK(f.inode(ino).nlink == 2);
  REQUIRE(code(f.rename(kRootIno, "a", kRootIno, "a")) == 0);
  f.expectClean();
}

TEST_CASE("rename checks permissions: write on both parents, sticky, write on a moved directory") {
  Fixture f;
  uint64_t pub = inoOf(f.mkdir(kRootIno, "pub", 01777));
  uint64_t other = inoOf(f.mkdir(kRootIno, "other", 0777));
  REQUIRE(code(f.file(pub, "bobs", 0644, kBob)) == 0);
  CHECK(code(f.rename(pub, "bobs", pub, "mine", 0, kAlice)) == EPERM);
  CHECK(code(f.rename(pub, "bobs", kRootIno, "x", 0, kBob)) == EACCES);  // root dir not writable
  CHECK(code(f.rename(pub, "bobs", other, "bobs", 0, kBob)) == 0);
  // Moving a directory to another parent rewrites its "..": the mover needs write permission on it.
  REQUIRE(code(f.mkdir(other, "ro", 0555, kBob)) == 0);
  CHECK(code(f.rename(other, "ro", pub, "ro", 0, kBob)) == EACCES);
  CHECK(code(f.rename(other, "ro", other, "ro2", 0, kBob)) == 0);  // same parent: fine
  f.expectClean();
}

TEST_CASE("a retried rename is answered from the dedup table") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "a"));
  REQUIRE(code(f.rename(kRootIno, "a", kRootIno, "b", 0, kRoot, 3, 10)) == 0);
  auto retry = f.rename(kRootIno, "a", kRootIno, "b", 0, kRoot, 3, 10);
  CHECK(code(retry) == 0);  // not ENOENT: the first answer
  CHECK(retry.effects.replayed);
  CHECK(f.lookupIno(kRootIno, "b") == ino);
}
