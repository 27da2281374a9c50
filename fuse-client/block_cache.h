// A small cache of file blocks for random readers. A round trip to a chunk server costs far more
// than the bytes it carries, so a small read that misses fetches its whole 64 KiB block (clamped
// at the end of file) and keeps it: the next small reads in that block are answered without a
// round trip. Least recently used blocks go first; at most `budgetBytes` are held.
//
// Same invalidation as readahead (readahead.h): this client's writes and truncates, another
// client's pushed changes and an open that sees the file changed drop the file's blocks; a fetch
// that was in flight while the file changed is not kept.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <unordered_map>

namespace basalt::client {

class BlockCache {
 public:
  static constexpr uint64_t kBlockBytes = 64 * 1024;
  using Fetch = std::function<kj::Promise<kj::Array<kj::byte>>(uint64_t ino, uint64_t offset, size_t size)>;

  BlockCache(uint64_t budgetBytes, Fetch fetch);
  KJ_DISALLOW_COPY(BlockCache);

  // A read of [offset, offset + size) inside one block: answered from the cache, or by fetching the
  // whole block (clamped to `knownSize`) and keeping it. Null for reads this cache does not take
  // (larger than a block, across blocks, or no budget).
  kj::Maybe<kj::Promise<kj::Array<kj::byte>>> read(uint64_t ino, uint64_t offset, size_t size,
                                                   uint64_t knownSize);
  void drop(uint64_t ino);

  uint64_t bytesHeld() const { return held_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t inodesFetching() const { return fetching_.size(); }

 private:
  using Key = std::pair<uint64_t, uint64_t>;  // (inode, block index)
  struct Block {
    std::shared_ptr<kj::Array<kj::byte>> data;
    std::list<Key>::iterator lru;
  };
  static kj::Array<kj::byte> slice(const kj::Array<kj::byte>& block, uint64_t from, size_t size);
  void keep(const Key& key, std::shared_ptr<kj::Array<kj::byte>> data);

  uint64_t budget_;
  Fetch fetch_;
  std::map<Key, Block> blocks_;
  std::list<Key> lru_;  // most recent first
  // Inodes with fetches in flight: how many, and a generation drop() bumps. An entry lives only
  // while its fetches do (an entry per inode ever dropped would grow without bound).
  struct Fetching {
    uint64_t count = 0;
    uint64_t generation = 0;
  };
  // One fetch of `ino` ended: whether the inode was dropped meanwhile.
  bool fetchEnded(uint64_t ino, uint64_t generation);
  std::unordered_map<uint64_t, Fetching> fetching_;
  uint64_t held_ = 0, hits_ = 0, misses_ = 0;
};

}  // namespace basalt::client
