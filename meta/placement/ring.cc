#include "meta/placement/ring.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace basalt::meta {

uint64_t mixHash(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double PlacementRing::weightForCapacity(uint64_t capacityBytes) {
  double units = static_cast<double>(capacityBytes) / (256.0 * (1ull << 30));
  return std::clamp(units, 0.25, 64.0);
}

void PlacementRing::addServer(uint32_t id, const std::string& zone, double weight) {
  servers_[id] = Server{zone, weight > 0 ? weight : 1.0};
  rebuild();
}

void PlacementRing::removeServer(uint32_t id) {
  servers_.erase(id);
  rebuild();
}

void PlacementRing::rebuild() {
  points_.clear();
  for (const auto& [id, server] : servers_) {
    int count = std::max(1, static_cast<int>(std::lround(server.weight * kPointsPerWeight)));
    for (int i = 0; i < count; ++i) {
      // A server's points depend only on its id and index: they stay put when others come and go.
      uint64_t position = mixHash((static_cast<uint64_t>(id) << 32) ^ static_cast<uint64_t>(i) ^
                                  0x5bd1e995ull);
      points_.emplace_back(position, id);
    }
  }
  std::sort(points_.begin(), points_.end());
}

std::vector<uint32_t> PlacementRing::place(uint64_t chunkId, int replicas) const {
  std::vector<uint32_t> chosen;
  if (points_.empty() || replicas <= 0) return chosen;
  size_t want = std::min<size_t>(replicas, servers_.size());
  std::set<std::string> allZones;
  for (const auto& [id, s] : servers_) allZones.insert(s.zone);

  uint64_t h = mixHash(chunkId);
  auto start = std::lower_bound(points_.begin(), points_.end(), std::make_pair(h, uint32_t{0}));
  size_t first = static_cast<size_t>(start - points_.begin());

  // Pass 1: distinct servers in distinct zones. Pass 2 (only when zones run out): distinct servers.
  std::set<std::string> usedZones;
  for (int pass = 0; pass < 2 && chosen.size() < want; ++pass) {
    for (size_t k = 0; k < points_.size() && chosen.size() < want; ++k) {
      uint32_t id = points_[(first + k) % points_.size()].second;
      if (std::find(chosen.begin(), chosen.end(), id) != chosen.end()) continue;
      const std::string& zone = servers_.at(id).zone;
      if (pass == 0 && usedZones.count(zone)) continue;
      chosen.push_back(id);
      usedZones.insert(zone);
      if (usedZones.size() == allZones.size()) usedZones.clear();  // every zone used: spread again
    }
  }
  return chosen;
}

}  // namespace basalt::meta
