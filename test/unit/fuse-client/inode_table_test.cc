#include <doctest/doctest.h>

#include "fuse-client/inode_table.h"

using namespace basalt::client;

namespace {
AttrSnapshot attr(uint64_t ino, uint64_t size = 0, int64_t mtime = 100) {
  AttrSnapshot a;
  a.ino = ino;
  a.size = size;
  a.mtime = FileTime{mtime, 0};
  a.chunkSize = 1 << 20;
  return a;
}
}  // namespace

TEST_CASE("an inode stays until forget brings its lookup count to zero") {
  InodeTable t;
  t.addLookup(attr(5));
  t.addLookup(attr(5));
  t.addLookup(attr(5));
  CHECK(t.lookupCount(5) == 3);
  CHECK_FALSE(t.forget(5, 2));
  CHECK(t.lookupCount(5) == 1);
  CHECK(t.find(5) != nullptr);
  CHECK(t.forget(5, 1));
  CHECK(t.find(5) == nullptr);
}

TEST_CASE("forgetting more than was counted clamps and frees; unknown inodes are ignored") {
  InodeTable t;
  t.addLookup(attr(9));
  CHECK(t.forget(9, 10));
  CHECK(t.find(9) == nullptr);
  CHECK_FALSE(t.forget(1234, 1));
}

TEST_CASE("the root is never freed") {
  InodeTable t;
  CHECK_FALSE(t.forget(kRootIno, 100));
  CHECK(t.find(kRootIno) != nullptr);
}

TEST_CASE("an inode with an open handle outlives its last forget until release") {
  InodeTable t;
  t.addLookup(attr(7));
  t.noteOpen(attr(7));
  CHECK_FALSE(t.forget(7, 1));
  CHECK(t.find(7) != nullptr);
  CHECK(t.openInodes() == std::vector<uint64_t>{7});
  t.noteRelease(7);
  CHECK(t.find(7) == nullptr);
  CHECK(t.openInodes().empty());
}

TEST_CASE("keep_cache only when the file is unchanged since the previous open") {
  InodeTable t;
  t.addLookup(attr(3, 10, 100));
  CHECK_FALSE(t.noteOpen(attr(3, 10, 100)));  // first open: nothing cached yet
  t.noteRelease(3);
  CHECK(t.noteOpen(attr(3, 10, 100)));        // same size and mtime
  t.noteRelease(3);
  CHECK_FALSE(t.noteOpen(attr(3, 10, 200)));  // another client changed it
  t.noteRelease(3);
  CHECK_FALSE(t.noteOpen(attr(3, 20, 200)));  // size changed
}

TEST_CASE("local writes grow the size known for an inode; attrs of unknown inodes are ignored") {
  InodeTable t;
  t.addLookup(attr(4, 10));
  t.noteLocalSize(4, 50);
  CHECK(t.find(4)->attr.size == 50);
  t.noteLocalSize(4, 20);
  CHECK(t.find(4)->attr.size == 50);
  t.noteAttr(attr(99, 1));
  CHECK(t.find(99) == nullptr);
}
