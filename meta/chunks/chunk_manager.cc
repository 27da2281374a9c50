#include "meta/chunks/chunk_manager.h"
#include "meta/chunks/names.h"
#include "meta/chunks/replica_set.h"

#include <kj/debug.h>

#include <algorithm>

#include "meta/commands/command.h"
#include "meta/keys.h"
#include "server/rpc.h"

namespace basalt::meta {
namespace {

constexpr int kMaxAttempts = 5;
constexpr auto kLeaseMargin = 50 * kj::MILLISECONDS;
// How long a create's reply waits for the assignment of the file's first chunk (about 1 ms
// normally); past it the reply goes without a layout.
constexpr auto kPreallocationWait = 20 * kj::MILLISECONDS;


// The outcome of assign on every replica.
struct AssignOutcome {
  Status primary;                 // the primary's answer
  std::vector<uint32_t> failed;   // backups that did not accept it
  kj::TimePoint answeredAt = kj::origin<kj::TimePoint>();
};

}  // namespace

ChunkManager::ChunkManager(EventLoop& loop, MetaServer& server, Logger log, ChunkOptions options)
    : loop_(loop), server_(server), log_(std::move(log)), options_(options),
      moveThrottle_(options.moveBytesPerSec) {
  errorHandler_ = kj::heap<TaskLogger>(log_);
  tasks_ = kj::heap<kj::TaskSet>(*errorHandler_);
}

ChunkManager::~ChunkManager() noexcept = default;

void ChunkManager::start() {
  Txn txn = server_.store().beginRead();
  auto next = txn.get(Table::kMeta, "next_chunk");
  nextChunkId_ = next ? readBe64(*next) : 1;
  txn.scan(Table::kServers, "", [&](std::string_view k, std::string_view v) {
    uint32_t id = readBe32(k);
    ServerRecord r = decodeServer(v);
    Server s;
    s.address = r.address;
    s.zone = r.zone;
    s.draining = r.draining;
    servers_[id] = std::move(s);
    nextServerId_ = std::max(nextServerId_, id + 1);
    return true;
  });
  startedAt_ = loop_.timer().now();
  noLeasesBefore_ = startedAt_ + options_.leaseMs * kj::MILLISECONDS;
  log_->info("chunk map: next chunk id {}, {} chunk servers known; they re-register now", nextChunkId_,
             servers_.size());
  server_.setTruncateHook([this](uint64_t ino, uint64_t size) { return truncateTail(ino, size); });
  server_.setCreateHook([this](uint64_t ino, uint64_t parent) { return preallocate(ino, parent); });
  tasks_->add(watchLiveness());
  tasks_->add(collectGarbage());
  tasks_->add(repairLoop());
}

// ---- registry ----------------------------------------------------------------------------------

kj::Promise<Result<uint32_t>> ChunkManager::registerServer(uint32_t id, std::string address, std::string zone,
                                                           uint64_t capacity, uint64_t used,
                                                           std::vector<ReportedChunk> chunks,
                                                           rpc::ChunkService::Client service) {
  if (address.empty()) return Result<uint32_t>(Status::error(EINVAL, "a chunk server must give its address"));
  bool known = id != 0 && servers_.count(id);
  if (!known) id = nextServerId_++;
  bool record = !known || servers_[id].address != address || servers_[id].zone != zone;
  kj::Promise<Status> recorded = Status::ok();
  if (record) {
    recorded = server_
                   .submitInternal([id, address, zone](rpc::Command::Builder cmd) {
                     auto rs = cmd.initRegisterServer();
                     rs.setId(id);
                     rs.setAddress(address);
                     rs.setZone(zone);
                   })
                   .then([](Applied a) { return Status::fromWire(a.reply().getStatus()); });
  }
  return recorded.then([this, id, address, zone, capacity, used, chunks = kj::mv(chunks),
                        service = kj::mv(service)](Status st) mutable -> Result<uint32_t> {
    if (!st.isOk()) return st;
    Server& s = servers_[id];
    bool wasAlive = s.alive;
    s.address = address;
    s.zone = zone;
    bool wasDead = s.dead;
    s.registered = true;
    s.alive = true;
    s.dead = false;
    s.service = kj::mv(service);
    s.capacity = capacity;
    s.used = used;
    s.chunks = chunks.size();
    s.lastHeartbeat = loop_.timer().now();
    rebuildRing();
    log_->info("chunk server #{} registered: {} zone '{}', {} chunks, {} MiB free{}{}", id, address, zone,
               chunks.size(), (capacity - std::min(capacity, used)) >> 20,
               wasAlive ? " (re-registration)" : wasDead ? " (it was dead)" : "", s.draining ? "; draining" : "");
    // Replicas no file refers to, or of an older version, or that left the set: delete them.
    for (const auto& c : chunks) {
      KJ_IF_MAYBE(e, loadEntryById(c.id)) {
        if (c.version < e->version) {
          deleteOn(id, c.id, e->version, "stale: an older version than the chunk map's");
        } else if (!contains(e->replicas, id)) {
          deleteOn(id, c.id, e->version + 1, "stale: no longer in the chunk's replica set");
        }
      } else if (preallocating_.count(c.id) == 0) {  // (a create's chunk is assigned before it commits)
        deleteOn(id, c.id, 0, "no file refers to it");
      }
    }
    return id;
  });
}

Status ChunkManager::heartbeat(uint32_t id, uint64_t capacity, uint64_t used, uint64_t chunkCount) {
  auto it = servers_.find(id);
  if (it == servers_.end() || !it->second.registered) {
    return Status::error(ESTALE, "chunk server #" + std::to_string(id) + " is not registered: register again");
  }
  Server& s = it->second;
  s.capacity = capacity;
  s.used = used;
  s.chunks = chunkCount;
  s.lastHeartbeat = loop_.timer().now();
  if (!s.alive) {
    s.alive = true;
    log_->info("chunk server #{} ({}) is heard from again", id, s.address);
    rebuildRing();
    reconcile(id);
    scanChunkMap();
  }
  return Status::ok();
}

kj::Promise<void> ChunkManager::watchLiveness() {
  return loop_.timer().afterDelay(options_.heartbeatMs / 2 * kj::MILLISECONDS).then([this]() {
    markSilentServers();
    return watchLiveness();
  });
}

void ChunkManager::markSilentServers() {
  auto now = loop_.timer().now();
  bool changed = false;
  for (auto& [id, s] : servers_) {
    if (!s.registered) continue;
    auto silent = (now - s.lastHeartbeat) / kj::MILLISECONDS;
    if (!s.alive && silent > options_.deadMs) {
      // Dead: stop calling it (every call would wait out its deadline). Its heartbeats are refused
      // from now on, so when it returns it registers again and reports what it holds, and whatever
      // was re-replicated meanwhile is deleted on it.
      s.registered = false;
      s.dead = true;
      s.service = nullptr;
      log_->warn("chunk server #{} ({}) silent for {} ms: dead; it must register again", id, s.address, silent);
      continue;
    }
    if (s.alive && silent > options_.suspectMs) {
      s.alive = false;
      s.unusableSince = now;
      changed = true;
      log_->warn("chunk server #{} ({}) silent for {} ms: suspect; no new chunks or primaries on it", id,
                 s.address, silent);
    }
  }
  if (changed) {
    rebuildRing();
    scanChunkMap();  // the counts `basalt status` shows reflect the new state at once
  }
}

bool ChunkManager::usable(uint32_t id) const {
  auto it = servers_.find(id);
  return it != servers_.end() && it->second.registered && it->second.alive && it->second.service != nullptr;
}

void ChunkManager::rebuildRing() {
  ring_ = PlacementRing();
  for (const auto& [id, s] : servers_) {
    if (usable(id) && !s.draining) ring_.addServer(id, s.zone, PlacementRing::weightForCapacity(s.capacity));
  }
}

ServerState ChunkManager::stateOf(uint32_t id) const {
  if (usable(id)) return ServerState::kAlive;
  auto it = servers_.find(id);
  if (it == servers_.end() || it->second.dead) return ServerState::kDead;
  if (!it->second.registered) {
    // Not heard from since this metadata server started.
    return loop_.timer().now() - startedAt_ > options_.deadMs * kj::MILLISECONDS ? ServerState::kDead
                                                                                   : ServerState::kSuspect;
  }
  return ServerState::kSuspect;
}

kj::Promise<Result<uint32_t>> ChunkManager::setDraining(std::string server, bool draining) {
  uint32_t id = 0;
  for (const auto& [sid, s] : servers_) {
    if (s.address == server || std::to_string(sid) == server || "#" + std::to_string(sid) == server) id = sid;
  }
  if (id == 0) {
    return Result<uint32_t>(Status::error(ENOENT, "no chunk server '" + server + "' (give its id as `basalt status` "
                                                  "shows it, or its HOST:PORT)"));
  }
  return server_
      .submitInternal([id, draining](rpc::Command::Builder cmd) {
        auto sd = cmd.initSetServerDraining();
        sd.setId(id);
        sd.setDraining(draining);
      })
      .then([this, id, draining](Applied a) -> Result<uint32_t> {
        Status st = Status::fromWire(a.reply().getStatus());
        if (!st.isOk()) return st;
        Server& s = servers_[id];
        if (s.draining != draining) {
          s.draining = draining;
          s.movesOffDone = 0;
          log_->info("chunk server #{} ({}) {}", id, s.address,
                     draining ? "is draining: it leaves the ring and its chunks move elsewhere"
                              : "is no longer draining: it rejoins the ring");
        }
        rebuildRing();
        return id;
      });
}

std::string ChunkManager::addressOf(uint32_t id) const {
  auto it = servers_.find(id);
  return it == servers_.end() ? "" : it->second.address;
}

std::string ChunkManager::zoneOf(uint32_t id) const {
  auto it = servers_.find(id);
  return it == servers_.end() ? "" : it->second.zone;
}

std::vector<ServerView> ChunkManager::servers() const {
  std::vector<ServerView> out;
  auto now = loop_.timer().now();
  for (const auto& [id, s] : servers_) {
    ServerView v;
    v.id = id;
    v.address = s.address;
    v.zone = s.zone;
    v.alive = usable(id);
    v.state = stateOf(id);
    v.draining = s.draining;
    v.chunksInMap = s.chunksInMap;
    v.movesOffInFlight = s.movesOffInFlight;
    v.movesOffDone = s.movesOffDone;
    v.capacity = s.capacity;
    v.used = s.used;
    v.chunks = s.chunks;
    v.lastHeartbeatMsAgo = s.registered ? (now - s.lastHeartbeat) / kj::MILLISECONDS : -1;
    out.push_back(v);
  }
  return out;
}

Result<Capacity> ChunkManager::capacity() {
  Capacity c;
  for (const auto& [id, s] : servers_) {
    if (!usable(id)) continue;
    c.blocks += s.capacity / c.blockSize;
    c.blocksFree += (s.capacity - std::min(s.capacity, s.used)) / c.blockSize;
  }
  c.blocksAvail = c.blocksFree;
  return c;
}

void ChunkManager::deleteOn(uint32_t serverId, uint64_t chunkId, uint64_t belowVersion, const char* why) {
  auto it = servers_.find(serverId);
  if (it == servers_.end()) return;
  KJ_IF_MAYBE(service, it->second.service) {
    log_->info("deleting chunk {} on #{} ({}): {}", chunkId, serverId, it->second.address, why);
    auto req = service->deleteRequest();
    req.setChunkId(chunkId);
    req.setBelowVersion(belowVersion);
    tasks_->add(loop_.timer()
                    .timeoutAfter(options_.callTimeoutMs * kj::MILLISECONDS, req.send())
                    .then([this, serverId, chunkId](auto&& r) {
                      Status st = Status::fromWire(r.getStatus());
                      if (!st.isOk() && st.code() != ENOENT) {
                        log_->warn("delete of chunk {} on #{} failed: {}", chunkId, serverId, st.toString());
                      }
                    }, [this, serverId, chunkId](kj::Exception&& e) {
                      log_->warn("delete of chunk {} on #{} failed: {}", chunkId, serverId,
                                 e.getDescription().cStr());
                    }));
  }
}

// ---- chunk map -------------------------------------------------------------------------------------

kj::Maybe<ChunkManager::Entry> ChunkManager::loadEntry(uint64_t ino, uint32_t index) const {
  Txn txn = server_.store().beginRead();
  auto v = txn.get(Table::kChunks, chunkKey(ino, index));
  if (!v) return nullptr;
  ChunkEntry c = decodeChunk(*v);
  return Entry{ino, index, c.id, c.version, c.replicas};
}

kj::Maybe<ChunkManager::Entry> ChunkManager::loadEntryById(uint64_t chunkId) const {
  std::string owner;
  {
    Txn txn = server_.store().beginRead();
    auto v = txn.get(Table::kChunkOwners, be64(chunkId));
    if (!v || v->size() != 12) return nullptr;
    owner = std::string(*v);
  }
  KJ_IF_MAYBE(e, loadEntry(readBe64(owner), readBe32(owner, 8))) {
    if (e->id == chunkId) return *e;
  }
  return nullptr;
}

Layout ChunkManager::layoutOf(const Entry& e, uint32_t primaryIndex) const {
  Layout l;
  l.index = e.index;
  l.chunkId = e.id;
  l.version = e.version;
  for (uint32_t id : e.replicas) l.replicas.push_back(ServerRef{id, addressOf(id)});
  l.primary = primaryIndex < e.replicas.size() ? primaryIndex : 0;
  auto it = leases_.find(e.id);
  if (it != leases_.end() && it->second.version == e.version) {
    auto left = it->second.expires - loop_.timer().now();
    l.leaseExpiryMs = left > 0 * kj::MILLISECONDS ? left / kj::MILLISECONDS : 0;
  }
  return l;
}

kj::Promise<Result<Layout>> ChunkManager::serialized(uint64_t key,
                                                     kj::Function<kj::Promise<Result<Layout>>()> fn) {
  kj::Promise<void> before = kj::READY_NOW;
  auto it = busy_.find(key);
  if (it != busy_.end()) before = it->second.done.addBranch();
  auto paf = kj::newPromiseAndFulfiller<void>();
  uint64_t turn = ++turns_;
  busy_.erase(key);
  busy_.emplace(key, Turn{turn, paf.promise.fork()});
  auto done = kj::mv(paf.fulfiller);
  // `done` is fulfilled whether fn succeeds or throws, so the next in line always runs.
  auto finish = kj::defer([this, key, turn, done = kj::mv(done)]() mutable {
    done->fulfill();
    auto it = busy_.find(key);
    if (it != busy_.end() && it->second.turn == turn) busy_.erase(it);  // nobody queued behind us
  });
  return before.then([fn = kj::mv(fn)]() mutable { return fn(); }).attach(kj::mv(finish));
}

kj::Promise<Result<Layout>> ChunkManager::getLayout(uint64_t ino, uint32_t index, bool forWrite,
                                                    uint32_t unresponsive) {
  uint8_t replication;
  {
    Txn txn = server_.store().beginRead();
    auto n = loadInode(txn, ino);
    if (!n.isOk()) return Result<Layout>(n.status());
    if (!n->isReg()) return Result<Layout>(Status::error(EINVAL, "inode " + std::to_string(ino) + " is not a regular file"));
    replication = n->replication;
  }
  KJ_IF_MAYBE(e, loadEntry(ino, index)) {
    if (!forWrite) {
      uint32_t primary = 0;
      auto it = leases_.find(e->id);
      if (it != leases_.end()) {
        auto pos = std::find(e->replicas.begin(), e->replicas.end(), it->second.primary);
        if (pos != e->replicas.end()) primary = pos - e->replicas.begin();
      }
      return Result<Layout>(layoutOf(*e, primary));
    }
    uint64_t id = e->id;
    // After the allocation of this chunk, if one is still appointing its first primary: the map
    // already has the chunk but no lease yet, and a second appointment racing the first bumps the
    // version over and over (concurrent writes to a new file, with write-behind).
    return serialized(allocationKey(ino, index), [this, id, ino, index, unresponsive]() {
      return serialized(id, [this, ino, index, unresponsive]() -> kj::Promise<Result<Layout>> {
        KJ_IF_MAYBE(fresh, loadEntry(ino, index)) { return ensurePrimary(*fresh, 0, unresponsive); }
        return Result<Layout>(Status::error(ENOENT, "chunk " + std::to_string(index) + " of inode " +
                                                        std::to_string(ino) + " was freed"));
      });
    });
  }
  if (!forWrite) {
    Layout hole;
    hole.index = index;
    return Result<Layout>(hole);
  }
  return serialized(allocationKey(ino, index),
                    [this, ino, index, replication]() { return allocate(ino, index, replication, 0); });
}

kj::Promise<Result<Layout>> ChunkManager::allocate(uint64_t ino, uint32_t index, uint8_t replication, int attempt) {
  KJ_IF_MAYBE(e, loadEntry(ino, index)) { return ensurePrimary(*e, 0); }  // allocated meanwhile
  Entry e = newEntry(ino, index, replication);
  // Just started (or just elected): the chunk servers are registering again. A chunk placed now on
  // fewer servers than it needs would be under-replicated for nothing; wait for them a little.
  if (e.replicas.size() < std::min<size_t>(replication, servers_.size()) &&
      loop_.timer().now() < startedAt_ + kRegistrationWait) {
    return loop_.timer().afterDelay(50 * kj::MILLISECONDS).then([this, ino, index, replication, attempt]() {
      return allocate(ino, index, replication, attempt);
    });
  }
  if (e.replicas.empty()) {
    return Result<Layout>(Status::error(EIO, "no chunk server is available for chunk " + std::to_string(index) +
                                                 " of inode " + std::to_string(ino) + " (" +
                                                 std::to_string(servers_.size()) + " known, none alive)"));
  }
  if (e.replicas.size() < replication) {
    log_->warn("inode {} chunk {}: only {} of {} replicas available", ino, index, e.replicas.size(), replication);
  }
  return setChunk(e, 0).then([this, e, replication, attempt](Status st) mutable -> kj::Promise<Result<Layout>> {
    if (st.code() == EEXIST && attempt < kMaxAttempts) return allocate(e.ino, e.index, replication, attempt + 1);
    if (!st.isOk()) return Result<Layout>(st);
    return appointNew(e);
  });
}

ChunkManager::Entry ChunkManager::newEntry(uint64_t ino, uint32_t index, uint8_t replication) {
  Entry e;
  e.ino = ino;
  e.index = index;
  e.id = nextChunkId_++;  // an id given up unused is only a gap: nothing refers to it
  e.version = 1;
  e.replicas = ring_.place(e.id, replication);
  return e;
}

kj::Promise<Result<Layout>> ChunkManager::appointNew(const Entry& e) {
  log_->debug("inode {} chunk {}: allocated chunk {} on {}", e.ino, e.index, e.id, idList(e.replicas));
  return appoint(e, e.replicas, false, 0, true);
}

kj::Promise<void> ChunkManager::preallocate(uint64_t ino, uint64_t parent) {
  uint8_t replication;
  {
    Txn txn = server_.store().beginRead();
    auto p = loadInode(txn, parent);
    if (!p.isOk()) return kj::READY_NOW;  // the create fails too
    replication = p->replication;  // a new file inherits its directory's
  }
  Entry e = newEntry(ino, 0, replication);
  // Short of replicas, leave it to the first write, which retries placement and says why.
  if (e.replicas.size() < replication) return kj::READY_NOW;
  log_->debug("inode {}: chunk 0 preallocated as chunk {} on {}", ino, e.id, idList(e.replicas));
  // Submitted now, so it commits with the create (applied after it: when the create failed or
  // opened an existing file, inode `ino` does not exist and this fails alone with ENOENT).
  kj::Promise<Status> recorded = setChunk(e, 0);
  // Meanwhile the replicas learn of the chunk: it holds no data anywhere, so they may hear of it
  // before the map has it, and the create's reply can carry a layout with a lease (no getLayout
  // before the first write). The lease counts once every replica took the assignment.
  auto failed = std::make_shared<std::vector<uint32_t>>();
  preallocating_.insert(e.id);
  recorded = recorded.then([this, id = e.id](Status st) {
    preallocating_.erase(id);
    return st;
  });
  kj::Promise<Assigned> assigned =
      assignAll(e, 0, *failed, false, true).then([failed](Status st) { return Assigned{st, *failed}; });
  auto settled = serialized(allocationKey(ino, 0),
                            [this, e, recorded = kj::mv(recorded), assigned = kj::mv(assigned)]() mutable {
                              return recorded.then([this, e, assigned = kj::mv(assigned)](Status st) mutable {
                                return assigned.then([this, e, st](Assigned a) { return settlePreallocated(e, st, a); });
                              });
                            })
                     .then(
                         [this, ino](Result<Layout> r) {
                           // Not an error for the create: the first write allocates or appoints again.
                           if (!r.isOk() && r.status().code() != ENOENT) {
                             log_->info("inode {}: chunk 0 allocated with the create has no primary yet: {}", ino,
                                        r.status().toString());
                           }
                         },
                         [this, ino](kj::Exception&& ex) {
                           log_->warn("inode {}: allocating chunk 0 with the create failed: {}", ino,
                                      ex.getDescription().cStr());
                         })
                     .fork();
  tasks_->add(settled.addBranch());
  // The create's reply waits for this, so it can carry the layout; a slow assignment is left to
  // the first write (its getLayout waits for it).
  return settled.addBranch().exclusiveJoin(loop_.timer().afterDelay(kPreallocationWait));
}

kj::Promise<Result<Layout>> ChunkManager::settlePreallocated(const Entry& e, Status recorded, const Assigned& assigned) {
  if (!recorded.isOk()) {
    // No file has the chunk (the create failed or opened an existing file): its replicas drop it.
    leases_.erase(e.id);
    for (uint32_t id : e.replicas) deleteOn(id, e.id, 0, "allocated for a create that made no file");
    return Result<Layout>(recorded);
  }
  KJ_IF_MAYBE(cur, loadEntry(e.ino, e.index)) {
    if (cur->id == e.id && cur->version == e.version) {
      // As any first appointment goes on after its assignments: the lease is recorded, or a first
      // primary that failed gets the chunk placed anew without it, or a backup that failed leaves
      // the set. Not by assigning again: a hung server would cost its call deadline a second time.
      return afterAssign(*cur, e.replicas[0], assigned.status, assigned.failed, 0, true);
    }
    if (cur->id != e.id) leases_.erase(e.id);
    return ensurePrimary(*cur, 0);  // changed meanwhile (a failure report, a truncate)
  }
  leases_.erase(e.id);
  return Result<Layout>(Status::error(ENOENT, "chunk 0 of inode " + std::to_string(e.ino) + " was freed"));
}

kj::Maybe<Layout> ChunkManager::heldLayout(uint64_t ino, uint32_t index) const {
  KJ_IF_MAYBE(e, loadEntry(ino, index)) {
    auto it = leases_.find(e->id);
    if (it == leases_.end() || it->second.version != e->version || !usable(it->second.primary)) return nullptr;
    if (it->second.expires - loop_.timer().now() <= options_.leaseMs / 2 * kj::MILLISECONDS) return nullptr;
    auto pos = std::find(e->replicas.begin(), e->replicas.end(), it->second.primary);
    if (pos == e->replicas.end()) return nullptr;
    return layoutOf(*e, static_cast<uint32_t>(pos - e->replicas.begin()));
  }
  return nullptr;
}

kj::Promise<Status> ChunkManager::setChunk(const Entry& e, uint64_t expectVersion, uint64_t replaces) {
  return server_
      .submitInternal([e, expectVersion, replaces](rpc::Command::Builder cmd) {
        auto sc = cmd.initSetChunk();
        sc.setIno(e.ino);
        sc.setIndex(e.index);
        sc.setChunkId(e.id);
        sc.setVersion(e.version);
        sc.setExpectVersion(expectVersion);
        sc.setReplacesChunk(replaces);
        auto r = sc.initReplicas(e.replicas.size());
        for (size_t i = 0; i < e.replicas.size(); ++i) r.set(i, e.replicas[i]);
      })
      .then([](Applied a) { return Status::fromWire(a.reply().getStatus()); });
}

kj::Promise<Result<Layout>> ChunkManager::ensurePrimary(Entry e, int attempt, uint32_t unresponsive) {
  auto now = loop_.timer().now();
  auto it = leases_.find(e.id);
  bool held = it != leases_.end() && it->second.version == e.version && it->second.expires > now;
  if (unresponsive != 0 && it != leases_.end() && it->second.primary == unresponsive && usable(unresponsive)) {
    // A client's call to this primary went unanswered. By the time its next heartbeat is due we
    // know whether it is hung (then suspect: replaced once its lease ends) or only slow (it stays).
    auto due = servers_[unresponsive].lastHeartbeat + (options_.suspectMs + 1) * kj::MILLISECONDS;
    if (due > now) {
      uint64_t ino = e.ino;
      uint32_t index = e.index;
      return loop_.timer().atTime(due).then([this, ino, index, attempt]() -> kj::Promise<Result<Layout>> {
        markSilentServers();
        KJ_IF_MAYBE(fresh, loadEntry(ino, index)) { return ensurePrimary(*fresh, attempt); }
        return Result<Layout>(Status::error(ENOENT, "chunk " + std::to_string(index) + " of inode " +
                                                        std::to_string(ino) + " was freed"));
      });
    }
  }
  if (held && usable(it->second.primary) && contains(e.replicas, it->second.primary)) {
    uint32_t primary = it->second.primary;
    uint32_t idx = std::find(e.replicas.begin(), e.replicas.end(), primary) - e.replicas.begin();
    if (it->second.expires - now > options_.leaseMs / 2 * kj::MILLISECONDS) {
      return Result<Layout>(layoutOf(e, idx));
    }
    // Renew the lease of the same primary at the same version.
    return appoint(e, e.replicas, false, attempt);
  }
  if (now < noLeasesBefore_) {
    // A primary appointed before this server started may still hold a lease.
    return loop_.timer().atTime(noLeasesBefore_).then([this, e, attempt]() { return ensurePrimary(e, attempt); });
  }
  if (held) {
    // Its holder is unusable: wait its lease out before anyone else becomes primary.
    log_->info("{}: primary #{} is unreachable; a new primary after its lease ends in {} ms",
               chunkName(e.id, e.version), it->second.primary,
               (it->second.expires - now) / kj::MILLISECONDS);
    return loop_.timer().atTime(it->second.expires).then([this, e, attempt]() { return ensurePrimary(e, attempt); });
  }
  if (it != leases_.end() && it->second.version == e.version && usable(it->second.primary) &&
      contains(e.replicas, it->second.primary)) {
    // The lease ran out but its holder is fine: renew it at the same version. Nobody else can have
    // been primary meanwhile (a new primary always comes with a new version), and the backups
    // need no new copy, as a new version would give them.
    return appoint(e, e.replicas, false, attempt);
  }
  std::vector<uint32_t> live;
  for (uint32_t id : e.replicas) {
    if (usable(id)) live.push_back(id);
  }
  if (live.empty()) {
    return Result<Layout>(Status::error(EIO, chunkName(e.id, e.version) + " of inode " + std::to_string(e.ino) +
                                                 ": no replica is reachable (" + idList(e.replicas) + ")"));
  }
  return appoint(e, live, true, attempt);
}

// Makes live[0] the primary of `e`: with a new version and the set `live` when `bump`, else as is
// (a new chunk, or renewing the lease of the same primary, which must be first in e.replicas... or
// at the index the lease names).
kj::Promise<Result<Layout>> ChunkManager::appoint(Entry e, std::vector<uint32_t> live, bool bump, int attempt,
                                                  bool fresh) {
  if (attempt >= kMaxAttempts) {
    return Result<Layout>(Status::error(EIO, chunkName(e.id, e.version) + " of inode " + std::to_string(e.ino) +
                                                 ": no primary could be appointed after " +
                                                 std::to_string(kMaxAttempts) + " attempts"));
  }
  Entry n = e;
  uint32_t primary = live[0];
  auto lease = leases_.find(e.id);
  bool renewal = false;
  if (!bump && lease != leases_.end() && lease->second.version == e.version && contains(e.replicas, lease->second.primary)) {
    primary = lease->second.primary;  // renewal: the same primary
    renewal = !fresh;
  }
  kj::Promise<Status> recorded = Status::ok();
  if (bump) {
    n.version = e.version + 1;
    n.replicas = live;
    recorded = setChunk(n, e.version);
  }
  return recorded.then([this, n, primary, attempt, fresh, renewal](Status st) mutable -> kj::Promise<Result<Layout>> {
    if (st.code() == ESTALE) {
      // Changed meanwhile (a failure report): start again from the map.
      KJ_IF_MAYBE(fresh, loadEntry(n.ino, n.index)) { return ensurePrimary(*fresh, attempt + 1); }
    }
    if (!st.isOk()) return Result<Layout>(st);
    uint32_t idx = std::find(n.replicas.begin(), n.replicas.end(), primary) - n.replicas.begin();
    auto failed = std::make_shared<std::vector<uint32_t>>();
    // A just-allocated chunk (never bumped) holds no data anywhere: every replica at once.
    bool parallel = fresh && n.version == 1;
    return assignAll(n, idx, *failed, renewal, parallel)
        .then([this, n, primary, failed, attempt, fresh](Status st) mutable {
          return afterAssign(kj::mv(n), primary, st, *failed, attempt, fresh);
        });
  });
}

kj::Promise<Result<Layout>> ChunkManager::afterAssign(Entry n, uint32_t primary, Status st,
                                                      const std::vector<uint32_t>& failed, int attempt,
                                                      bool fresh) {
  auto now = loop_.timer().now();
  if (!st.isOk()) {
    // The primary refused or is unreachable: try the others, with a new version.
    log_->warn("{}: #{} could not become primary: {}", chunkName(n.id, n.version), primary, st.toString());
    if (fresh) {
      // Never written, so it holds no data anywhere: replace it by a new chunk id that no server
      // holds (a replica still waiting for its first primary's data may not become primary).
      Entry r = n;
      r.id = nextChunkId_++;
      r.version = 1;
      r.replicas.clear();
      for (uint32_t id : ring_.place(r.id, static_cast<int>(n.replicas.size()) + 1)) {
        if (id != primary && !contains(failed, id) && r.replicas.size() < n.replicas.size()) r.replicas.push_back(id);
      }
      if (!r.replicas.empty()) {
        uint64_t old = n.id;
        log_->info("chunk {} held no data yet: replaced by chunk {} on {}", old, r.id, idList(r.replicas));
        return setChunk(r, n.version, old).then([this, r, attempt](Status st) -> kj::Promise<Result<Layout>> {
          if (st.code() == ESTALE) {
            KJ_IF_MAYBE(fresh, loadEntry(r.ino, r.index)) { return ensurePrimary(*fresh, attempt + 1); }
          }
          if (!st.isOk()) return Result<Layout>(st);
          return appoint(r, r.replicas, false, attempt + 1, true);
        });
      }
    }
    std::vector<uint32_t> rest;
    for (uint32_t id : n.replicas) {
      if (id != primary && !contains(failed, id) && usable(id)) rest.push_back(id);
    }
    if (rest.empty()) {
      return Result<Layout>(Status::error(EIO, chunkName(n.id, n.version) + " of inode " +
                                                   std::to_string(n.ino) + ": no replica can be primary (" +
                                                   st.message() + ")"));
    }
    return appoint(n, rest, true, attempt + 1);
  }
  // The primary may have dropped a backup while catching it up (a failure report, a new
  // version): what counts is the map as it is now.
  Entry cur = n;
  KJ_IF_MAYBE(fresh, loadEntry(n.ino, n.index)) { cur = *fresh; }
  if (cur.id != n.id || !contains(cur.replicas, primary)) return ensurePrimary(cur, attempt + 1);
  leases_[cur.id] = Lease{primary, cur.version, now + options_.leaseMs * kj::MILLISECONDS + kLeaseMargin};
  std::vector<uint32_t> keep = {primary};
  for (uint32_t id : cur.replicas) {
    if (id != primary && !contains(failed, id)) keep.push_back(id);
  }
  if (keep.size() < cur.replicas.size()) {
    // Backups that did not take the assignment leave the set (a new version).
    log_->warn("{}: {} did not accept the assignment; dropping them", chunkName(cur.id, cur.version),
               idList(failed));
    return appoint(cur, keep, true, attempt + 1);
  }
  uint32_t at = std::find(cur.replicas.begin(), cur.replicas.end(), primary) - cur.replicas.begin();
  return Result<Layout>(layoutOf(cur, at));
}

kj::Promise<Status> ChunkManager::assignAll(const Entry& e, uint32_t primaryIndex, std::vector<uint32_t>& failedOut,
                                            bool renewal, bool fresh) {
  // The primary first: it brings every backup to its state (install) before it answers. Only then
  // the backups, which merely learn their role. A backup told of a new version before its primary
  // has the data waits for it ("syncing") and may not become primary itself, so assigning them
  // first would strand a chunk whose new primary turns out to be dead. A fresh chunk has no data
  // to bring over: all at once (if its primary fails, the chunk is replaced by a new id anyway).
  auto failed = &failedOut;
  std::string name = chunkName(e.id, e.version);
  uint32_t primaryId = e.replicas[primaryIndex];
  auto assignBackups = [this, e, primaryId, failed, name, fresh]() {
    // Backups the primary reported unreachable while it caught them up have left the set (a newer
    // version): calling them would only wait out their deadline.
    std::vector<uint32_t> current = e.replicas;
    KJ_IF_MAYBE(now, loadEntryById(e.id)) { current = now->replicas; }
    kj::Vector<kj::Promise<std::pair<uint32_t, Status>>> calls;
    uint32_t p = std::find(e.replicas.begin(), e.replicas.end(), primaryId) - e.replicas.begin();
    for (uint32_t i = 0; i < e.replicas.size(); ++i) {
      if (i == p) continue;
      uint32_t id = e.replicas[i];
      if (!contains(current, id)) continue;
      calls.add(assignOne(e, i, p, fresh).then([id](Status st) { return std::make_pair(id, st); }));
    }
    return kj::joinPromises(calls.releaseAsArray())
        .then([this, failed, name](kj::Array<std::pair<uint32_t, Status>> results) {
          for (auto& [id, st] : results) {
            if (st.isOk()) continue;
            log_->warn("{}: backup #{} refused the assignment: {}", name, id, st.toString());
            failed->push_back(id);
          }
          return Status::ok();
        });
  };
  if (fresh && !renewal) {
    auto backups = assignBackups();
    return assignOne(e, primaryIndex, primaryIndex, true)
        .then([backups = kj::mv(backups)](Status primary) mutable -> kj::Promise<Status> {
          if (!primary.isOk()) return primary;
          return kj::mv(backups);
        });
  }
  return assignOne(e, primaryIndex, primaryIndex).then([assignBackups, renewal](Status primary) -> kj::Promise<Status> {
    if (!primary.isOk() || renewal) return primary;
    return assignBackups();
  });
}

kj::Promise<Status> ChunkManager::assignOne(const Entry& e, uint32_t index, uint32_t primaryIndex, bool fresh) {
  uint32_t id = e.replicas[index];
  auto it = servers_.find(id);
  rpc::ChunkService::Client* service = nullptr;
  if (it != servers_.end() && it->second.registered) {
    KJ_IF_MAYBE(s, it->second.service) { service = s; }
  }
  if (!service) return Status::error(EHOSTDOWN, "chunk server #" + std::to_string(id) + " is not registered");
  auto req = service->assignRequest();
  auto ref = req.initChunk();
  ref.setId(e.id);
  ref.setVersion(e.version);
  auto list = req.initReplicas(e.replicas.size());
  for (size_t j = 0; j < e.replicas.size(); ++j) {
    list[j].setId(e.replicas[j]);
    list[j].setAddress(addressOf(e.replicas[j]));
  }
  req.setPrimary(primaryIndex);
  req.setLeaseMs(options_.leaseMs);
  req.setFresh(fresh);
  std::string addr = it->second.address;
  kj::Promise<Status> call = loop_.timer()
      .timeoutAfter(options_.callTimeoutMs * kj::MILLISECONDS, req.send())
      .then([](auto&& r) { return Status::fromWire(r.getStatus()); },
            [id, addr](kj::Exception&& ex) {
              return Status::error(EHOSTDOWN, "chunk server #" + std::to_string(id) + " (" + addr + "): " +
                                                  ex.getDescription().cStr());
            });
  // A server that goes silent during the call is given up as soon as it is suspect, not at the
  // call's deadline: a fresh chunk whose first primary hangs is placed anew ~1.5 s after the hang.
  if (usable(id)) call = call.exclusiveJoin(untilUnusable(id));
  return call;
}

kj::Promise<Status> ChunkManager::untilUnusable(uint32_t id) {
  return loop_.timer().afterDelay(options_.heartbeatMs / 2 * kj::MILLISECONDS).then([this, id]() -> kj::Promise<Status> {
    if (!usable(id)) {
      return Status::error(EHOSTDOWN, "chunk server #" + std::to_string(id) + " (" + addressOf(id) +
                                          ") went silent during the call (suspect)");
    }
    return untilUnusable(id);
  });
}

// Not queued behind other changes of the chunk: a primary reports failures while it answers an
// assign (catching up its backups), and that assign is such a change. SetChunk's expected version
// keeps concurrent changes from overwriting each other.
kj::Promise<Result<uint64_t>> ChunkManager::reportFailure(uint64_t chunkId, uint64_t version, uint32_t serverId,
                                                          std::string reason) {
  KJ_IF_MAYBE(e, loadEntryById(chunkId)) {
    if (e->version != version) {
      return Result<uint64_t>(Status::error(ESTALE, chunkName(chunkId, version) + " is not current: the map has v" +
                                                        std::to_string(e->version)));
    }
    if (!contains(e->replicas, serverId)) return Result<uint64_t>(e->version);
    Entry n = *e;
    n.version = e->version + 1;
    n.replicas.erase(std::find(n.replicas.begin(), n.replicas.end(), serverId));
    log_->warn("{}: replica #{} ({}) failed: {}; the set is now {} at v{}", chunkName(chunkId, version), serverId,
               addressOf(serverId), reason, idList(n.replicas), n.version);
    return setChunk(n, e->version).then([this, n, serverId](Status st) -> Result<uint64_t> {
      if (!st.isOk()) return st;
      auto lease = leases_.find(n.id);
      if (lease != leases_.end() && contains(n.replicas, lease->second.primary)) {
        lease->second.version = n.version;  // the reporter stays primary
      } else {
        // The primary itself left the set (it found its own replica damaged): appoint another now,
        // so the remaining replicas learn the new version (after the old lease, as always).
        uint64_t ino = n.ino;
        uint32_t index = n.index;
        tasks_->add(serialized(n.id, [this, ino, index]() -> kj::Promise<Result<Layout>> {
                      KJ_IF_MAYBE(fresh, loadEntry(ino, index)) { return ensurePrimary(*fresh, 0); }
                      return Result<Layout>(Layout{});
                    }).ignoreResult());
      }
      // The dropped replica is stale from now on: delete it where it can be reached (a server that
      // is down deletes it when it registers again); the repair loop makes a new copy.
      deleteOn(serverId, n.id, n.version, "dropped from the chunk's replica set");
      return n.version;
    });
  }
  return Result<uint64_t>(Status::error(ENOENT, "chunk " + std::to_string(chunkId) + " is not in the chunk map"));
}

kj::Promise<Status> ChunkManager::truncateTail(uint64_t ino, uint64_t newSize) {
  uint32_t chunkSize;
  {
    Txn txn = server_.store().beginRead();
    auto n = loadInode(txn, ino);
    if (!n.isOk() || !n->isReg()) return Status::ok();
    chunkSize = n->chunkSize;
  }
  if (newSize % chunkSize == 0) return Status::ok();  // whole chunks were freed by the command
  uint32_t index = newSize / chunkSize;
  if (loadEntry(ino, index) == nullptr) return Status::ok();  // a hole
  uint32_t length = newSize % chunkSize;
  return getLayout(ino, index, true).then([this, ino, index, length](Result<Layout> l) -> kj::Promise<Status> {
    if (!l.isOk()) return l.status();
    uint32_t primaryId = l->replicas[l->primary].id;
    rpc::ChunkService::Client* service = nullptr;
    KJ_IF_MAYBE(s, servers_[primaryId].service) { service = s; }
    if (!service) return Status::error(EIO, "primary #" + std::to_string(primaryId) + " is not registered");
    auto req = service->updateRequest();
    req.initChunk().setId(l->chunkId);
    req.getChunk().setVersion(l->version);
    req.initOp().initTruncate().setLength(length);
    std::string what = "cutting chunk " + std::to_string(index) + " of inode " + std::to_string(ino) + " to " +
                       std::to_string(length) + " bytes";
    return loop_.timer()
        .timeoutAfter(options_.callTimeoutMs * kj::MILLISECONDS, req.send())
        .then([this, what](auto&& r) {
                Status st = Status::fromWire(r.getStatus());
                if (!st.isOk()) log_->warn("{}: {}", what, st.toString());
                return st.isOk() ? st : Status::error(EIO, what + ": " + st.toString());
              },
              [this, what](kj::Exception&& e) {
                log_->warn("{}: {}", what, e.getDescription().cStr());
                return Status::error(EIO, what + ": " + e.getDescription().cStr());
              });
  });
}

}  // namespace basalt::meta
