// The placement ring: which chunk servers hold the replicas of a chunk.
//
// A consistent-hash ring with virtual nodes. Each server gets a number of points proportional to
// its weight (capacity); the replica set of a chunk is the first R distinct servers clockwise from
// hash(chunk id), with distinct failure zones whenever enough zones exist. Adding or removing a
// server changes only the sets that the server enters or leaves: about 1/N of the replicas move.
//
// Thread-safety: none; owned by the metadata server's loop thread. Deterministic: the same servers
// give the same placement on every node and every run.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace basalt::meta {

class PlacementRing {
 public:
  // Points per unit of weight. With 1024 the load on each server stays within a few percent of its
  // fair share (test/unit/meta/ring_test.cc measures it).
  static constexpr int kPointsPerWeight = 1024;

  // Weight of a server from its capacity: one unit per 256 GiB, at least 1/4 and at most 64 units,
  // so tiny test servers still spread evenly and huge ones do not swamp the ring.
  static double weightForCapacity(uint64_t capacityBytes);

  // Adds (or re-weights) a server. Weight > 0.
  void addServer(uint32_t id, const std::string& zone, double weight);
  void removeServer(uint32_t id);
  bool contains(uint32_t id) const { return servers_.count(id) != 0; }
  size_t serverCount() const { return servers_.size(); }

  // The replica set for a chunk: up to `replicas` distinct servers (fewer when the ring has fewer),
  // in ring order, the first being the preferred primary. Zones are spread first: no two replicas
  // share a zone while unused zones remain.
  std::vector<uint32_t> place(uint64_t chunkId, int replicas) const;

 private:
  struct Server {
    std::string zone;
    double weight;
  };
  void rebuild();

  std::map<uint32_t, Server> servers_;
  std::vector<std::pair<uint64_t, uint32_t>> points_;  // (position, server id), sorted
};

// A well-mixed 64-bit hash of a 64-bit value (splitmix64's finaliser).
uint64_t mixHash(uint64_t x);

}  // namespace basalt::meta
