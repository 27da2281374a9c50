// File data geometry: how a byte range splits into chunks, and the client's cache of chunk layouts
// (where each chunk lives) per (inode, chunk index).
//
// A cached layout is dropped when a chunk server says ESTALE (the version moved on), when the inode
// is forgotten or truncated, and when an open sees the file changed (a hole another client has
// since filled would otherwise read as zeros forever). A write needs a layout fetched forWrite (the
// metadata server allocated the chunk and made sure a primary holds a lease); a read takes either.
// Thread-safety: loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <kj/time.h>

#include "rpc-schema/chunk.capnp.h"

namespace basalt::client {

constexpr uint32_t kDefaultChunkSize = 64u << 20;

// One piece of a byte range that lies inside a single chunk.
struct ChunkPiece {
  uint32_t index;      // chunk index in the file
  uint32_t offset;     // offset inside the chunk
  uint32_t length;
  uint64_t bufOffset;  // offset of this piece in the caller's buffer
  bool operator==(const ChunkPiece& o) const {
    return index == o.index && offset == o.offset && length == o.length && bufOffset == o.bufOffset;
  }
};

// Splits [offset, offset + length) at chunk boundaries, in order. chunkSize 0 means the default.
std::vector<ChunkPiece> splitAtChunks(uint64_t offset, uint64_t length, uint32_t chunkSize);

struct Replica {
  uint32_t id = 0;
  std::string address;
};

struct Layout {
  uint32_t index = 0;
  uint64_t chunkId = 0;  // 0 = hole
  uint64_t version = 0;
  std::vector<Replica> replicas;
  uint32_t primary = 0;
  bool forWrite = false;  // fetched with forWrite (a primary lease was ensured)
  // When the primary's lease ends as the metadata server counted it (`now` at the answer plus the
  // time it said was left), and how much was left then; leaseLeft 0: unknown.
  kj::TimePoint leaseEnd = kj::origin<kj::TimePoint>();
  kj::Duration leaseLeft = 0 * kj::MILLISECONDS;

  bool isHole() const { return chunkId == 0; }
  // The primary's address, or "" when the layout names none.
  std::string primaryAddress() const;
  // `now`: when the answer carrying `in` arrived (for the lease's end).
  static Layout fromWire(rpc::ChunkLayout::Reader in, bool forWrite, kj::TimePoint now);
  void toChunkRef(rpc::ChunkRef::Builder out) const;
};

// What a write may do with a cached layout, by its primary's lease. The primary refuses writes
// once its lease is over (ESTALE: the write, then a getLayout, then the write again), and it
// counts the lease from the assign's arrival, a little before the metadata server does. So:
// kRefetch when less than kLeaseMargin is left (ask for the layout first: the metadata server
// renews the lease); kUseAndRenew when less than half of what was left at the answer remains (the
// metadata server renews a lease with less than half left): write, and ask for the layout in the
// background so a steady writer never meets an expired lease; kUse otherwise, and for layouts
// without a known lease.
enum class LeaseUse { kUse, kUseAndRenew, kRefetch };
constexpr kj::Duration kLeaseMargin = 250 * kj::MILLISECONDS;
LeaseUse leaseUse(const Layout& l, kj::TimePoint now);

class LayoutCache {
 public:
  explicit LayoutCache(size_t capacity = 65536) : capacity_(capacity) {}

  // A cached layout usable for this access (a write needs one fetched forWrite), or null.
  const Layout* find(uint64_t ino, uint32_t index, bool forWrite) const;
  // Stores `layout`; when full, the whole cache is dropped first (layouts are cheap to refetch).
  void put(uint64_t ino, Layout layout);
  void invalidate(uint64_t ino, uint32_t index);
  void invalidateInode(uint64_t ino);
  // Drop chunks at or beyond index `firstIndex` (after a truncate).
  void invalidateFrom(uint64_t ino, uint32_t firstIndex);
  size_t size() const { return map_.size(); }

 private:
  size_t capacity_;
  std::map<std::pair<uint64_t, uint32_t>, Layout> map_;
};

}  // namespace basalt::client
