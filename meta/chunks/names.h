// How chunks and replica sets are named in the metadata server's log lines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace basalt::meta {

inline std::string chunkName(uint64_t id, uint64_t version) {
  return "chunk " + std::to_string(id) + " v" + std::to_string(version);
}

// "#1, #3": server ids as `basalt status` shows them.
inline std::string idList(const std::vector<uint32_t>& ids) {
  std::string s;
  for (uint32_t id : ids) s += (s.empty() ? "#" : ", #") + std::to_string(id);
  return s;
}

}  // namespace basalt::meta
