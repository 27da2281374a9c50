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

Status ChunkStore::writeMany(uint64_t id, const std::vector<WriteExtent>& writes) {
  for (size_t i = 0; i < writes.size(); ++i) {
    const auto& w = writes[i];
    Status st = write(id, w.offset, w.data.data(), w.data.size());
    if (st.isOk()) continue;
    if (i > 0) {
      // Part of the batch is in: this replica must not be read as if none of it were.
      auto m = stat(id);
      if (m.isOk() && m->state != ChunkState::kDamaged) setMeta(id, m->version, ChunkState::kDamaged);
      return Status::error(st.code(), st.message() + " (write " + std::to_string(i + 1) + " of " +
                                          std::to_string(writes.size()) + " of a batch; " +
                                          chunkName(id) + " is marked damaged)");
    }
    return st;
  }
  return Status::ok();
}

}  // namespace basalt::chunk
