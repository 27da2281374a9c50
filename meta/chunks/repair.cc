// Self-healing, part of ChunkManager: garbage collection of freed chunks, reconciliation of what a
// returning server holds, and the repair loop that brings every chunk back to its file's
// replication (docs/meta.md, "Repair"). Placement moves are in rebalancer.cc.
#include <kj/debug.h>

#include <algorithm>

#include "meta/chunks/chunk_manager.h"
#include "meta/chunks/names.h"
#include "meta/chunks/replica_set.h"
#include "meta/commands/command.h"
#include "meta/keys.h"

namespace basalt::meta {

// Deletes freed chunks from their replicas; a chunk leaves the garbage table once every live
// replica has deleted it (a replica that is down now deletes it when it registers again).
kj::Promise<void> ChunkManager::collectGarbage() {
  return loop_.timer().afterDelay(options_.gcIntervalMs * kj::MILLISECONDS).then([this]() { return collectGarbageNow(); });
}

kj::Promise<void> ChunkManager::collectGarbageNow() {
  std::vector<std::pair<uint64_t, std::vector<uint32_t>>> batch;
  {
    Txn txn = server_.store().beginRead();
    txn.scan(Table::kGarbage, "", [&](std::string_view k, std::string_view v) {
      std::vector<uint32_t> ids;
      for (size_t at = 0; at + 4 <= v.size(); at += 4) ids.push_back(readBe32(v, at));
      batch.emplace_back(readBe64(k), std::move(ids));
      return batch.size() < kGcBatch;
    });
  }
  kj::Vector<kj::Promise<bool>> deletions;
  for (auto& [chunkId, ids] : batch) {
    kj::Vector<kj::Promise<bool>> perReplica;
    for (uint32_t id : ids) {
      if (!servers_.count(id) || !usable(id)) continue;  // down: deleted when it registers again
      KJ_IF_MAYBE(service, servers_[id].service) {
        auto req = service->deleteRequest();
        req.setChunkId(chunkId);
        perReplica.add(loop_.timer()
                           .timeoutAfter(options_.callTimeoutMs * kj::MILLISECONDS, req.send())
                           .then([](auto&& r) { return r.getStatus().getCode() == 0 || r.getStatus().getCode() == ENOENT; },
                                 [](kj::Exception&&) { return false; }));
      }
    }
    uint64_t cid = chunkId;
    deletions.add(kj::joinPromises(perReplica.releaseAsArray())
                      .then([this, cid](kj::Array<bool> oks) -> kj::Promise<bool> {
                        for (bool ok : oks) {
                          if (!ok) return false;
                        }
                        return server_
                            .submitInternal([cid](rpc::Command::Builder cmd) { cmd.initDropGarbage().setChunkId(cid); })
                            .then([](Applied a) { return a.reply().getStatus().getCode() == 0; });
                      }));
  }
  return kj::joinPromises(deletions.releaseAsArray())
      .then([this, n = batch.size()](kj::Array<bool> done) -> kj::Promise<void> {
        size_t freed = std::count(done.begin(), done.end(), true);
        if (freed) log_->debug("deleted {} freed chunks ({} still pending)", freed, n - freed);
        // A full round means a backlog (a tree was just deleted): go on at once, so the space
        // comes back at the rate the chunk servers delete, not one round per interval.
        if (n == kGcBatch && freed == n) return collectGarbageNow();
        return collectGarbage();
      });
}


// ---- self-healing: restoring replica counts ----------------------------------------------------

bool ChunkManager::gone(uint32_t id) const {
  if (usable(id)) return false;
  auto it = servers_.find(id);
  if (it == servers_.end() || it->second.dead) return true;
  if (!it->second.registered) {
    // Not heard from since this metadata server started: gone once a repair delay has passed.
    return loop_.timer().now() - noLeasesBefore_ > options_.repairDelayMs * kj::MILLISECONDS;
  }
  return loop_.timer().now() - it->second.unusableSince > options_.repairDelayMs * kj::MILLISECONDS;
}

void ChunkManager::reconcile(uint32_t id) {
  auto it = servers_.find(id);
  if (it == servers_.end()) return;
  KJ_IF_MAYBE(service, it->second.service) {
    tasks_->add(loop_.timer()
                    .timeoutAfter(options_.callTimeoutMs * kj::MILLISECONDS, service->listRequest().send())
                    .then([this, id](auto&& r) {
                      for (auto c : r.getChunks()) {
                        uint64_t cid = c.getChunk().getId();
                        KJ_IF_MAYBE(e, loadEntryById(cid)) {
                          if (c.getChunk().getVersion() < e->version && !contains(e->replicas, id)) {
                            deleteOn(id, cid, e->version, "stale: re-replicated while this server was away");
                          }
                        } else {
                          deleteOn(id, cid, 0, "no file refers to it");
                        }
                      }
                    }));
  }
}

kj::Promise<void> ChunkManager::repairLoop() {
  return loop_.timer().afterDelay(options_.repairIntervalMs * kj::MILLISECONDS).then([this]() {
    scanChunkMap();
    return repairLoop();
  });
}

void ChunkManager::scanChunkMap() {
  {
    std::vector<RepairCandidate> todo;
    std::vector<MoveCandidate> moves;
    RepairStats counts;
    counts.repairsDone = repair_.repairsDone;
    counts.inFlight = repair_.inFlight;
    std::map<uint32_t, uint64_t> perServer;
    auto isUsable = [this](uint32_t id) { return usable(id); };
    {
      Txn txn = server_.store().beginRead();
      struct FileInfo {
        uint8_t replication;
        uint64_t size;
        uint32_t chunkSize;
      };
      std::map<uint64_t, FileInfo> files;  // per inode, read once per scan
      txn.scan(Table::kChunks, "", [&](std::string_view k, std::string_view v) {
        ++counts.chunks;
        uint64_t ino = readBe64(k);
        uint32_t index = readBe32(k, 8);
        ChunkEntry e = decodeChunk(v);
        auto f = files.find(ino);
        if (f == files.end()) {
          auto n = loadInode(txn, ino);
          FileInfo fi = n.isOk() ? FileInfo{n->replication, n->size, n->chunkSize} : FileInfo{1, 0, 0};
          f = files.emplace(ino, fi).first;
        }
        uint8_t replication = f->second.replication;
        size_t live = 0;
        bool anyGone = false;
        for (uint32_t id : e.replicas) {
          ++perServer[id];
          if (usable(id)) ++live;
          if (gone(id)) anyGone = true;
        }
        if (live == 0) {
          ++counts.missing;
        } else if (live < replication) {
          ++counts.underReplicated;
        }
        bool wantMore = e.replicas.size() < replication || anyGone;
        if (live > 0 && wantMore && ring_.serverCount() > 0) {
          todo.push_back({ino, index, replication, live});
        } else {
          Move m = planMove(ring_, e.id, e.replicas, replication, isUsable);
          if (m.kind != Move::Kind::kNone) {
            uint64_t offset = static_cast<uint64_t>(index) * f->second.chunkSize;
            uint64_t bytes = f->second.size > offset ? std::min<uint64_t>(f->second.size - offset, f->second.chunkSize) : 0;
            // Every version bump re-installs the whole chunk on each backup: a move sends it
            // `replication` times (the add) and `replication - 1` times (the trim).
            uint64_t sent = bytes * (m.kind == Move::Kind::kAdd ? 2u * replication - 1 : replication - 1u);
            moves.push_back({ino, index, e.id, replication, sent, m.from});
          }
        }
        return true;
      });
    }
    repair_ = counts;
    for (auto& [id, s] : servers_) {
      auto c = perServer.find(id);
      s.chunksInMap = c == perServer.end() ? 0 : c->second;
    }
    // Single-copy chunks first.
    std::stable_sort(todo.begin(), todo.end(),
                     [](const RepairCandidate& a, const RepairCandidate& b) { return a.live < b.live; });
    pendingRepairs_.assign(todo.begin(), todo.end());
    startRepairs();
    rebalance_.toMove = moves.size();
    pendingMoves_.assign(moves.begin(), moves.end());
    startMoves();
  }
}

void ChunkManager::startRepairs() {
  while (!pendingRepairs_.empty() && repair_.inFlight < options_.maxRepairs) {
    RepairCandidate c = pendingRepairs_.front();
    pendingRepairs_.pop_front();
    uint64_t key = (1ull << 62) | ((c.ino << 24) ^ c.index);  // one repair per chunk at a time
    KJ_IF_MAYBE(e, loadEntry(c.ino, c.index)) { key = e->id; }
    if (busy_.count(key)) continue;  // being changed now (a repair in flight, a lease): next scan
    ++repair_.inFlight;
    tasks_->add(serialized(key, [this, c]() { return repairChunk(c.ino, c.index, c.replication); })
                    .then([this](Result<Layout> r) {
                      --repair_.inFlight;
                      if (r.isOk() && r->chunkId != 0) ++repair_.repairsDone;
                      startRepairs();
                      startMoves();
                    },
                    [this](kj::Exception&& e) {
                      --repair_.inFlight;
                      log_->warn("repair failed: {}", e.getDescription().cStr());
                      startRepairs();
                      startMoves();
                    }));
  }
}

// Gives the chunk `replication` live replicas again: the replicas on gone servers leave the set,
// new ones chosen by the ring join it, and the primary (a live replica holding the data) brings
// them to its state as part of the assignment of the new version. Resolves with an empty layout
// when there was nothing to do (or nothing possible now).
kj::Promise<Result<Layout>> ChunkManager::repairChunk(uint64_t ino, uint32_t index, uint8_t replication) {
  Entry e;
  KJ_IF_MAYBE(fresh, loadEntry(ino, index)) { e = *fresh; } else { return Result<Layout>(Layout{}); }
  std::vector<uint32_t> keep, live;
  for (uint32_t id : e.replicas) {
    if (!gone(id)) keep.push_back(id);
    if (usable(id)) live.push_back(id);
  }
  if (live.empty() || (keep.size() >= replication && keep.size() == e.replicas.size())) {
    return Result<Layout>(Layout{});
  }
  auto now = loop_.timer().now();
  auto lease = leases_.find(e.id);
  bool held = lease != leases_.end() && lease->second.version == e.version && lease->second.expires > now;
  uint32_t primary;
  if (held) {
    if (!usable(lease->second.primary)) return Result<Layout>(Layout{});  // wait its lease out first
    primary = lease->second.primary;
  } else if (now < noLeasesBefore_) {
    return Result<Layout>(Layout{});
  } else {
    primary = live[0];
  }
  std::vector<uint32_t> set = {primary};
  for (uint32_t id : keep) {
    if (id != primary) set.push_back(id);
  }
  std::vector<uint32_t> added;
  for (uint32_t id : ring_.place(e.id, replication + static_cast<int>(e.replicas.size()))) {
    if (set.size() >= replication) break;
    if (!contains(set, id)) {
      set.push_back(id);
      added.push_back(id);
    }
  }
  if (set.size() == e.replicas.size() && added.empty()) return Result<Layout>(Layout{});
  log_->info("{} of inode {}: repairing: replicas {} -> {} (copying from #{})", chunkName(e.id, e.version), ino,
             idList(e.replicas), idList(set), primary);
  return appoint(e, set, true, 0);
}

}  // namespace basalt::meta
