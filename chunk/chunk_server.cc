#include "chunk/chunk_server.h"

#include <kj/debug.h>

#include <algorithm>

#include "server/rpc.h"

namespace basalt::chunk {
namespace {

// Reads up to this long are tried from the page cache on the loop (a 64 KiB block of a random
// reader; larger ones are streams, for which a worker's hop costs little against the bytes).
constexpr uint32_t kCachedReadMax = 256 * 1024;

std::string describe(const Replica& r) {
  return "server " + std::to_string(r.id) + " (" + r.address + ")";
}

// Runs `fn` once every step queued on `queue` before it has finished; never breaks the queue.
template <typename T>
kj::Promise<T> enqueue(kj::Promise<void>& queue, kj::Function<kj::Promise<T>()> fn) {
  auto paf = kj::newPromiseAndFulfiller<T>();
  auto done = std::make_shared<kj::Own<kj::PromiseFulfiller<T>>>(kj::mv(paf.fulfiller));
  kj::Promise<void> prev = kj::mv(queue);
  queue = prev.then([fn = kj::mv(fn)]() mutable { return fn(); })
              .then([done](T v) mutable { (*done)->fulfill(kj::mv(v)); },
                    [done](kj::Exception&& e) { (*done)->reject(kj::mv(e)); })
              .eagerlyEvaluate(nullptr);
  return kj::mv(paf.promise);
}

// The result of a queued step that started replication: the local outcome, and the promise of the
// backups' answers (which must not hold up the queue).
struct Started {
  Status status;
  kj::Promise<Status> replicated = Status::ok();
};

}  // namespace

// ---- bookkeeping -----------------------------------------------------------------------------

class ChunkServer::InFlight {
 public:
  explicit InFlight(ChunkServer& s) : s_(s) { ++s_.inFlight_; }
  ~InFlight() {
    if (--s_.inFlight_ == 0) {
      KJ_IF_MAYBE(f, s_.drained_) { (*f)->fulfill(); }
      s_.drained_ = nullptr;
    }
  }

