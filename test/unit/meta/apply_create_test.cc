#include <fcntl.h>

#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;

TEST_CASE("create makes a regular file with the caller's ids and the command's time") {
  Fixture f;
  auto a = f.file(kRootIno, "hello", 0640, kRoot);
  REQUIRE(code(a) == 0);
  Inode n = f.inode(inoOf(a));
  CHECK(n.mode == (S_IFREG | 0640));
  CHECK(n.nlink == 1);
  CHECK(n.uid == 0);
  CHECK(n.generation == 7);
  CHECK(n.mtime.sec == f.now);
  CHECK(n.ctime.sec == f.now);
  CHECK(n.atime.sec == f.now);
  CHECK(f.lookupIno(kRootIno, "hello") == n.ino);
  Inode root = f.inode(kRootIno);
  CHECK(root.mtime.sec == f.now);
  CHECK(root.nlink == 2);
  f.expectClean();
}

TEST_CASE("mkdir starts at nlink 2 and adds one to the parent") {
  Fixture f;
  auto a = f.mkdir(kRootIno, "d");
  REQUIRE(code(a) == 0);
  CHECK(f.inode(inoOf(a)).nlink == 2);
  CHECK(f.inode(kRootIno).nlink == 3);
  CHECK(f.lookupIno(inoOf(a), "..") == kRootIno);
  CHECK(f.lookupIno(inoOf(a), ".") == inoOf(a));
  f.expectClean();
}

TEST_CASE("mknod makes FIFOs and sockets for anyone, device nodes only for root") {
  Fixture f;
  REQUIRE(code(f.mkdir(kRootIno, "pub", 0777)) == 0);
  uint64_t pub = f.lookupIno(kRootIno, "pub");
  CHECK(code(f.create(pub, "fifo", S_IFIFO | 0600, kAlice)) == 0);
  CHECK(code(f.create(pub, "sock", S_IFSOCK | 0600, kAlice)) == 0);
  CHECK(code(f.create(pub, "chr", S_IFCHR | 0600, kAlice)) == EPERM);
  auto dev = f.create(pub, "chr", S_IFCHR | 0600, kRoot, [](auto cr) { cr.setRdev(0x0501); });
  REQUIRE(code(dev) == 0);
  CHECK(f.inode(inoOf(dev)).rdev == 0x0501);
  CHECK(code(f.create(pub, "blk", S_IFBLK | 0600, kRoot)) == 0);
  CHECK(code(f.create(pub, "weird", 0170000 | 0600, kRoot)) == EINVAL);
  CHECK(S_ISFIFO(f.inode(f.lookupIno(pub, "fifo")).mode));
  f.expectClean();
}

TEST_CASE("symlink stores its target and limits it to 4095 bytes") {
  Fixture f;
  auto a = f.create(kRootIno, "l", S_IFLNK, kRoot, [](auto cr) { cr.setTarget("some/where"); });
  REQUIRE(code(a) == 0);
  CHECK(f.inode(inoOf(a)).size == 10);
  CHECK(f.inode(inoOf(a)).mode == (S_IFLNK | 0777));
  CHECK(*readLink(*f.store, inoOf(a)) == "some/where");
  CHECK(readLink(*f.store, kRootIno).status().code() == EINVAL);
  std::string max(4095, 'x'), over(4096, 'x');
  CHECK(code(f.create(kRootIno, "max", S_IFLNK, kRoot, [&](auto cr) { cr.setTarget(max); })) == 0);
  CHECK(code(f.create(kRootIno, "over", S_IFLNK, kRoot, [&](auto cr) { cr.setTarget(over); })) == ENAMETOOLONG);
  CHECK(code(f.create(kRootIno, "empty", S_IFLNK, kRoot, [&](auto cr) { cr.setTarget(""); })) == ENOENT);
  f.expectClean();
}

TEST_CASE("create checks names: empty, slash, too long, dot entries") {
  Fixture f;
  CHECK(code(f.file(kRootIno, "")) == EINVAL);
  CHECK(code(f.file(kRootIno, "a/b")) == EINVAL);
  CHECK(code(f.file(kRootIno, std::string(256, 'n'))) == ENAMETOOLONG);
  CHECK(code(f.file(kRootIno, std::string(255, 'n'))) == 0);
  CHECK(code(f.mkdir(kRootIno, ".")) == EEXIST);
  CHECK(code(f.mkdir(kRootIno, "..")) == EEXIST);
}

TEST_CASE("create fails on a missing or non-directory parent and without write+search permission") {
  Fixture f;
  CHECK(code(f.file(999, "x")) == ENOENT);
  auto file = f.file(kRootIno, "file");
  CHECK(code(f.file(inoOf(file), "x")) == ENOTDIR);
  CHECK(code(f.file(kRootIno, "x", 0644, kAlice)) == EACCES);  // root dir is 0755 root
  auto d = f.mkdir(kRootIno, "d", 0766);                        // others: rw but no search
  CHECK(code(f.file(inoOf(d), "x", 0644, kAlice)) == EACCES);
  auto rm = f.mkdir(kRootIno, "gone");
  REQUIRE(code(f.remove(kRootIno, "gone", true)) == 0);
  CHECK(code(f.file(inoOf(rm), "x")) == ENOENT);
}

