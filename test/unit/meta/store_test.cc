#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;

TEST_CASE("a new store has a root directory 0755 owned by root and a format version") {
  Fixture f;
  Inode root = f.inode(kRootIno);
  CHECK(root.mode == (S_IFDIR | 0755));
  CHECK(root.uid == 0);
  CHECK(root.gid == 0);
  CHECK(root.nlink == 2);
  CHECK(readBe64(*f.store->beginRead().get(Table::kMeta, "format_version")) == kFormatVersion);
  CHECK(f.store->boots() == 1);
  f.expectClean();
}

TEST_CASE("reopening a store keeps everything") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  uint64_t file = inoOf(f.file(d, "f", 0600));
  REQUIRE(code(f.setXattr(file, "user.k", "v")) == 0);
  REQUIRE(code(f.create(d, "l", S_IFLNK, kRoot, [](auto cr) { cr.setTarget("f"); })) == 0);
  uint64_t gone = inoOf(f.file(d, "gone"));
  REQUIRE(code(f.remove(d, "gone", false)) == 0);
  Inode before = f.inode(file);
  f.reopen();
  CHECK(f.store->boots() == 2);
  CHECK(f.lookupIno(kRootIno, "d") == d);
  CHECK(f.lookupIno(d, "f") == file);
  Inode after = f.inode(file);
  CHECK(after.mode == before.mode);
  CHECK(after.mtime.sec == before.mtime.sec);
  CHECK(*getXattr(*f.store, kRoot, file, "user.k") == "v");
  CHECK(*readLink(*f.store, f.lookupIno(d, "l")) == "f");
  CHECK(f.hasRow(Table::kOrphans, inoKey(gone)));
  CHECK(readBe64(*f.store->beginRead().get(Table::kMeta, "next_ino")) > gone);
  f.expectClean();
}

TEST_CASE("a store with an unknown format version is refused with a clear error") {
  TempDir dir;
  {
    auto s = Store::open(dir.path);
    REQUIRE(s.isOk());
    Txn txn = (*s)->beginWrite();
    txn.put(Table::kMeta, "format_version", be64(99));
    txn.commit();
  }
  auto again = Store::open(dir.path);
  REQUIRE_FALSE(again.isOk());
  CHECK(again.status().message().find("format version 99") != std::string::npos);
  CHECK(Store::open(dir.path, true).status().message().find("format version 99") != std::string::npos);
}

TEST_CASE("one data dir serves one process: a second open fails while the first is open") {
  TempDir dir;
  auto first = Store::open(dir.path);
  REQUIRE(first.isOk());
  auto second = Store::open(dir.path);
  CHECK(second.status().code() == EBUSY);
  first.value().reset();
  CHECK(Store::open(dir.path).isOk());
}

TEST_CASE("a read-only open of a missing store fails") {
  TempDir dir;
  CHECK_FALSE(Store::open(dir.path, true).isOk());
}

TEST_CASE("nested transactions: an aborted child leaves the parent untouched") {
  TempDir dir;
  auto s = Store::open(dir.path);
  REQUIRE(s.isOk());
  Txn txn = (*s)->beginWrite();
  txn.put(Table::kMeta, "a", "1");
  {
    Txn child = txn.child();
    child.put(Table::kMeta, "b", "2");
    child.abort();
  }
  {
    Txn child = txn.child();
    child.put(Table::kMeta, "c", "3");
    child.commit();
  }
  txn.commit();
  Txn r = (*s)->beginRead();
  CHECK(r.exists(Table::kMeta, "a"));
  CHECK_FALSE(r.exists(Table::kMeta, "b"));
  CHECK(r.exists(Table::kMeta, "c"));
}

TEST_CASE("inode records round-trip and reject unknown layouts") {
  Inode n;
  n.ino = 9;
  n.mode = S_IFREG | 0640;
  n.uid = 1;
  n.gid = 2;
  n.nlink = 3;
  n.size = 1ull << 40;
  n.rdev = 77;
  n.generation = 5;
  n.atime = {1, 2};
  n.mtime = {3, 4};
  n.ctime = {-5, 999999999};
  n.replication = 2;
  n.chunkSize = 1 << 20;
  n.parent = 4;
  n.nextCookie = 1234;
  std::string bytes = encodeInode(n);
  auto back = decodeInode(9, bytes);
  REQUIRE(back);
  CHECK(encodeInode(*back) == bytes);
  CHECK(back->ctime.sec == -5);
  CHECK(back->size == 1ull << 40);
  bytes[0] = 2;
  CHECK_FALSE(decodeInode(9, bytes));
  CHECK_FALSE(decodeInode(9, "short"));
}
