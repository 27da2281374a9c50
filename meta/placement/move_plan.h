// Rebalancing decisions, as pure functions of the placement ring and one chunk's replica set: which
// replica of a chunk moves where, which work starts first (repairs before moves), and the byte-rate
// throttle of moves. The ChunkManager (meta/chunks/rebalancer.cc) carries the moves out.
//
// A chunk moves only when its ring placement differs from where it is, so a server joining or
// leaving the ring moves about 1/N of the replicas (the ring changes only the sets the server
// enters or leaves). A move never takes a chunk below its replication: the new replica is added
// first (kAdd, the replica set grows by one), and only then is the misplaced one dropped (kTrim).
//
// Thread-safety: none; plain values. Deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "meta/placement/ring.h"

namespace basalt::meta {

struct Move {
  enum class Kind { kNone, kAdd, kTrim };
  Kind kind = Kind::kNone;
  uint32_t from = 0;  // the replica that does not belong (kAdd: the one a later kTrim will drop)
  uint32_t to = 0;    // kAdd: the server that gets a copy
};

// What to do with a chunk on `replicas` that should have `replication` replicas. `ring` holds the
// servers that may receive chunks (usable and not draining); `usable(id)` tells whether a server is
// heard from (a draining server is usable: it still serves its replicas until they moved).
// kNone when the chunk is where the ring puts it, or when it is the repair loop's business (a
// replica on an unusable server, fewer replicas than `replication`), or when the ring has fewer
// than `replication` servers (nowhere to move to without losing redundancy).
Move planMove(const PlacementRing& ring, uint64_t chunkId, const std::vector<uint32_t>& replicas,
              int replication, const std::function<bool(uint32_t)>& usable);

// How many repairs and moves to start now. Repairs restore redundancy and go first: a move starts
// only when no repair is waiting for a slot. Each kind has its own limit of work in flight.
struct WorkSlots {
  size_t repairs = 0, moves = 0;
};
WorkSlots scheduleWork(size_t repairsWaiting, size_t movesWaiting, uint32_t repairsInFlight,
                       uint32_t movesInFlight, uint32_t maxRepairs, uint32_t maxMoves);

// A token bucket over bytes: refills at `bytesPerSecond`, holds at most one second's worth. A
// move may start while the bucket is not in debt; it then takes its bytes (possibly going into
// debt, so a chunk larger than a second's worth still moves, and the next waits longer).
// bytesPerSecond 0 = unlimited.
class ByteThrottle {
 public:
  explicit ByteThrottle(uint64_t bytesPerSecond) : rate_(bytesPerSecond) {}
  // `nowMs`: a monotonic clock in milliseconds. True when `bytes` may be sent now (and takes them).
  bool tryTake(uint64_t bytes, int64_t nowMs);

 private:
  void refill(int64_t nowMs);
  uint64_t rate_;
  double tokens_ = 0;
  int64_t lastMs_ = -1;
};

}  // namespace basalt::meta