TEST_CASE("O_EXCL fails on an existing name; without it an existing file is opened, O_TRUNC truncates") {
  Fixture f;
  auto a = f.file(kRootIno, "f", 0666);
  REQUIRE(code(a) == 0);
  uint64_t ino = inoOf(a);
  CHECK(code(f.file(kRootIno, "f")) == EEXIST);
  CHECK(code(f.mkdir(kRootIno, "f")) == EEXIST);
  REQUIRE(code(f.setAttr(ino, [](auto s) {
            s.setValid(basalt::rpc::SET_SIZE | basalt::rpc::SET_MODE);
            s.setSize(200ull << 20);
            s.setMode(06777);
          })) == 0);
  f.putChunk(ino, 0, 555);
  f.putChunk(ino, 2, 556);
  auto open = f.create(kRootIno, "f", S_IFREG | 0600, kAlice, [](auto cr) {
    cr.setExclusive(false);
    cr.setOpen(true);
    cr.setOpenFlags(O_RDWR);
    cr.setTruncate(true);
    cr.setHandle(42);
  });
  REQUIRE(code(open) == 0);
  CHECK(open.reply().getExisted());
  CHECK(open.reply().getHandle() == 42);
  CHECK(inoOf(open) == ino);
  Inode n = f.inode(ino);
  CHECK(n.size == 0);
  CHECK((n.mode & S_ISUID) == 0);  // a truncation by a non-root caller drops suid
  CHECK((n.mode & S_ISGID) == 0);  // and sgid, the file being group-executable
  CHECK(f.rows(Table::kChunks) == 0);
  CHECK(f.hasRow(Table::kGarbage, be64(555)));
  CHECK(f.hasRow(Table::kGarbage, be64(556)));
  auto dir = f.mkdir(kRootIno, "dir");
  CHECK(code(f.create(kRootIno, "dir", S_IFREG | 0600, kRoot, [](auto cr) { cr.setExclusive(false); })) == EISDIR);
}

TEST_CASE("opening an existing file through create checks its permissions") {
  Fixture f;
  REQUIRE(code(f.mkdir(kRootIno, "pub", 0777)) == 0);
  uint64_t pub = f.lookupIno(kRootIno, "pub");
  REQUIRE(code(f.file(pub, "ro", 0644, kBob)) == 0);
  auto w = f.create(pub, "ro", S_IFREG | 0644, kAlice, [](auto cr) {
    cr.setExclusive(false);
    cr.setOpen(true);
    cr.setOpenFlags(O_WRONLY);
  });
  CHECK(code(w) == EACCES);
  auto r = f.create(pub, "ro", S_IFREG | 0644, kAlice, [](auto cr) {
    cr.setExclusive(false);
    cr.setOpen(true);
    cr.setOpenFlags(O_RDONLY);
  });
  CHECK(code(r) == 0);
}

TEST_CASE("a setgid directory gives new inodes its group and new subdirectories its setgid bit") {
  Fixture f;
  auto d = f.mkdir(kRootIno, "shared", 02777);
  REQUIRE(code(d) == 0);
  REQUIRE(code(f.setAttr(inoOf(d), [](auto s) {
            s.setValid(basalt::rpc::SET_GID);
            s.setGid(500);
          })) == 0);
  REQUIRE(code(f.setAttr(inoOf(d), [](auto s) {
            s.setValid(basalt::rpc::SET_MODE);
            s.setMode(02777);
          })) == 0);
  auto file = f.file(inoOf(d), "file", 02755, kAlice);  // alice is not in group 500
  REQUIRE(code(file) == 0);
  CHECK(f.inode(inoOf(file)).gid == 500);
  CHECK((f.inode(inoOf(file)).mode & S_ISGID) == 0);
  auto member = f.file(inoOf(d), "member", 02755, basalt::meta::test::user(1002, 1002, {500}));
  CHECK((f.inode(inoOf(member)).mode & S_ISGID) != 0);
  auto sub = f.mkdir(inoOf(d), "sub", 0755, kAlice);
  REQUIRE(code(sub) == 0);
  CHECK(f.inode(inoOf(sub)).gid == 500);
  CHECK((f.inode(inoOf(sub)).mode & S_ISGID) != 0);
  auto plain = f.file(kRootIno, "plain", 0644, kRoot);
  CHECK(f.inode(inoOf(plain)).gid == 0);
}

TEST_CASE("mkdir in a directory at the link limit fails with EMLINK") {
  Fixture f;
  {
    Txn txn = f.store->beginWrite();
    auto root = loadInode(txn, kRootIno);
    root->nlink = kMaxLink;
    saveInode(txn, *root);
    txn.commit();
  }
  CHECK(code(f.mkdir(kRootIno, "one")) == EMLINK);
  CHECK(code(f.file(kRootIno, "file")) == 0);
}

TEST_CASE("a retried create (same session and seq) is applied once and answered the same") {
  Fixture f;
  auto first = f.create(kRootIno, "once", S_IFREG | 0644, kRoot, {}, 77, 5);
  REQUIRE(code(first) == 0);
  auto again = f.create(kRootIno, "once", S_IFREG | 0644, kRoot, {}, 77, 5);  // the leader gave it a new ino
  CHECK(code(again) == 0);
  CHECK(again.effects.replayed);
  CHECK(inoOf(again) == inoOf(first));
  CHECK(f.rows(Table::kInodes) == 2);
  // A failed command's answer is remembered too.
  auto bad = f.create(kRootIno, "once", S_IFREG | 0644, kRoot, {}, 77, 6);
  CHECK(code(bad) == EEXIST);
  CHECK(code(f.create(kRootIno, "once", S_IFREG | 0644, kRoot, {}, 77, 6)) == EEXIST);
  // Another seq is a new command.
  CHECK(code(f.create(kRootIno, "once", S_IFREG | 0644, kRoot, {}, 77, 7)) == EEXIST);
  f.expectClean();
}
