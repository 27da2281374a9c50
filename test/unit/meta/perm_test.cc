#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {
Inode node(uint32_t mode, uint32_t uid = 1000, uint32_t gid = 100) {
  Inode n;
  n.ino = 5;
  n.mode = mode;
  n.uid = uid;
  n.gid = gid;
  return n;
}
}  // namespace

TEST_CASE("permission checks follow owner, then group (incl. supplementary), then other") {
  struct Row {
    const char* what;
    uint32_t mode;
    Cred cred;
    uint32_t mask;
    int expected;
  };
  Cred owner = user(1000, 1);
  Cred member = user(2000, 100);
  Cred supplementary = user(2001, 7, {8, 100});
  Cred other = user(3000, 3000);
  Cred root = user(0, 0);
  Row rows[] = {
      {"owner reads 0400", S_IFREG | 0400, owner, kMayRead, 0},
      {"owner cannot write 0400", S_IFREG | 0400, owner, kMayWrite, EACCES},
      {"owner class wins over group: 0070 denies the owner", S_IFREG | 0070, owner, kMayRead, EACCES},
      {"group member reads 0040", S_IFREG | 0040, member, kMayRead, 0},
      {"supplementary group reads 0040", S_IFREG | 0040, supplementary, kMayRead, 0},
      {"group class wins over other: 0007 denies a member", S_IFREG | 0007, member, kMayRead, EACCES},
      {"other reads 0004", S_IFREG | 0004, other, kMayRead, 0},
      {"other cannot write 0775", S_IFREG | 0775, other, kMayWrite, EACCES},
      {"rw needs both bits", S_IFREG | 0604, other, kMayRead | kMayWrite, EACCES},
      {"search a 0711 dir as other", S_IFDIR | 0711, other, kMayExec, 0},
      {"no search in 0700 dir as other", S_IFDIR | 0700, other, kMayExec, EACCES},
      {"root reads 0000", S_IFREG | 0000, root, kMayRead, 0},
      {"root writes 0000", S_IFREG | 0000, root, kMayWrite, 0},
      {"root searches a 0000 dir", S_IFDIR | 0000, root, kMayExec, 0},
      {"root cannot exec a file without x bits", S_IFREG | 0666, root, kMayExec, EACCES},
      {"root execs a file with any x bit", S_IFREG | 0001, root, kMayExec, 0},
      {"existence check always passes", S_IFREG | 0000, other, 0, 0},
  };
  for (auto& r : rows) {
    CAPTURE(r.what);
    CHECK(checkPermission(r.cred, node(r.mode), r.mask).code() == r.expected);
  }
}

TEST_CASE("the sticky rule lets the file owner, the directory owner and root remove") {
  Inode dir = node(S_IFDIR | 01777, 50);
  Inode file = node(S_IFREG | 0666, 60);
  CHECK(checkSticky(user(60, 1), dir, file).isOk());
  CHECK(checkSticky(user(50, 1), dir, file).isOk());
  CHECK(checkSticky(user(0, 0), dir, file).isOk());
  CHECK(checkSticky(user(70, 1), dir, file).code() == EPERM);
  Inode plain = node(S_IFDIR | 0777, 50);
  CHECK(checkSticky(user(70, 1), plain, file).isOk());
}

TEST_CASE("open flags map to the access they need") {
  CHECK(openMask(O_RDONLY) == kMayRead);
  CHECK(openMask(O_WRONLY) == kMayWrite);
  CHECK(openMask(O_RDWR) == (kMayRead | kMayWrite));
  CHECK(openMask(O_RDONLY | O_TRUNC) == (kMayRead | kMayWrite));
}

TEST_CASE("access() reports permission for the caller, and F_OK for existence") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f", 0640));
  CHECK(access(*f.store, kAlice, ino, 0).isOk());
  CHECK(access(*f.store, kAlice, ino, kMayRead).code() == EACCES);
  CHECK(access(*f.store, user(5, 0), ino, kMayRead).isOk());
  CHECK(access(*f.store, kRoot, ino, kMayExec).code() == EACCES);
  CHECK(access(*f.store, kAlice, 999, 0).code() == ENOENT);
}

TEST_CASE("lookup needs search permission on the directory and resolves dot entries") {
  Fixture f;
  uint64_t pub = inoOf(f.mkdir(kRootIno, "pub", 0777));
  uint64_t d = inoOf(f.mkdir(pub, "private", 0700, kBob));
  REQUIRE(code(f.file(d, "x", 0644, kBob)) == 0);
  CHECK(lookup(*f.store, kAlice, d, "x").status().code() == EACCES);
  CHECK(lookup(*f.store, kBob, d, "x").isOk());
  CHECK(lookup(*f.store, kBob, d, "y").status().code() == ENOENT);
  CHECK(lookup(*f.store, kBob, d, std::string(256, 'y')).status().code() == ENAMETOOLONG);
  CHECK(lookup(*f.store, kBob, d, "..")->ino == pub);
  CHECK(lookup(*f.store, kBob, kRootIno, "..")->ino == kRootIno);
  CHECK(lookup(*f.store, kBob, inoOf(f.file(kRootIno, "file")), "x").status().code() == ENOTDIR);
}

TEST_CASE("open checks: directories only read-only, symlinks refuse, modes by access") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  uint64_t file = inoOf(f.file(kRootIno, "f", 0644));
  uint64_t lnk = inoOf(f.create(kRootIno, "l", S_IFLNK, kRoot, [](auto cr) { cr.setTarget("f"); }));
  CHECK(checkOpen(*f.store, kRoot, d, O_RDONLY).isOk());
  CHECK(checkOpen(*f.store, kRoot, d, O_WRONLY).status().code() == EISDIR);
  CHECK(checkOpen(*f.store, kRoot, lnk, O_RDONLY).status().code() == ELOOP);
  CHECK(checkOpen(*f.store, kAlice, file, O_RDONLY).isOk());
  CHECK(checkOpen(*f.store, kAlice, file, O_RDWR).status().code() == EACCES);
  CHECK(checkOpen(*f.store, kAlice, 999, O_RDONLY).status().code() == ENOENT);
}
