// A replica set is a list of chunk server ids (the chunk map's order: the primary is not special).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace basalt::meta {

inline bool contains(const std::vector<uint32_t>& set, uint32_t id) {
  return std::find(set.begin(), set.end(), id) != set.end();
}

}  // namespace basalt::meta
