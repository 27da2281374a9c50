#include "fuse-client/block_cache.h"

#include <algorithm>
#include <cstring>

namespace basalt::client {

BlockCache::BlockCache(uint64_t budgetBytes, Fetch fetch) : budget_(budgetBytes), fetch_(std::move(fetch)) {}

kj::Array<kj::byte> BlockCache::slice(const kj::Array<kj::byte>& block, uint64_t from, size_t size) {
  size_t n = from >= block.size() ? 0 : std::min<size_t>(size, block.size() - from);
  auto out = kj::heapArray<kj::byte>(n);
  if (n != 0) memcpy(out.begin(), block.begin() + from, n);
  return out;
}

void BlockCache::drop(uint64_t ino) {
  auto f = fetching_.find(ino);
  if (f != fetching_.end()) f->second.generation++;
  auto it = blocks_.lower_bound(Key{ino, 0});
  while (it != blocks_.end() && it->first.first == ino) {
    held_ -= it->second.data->size();
    lru_.erase(it->second.lru);
    it = blocks_.erase(it);
  }
}

void BlockCache::keep(const Key& key, std::shared_ptr<kj::Array<kj::byte>> data) {
  if (data->size() > budget_) return;
  auto old = blocks_.find(key);
  if (old != blocks_.end()) {
    held_ -= old->second.data->size();
    lru_.erase(old->second.lru);
    blocks_.erase(old);
  }
  while (held_ + data->size() > budget_ && !lru_.empty()) {
    auto victim = blocks_.find(lru_.back());
    held_ -= victim->second.data->size();
    blocks_.erase(victim);
    lru_.pop_back();
  }
  lru_.push_front(key);
  held_ += data->size();
  blocks_.emplace(key, Block{std::move(data), lru_.begin()});
}

kj::Maybe<kj::Promise<kj::Array<kj::byte>>> BlockCache::read(uint64_t ino, uint64_t offset, size_t size,
                                                             uint64_t knownSize) {
  if (budget_ == 0 || size == 0 || size >= kBlockBytes) return nullptr;
  uint64_t index = offset / kBlockBytes;
  if ((offset + size - 1) / kBlockBytes != index) return nullptr;
  uint64_t start = index * kBlockBytes;
  Key key{ino, index};
  auto it = blocks_.find(key);
  if (it != blocks_.end()) {
    hits_++;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return kj::Promise<kj::Array<kj::byte>>(slice(*it->second.data, offset - start, size));
  }
  if (knownSize <= start) return nullptr;  // at or past the end: the caller answers EOF
  misses_++;
  Fetching& f = fetching_[ino];
  f.count++;
  uint64_t gen = f.generation;
  size_t length = static_cast<size_t>(std::min<uint64_t>(kBlockBytes, knownSize - start));
  return fetch_(ino, start, length)
      .then(
          [this, ino, key, gen, offset, start, size](kj::Array<kj::byte>&& data) {
            auto shared = std::make_shared<kj::Array<kj::byte>>(kj::mv(data));
            // Changed while it was being fetched: answer this read from it (it was issued before
            // the change), but do not keep it.
            if (fetchEnded(ino, gen)) keep(key, shared);
            return slice(*shared, offset - start, size);
          },
          [this, ino, gen](kj::Exception&& e) -> kj::Array<kj::byte> {
            fetchEnded(ino, gen);
            kj::throwFatalException(kj::mv(e));
          });
}

bool BlockCache::fetchEnded(uint64_t ino, uint64_t generation) {
  auto f = fetching_.find(ino);
  if (f == fetching_.end()) return false;
  bool unchanged = f->second.generation == generation;
  if (--f->second.count == 0) fetching_.erase(f);
  return unchanged;
}

}  // namespace basalt::client
