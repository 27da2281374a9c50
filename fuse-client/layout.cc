#include "fuse-client/layout.h"

#include <algorithm>

namespace basalt::client {

std::vector<ChunkPiece> splitAtChunks(uint64_t offset, uint64_t length, uint32_t chunkSize) {
  if (chunkSize == 0) chunkSize = kDefaultChunkSize;
  std::vector<ChunkPiece> out;
  uint64_t done = 0;
  while (done < length) {
    uint64_t pos = offset + done;
    uint64_t inChunk = pos % chunkSize;
    uint64_t n = std::min<uint64_t>(chunkSize - inChunk, length - done);
    out.push_back(ChunkPiece{static_cast<uint32_t>(pos / chunkSize), static_cast<uint32_t>(inChunk),
                             static_cast<uint32_t>(n), done});
    done += n;
  }
  return out;
}

std::string Layout::primaryAddress() const {
  if (primary >= replicas.size()) return "";
  return replicas[primary].address;
}

LeaseUse leaseUse(const Layout& l, kj::TimePoint now) {
  if (l.leaseLeft <= 0 * kj::MILLISECONDS) return LeaseUse::kUse;
  if (now + kLeaseMargin >= l.leaseEnd) return LeaseUse::kRefetch;
  if (l.leaseEnd - now < l.leaseLeft / 2) return LeaseUse::kUseAndRenew;
  return LeaseUse::kUse;
}

Layout Layout::fromWire(rpc::ChunkLayout::Reader in, bool forWrite, kj::TimePoint now) {
  Layout l;
  if (in.getLeaseExpiryMs() > 0) {
    l.leaseLeft = in.getLeaseExpiryMs() * kj::MILLISECONDS;
    l.leaseEnd = now + l.leaseLeft;
  }
  l.index = in.getIndex();
  l.chunkId = in.getChunk().getId();
  l.version = in.getChunk().getVersion();
  for (auto r : in.getReplicas()) l.replicas.push_back(Replica{r.getId(), r.getAddress().cStr()});
  l.primary = in.getPrimary();
  l.forWrite = forWrite;
  return l;
}

void Layout::toChunkRef(rpc::ChunkRef::Builder out) const {
  out.setId(chunkId);
  out.setVersion(version);
}

const Layout* LayoutCache::find(uint64_t ino, uint32_t index, bool forWrite) const {
  auto it = map_.find({ino, index});
  if (it == map_.end()) return nullptr;
  if (forWrite && !it->second.forWrite) return nullptr;
  return &it->second;
}

void LayoutCache::put(uint64_t ino, Layout layout) {
  if (map_.size() >= capacity_ && map_.find({ino, layout.index}) == map_.end()) map_.clear();
  uint32_t index = layout.index;
  map_[{ino, index}] = std::move(layout);
}

void LayoutCache::invalidate(uint64_t ino, uint32_t index) { map_.erase({ino, index}); }

void LayoutCache::invalidateInode(uint64_t ino) { invalidateFrom(ino, 0); }

void LayoutCache::invalidateFrom(uint64_t ino, uint32_t firstIndex) {
  map_.erase(map_.lower_bound({ino, firstIndex}), map_.lower_bound({ino + 1, 0}));
}

}  // namespace basalt::client
