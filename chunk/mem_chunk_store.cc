#include "chunk/mem_chunk_store.h"

#include <algorithm>
#include <cstring>

namespace basalt::chunk {

void MemChunkStore::failMutationsWith(int err) {
  std::lock_guard<std::mutex> g(mu_);
  failWith_ = err;
}

Status MemChunkStore::injected(uint64_t id) {
  if (failWith_ == 0) return Status::ok();
  return Status::error(failWith_, chunkName(id) + ": injected failure: " + strerror(failWith_));
}

Result<ChunkMeta> MemChunkStore::stat(uint64_t id) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Status::error(ENOENT, chunkName(id) + " is not held here");
  return it->second.meta;
}

Status MemChunkStore::create(uint64_t id, uint64_t version, ChunkState state) {
  std::lock_guard<std::mutex> g(mu_);
  if (Status st = injected(id); !st.isOk()) return st;
  chunks_[id] = Chunk{ChunkMeta{id, version, 0, state}, {}};
  return Status::ok();
}

Status MemChunkStore::setMeta(uint64_t id, uint64_t version, ChunkState state) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Status::error(ENOENT, chunkName(id) + " is not held here");
  it->second.meta.version = version;
  it->second.meta.state = state;
  return Status::ok();
}

Status MemChunkStore::write(uint64_t id, uint32_t offset, const uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Status::error(ENOENT, chunkName(id) + " is not held here");
  if (Status st = injected(id); !st.isOk()) return st;
  uint64_t end = uint64_t{offset} + len;
  if (end > kMaxChunkLength) return Status::error(EFBIG, chunkName(id) + ": write beyond the largest chunk");
  auto& c = it->second;
  if (end > c.bytes.size()) c.bytes.resize(end, 0);
  if (len) memcpy(c.bytes.data() + offset, data, len);
  c.meta.length = static_cast<uint32_t>(c.bytes.size());
  return Status::ok();
}

Status MemChunkStore::truncate(uint64_t id, uint32_t length) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Status::error(ENOENT, chunkName(id) + " is not held here");
  if (Status st = injected(id); !st.isOk()) return st;
  it->second.bytes.resize(length, 0);
  it->second.meta.length = length;
  return Status::ok();
}

Status MemChunkStore::zero(uint64_t id, uint32_t offset, uint32_t len) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Status::error(ENOENT, chunkName(id) + " is not held here");
  if (Status st = injected(id); !st.isOk()) return st;
  auto& b = it->second.bytes;
  uint64_t end = std::min<uint64_t>(uint64_t{offset} + len, b.size());
  if (offset < end) std::fill(b.begin() + offset, b.begin() + static_cast<long>(end), 0);
  return Status::ok();
}

Status MemChunkStore::read(uint64_t id, uint32_t offset, uint32_t len, uint8_t* out) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Status::error(ENOENT, chunkName(id) + " is not held here");
  if (it->second.meta.state == ChunkState::kDamaged) {
    return Status::error(EIO, chunkName(id) + " is damaged");
  }
  if (len == 0) return Status::ok();  // `out` may be null for an empty read
  memset(out, 0, len);
  auto& b = it->second.bytes;
  uint64_t end = std::min<uint64_t>(uint64_t{offset} + len, b.size());
  if (offset < end) memcpy(out, b.data() + offset, end - offset);
  return Status::ok();
}

Status MemChunkStore::replace(uint64_t id, uint64_t version, const uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> g(mu_);
  if (Status st = injected(id); !st.isOk()) return st;
  chunks_[id] = Chunk{ChunkMeta{id, version, static_cast<uint32_t>(len), ChunkState::kOk},
                      std::vector<uint8_t>(data, data + len)};
  return Status::ok();
}

Status MemChunkStore::sync(uint64_t id) {
  std::lock_guard<std::mutex> g(mu_);
  if (!chunks_.count(id)) return Status::error(ENOENT, chunkName(id) + " is not held here");
  return Status::ok();
}

Status MemChunkStore::remove(uint64_t id) {
  std::lock_guard<std::mutex> g(mu_);
  chunks_.erase(id);
  return Status::ok();
}

std::vector<ChunkMeta> MemChunkStore::list() {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<ChunkMeta> out;
  for (auto& [id, c] : chunks_) out.push_back(c.meta);
  return out;
}

StoreUsage MemChunkStore::usage() {
  std::lock_guard<std::mutex> g(mu_);
  StoreUsage u;
  for (auto& [id, c] : chunks_) u.bytes += c.meta.length;
  u.chunks = chunks_.size();
  return u;
}

}  // namespace basalt::chunk
