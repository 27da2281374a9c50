#include "meta/placement/move_plan.h"

#include <algorithm>

namespace basalt::meta {
namespace {
bool has(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }
}  // namespace

Move planMove(const PlacementRing& ring, uint64_t chunkId, const std::vector<uint32_t>& replicas,
              int replication, const std::function<bool(uint32_t)>& usable) {
  Move m;
  if (replication <= 0 || replicas.size() < static_cast<size_t>(replication)) return m;
  for (uint32_t id : replicas) {
    if (!usable(id)) return m;
  }
  std::vector<uint32_t> desired = ring.place(chunkId, replication);
  if (desired.size() < static_cast<size_t>(replication)) return m;
  std::vector<uint32_t> extra, missing;
  for (uint32_t id : replicas) {
    if (!has(desired, id)) extra.push_back(id);
  }
  for (uint32_t id : desired) {
    if (!has(replicas, id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    // |replicas| >= |desired|, so something is misplaced whenever something is missing.
    m.kind = Move::Kind::kAdd;
    m.to = missing.front();
    m.from = extra.empty() ? 0 : extra.front();
  } else if (!extra.empty()) {
    m.kind = Move::Kind::kTrim;  // every desired server holds it: drop one that does not belong
    m.from = extra.front();
  }
  return m;
}

WorkSlots scheduleWork(size_t repairsWaiting, size_t movesWaiting, uint32_t repairsInFlight,
                       uint32_t movesInFlight, uint32_t maxRepairs, uint32_t maxMoves) {
  WorkSlots s;
  size_t freeRepairs = maxRepairs > repairsInFlight ? maxRepairs - repairsInFlight : 0;
  s.repairs = std::min(repairsWaiting, freeRepairs);
  if (s.repairs < repairsWaiting) return s;  // a repair still waits: no moves
  size_t freeMoves = maxMoves > movesInFlight ? maxMoves - movesInFlight : 0;
  s.moves = std::min(movesWaiting, freeMoves);
  return s;
}

void ByteThrottle::refill(int64_t nowMs) {
  if (lastMs_ < 0) {
    tokens_ = static_cast<double>(rate_);  // start with one second's worth
  } else if (nowMs > lastMs_) {
    tokens_ = std::min(static_cast<double>(rate_), tokens_ + static_cast<double>(rate_) * (nowMs - lastMs_) / 1000.0);
  }
  lastMs_ = std::max(lastMs_, nowMs);
}

bool ByteThrottle::tryTake(uint64_t bytes, int64_t nowMs) {
  if (rate_ == 0) return true;
  refill(nowMs);
  if (tokens_ < 0) return false;
  tokens_ -= static_cast<double>(bytes);
  return true;
}

}  // namespace basalt::meta
