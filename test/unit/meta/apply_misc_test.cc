// Reclaim, OpenSession/CloseSession, Noop, and the dedup table's pruning.
#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;
namespace rpc = basalt::rpc;

TEST_CASE("reclaim frees an orphan with its xattrs, symlink target and chunks") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  REQUIRE(code(f.setXattr(ino, "user.a", "1")) == 0);
  f.putChunk(ino, 0, 900, {1, 2});
  f.putChunk(ino, 5, 901, {3});
  CHECK(code(f.reclaim(ino)) == 0);  // not an orphan yet: nothing happens
  CHECK(f.exists(ino));
  REQUIRE(code(f.remove(kRootIno, "f", false)) == 0);
  auto r = f.reclaim(ino);
  REQUIRE(code(r) == 0);
  CHECK(r.effects.reclaimed == std::vector<uint64_t>{ino});
  CHECK_FALSE(f.exists(ino));
  CHECK(f.rows(Table::kXattrs) == 0);
  CHECK(f.rows(Table::kChunks) == 0);
  CHECK(f.rows(Table::kOrphans) == 0);
  CHECK(f.hasRow(Table::kGarbage, be64(900)));
  CHECK(f.hasRow(Table::kGarbage, be64(901)));
  CHECK(code(f.reclaim(ino)) == 0);  // idempotent
  uint64_t lnk = inoOf(f.create(kRootIno, "l", S_IFLNK, kRoot, [](auto cr) { cr.setTarget("t"); }));
  REQUIRE(code(f.remove(kRootIno, "l", false)) == 0);
  REQUIRE(code(f.reclaim(lnk)) == 0);
  CHECK(f.rows(Table::kSymlinks) == 0);
  f.expectClean();
}

TEST_CASE("open and close session keep the durable session list; closing drops its dedup records") {
  Fixture f;
  auto open = f.run([](rpc::Command::Builder c) {
    c.initOpenSession().setId(0xabc);
    c.getOpenSession().setClientName("host-a");
  });
  REQUIRE(code(open) == 0);
  CHECK(*f.store->beginRead().get(Table::kSessions, be64(0xabc)) == "host-a");
  CHECK(code(f.run([](rpc::Command::Builder c) { c.initOpenSession().setId(0); })) == EINVAL);
  REQUIRE(code(f.file(kRootIno, "a", 0644, kRoot)) == 0);
  REQUIRE(code(f.create(kRootIno, "b", S_IFREG | 0644, kRoot, {}, 0xabc, 1)) == 0);
  REQUIRE(code(f.create(kRootIno, "c", S_IFREG | 0644, kRoot, {}, 0xabd, 1)) == 0);
  CHECK(f.rows(Table::kDedup) == 2);
  REQUIRE(code(f.run([](rpc::Command::Builder c) { c.initCloseSession().setId(0xabc); })) == 0);
  CHECK(f.rows(Table::kSessions) == 0);
  CHECK(f.rows(Table::kDedup) == 1);
  CHECK(code(f.run([](rpc::Command::Builder c) { c.initCloseSession().setId(0xabc); })) == ENOENT);
}

TEST_CASE("noop succeeds and changes nothing") {
  Fixture f;
  auto a = f.run([](rpc::Command::Builder c) { c.setNoop(); });
  CHECK(code(a) == 0);
  CHECK(f.rows(Table::kInodes) == 1);
}

TEST_CASE("the dedup table keeps a window of the latest seqs per session") {
  Fixture f;
  for (uint64_t seq = 1; seq <= kDedupWindow + 10; ++seq) {
    REQUIRE(code(f.run([](rpc::Command::Builder c) { c.setNoop(); }, kRoot, 4, seq)) == 0);
  }
  CHECK(f.rows(Table::kDedup) == kDedupWindow);
  CHECK_FALSE(f.hasRow(Table::kDedup, dedupKey(4, 10)));
  CHECK(f.hasRow(Table::kDedup, dedupKey(4, 11)));
  CHECK(f.hasRow(Table::kDedup, dedupKey(4, kDedupWindow + 10)));
}

TEST_CASE("a command that fails leaves nothing behind in the shared transaction") {
  Fixture f;
  Txn txn = f.store->beginWrite();
  capnp::MallocMessageBuilder ok, bad;
  auto c1 = ok.initRoot<rpc::Command>();
  c1.initCreate().setParent(kRootIno);
  c1.getCreate().setName("good");
  c1.getCreate().setMode(S_IFDIR | 0755);
  c1.getCreate().setIno(50);
  auto c2 = bad.initRoot<rpc::Command>();
  c2.initCreate().setParent(kRootIno);
  c2.getCreate().setName("good");
  c2.getCreate().setMode(S_IFREG | 0644);
  c2.getCreate().setIno(51);
  c2.getCreate().setExclusive(true);
  Applied first = apply(c1.asReader(), txn);
  CHECK(code(first) == 0);
  Applied second = apply(c2.asReader(), txn);
  CHECK(code(second) == EEXIST);
  txn.commit();
  CHECK(f.exists(50));
  CHECK_FALSE(f.exists(51));
  f.expectClean();
}
