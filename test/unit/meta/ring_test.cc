#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "meta/placement/ring.h"

using basalt::meta::PlacementRing;

namespace {
constexpr int kChunks = 20000;

std::vector<std::vector<uint32_t>> placeAll(const PlacementRing& ring, int replicas) {
  std::vector<std::vector<uint32_t>> out;
  out.reserve(kChunks);
  for (uint64_t c = 1; c <= kChunks; ++c) out.push_back(ring.place(c, replicas));
  return out;
}

// Replicas (chunk, server) present before but not after, as a fraction of all replicas.
double movedFraction(const std::vector<std::vector<uint32_t>>& before,
                     const std::vector<std::vector<uint32_t>>& after) {
  size_t moved = 0, total = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    for (uint32_t s : before[i]) {
      ++total;
      if (std::find(after[i].begin(), after[i].end(), s) == after[i].end()) ++moved;
    }
  }
  return static_cast<double>(moved) / static_cast<double>(total);
}
}  // namespace

TEST_CASE("a replica set has distinct servers and is stable for the same ring") {
  PlacementRing ring;
  for (uint32_t id = 1; id <= 5; ++id) ring.addServer(id, "", 1.0);
  for (uint64_t c = 1; c < 1000; ++c) {
    auto set = ring.place(c, 3);
    REQUIRE(set.size() == 3);
    CHECK(std::set<uint32_t>(set.begin(), set.end()).size() == 3);
    CHECK(ring.place(c, 3) == set);
  }
}

TEST_CASE("asking for more replicas than servers gives every server once") {
  PlacementRing ring;
  ring.addServer(7, "", 1.0);
  ring.addServer(9, "", 1.0);
  auto set = ring.place(42, 3);
  CHECK(std::set<uint32_t>(set.begin(), set.end()) == std::set<uint32_t>{7, 9});
  CHECK(PlacementRing().place(42, 2).empty());
}

TEST_CASE("over 1000 random joins and leaves the moved fraction stays within 1.25x of 1/N") {
  std::mt19937_64 rng(12345);
  PlacementRing ring;
  std::set<uint32_t> present;
  uint32_t nextId = 1;
  for (; nextId <= 6; ++nextId) {
    ring.addServer(nextId, "", 1.0);
    present.insert(nextId);
  }
  auto before = placeAll(ring, 2);
  double worst = 0;
  for (int step = 0; step < 1000; ++step) {
    bool join = present.size() <= 4 || (present.size() < 12 && rng() % 2 == 0);
    double ideal;
    if (join) {
      ring.addServer(nextId, "", 1.0);
      present.insert(nextId++);
      ideal = 1.0 / static_cast<double>(present.size());
    } else {
      auto it = present.begin();
      std::advance(it, rng() % present.size());
      ideal = 1.0 / static_cast<double>(present.size());
      ring.removeServer(*it);
      present.erase(it);
    }
    auto after = placeAll(ring, 2);
    double ratio = movedFraction(before, after) / ideal;
    worst = std::max(worst, ratio);
    REQUIRE_MESSAGE(ratio <= 1.25, "step " << step << (join ? " join" : " leave") << " moved "
                                           << ratio << "x the ideal");
    before = std::move(after);
  }
  MESSAGE("worst moved fraction over 1000 steps: " << worst << "x the ideal 1/N");
}

TEST_CASE("load per server stays within 10% of its fair share with the default points") {
  for (int servers : {3, 5, 8, 12}) {
    PlacementRing ring;
    for (int id = 1; id <= servers; ++id) ring.addServer(id, "", 1.0);
    std::map<uint32_t, int> load;
    int total = 0;
    for (uint64_t c = 1; c <= 200000; ++c) {
      for (uint32_t s : ring.place(c, 2)) {
        ++load[s];
        ++total;
      }
    }
    double fair = static_cast<double>(total) / servers;
    for (auto [id, n] : load) {
      CHECK_MESSAGE(std::abs(n - fair) / fair <= 0.10,
                    servers << " servers: server " << id << " holds " << n << " vs fair " << fair);
    }
  }
}

TEST_CASE("a server with twice the capacity gets about twice the replicas") {
  PlacementRing ring;
  ring.addServer(1, "", PlacementRing::weightForCapacity(512ull << 30));
  ring.addServer(2, "", PlacementRing::weightForCapacity(256ull << 30));
  ring.addServer(3, "", PlacementRing::weightForCapacity(256ull << 30));
  std::map<uint32_t, int> load;
  for (uint64_t c = 1; c <= 100000; ++c) ++load[ring.place(c, 1)[0]];
  double ratio = static_cast<double>(load[1]) / ((load[2] + load[3]) / 2.0);
  CHECK(ratio == doctest::Approx(2.0).epsilon(0.15));
}

TEST_CASE("replicas never share a zone while enough zones exist") {
  PlacementRing ring;
  ring.addServer(1, "a", 1.0);
  ring.addServer(2, "a", 1.0);
  ring.addServer(3, "b", 1.0);
  ring.addServer(4, "b", 1.0);
  std::map<uint32_t, std::string> zone = {{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}};
  for (uint64_t c = 1; c <= 5000; ++c) {
    auto set = ring.place(c, 2);
    REQUIRE(set.size() == 2);
    CHECK(zone[set[0]] != zone[set[1]]);
  }
  // Three replicas over two zones: both zones used, three distinct servers.
  for (uint64_t c = 1; c <= 1000; ++c) {
    auto set = ring.place(c, 3);
    REQUIRE(set.size() == 3);
    std::set<std::string> zones;
    for (auto s : set) zones.insert(zone[s]);
    CHECK(zones.size() == 2);
  }
}
