#include "chunk/chunk_store.h"

#include <cstdio>

namespace basalt::chunk {

const char* toString(ChunkState s) {
  switch (s) {
    case ChunkState::kOk: return "ok";
    case ChunkState::kSyncing: return "syncing";
    case ChunkState::kDamaged: return "damaged";
  }
  return "unknown";
}

std::string chunkName(uint64_t id) {
  char buf[40];
  snprintf(buf, sizeof(buf), "chunk %016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string chunkName(uint64_t id, uint64_t version) {
  return chunkName(id) + " v" + std::to_string(version);
}

}  // namespace basalt::chunk