 private:
  ChunkServer& s_;
};

ChunkServer::ChunkServer(EventLoop& loop, ChunkStore& store, Logger log, ChunkServerConfig config)
    : loop_(loop), store_(store), log_(log), config_(config), peers_(loop, config.forwardTimeoutMs),
      taskLogger_(log), tasks_(taskLogger_) {}

ChunkServer::~ChunkServer() = default;

kj::Promise<void> ChunkServer::start() {
  ChunkStore* s = &store_;
  return loop_.offload<std::vector<ChunkMeta>>([s]() { return s->list(); })
      .then([this](std::vector<ChunkMeta> metas) {
        for (const ChunkMeta& m : metas) {
          Chunk& c = chunk(m.id);
          c.exists = true;
          c.version = c.logVersion = m.version;
          c.state = m.state;
        }
      });
}

void ChunkServer::setIdentity(uint32_t id, std::string address) {
  id_ = id;
  address_ = std::move(address);
}

std::string ChunkServer::name() const { return describe(Replica{id_, address_}); }

void ChunkServer::setRegistry(rpc::ChunkRegistry::Client registry, std::string metaAddress) {
  registry_ = kj::mv(registry);
  metaAddress_ = std::move(metaAddress);
}

void ChunkServer::clearRegistry() { registry_ = nullptr; }

ChunkServer::Chunk& ChunkServer::chunk(uint64_t id) { return chunks_[id]; }

bool ChunkServer::isSelf(const Replica& r) const {
  return (id_ != 0 && r.id == id_) || (!address_.empty() && r.address == address_);
}

std::vector<Replica> ChunkServer::backupsOf(const Chunk& c) const {
  std::vector<Replica> out;
  for (const Replica& r : c.replicas) {
    if (!isSelf(r)) out.push_back(r);
  }
  return out;
}

Status ChunkServer::checkReadable(uint64_t id, uint64_t version) {
  auto it = chunks_.find(id);
  if (it == chunks_.end() || !it->second.exists) {
    return Status::error(ENOENT, chunkName(id, version) + " is not held by " + name());
  }
  const Chunk& c = it->second;
  if (c.version != version) {
    return Status::error(ESTALE, chunkName(id, version) + " asked, but " + name() + " holds v" +
                                     std::to_string(c.version) +
                                     (c.version < version ? " (stale replica)" : " (the layout is old)"));
  }
  if (c.state == ChunkState::kSyncing) {
    return Status::error(EAGAIN, chunkName(id, version) + " on " + name() +
                                     " waits for its primary to bring it up to date");
  }
  return Status::ok();
}

template <typename T>
kj::Promise<T> ChunkServer::inOrder(uint64_t id, kj::Function<kj::Promise<T>()> fn) {
  return enqueue<T>(chunk(id).queue, kj::mv(fn));
}

kj::Promise<ChunkServer::Applied> ChunkServer::applyLocal(uint64_t id, Op op, bool packForPeers) {
  ChunkStore* s = &store_;
  return loop_.offload<Applied>([s, id, op, packForPeers]() mutable {
    Status st = op.unpack();
    if (!st.isOk()) return Applied{st, op};
    switch (op.kind) {
      case Op::Kind::kWrite: st = s->write(id, op.offset, op.data->data(), op.data->size()); break;
      case Op::Kind::kTruncate: st = s->truncate(id, op.length); break;
      case Op::Kind::kZero: st = s->zero(id, op.offset, op.length); break;
      case Op::Kind::kWrites: st = s->writeMany(id, *op.writes); break;
      case Op::Kind::kNewVersion: st = Status::error(EINVAL, "not a data op"); break;
    }
    if (st.isOk() && packForPeers) op.pack();
    return Applied{st, op};
  });
}

kj::Promise<Status> ChunkServer::persistMeta(uint64_t id, uint64_t version, ChunkState state) {
  ChunkStore* s = &store_;
  return inOrder<Status>(id, [this, s, id, version, state]() {
    return loop_.offload<Status>([s, id, version, state]() {
      auto m = s->stat(id);
      if (!m.isOk()) return s->create(id, version, state);
      return s->setMeta(id, version, state);
    });
  });
}

void ChunkServer::prepareFiles(uint64_t id) {
  ChunkStore* s = &store_;
  auto done = inOrder<Status>(id, [this, s, id]() { return loop_.offload<Status>([s, id]() { return s->prepare(id); }); });
  tasks_.add(done.then([this, id](Status st) {
    // The first write makes them again, or reports why it cannot.
    if (!st.isOk() && st.code() != ENOENT) log_->warn("{}: preparing its files on {} failed: {}", chunkName(id), name(), st.toString());
  }));
}

kj::Promise<void> ChunkServer::drain() {
  stopping_ = true;
  if (inFlight_ == 0) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  drained_ = kj::mv(paf.fulfiller);
  return kj::mv(paf.promise);
}

// ---- peers -----------------------------------------------------------------------------------

kj::Promise<Status> ChunkServer::callPeer(
    const Replica& r, std::string what,
    kj::Function<kj::Promise<Status>(rpc::ChunkService::Client&)> call) {
  auto cap = peers_.get(r.address);
  std::string who = describe(r), addr = r.address;
  // Sent now (not in a later turn), so calls leave in the order they are made.
  kj::Promise<Status> p = kj::evalNow([&]() { return call(cap); });
  p = p.then([](Status s) { return s; },
             [this, who, addr, what](kj::Exception&& e) {
               if (isDisconnect(e)) peers_.reset(addr);
               return Status::error(EHOSTUNREACH, what + " to " + who + " failed: " +
                                                      e.getDescription().cStr());
             });
  uint32_t ms = config_.forwardTimeoutMs;
  return p.exclusiveJoin(loop_.timer().afterDelay(ms * kj::MILLISECONDS).then([who, what, ms]() {
    return Status::error(ETIMEDOUT, what + " to " + who + ": no answer within " + std::to_string(ms) + " ms");
  }));
}

kj::Promise<Status> ChunkServer::sendForward(const Replica& r, uint64_t id, uint64_t version,
                                             uint64_t seq, const Op& op) {
  std::string what = "forward of " + chunkName(id, version) + " seq " + std::to_string(seq);
  traffic_.rawBytes += op.dataSize();
  traffic_.wireBytes += op.wireSize();
  return callPeer(r, what, [id, version, seq, op](rpc::ChunkService::Client& cap) {
    size_t words = op.wireSize() / 8 + 64 + (op.writes ? op.writes->size() * 4 : 0);
    auto req = cap.forwardRequest(capnp::MessageSize{words, 0});
    req.initChunk().setId(id);
    req.getChunk().setVersion(version);
    req.setSeq(seq);
    op.toWire(req.initOp());
    return req.send().then([](auto resp) { return Status::fromWire(resp.getStatus()); });
  });
}

kj::Promise<Status> ChunkServer::awaitBackups(uint64_t id, std::vector<Replica> replicas,
                                              kj::Array<kj::Promise<Status>> calls) {
  return kj::joinPromises(kj::mv(calls))
      .then([this, id, replicas](kj::Array<Status> results) -> kj::Promise<Status> {
        std::vector<Failure> failed;
        for (size_t i = 0; i < results.size(); ++i) {
          if (!results[i].isOk()) failed.push_back(Failure{replicas[i], results[i]});
        }
        if (failed.empty()) return Status::ok();
        return dropBackups(id, std::move(failed));
      });
}

kj::Promise<Status> ChunkServer::dropBackups(uint64_t id, std::vector<Failure> failed) {
  auto queue = std::make_shared<std::deque<Failure>>(failed.begin(), failed.end());
  return enqueue<Status>(chunk(id).failures, [this, id, queue]() { return dropNext(id, queue); });
}

kj::Promise<Status> ChunkServer::dropNext(uint64_t id, std::shared_ptr<std::deque<Failure>> queue) {
  if (queue->empty()) return Status::ok();
  Failure f = queue->front();
  queue->pop_front();
  Chunk& c = chunk(id);
  // By value: it is used again in the continuation below, after this frame is gone.
  auto inSet = [f](const Replica& r) { return r.id == f.replica.id && r.address == f.replica.address; };
  if (!c.exists || !c.isPrimary) {
    return Status::error(ESTALE, name() + " is no longer the primary of " + chunkName(id) +
                                     "; backup " + describe(f.replica) + " failed: " + f.why.message());
  }
  if (std::none_of(c.logBackups.begin(), c.logBackups.end(), inSet)) return dropNext(id, queue);

  uint64_t asked = c.logVersion;
  log_->warn("{}: backup {} failed ({}); asking the metadata server {} to drop it",
             chunkName(id, asked), describe(f.replica), f.why.toString(), metaAddress_);
  using Reply = std::pair<Status, uint64_t>;
  kj::Promise<Reply> reply = Reply{Status::error(EIO, "no metadata server registered"), 0};
  KJ_IF_MAYBE(reg, registry_) {
    auto req = reg->reportFailureRequest();
    req.initChunk().setId(id);
    req.getChunk().setVersion(asked);
    req.setServerId(f.replica.id);
    req.setReason(f.why.toString());
    uint32_t ms = config_.forwardTimeoutMs;
    reply = req.send()
                .then([](auto resp) { return Reply{Status::fromWire(resp.getStatus()), resp.getNewVersion()}; },
                      [](kj::Exception&& e) {
                        return Reply{Status::error(EIO, e.getDescription().cStr()), 0};
                      })
                .exclusiveJoin(loop_.timer().afterDelay(ms * kj::MILLISECONDS).then([ms]() {
                  return Reply{Status::error(ETIMEDOUT, "no answer within " + std::to_string(ms) + " ms"), 0};
                }));
  }
  return reply.then([this, id, queue, f, asked, inSet](Reply r) -> kj::Promise<Status> {
    Chunk& c = chunk(id);
    if (!r.first.isOk()) {
      std::string msg = chunkName(id, asked) + ": backup " + describe(f.replica) + " failed (" +
                        f.why.message() + ") and the metadata server " + metaAddress_ +
                        " could not drop it: " + r.first.message();
      log_->error("{}", msg);
      if (r.first.code() == ESTALE) {
        c.isPrimary = false;
        return Status::error(ESTALE, msg);
      }
      return Status::error(EIO, msg);
    }
    if (!c.exists || !c.isPrimary || c.logVersion != asked) {
      return Status::error(ESTALE, chunkName(id, asked) + " was reassigned while " + name() +
                                       " dropped backup " + describe(f.replica));
    }
    uint64_t nv = r.second;
    auto& reps = c.replicas;
    reps.erase(std::remove_if(reps.begin(), reps.end(), inSet), reps.end());
    auto& logB = c.logBackups;
    logB.erase(std::remove_if(logB.begin(), logB.end(), inSet), logB.end());
    if (c.version == asked) c.version = nv;
    c.logVersion = nv;
    // The remaining backups learn the new version through the log, after every earlier op.
    Op bump;
    bump.kind = Op::Kind::kNewVersion;
    bump.newVersion = nv;
    uint64_t seq = ++c.lastSeq;
    std::vector<Replica> backups = c.logBackups;
    auto calls = kj::heapArrayBuilder<kj::Promise<Status>>(backups.size());
    for (const Replica& b : backups) calls.add(sendForward(b, id, asked, seq, bump));
    log_->warn("{}: dropped backup {}; now v{} with {} backup(s)", chunkName(id, asked),
               describe(f.replica), nv, backups.size());
    auto joined = kj::joinPromises(calls.finish());
    return persistMeta(id, nv, c.state)
        .then([this, id, queue, backups, joined = kj::mv(joined)](Status st) mutable -> kj::Promise<Status> {
          return joined.then([this, id, queue, backups, st](kj::Array<Status> results) -> kj::Promise<Status> {
            if (!st.isOk()) return st;
            for (size_t i = 0; i < results.size(); ++i) {
              if (!results[i].isOk()) queue->push_back(Failure{backups[i], results[i]});
            }
            return dropNext(id, queue);
          });
        });
  });
}

// ---- client and peer requests ----------------------------------------------------------------

kj::Promise<UpdateResult> ChunkServer::update(uint64_t id, uint64_t version, Op op) {
  if (stopping_) return UpdateResult{Status::error(ESHUTDOWN, name() + " is shutting down"), version};
  if (op.kind == Op::Kind::kNewVersion) {
    return UpdateResult{Status::error(EINVAL, "newVersion is not a client op"), version};
  }
  auto it = chunks_.find(id);
  if (it == chunks_.end() || !it->second.exists || !it->second.isPrimary) {
    return UpdateResult{Status::error(ESTALE, name() + " is not the primary of " + chunkName(id, version)), version};
  }
  Chunk& c = it->second;
  if (c.version != version) {
    return UpdateResult{Status::error(ESTALE, chunkName(id, version) + " asked, but primary " + name() +
                                                  " holds v" + std::to_string(c.version)),
                        c.version};
  }
  if (loop_.timer().now() >= c.leaseEnd) {
    return UpdateResult{Status::error(ESTALE, chunkName(id, version) + ": the primary lease of " + name() +
                                                  " has expired; ask the metadata server for the layout"),
                        version};
  }
  auto guard = kj::heap<InFlight>(*this);
  return inOrder<Started>(id, [this, id, op]() {
           bool pack = config_.compressPeers && !chunk(id).logBackups.empty();
           return applyLocal(id, op, pack).then([this, id](Applied a) -> Started {
             const Status& st = a.status;
             const Op& op = a.op;
             Chunk& c = chunk(id);
             if (!st.isOk()) {
               log_->warn("{}: {} failed on primary {}: {}", chunkName(id, c.logVersion), op.describe(),
                          name(), st.toString());
               return Started{st};
             }
             if (!c.isPrimary) {
               return Started{Status::error(ESTALE, name() + " stopped being the primary of " +
                                                        chunkName(id) + " during the op")};
             }
             uint64_t seq = ++c.lastSeq;
             std::vector<Replica> backups = c.logBackups;
             auto calls = kj::heapArrayBuilder<kj::Promise<Status>>(backups.size());
             for (const Replica& b : backups) calls.add(sendForward(b, id, c.logVersion, seq, op));
             log_->debug("{}: {} applied as seq {}, forwarded to {} backup(s)",
                         chunkName(id, c.logVersion), op.describe(), seq, backups.size());
             return Started{Status::ok(), awaitBackups(id, backups, calls.finish())};
           });
         })
      .then([this, id](Started s) -> kj::Promise<UpdateResult> {
        if (!s.status.isOk()) return UpdateResult{s.status, chunk(id).version};
        return s.replicated.then([this, id](Status st) { return UpdateResult{st, chunk(id).version}; });
      })
      .attach(kj::mv(guard));
}

kj::Promise<ReadResult> ChunkServer::read(uint64_t id, uint64_t version, uint32_t offset,
                                          uint32_t length) {
  if (stopping_) return ReadResult{Status::error(ESHUTDOWN, name() + " is shutting down"), nullptr};
  if (Status st = checkReadable(id, version); !st.isOk()) return ReadResult{st, nullptr};
  if (uint64_t{offset} + length > kMaxChunkLength) {
    return ReadResult{Status::error(EINVAL, "read beyond the largest chunk"), nullptr};
  }
  ChunkStore* s = &store_;
  auto guard = kj::heap<InFlight>(*this);
  return inOrder<ReadResult>(id, [this, s, id, offset, length]() -> kj::Promise<ReadResult> {
           auto buf = std::make_shared<std::vector<uint8_t>>(length);
           if (length <= kCachedReadMax) {
             // In the page cache: answered here, without two thread hops (a random reader's
             // round trip is mostly hops). Otherwise a worker reads from the disk.
             if (std::optional<Status> st = s->readCached(id, offset, length, buf->data())) {
               return ReadResult{*st, st->isOk() ? Bytes(buf) : nullptr};
             }
           }
           return loop_.offload<ReadResult>([s, id, offset, length, buf]() {
             Status st = s->read(id, offset, length, buf->data());
             return ReadResult{st, st.isOk() ? Bytes(buf) : nullptr};
           });
         })
      .then([this, id, version](ReadResult r) {
        if (r.status.code() == EIO && r.status.message().find("CRC") != std::string::npos) {
          reportDamage(id, version, r.status);
        }
        return r;
      })
      .attach(kj::mv(guard));
}

void ChunkServer::reportDamage(uint64_t id, uint64_t version, const Status& why) {
  if (!damageReported_.insert({id, version}).second) return;
  KJ_IF_MAYBE(reg, registry_) {
    log_->warn("{}: damaged on {} ({}); asking the metadata server {} to re-replicate it", chunkName(id, version),
               name(), why.message(), metaAddress_);
    auto req = reg->reportFailureRequest();
    req.initChunk().setId(id);
    req.getChunk().setVersion(version);
    req.setServerId(id_);
    req.setReason("CRC check failed on " + name() + ": " + why.message());
    tasks_.add(loop_.timer()
                    .timeoutAfter(config_.forwardTimeoutMs * kj::MILLISECONDS, req.send())
                    .then([this, id, version](auto&& r) {
                      Status st = Status::fromWire(r.getStatus());
                      if (st.isOk()) {
                        log_->info("{}: the metadata server dropped the damaged replica on {} (now v{})",
                                   chunkName(id, version), name(), r.getNewVersion());
                      } else {
                        damageReported_.erase({id, version});
                        log_->warn("{}: reporting damage failed: {}", chunkName(id, version), st.toString());
                      }
                    }, [this, id, version](kj::Exception&& e) {
                      damageReported_.erase({id, version});
                      log_->warn("{}: reporting damage failed: {}", chunkName(id, version), e.getDescription().cStr());
                    }));
  } else {
    damageReported_.erase({id, version});
    log_->error("{}: damaged on {} ({}) and no metadata server to report it to", chunkName(id, version), name(),
                why.message());
  }
}

kj::Promise<Status> ChunkServer::sync(uint64_t id, uint64_t version) {
  if (stopping_) return Status::error(ESHUTDOWN, name() + " is shutting down");
  if (Status st = checkReadable(id, version); !st.isOk()) return st;
  ChunkStore* s = &store_;
  auto guard = kj::heap<InFlight>(*this);
  return inOrder<Started>(id, [this, s, id]() {
           return loop_.offload<Status>([s, id]() { return s->sync(id); })
               .then([this, id](Status st) -> Started {
                 Chunk& c = chunk(id);
                 if (!st.isOk() || !c.isPrimary) return Started{st};
                 std::vector<Replica> backups = c.logBackups;
                 uint64_t v = c.logVersion;
                 auto calls = kj::heapArrayBuilder<kj::Promise<Status>>(backups.size());
                 for (const Replica& b : backups) {
                   calls.add(callPeer(b, "sync of " + chunkName(id, v), [id, v](rpc::ChunkService::Client& cap) {
                     auto req = cap.syncRequest();
                     req.initChunk().setId(id);
                     req.getChunk().setVersion(v);
                     return req.send().then([](auto resp) { return Status::fromWire(resp.getStatus()); });
                   }));
                 }
                 return Started{Status::ok(), awaitBackups(id, backups, calls.finish())};
               });
         })
      .then([](Started s) -> kj::Promise<Status> {
        if (!s.status.isOk()) return s.status;
        return kj::mv(s.replicated);
      })
      .attach(kj::mv(guard));
}

kj::Promise<Status> ChunkServer::forward(uint64_t id, uint64_t version, uint64_t seq, Op op) {
  if (stopping_) return Status::error(ESHUTDOWN, name() + " is shutting down");
  Chunk& c = chunk(id);
  if (version < c.logVersion) {
    return Status::error(ESTALE, "forward of " + chunkName(id, version) + " seq " + std::to_string(seq) +
                                     ": " + name() + " already has v" + std::to_string(c.logVersion));
  }
  if (version == c.logVersion && seq <= c.lastSeq) return Status::ok();  // a duplicate
  if (c.heldBack.size() >= config_.maxHeldBack) {
    return Status::error(EAGAIN, chunkName(id, version) + " on " + name() + ": more than " +
                                     std::to_string(config_.maxHeldBack) + " forwards arrived early");
  }
  if (c.heldBack.count(seq)) {
    return Status::error(EINVAL, chunkName(id, version) + ": seq " + std::to_string(seq) + " sent twice");
  }
  auto paf = kj::newPromiseAndFulfiller<Status>();
  if (seq != c.lastSeq + 1) {
    log_->debug("{}: holding back seq {} (applied up to {})", chunkName(id, version), seq, c.lastSeq);
  }
  c.heldBack.emplace(seq, Held{version, std::move(op), kj::mv(paf.fulfiller)});
  pumpForwards(id);
  return paf.promise.attach(kj::heap<InFlight>(*this));
}

void ChunkServer::pumpForwards(uint64_t id) {
  Chunk& c = chunk(id);
  for (auto it = c.heldBack.find(c.lastSeq + 1); it != c.heldBack.end();
       it = c.heldBack.find(c.lastSeq + 1)) {
    Held h = kj::mv(it->second);
    c.heldBack.erase(it);
    ++c.lastSeq;
    Status pre;
    if (!c.exists) {
      pre = Status::error(ENOENT, chunkName(id, h.version) + " is not held by " + name());
    } else if (c.state == ChunkState::kSyncing) {
      pre = Status::error(EAGAIN, chunkName(id, h.version) + " on " + name() + " has not been installed");
    } else if (h.version != c.logVersion) {
      pre = Status::error(ESTALE, "forward of " + chunkName(id, h.version) + " seq " +
                                      std::to_string(c.lastSeq) + ": " + name() + " holds v" +
                                      std::to_string(c.logVersion));
    }
    if (!pre.isOk()) {
      h.done->fulfill(kj::mv(pre));
      continue;
    }
    kj::Promise<Status> applied = nullptr;
    if (h.op.kind == Op::Kind::kNewVersion) {
      c.version = c.logVersion = h.op.newVersion;
      applied = persistMeta(id, h.op.newVersion, c.state);
    } else {
      Op op = h.op;
      applied = inOrder<Status>(id, [this, id, op]() {
        return applyLocal(id, op, false).then([](Applied a) { return a.status; });
      });
    }
    auto done = std::make_shared<kj::Own<kj::PromiseFulfiller<Status>>>(kj::mv(h.done));
    tasks_.add(applied.then([done](Status st) { (*done)->fulfill(kj::mv(st)); },
                            [done](kj::Exception&& e) { (*done)->reject(kj::mv(e)); }));
  }
}

kj::Promise<InfoResult> ChunkServer::assign(uint64_t id, uint64_t version, std::vector<Replica> replicas,
                                            uint32_t primary, uint32_t leaseMs, bool fresh) {
  if (stopping_) return InfoResult{Status::error(ESHUTDOWN, name() + " is shutting down"), {}, nullptr};
  auto self = std::find_if(replicas.begin(), replicas.end(), [this](const Replica& r) { return isSelf(r); });
  if (self == replicas.end() || primary >= replicas.size()) {
    return InfoResult{Status::error(EINVAL, "assign of " + chunkName(id, version) + ": " + name() +
                                                " is not in the replica set, or the primary index is wrong"),
                      {}, nullptr};
  }
  bool asPrimary = static_cast<size_t>(self - replicas.begin()) == primary;
  Chunk& c = chunk(id);
  if (c.exists && version < c.version) {
    return InfoResult{Status::error(ESTALE, "assign of " + chunkName(id, version) + ": " + name() +
                                                " already has v" + std::to_string(c.version)),
                      {}, nullptr};
  }
  if (asPrimary && c.exists && c.version < version && c.state != ChunkState::kOk) {
    return InfoResult{Status::error(EIO, chunkName(id, c.version) + " on " + name() + " is " +
                                             toString(c.state) + "; it cannot become primary"),
                      {}, nullptr};
  }
  auto guard = kj::heap<InFlight>(*this);
  bool changed = !c.exists || c.version != version;
  c.replicas = replicas;
  c.isPrimary = asPrimary;
  if (asPrimary) c.leaseEnd = loop_.timer().now() + leaseMs * kj::MILLISECONDS;
  kj::Promise<Status> persisted = Status::ok();
  if (changed) {
    // Every new file's first chunk is assigned so: only a change of a chunk already held is news.
    log_->log(c.exists ? spdlog::level::info : spdlog::level::debug, "{}: assigned as {} (was {}), {} replicas",
              chunkName(id, version), asPrimary ? "primary" : "backup",
              c.exists ? "v" + std::to_string(c.version) : "absent", replicas.size());
    // A fresh chunk has no data anywhere: a backup has nothing to wait for.
    bool startsOk = asPrimary || (fresh && !c.exists);
    ChunkState state = startsOk ? (c.exists ? c.state : ChunkState::kOk) : ChunkState::kSyncing;
    bool nothingToInstall = fresh && !c.exists;
    c.exists = true;
    c.version = version;
    c.state = state;
    c.caughtUp = false;
    if (asPrimary && nothingToInstall) {
      // What catchUpBackups would set after installing an empty chunk on every backup.
      c.logVersion = version;
      c.logBackups = backupsOf(c);
      c.lastSeq = 0;
      c.caughtUp = true;
    }
    if (!asPrimary) {
      // A backup's log restarts at the new version; forwards of older versions fail.
      c.logVersion = version;
      c.lastSeq = 0;
      for (auto& [seq, h] : c.heldBack) {
        h.done->fulfill(Status::error(ESTALE, chunkName(id, h.version) + ": " + name() +
                                                  " was assigned v" + std::to_string(version)));
      }
      c.heldBack.clear();
    }
    persisted = persistMeta(id, version, state);
    if (nothingToInstall) prepareFiles(id);
  }
  kj::Promise<Status> ready = kj::mv(persisted);
  if (asPrimary) {
    ready = ready.then([this, id](Status st) -> kj::Promise<Status> {
      if (!st.isOk() || chunk(id).caughtUp) return st;
      return catchUpBackups(id);
    });
  }
  ChunkStore* s = &store_;
  return ready
      .then([this, s, id](Status st) -> kj::Promise<InfoResult> {
        if (!st.isOk()) return InfoResult{st, {}, nullptr};
        return loop_.offload<InfoResult>([s, id]() {
          auto m = s->stat(id);
          return InfoResult{m.status(), m.isOk() ? *m : ChunkMeta{}, nullptr};
        });
      })
      .attach(kj::mv(guard));
}

kj::Promise<Status> ChunkServer::catchUpBackups(uint64_t id) {
  ChunkStore* s = &store_;
  struct Whole {
    Status status;
    Payload data;
  };
  bool pack = config_.compressPeers;
  return inOrder<Started>(id, [this, s, id, pack]() {
           return loop_.offload<Whole>([s, id, pack]() {
                    auto m = s->stat(id);
                    if (!m.isOk()) return Whole{m.status(), {}};
                    auto buf = std::make_shared<std::vector<uint8_t>>(m->length);
                    Status st = s->read(id, 0, m->length, buf->data());
                    if (!st.isOk()) return Whole{st, {}};
                    return Whole{st, pack ? Payload::pack(Bytes(buf)) : Payload{Bytes(buf), 0}};
                  })
               .then([this, id](Whole r) -> Started {
                 Chunk& c = chunk(id);
                 if (!r.status.isOk()) return Started{r.status};
                 // From here on the log is the new version's: ops queued later are forwarded after
                 // the installs, on the same connections, so every backup applies them in order.
                 c.logVersion = c.version;
                 c.logBackups = backupsOf(c);
                 c.lastSeq = 0;
                 uint64_t v = c.logVersion;
                 std::vector<Replica> backups = c.logBackups;
                 Payload data = r.data;
                 auto calls = kj::heapArrayBuilder<kj::Promise<Status>>(backups.size());
                 for (const Replica& b : backups) {
                   traffic_.rawBytes += data.size();
                   traffic_.wireBytes += data.wireSize();
                   calls.add(callPeer(b, "install of " + chunkName(id, v), [id, v, data](rpc::ChunkService::Client& cap) {
                     auto req = cap.installRequest(capnp::MessageSize{data.wireSize() / 8 + 64, 0});
                     req.initChunk().setId(id);
                     req.getChunk().setVersion(v);
                     req.setData(kj::arrayPtr(data.bytes->data(), data.bytes->size()));
                     req.setRawLength(data.rawLength);
                     return req.send().then([](auto resp) { return Status::fromWire(resp.getStatus()); });
                   }));
                 }
                 log_->info("{}: primary {} installs {} bytes ({} on the wire) on {} backup(s)", chunkName(id, v),
                            name(), data.size(), data.wireSize(), backups.size());
                 return Started{Status::ok(), awaitBackups(id, backups, calls.finish())};
               });
         })
      .then([this, id](Started s) -> kj::Promise<Status> {
        if (!s.status.isOk()) return s.status;
        // Not when a newer version was assigned meanwhile (the log is still at the old one): that
        // version needs its own catch-up. Marking it caught up here left the log at the old
        // version, forwarding at a version the backups had left behind: every write failed. (A
        // backup dropped during the catch-up moves both versions on together.)
        return s.replicated.then([this, id](Status st) {
          Chunk& c = chunk(id);
          if (st.isOk() && c.version == c.logVersion) c.caughtUp = true;
          return st;
        });
      });
}

kj::Promise<Status> ChunkServer::install(uint64_t id, uint64_t version, Payload data) {
  if (stopping_) return Status::error(ESHUTDOWN, name() + " is shutting down");
  Chunk& c = chunk(id);
  if (c.exists && version < c.version) {
    return Status::error(ESTALE, "install of " + chunkName(id, version) + ": " + name() +
                                     " already has v" + std::to_string(c.version));
  }
  auto guard = kj::heap<InFlight>(*this);
  c.exists = true;
  c.version = c.logVersion = version;
  c.state = ChunkState::kOk;
  c.isPrimary = false;
  c.lastSeq = 0;
  for (auto it = c.heldBack.begin(); it != c.heldBack.end();) {
    if (it->second.version < version) {
      it->second.done->fulfill(Status::error(ESTALE, chunkName(id, it->second.version) + ": " + name() +
                                                        " was installed at v" + std::to_string(version)));
      it = c.heldBack.erase(it);
    } else {
      ++it;
    }
  }
  ChunkStore* s = &store_;
  auto done = inOrder<Status>(id, [this, s, id, version, data]() {
    return loop_.offload<Status>([s, id, version, data]() {
      auto raw = data.unpack();
      if (!raw.isOk()) return Status::error(EINVAL, "install of " + chunkName(id, version) + ": " + raw.status().message());
      return s->replace(id, version, (*raw)->data(), (*raw)->size());
    });
  });
  pumpForwards(id);
  return done.then([this, id, version](Status st) {
               if (!st.isOk()) {
                 log_->error("{}: install on {} failed: {}", chunkName(id, version), name(), st.toString());
               }
               return st;
             })
      .attach(kj::mv(guard));
}

kj::Promise<Status> ChunkServer::remove(uint64_t id, uint64_t belowVersion) {
  if (stopping_) return Status::error(ESHUTDOWN, name() + " is shutting down");
  ChunkStore* s = &store_;
  auto guard = kj::heap<InFlight>(*this);
  Chunk& c = chunk(id);
  if (belowVersion != 0 && c.exists && c.version >= belowVersion) {
    log_->info("{}: kept v{}: the delete was for versions below v{}", chunkName(id), c.version, belowVersion);
    return Status::ok();
  }
  c.exists = false;
  c.isPrimary = false;
  c.version = c.logVersion = 0;
  c.lastSeq = 0;
  for (auto& [seq, h] : c.heldBack) {
    h.done->fulfill(Status::error(ENOENT, chunkName(id) + " was deleted from " + name()));
  }
  c.heldBack.clear();
  log_->info("{}: deleted", chunkName(id));
  return inOrder<Status>(id, [this, s, id]() {
           return loop_.offload<Status>([s, id]() { return s->remove(id); });
         })
      .attach(kj::mv(guard));
}

kj::Promise<InfoResult> ChunkServer::fetch(uint64_t id, uint64_t version) {
  if (stopping_) return InfoResult{Status::error(ESHUTDOWN, name() + " is shutting down"), {}, nullptr};
  if (Status st = checkReadable(id, version); !st.isOk()) return InfoResult{st, {}, nullptr};
  ChunkStore* s = &store_;
  auto guard = kj::heap<InFlight>(*this);
  return inOrder<InfoResult>(id, [this, s, id]() {
           return loop_.offload<InfoResult>([s, id]() {
             auto m = s->stat(id);
             if (!m.isOk()) return InfoResult{m.status(), {}, nullptr};
             auto buf = std::make_shared<std::vector<uint8_t>>(m->length);
             Status st = s->read(id, 0, m->length, buf->data());
             return InfoResult{st, *m, st.isOk() ? Bytes(buf) : nullptr};
           });
         })
      .then([this, id, version](InfoResult r) {
        if (r.status.code() == EIO && r.status.message().find("CRC") != std::string::npos) {
          reportDamage(id, version, r.status);  // a fetch that meets a bad block reports it too
        }
        return r;
      })
      .attach(kj::mv(guard));
}

kj::Promise<std::vector<ChunkMeta>> ChunkServer::list() {
  ChunkStore* s = &store_;
  return loop_.offload<std::vector<ChunkMeta>>([s]() { return s->list(); });
}

}  // namespace basalt::chunk
