#include <doctest/doctest.h>

#include <capnp/message.h>

#include "fuse-client/layout.h"

using namespace basalt::client;

TEST_CASE("a write inside one chunk is one piece") {
  auto p = splitAtChunks(100, 50, 1024);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == ChunkPiece{0, 100, 50, 0});
}

TEST_CASE("a write across chunk boundaries splits exactly at them") {
  auto p = splitAtChunks(1000, 2100, 1024);
  REQUIRE(p.size() == 4);
  CHECK(p[0] == ChunkPiece{0, 1000, 24, 0});
  CHECK(p[1] == ChunkPiece{1, 0, 1024, 24});
  CHECK(p[2] == ChunkPiece{2, 0, 1024, 1048});
  CHECK(p[3] == ChunkPiece{3, 0, 28, 2072});
}

TEST_CASE("a write ending on a boundary does not make an empty piece") {
  auto p = splitAtChunks(1024, 1024, 1024);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == ChunkPiece{1, 0, 1024, 0});
  CHECK(splitAtChunks(5, 0, 1024).empty());
}

TEST_CASE("chunk size 0 means the 64 MiB default, and large offsets index correctly") {
  auto p = splitAtChunks((64ull << 20) * 3 + 7, 10, 0);
  REQUIRE(p.size() == 1);
  CHECK(p[0] == ChunkPiece{3, 7, 10, 0});
}

namespace {
Layout layout(uint32_t index, uint64_t id, bool forWrite) {
  Layout l;
  l.index = index;
  l.chunkId = id;
  l.version = 1;
  l.replicas = {Replica{1, "127.0.0.1:1"}};
  l.forWrite = forWrite;
  return l;
}
}  // namespace

TEST_CASE("a read may use a write layout, a write needs one fetched forWrite") {
  LayoutCache c;
  c.put(1, layout(0, 10, false));
  CHECK(c.find(1, 0, false) != nullptr);
  CHECK(c.find(1, 0, true) == nullptr);
  c.put(1, layout(0, 10, true));
  CHECK(c.find(1, 0, true) != nullptr);
  CHECK(c.find(1, 0, false) != nullptr);
}

TEST_CASE("layouts are dropped per chunk, from an index on, and per inode") {
  LayoutCache c;
  for (uint32_t i = 0; i < 4; ++i) c.put(1, layout(i, 10 + i, true));
  c.put(2, layout(0, 99, true));
  c.invalidate(1, 0);
  CHECK(c.find(1, 0, false) == nullptr);
  CHECK(c.find(1, 1, false) != nullptr);
  c.invalidateFrom(1, 2);
  CHECK(c.find(1, 1, false) != nullptr);
  CHECK(c.find(1, 2, false) == nullptr);
  CHECK(c.find(1, 3, false) == nullptr);
  c.invalidateInode(1);
  CHECK(c.find(1, 1, false) == nullptr);
  CHECK(c.find(2, 0, false) != nullptr);
}

TEST_CASE("a full layout cache starts over instead of growing") {
  LayoutCache c(3);
  for (uint32_t i = 0; i < 3; ++i) c.put(1, layout(i, i + 1, false));
  CHECK(c.size() == 3);
  c.put(1, layout(1, 50, false));  // replacing does not evict
  CHECK(c.size() == 3);
  c.put(1, layout(7, 8, false));
  CHECK(c.size() == 1);
  CHECK(c.find(1, 7, false) != nullptr);
}

TEST_CASE("a wire layout converts, with chunk id 0 as a hole") {
  capnp::MallocMessageBuilder msg;
  auto w = msg.initRoot<basalt::rpc::ChunkLayout>();
  w.setIndex(4);
  w.getChunk().setId(0);
  CHECK(Layout::fromWire(w.asReader(), false, kj::origin<kj::TimePoint>()).isHole());
  w.getChunk().setId(77);
  w.getChunk().setVersion(3);
  auto reps = w.initReplicas(2);
  reps[0].setId(1);
  reps[0].setAddress("a:1");
  reps[1].setId(2);
  reps[1].setAddress("b:2");
  w.setPrimary(1);
  Layout l = Layout::fromWire(w.asReader(), true, kj::origin<kj::TimePoint>());
  CHECK_FALSE(l.isHole());
  CHECK(l.index == 4);
  CHECK(l.version == 3);
  CHECK(l.primaryAddress() == "b:2");
  w.setPrimary(5);
  CHECK(Layout::fromWire(w.asReader(), true, kj::origin<kj::TimePoint>()).primaryAddress() == "");
}

TEST_CASE("a write uses a layout while its primary's lease lasts, renews it past half, refetches near its end") {
  capnp::MallocMessageBuilder msg;
  auto w = msg.initRoot<basalt::rpc::ChunkLayout>();
  w.getChunk().setId(7);
  w.getChunk().setVersion(3);
  w.setLeaseExpiryMs(2000);
  auto t0 = kj::origin<kj::TimePoint>() + 1000 * kj::SECONDS;
  Layout l = Layout::fromWire(w.asReader(), true, t0);
  CHECK(l.leaseEnd == t0 + 2000 * kj::MILLISECONDS);
  CHECK(leaseUse(l, t0) == LeaseUse::kUse);
  CHECK(leaseUse(l, t0 + 999 * kj::MILLISECONDS) == LeaseUse::kUse);
  CHECK(leaseUse(l, t0 + 1001 * kj::MILLISECONDS) == LeaseUse::kUseAndRenew);
  CHECK(leaseUse(l, t0 + 1749 * kj::MILLISECONDS) == LeaseUse::kUseAndRenew);
  CHECK(leaseUse(l, t0 + 1750 * kj::MILLISECONDS) == LeaseUse::kRefetch);
  CHECK(leaseUse(l, t0 + 60 * kj::SECONDS) == LeaseUse::kRefetch);

  // A lease answered with less left (the metadata server renews only below half) renews sooner.
  w.setLeaseExpiryMs(1200);
  Layout shorter = Layout::fromWire(w.asReader(), true, t0);
  CHECK(leaseUse(shorter, t0 + 500 * kj::MILLISECONDS) == LeaseUse::kUse);
  CHECK(leaseUse(shorter, t0 + 700 * kj::MILLISECONDS) == LeaseUse::kUseAndRenew);

  // Without a lease in the answer (a read's layout): nothing is known, the write finds out.
  w.setLeaseExpiryMs(0);
  Layout unknown = Layout::fromWire(w.asReader(), false, t0);
  CHECK(leaseUse(unknown, t0 + 3600 * kj::SECONDS) == LeaseUse::kUse);
}
