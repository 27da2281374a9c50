// The rebalancer: moves chunks whose ring placement changed (a server joined, or one is draining)
// to the servers the ring now names. Part of ChunkManager; the decisions are the pure functions of
// meta/placement/move_plan.h, this file carries them out. docs/meta.md, "Rebalancing", walks
// through the steps and failures.
#include <algorithm>

#include "meta/chunks/chunk_manager.h"
#include "meta/chunks/names.h"
#include "meta/chunks/replica_set.h"

namespace basalt::meta {

void ChunkManager::startMoves() {
  while (!pendingMoves_.empty()) {
    WorkSlots slots = scheduleWork(pendingRepairs_.size(), pendingMoves_.size(), repair_.inFlight, rebalance_.inFlight,
                                   options_.maxRepairs, options_.maxMoves);
    if (slots.moves == 0) return;
    MoveCandidate c = pendingMoves_.front();
    if (busy_.count(c.chunkId)) {  // being changed now (a repair, a lease, a move): next scan
      pendingMoves_.pop_front();
      continue;
    }
    int64_t nowMs = (loop_.timer().now() - kj::origin<kj::TimePoint>()) / kj::MILLISECONDS;
    if (!moveThrottle_.tryTake(c.bytes, nowMs)) return;  // over the byte rate: at the next scan
    pendingMoves_.pop_front();
    ++rebalance_.inFlight;
    uint32_t from = c.from;
    auto it = servers_.find(from);
    if (it != servers_.end()) ++it->second.movesOffInFlight;
    auto finished = [this, from](bool moved) {
      --rebalance_.inFlight;
      auto it = servers_.find(from);
      if (it != servers_.end()) {
        --it->second.movesOffInFlight;
        if (moved) ++it->second.movesOffDone;
      }
      if (moved) ++rebalance_.done;
      startMoves();
    };
    tasks_->add(serialized(c.chunkId, [this, c]() { return moveChunk(c.ino, c.index, c.replication); })
                    .then([this, c, finished](Result<Layout> r) {
                      if (!r.isOk()) {
                        log_->warn("rebalancing chunk {} (inode {} chunk {}) failed: {}", c.chunkId, c.ino, c.index,
                                   r.status().toString());
                      }
                      finished(r.isOk() && r->chunkId != 0);
                    },
                    [this, c, finished](kj::Exception&& e) {
                      log_->warn("rebalancing chunk {} (inode {} chunk {}) failed: {}", c.chunkId, c.ino, c.index,
                                 e.getDescription().cStr());
                      finished(false);
                    }));
  }
}

uint32_t ChunkManager::currentPrimary(const Entry& e, const std::vector<uint32_t>& prefer) const {
  auto now = loop_.timer().now();
  auto lease = leases_.find(e.id);
  bool held = lease != leases_.end() && lease->second.version == e.version && lease->second.expires > now;
  if (held) {
    uint32_t holder = lease->second.primary;
    if (!usable(holder)) return 0;  // wait its lease out (it may still act as primary)
    if (contains(prefer, holder)) return holder;
  } else if (now < noLeasesBefore_) {
    return 0;
  }
  for (uint32_t id : prefer) {
    if (usable(id)) return id;
  }
  return 0;
}

// Resolves with the chunk's layout after the move, or an empty layout when there was nothing to do
// (it moved already, or it is the repair loop's business now).
kj::Promise<Result<Layout>> ChunkManager::moveChunk(uint64_t ino, uint32_t index, uint8_t replication) {
  Entry e;
  KJ_IF_MAYBE(fresh, loadEntry(ino, index)) { e = *fresh; } else { return Result<Layout>(Layout{}); }
  Move m = planMove(ring_, e.id, e.replicas, replication, [this](uint32_t id) { return usable(id); });
  if (m.kind == Move::Kind::kNone) return Result<Layout>(Layout{});
  if (m.kind == Move::Kind::kTrim) return trimChunk(e, replication, 0);

  // Step 1: the ring's server joins the set. The primary copies the whole chunk to it while it
  // takes the new version (as for a repair); the set has replication + 1 replicas meanwhile.
  uint32_t primary = currentPrimary(e, e.replicas);
  if (primary == 0) return Result<Layout>(Layout{});
  std::vector<uint32_t> set = {primary};
  for (uint32_t id : e.replicas) {
    if (id != primary) set.push_back(id);
  }
  set.push_back(m.to);
  log_->info("{} of inode {} chunk {}: rebalancing: copying to #{} ({} -> {}, from #{})", chunkName(e.id, e.version),
             ino, index, m.to, idList(e.replicas), idList(set), primary);
  uint32_t to = m.to;
  return appoint(e, set, true, 0).then([this, ino, index, replication, to](Result<Layout> l) -> kj::Promise<Result<Layout>> {
    if (!l.isOk()) return l;
    Entry now;
    KJ_IF_MAYBE(fresh, loadEntry(ino, index)) { now = *fresh; } else { return Result<Layout>(Layout{}); }
    if (!contains(now.replicas, to)) {
      return Result<Layout>(Status::error(EIO, chunkName(now.id, now.version) + ": the copy to #" + std::to_string(to) +
                                                   " (" + addressOf(to) + ") failed; it left the set again"));
    }
    // Step 2, in the same turn: drop the replica that no longer belongs.
    return trimChunk(now, replication, to);
  });
}

kj::Promise<Result<Layout>> ChunkManager::trimChunk(const Entry& e, uint8_t replication, uint32_t addedTo) {
  Move m = planMove(ring_, e.id, e.replicas, replication, [this](uint32_t id) { return usable(id); });
  if (m.kind != Move::Kind::kTrim) {
    // The ring changed between the steps (or a replica became unusable): the next scan decides.
    return Result<Layout>(Layout{});
  }
  std::vector<uint32_t> keep;
  for (uint32_t id : e.replicas) {
    if (id != m.from) keep.push_back(id);
  }
  uint32_t primary = currentPrimary(e, keep);
  if (primary == 0) return Result<Layout>(Layout{});
  std::vector<uint32_t> set = {primary};
  for (uint32_t id : keep) {
    if (id != primary) set.push_back(id);
  }
  uint32_t from = m.from;
  log_->info("{} of inode {} chunk {}: rebalancing: dropping the replica on #{} ({} -> {})",
             chunkName(e.id, e.version), e.ino, e.index, from, idList(e.replicas), idList(set));
  return appoint(e, set, true, 0).then([this, from, addedTo, id = e.id](Result<Layout> l) -> Result<Layout> {
    if (!l.isOk()) return l;
    for (const auto& r : l->replicas) {
      if (r.id == from) return l;  // still in the set (changed meanwhile): nothing to delete
    }
    deleteOn(from, id, l->version, addedTo ? "moved by the rebalancer" : "misplaced: the ring puts it elsewhere");
    return l;
  });
}

}  // namespace basalt::meta
