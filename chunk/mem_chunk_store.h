// A ChunkStore in memory, for tests of the server logic: no files, no CRCs (memory does not rot),
// and a switch that makes every mutation fail with a chosen errno and change nothing (a full disk).
// Thread-safety: every method takes one mutex.
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "chunk/chunk_store.h"

namespace basalt::chunk {

class MemChunkStore final : public ChunkStore {
 public:
  // From now on every write/truncate/zero/replace/create fails with `err` (0 = succeed again).
  void failMutationsWith(int err);

  Result<ChunkMeta> stat(uint64_t id) override;
  Status create(uint64_t id, uint64_t version, ChunkState state) override;
  Status setMeta(uint64_t id, uint64_t version, ChunkState state) override;
  Status write(uint64_t id, uint32_t offset, const uint8_t* data, size_t len) override;
  Status truncate(uint64_t id, uint32_t length) override;
  Status zero(uint64_t id, uint32_t offset, uint32_t len) override;
  Status read(uint64_t id, uint32_t offset, uint32_t len, uint8_t* out) override;
  Status replace(uint64_t id, uint64_t version, const uint8_t* data, size_t len) override;
  Status sync(uint64_t id) override;
  Status remove(uint64_t id) override;
  std::vector<ChunkMeta> list() override;
  StoreUsage usage() override;

 private:
  struct Chunk {
    ChunkMeta meta;
    std::vector<uint8_t> bytes;
  };
  Status injected(uint64_t id);
  std::mutex mu_;
  std::map<uint64_t, Chunk> chunks_;
  int failWith_ = 0;
};

}  // namespace basalt::chunk
