#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {
// A small tree: /d/{f, g->f (hard link), sub/}, /l (symlink), an orphan.
struct Tree {
  uint64_t d, f, sub, orphan;
  explicit Tree(Fixture& fx) {
    d = inoOf(fx.mkdir(kRootIno, "d"));
    f = inoOf(fx.file(d, "f"));
    REQUIRE(code(fx.link(f, d, "g")) == 0);
    sub = inoOf(fx.mkdir(d, "sub"));
    REQUIRE(code(fx.create(kRootIno, "l", S_IFLNK, kRoot, [](auto cr) { cr.setTarget("d/f"); })) == 0);
    orphan = inoOf(fx.file(kRootIno, "o"));
    REQUIRE(code(fx.remove(kRootIno, "o", false)) == 0);
  }
};
bool mentions(const FsckReport& r, const std::string& needle) {
  for (auto& p : r.problems) {
    if (p.find(needle) != std::string::npos) return true;
  }
  return false;
}
template <typename Fn>
void edit(Fixture& fx, Fn fn) {
  Txn txn = fx.store->beginWrite();
  fn(txn);
  txn.commit();
}
}  // namespace

TEST_CASE("fsck finds a consistent store clean") {
  Fixture fx;
  Tree t(fx);
  auto r = fsck(*fx.store);
  CHECK(r.clean());
  CHECK(r.inodes == 6);
  CHECK(r.orphans == 1);
  CHECK(r.dirents == 5);
}

TEST_CASE("fsck reports an entry pointing to a missing inode") {
  Fixture fx;
  Tree t(fx);
  edit(fx, [&](Txn& txn) { txn.del(Table::kInodes, inoKey(t.sub)); });
  auto r = fsck(*fx.store);
  CHECK_FALSE(r.clean());
  CHECK(mentions(r, "points to missing inode " + std::to_string(t.sub)));
}

TEST_CASE("fsck reports a wrong link count") {
  Fixture fx;
  Tree t(fx);
  edit(fx, [&](Txn& txn) {
    auto n = loadInode(txn, t.f);
    n->nlink = 1;
    saveInode(txn, *n);
  });
  auto r = fsck(*fx.store);
  CHECK(mentions(r, "inode " + std::to_string(t.f) + ": nlink 1, expected 2"));
}

TEST_CASE("fsck reports a directory with two parents") {
  Fixture fx;
  Tree t(fx);
  edit(fx, [&](Txn& txn) {
    auto root = loadInode(txn, kRootIno);
    addEntry(txn, *root, "again", t.sub);
    saveInode(txn, *root);
  });
  auto r = fsck(*fx.store);
  CHECK(mentions(r, "directory " + std::to_string(t.sub) + " has 2 parents"));
}

TEST_CASE("fsck reports an orphan that still has links, and a nlink-0 inode that is no orphan") {
  Fixture fx;
  Tree t(fx);
  edit(fx, [&](Txn& txn) {
    txn.put(Table::kOrphans, inoKey(t.f), "");
    txn.del(Table::kOrphans, inoKey(t.orphan));
  });
  auto r = fsck(*fx.store);
  CHECK(mentions(r, "orphan inode " + std::to_string(t.f) + " has nlink 2"));
  CHECK(mentions(r, "inode " + std::to_string(t.orphan) + ": nlink 0 but not an orphan"));
  CHECK(mentions(r, "inode " + std::to_string(t.orphan) + " is unreachable"));
}

TEST_CASE("fsck reports an unreachable directory cycle and a missing cookie index") {
  Fixture fx;
  Tree t(fx);
  edit(fx, [&](Txn& txn) {
    // Cut d out of the root but leave its inode: d and everything below become unreachable.
    auto e = findEntry(txn, kRootIno, "d");
    txn.del(Table::kDirents, direntKey(kRootIno, "d"));
    (void)e;
  });
  auto r = fsck(*fx.store);
  CHECK(mentions(r, "inode " + std::to_string(t.d) + " is unreachable"));
  CHECK(mentions(r, "names no entry 'd'"));
}
