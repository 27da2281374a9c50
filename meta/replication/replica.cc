#include "meta/replication/replica.h"

#include <fcntl.h>
#include <unistd.h>

#include <kj/debug.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/little_endian.h"

namespace basalt::meta {

namespace {
constexpr size_t kMaxAppendBytes = 4u << 20;    // entries per AppendEntries
constexpr size_t kSnapshotPiece = 1u << 20;      // bytes per InstallSnapshot
constexpr size_t kRecentEntries = 4096;          // entries kept in memory for followers
}  // namespace

// What the leader knows of one follower.
struct Replica::Peer {
  uint32_t node;
  std::string address;
  RpcClient rpc;
  kj::Maybe<rpc::MetaPeer::Client> client;
  uint64_t next = 1;   // the next entry to send
  uint64_t match = 0;  // the last entry known to be on its disk
  bool needSnapshot = false;
  kj::TimePoint lastAck = kj::origin<kj::TimePoint>();
  uint64_t lastSeq = 0;  // its log's end, as it last answered
  bool down = false;     // the last call failed (logged once until it answers again)
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> wake;
  Peer(EventLoop& loop, uint32_t n, std::string a) : node(n), address(a), rpc(loop, a) {}
};

// A worker thread waiting for the loop to say whether its entry is committed.
struct Replica::Waiter {
  std::mutex mutex;
  std::condition_variable cv;
  int result = 0;  // 0 waiting, 1 committed
};

Replica::Replica(EventLoop& loop, Store& store, Store::Replayer replay, Logger log, ReplicaOptions options,
                 StepDown stepDown)
    : loop_(loop),
      store_(store),
      replay_(std::move(replay)),
      log_(std::move(log)),
      options_(std::move(options)),
      stepDown_(std::move(stepDown)),
      lastLeaderContact_(loop.timer().now()),
      rng_(std::random_device{}()),
      post_(loop),
      taskLogger_(log_) {
  tasks_ = kj::heap<kj::TaskSet>(taskLogger_);
  for (uint32_t i = 0; i < options_.peers.size(); ++i) {
    if (i + 1 != options_.self) peers_.push_back(std::make_unique<Peer>(loop_, i + 1, options_.peers[i]));
  }
  auto paf = kj::newPromiseAndFulfiller<void>();
  leadership_ = kj::mv(paf.fulfiller);
  leadershipForked_ = paf.promise.fork();
}

Replica::~Replica() {
  if (snapshotFd_ >= 0) ::close(snapshotFd_);
}

Status Replica::start() {
  auto st = RaftState::load(store_.dir());
  if (!st.isOk()) return st.status();
  state_ = *st;
  commitSeq_ = store_.appliedSeq();
  log_->info("replica {} of {} ({}): term {}, log {}..{} (applied {})", options_.self, options_.peers.size(),
             options_.peers[options_.self - 1], state_.term, store_.appliedSeq(), store_.lastSeq(),
             store_.appliedSeq());
  // A server that just started has heard from no leader yet: it gives the current one (if any) a
  // full election timeout to reach it before standing.
  lastLeaderContact_ = loop_.timer().now();
  tasks_->add(electionTimer());
  return Status::ok();
}

kj::Promise<void> Replica::leadership() { return leadershipForked_.addBranch(); }

void Replica::persist() {
  Status st = state_.save(store_.dir());
  if (!st.isOk()) stepDown("cannot save the term and vote: " + st.message());
}

void Replica::stepDown(const std::string& why) {
  log_->warn("replica {} stepping down in term {}: {}", options_.self, state_.term, why);
  stepDown_(why);
}

void Replica::observeTerm(uint64_t term) {
  if (term <= state_.term) return;
  if (role_ == Role::kLeader) {
    state_.term = term;
    state_.vote = 0;
    persist();
    stepDown("a newer term " + std::to_string(term) + " exists");
    return;
  }
  state_.term = term;
  state_.vote = 0;
  role_ = Role::kFollower;
  persist();
}

// ---- elections --------------------------------------------------------------------------------

kj::Promise<void> Replica::electionTimer() {
  std::uniform_int_distribution<uint64_t> pick(options_.electionMs, 2 * options_.electionMs);
  return loop_.timer().afterDelay(ms(pick(rng_))).then([this]() -> kj::Promise<void> {
    auto now = loop_.timer().now();
    if (role_ != Role::kLeader && now - lastLeaderContact_ >= ms(options_.electionMs)) startPreVote();
    if (role_ == Role::kLeader) return kj::READY_NOW;
    return electionTimer();
  });
}

void Replica::startPreVote() {
  uint64_t term = state_.term;
  auto yes = std::make_shared<size_t>(1);
  if (*yes >= majority()) {
    startElection();
    return;
  }
  askVotes(term + 1, true, [this, term, yes]() {
    // Still where it stood: no leader heard from, no other term since.
    if (role_ == Role::kLeader || state_.term != term || ++*yes != majority()) return;
    startElection();
  });
}

void Replica::startElection() {
  role_ = Role::kCandidate;
  state_.term += 1;
  state_.vote = options_.self;
  persist();
  uint64_t term = state_.term;
  log_->info("replica {}: election for term {} (log ends at {} of term {})", options_.self, term, store_.lastSeq(),
             store_.lastTerm());
  auto votes = std::make_shared<size_t>(1);
  if (*votes >= majority()) {
    becomeLeader();
    return;
  }
  askVotes(term, false, [this, term, votes]() {
    if (role_ != Role::kCandidate || state_.term != term) return;
    if (++*votes == majority()) becomeLeader();
  });
}

void Replica::askVotes(uint64_t term, bool preVote, std::function<void()> granted) {
  uint64_t lastSeq = store_.lastSeq(), lastTerm = store_.lastTerm();
  for (auto& p : peers_) {
    Peer& peer = *p;
    tasks_->add(connect(peer)
                    .then([this, term, lastSeq, lastTerm, preVote](rpc::MetaPeer::Client client) {
                      auto req = client.requestVoteRequest();
                      req.setTerm(term);
                      req.setNode(options_.self);
                      req.setLastSeq(lastSeq);
                      req.setLastTerm(lastTerm);
                      req.setPreVote(preVote);
                      return loop_.timer().timeoutAfter(ms(options_.callTimeoutMs), req.send());
                    })
                    .then([this, granted](capnp::Response<rpc::MetaPeer::RequestVoteResults>&& r) {
                      observeTerm(r.getTerm());  // the voter's own term, for a pre-vote too
                      if (r.getGranted()) granted();
                    },
                          [&peer](kj::Exception&&) { peer.rpc.reset(), peer.client = nullptr; }));
  }
}

Replica::VoteReply Replica::requestVote(uint64_t term, uint32_t node, uint64_t lastSeq, uint64_t lastTerm,
                                         bool preVote) {
  auto now = loop_.timer().now();
  bool upToDate = lastTerm > store_.lastTerm() || (lastTerm == store_.lastTerm() && lastSeq >= store_.lastSeq());
  // Leader stickiness: while a leader is heard from (or this is it), nobody else is elected.
  if (term < state_.term || role_ == Role::kLeader ||
      (leader_ != 0 && now - lastLeaderContact_ < ms(options_.electionMs))) {
    return {state_.term, false};
  }
  if (preVote) return {state_.term, term > state_.term && upToDate};
  observeTerm(term);
  if ((state_.vote == 0 || state_.vote == node) && upToDate) {
    state_.vote = node;
    persist();
    lastLeaderContact_ = now;  // give the candidate its chance before standing ourselves
    log_->info("replica {}: voted for {} in term {}", options_.self, node, term);
    return {state_.term, true};
  }
  return {state_.term, false};
}

// ---- leading ----------------------------------------------------------------------------------

void Replica::becomeLeader() {
  role_ = Role::kLeader;
  leader_ = options_.self;
  uint64_t term = state_.term;
  log_->info("replica {}: leader of term {} (log ends at {})", options_.self, term, store_.lastSeq());
  for (auto& p : peers_) {
    p->next = store_.lastSeq() + 1;
    p->match = 0;
    p->lastAck = loop_.timer().now();
    tasks_->add(pump(*p, term));
  }
  tasks_->add(quorumWatch(term));
  // An entry of its own term commits everything before it (Raft's rule: earlier terms' entries
  // are never counted committed by replicas alone).
  std::string empty(4, '\0');
  tasks_->add(loop_.offload<bool>([this, empty, term]() {
                     Status st = store_.appendLocal(empty, term);
                     if (!st.isOk()) KJ_FAIL_REQUIRE("cannot append to the command log", st.message());
                     return true;
                   })
                  .then([this](bool) {
                    uint64_t seq = store_.lastSeq();
                    for (auto& p : peers_) KJ_IF_MAYBE(w, p->wake) { (*w)->fulfill(); }
                    updateCommit();
                    return waitCommitted(seq).then([this, seq]() {
                      return loop_.offload<bool>([this, seq]() {
                        Status st = store_.applyCommitted(seq, replay_);
                        if (!st.isOk()) KJ_FAIL_REQUIRE("cannot apply the committed log", st.message());
                        return true;
                      });
                    });
                  })
                  .then([this, term](bool) {
                    Store::Replicate hooks;
                    hooks.send = [this](uint64_t seq, uint64_t t, std::string_view record) {
                      sendFromWorker(seq, t, record);
                    };
                    hooks.await = [this](uint64_t seq) { return awaitFromWorker(seq); };
                    store_.setReplication(term, std::move(hooks));
                    store_.setMayRestartLog([this]() { return followersCaughtUp_.load(); });
                    ready_ = true;
                    log_->info("replica {}: serving as leader of term {} from entry {}", options_.self, term,
                               store_.appliedSeq());
                    KJ_IF_MAYBE(f, leadership_) { (*f)->fulfill(); }
                    leadership_ = nullptr;
                  },
                        [this](kj::Exception&& e) { stepDown(std::string("taking office failed: ") + e.getDescription().cStr()); }));
}

kj::Promise<void> Replica::quorumWatch(uint64_t term) {
  return loop_.timer().afterDelay(ms(options_.heartbeatMs)).then([this, term]() -> kj::Promise<void> {
    if (role_ != Role::kLeader || state_.term != term) return kj::READY_NOW;
    auto now = loop_.timer().now();
    // A leader cut off from a majority stops before another can be elected: the others refuse
    // votes for electionMs after they last heard from it, and it gives up after 3/4 of that.
    uint64_t window = options_.electionMs * 3 / 4;
    size_t heard = 1;
    bool caughtUp = true;
    for (auto& p : peers_) {
      bool live = now - p->lastAck < ms(window);
      if (live) ++heard;
      if (live && p->match < store_.lastSeq() && p->next <= store_.lastSeq()) caughtUp = false;
    }
    followersCaughtUp_ = caughtUp;
    if (heard < majority()) stepDown("no answer from a majority for " + std::to_string(window) + " ms");
    return quorumWatch(term);
  });
}

kj::Promise<rpc::MetaPeer::Client> Replica::connect(Peer& peer) {
  KJ_IF_MAYBE(c, peer.client) { return *c; }
  return peer.rpc.bootstrap(options_.callTimeoutMs).then([&peer](capnp::Capability::Client cap) {
    auto meta = cap.castAs<rpc::MetaService>();
    return meta.peerRequest().send().then([&peer](capnp::Response<rpc::MetaService::PeerResults>&& r) {
      rpc::MetaPeer::Client client = r.getPeer();
      peer.client = client;
      return client;
    });
  });
}

kj::Promise<void> Replica::pump(Peer& peer, uint64_t term) {
  if (role_ != Role::kLeader || state_.term != term) return kj::READY_NOW;
  if (peer.needSnapshot || (peer.next < store_.firstSeq() && peer.next <= store_.lastSeq())) {
    // Only a follower that answers is worth a copy of the store.
    return connect(peer)
        .then([this, &peer, term](rpc::MetaPeer::Client) { return sendSnapshot(peer, term); })
        .then([this, &peer, term]() { return pump(peer, term); },
              [this, &peer, term](kj::Exception&& e) {
                if (!peer.down) {
                  log_->warn("replica {}: snapshot to {} failed: {}", options_.self, peer.address,
                             e.getDescription().cStr());
                }
                peer.down = true;
                peer.rpc.reset();
                peer.client = nullptr;
                return loop_.timer().afterDelay(ms(options_.electionMs)).then(
                    [this, &peer, term]() { return pump(peer, term); });
              });
  }
  // Up to the entry the committer is flushing now (sent while the leader flushes its own copy).
  uint64_t last = std::max(store_.lastSeq(), sentSeq_);
  // Entries to send: from memory when the committer just made them, else from the log file.
  kj::Promise<std::vector<CommandLogEntry>> entries = std::vector<CommandLogEntry>{};
  if (peer.next <= last) {
    auto it = recent_.find(peer.next);
    if (it != recent_.end()) {
      std::vector<CommandLogEntry> v;
      size_t bytes = 0;
      for (; it != recent_.end() && it->first <= last && (v.empty() || bytes < kMaxAppendBytes); ++it) {
        v.push_back(*it->second);
        bytes += it->second->payload.size();
      }
      entries = kj::mv(v);
    } else {
      uint64_t from = peer.next, durable = store_.lastSeq();
      entries = loop_.offload<std::vector<CommandLogEntry>>(
          [this, from, durable]() { return store_.readLog(from, durable, kMaxAppendBytes); });
    }
  }
  uint64_t prevSeq = peer.next - 1;
  return entries.then([this, &peer, term, prevSeq](std::vector<CommandLogEntry>&& list) {
    return connect(peer).then([this, &peer, term, prevSeq, list = kj::mv(list)](rpc::MetaPeer::Client client) mutable {
      auto prevTerm = prevSeq == 0 ? std::optional<uint64_t>(0) : store_.termAt(prevSeq);
      if (!prevTerm) {  // before this log's start: only a snapshot can help
        peer.needSnapshot = true;
        return kj::Promise<void>(kj::READY_NOW);
      }
      auto req = client.appendEntriesRequest();
      req.setTerm(term);
      req.setNode(options_.self);
      req.setPrevSeq(prevSeq);
      req.setPrevTerm(*prevTerm);
      req.setCommitSeq(commitSeq_);
      auto out = req.initEntries(list.size());
      for (size_t i = 0; i < list.size(); ++i) {
        out[i].setSeq(list[i].seq);
        out[i].setTerm(list[i].term);
        out[i].setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(list[i].payload.data()), list[i].payload.size()));
      }
      uint64_t sentLast = list.empty() ? prevSeq : list.back().seq;
      bool empty = list.empty();
      return loop_.timer()
          .timeoutAfter(ms(options_.callTimeoutMs), req.send())
          .then([this, &peer, term, sentLast, empty](capnp::Response<rpc::MetaPeer::AppendEntriesResults>&& r)
                    -> kj::Promise<void> {
            observeTerm(r.getTerm());
            if (role_ != Role::kLeader || state_.term != term) return kj::READY_NOW;
            peer.lastAck = loop_.timer().now();
            peer.lastSeq = r.getLastSeq();
            if (peer.down) log_->info("replica {}: {} answers again", options_.self, peer.address);
            peer.down = false;
            if (r.getSuccess()) {
              peer.match = std::max(peer.match, sentLast);
              peer.next = peer.match + 1;
              updateCommit();
            } else if (r.getNeedSnapshot()) {
              peer.needSnapshot = true;
            } else {
              peer.next = std::max<uint64_t>(1, std::min(peer.next - 1, r.getLastSeq() + 1));
            }
            // Idle (nothing new to send): wait for a new entry or the next heartbeat.
            if (!empty || peer.next <= std::max(store_.lastSeq(), sentSeq_) || peer.needSnapshot) {
              return kj::READY_NOW;
            }
            auto paf = kj::newPromiseAndFulfiller<void>();
            peer.wake = kj::mv(paf.fulfiller);
            return paf.promise.exclusiveJoin(loop_.timer().afterDelay(ms(options_.heartbeatMs)))
                .then([&peer]() { peer.wake = nullptr; });
          });
    });
  })
      .then([this, &peer, term]() { return pump(peer, term); },
            [this, &peer, term](kj::Exception&& e) {
              if (!peer.down) {
                log_->warn("replica {}: {} does not answer ({}); retrying every {} ms", options_.self, peer.address,
                           e.getDescription().cStr(), options_.heartbeatMs);
              }
              peer.down = true;
              peer.rpc.reset();
              peer.client = nullptr;
              return loop_.timer().afterDelay(ms(options_.heartbeatMs)).then([this, &peer, term]() {
                return pump(peer, term);
              });
            });
}

kj::Promise<void> Replica::sendSnapshot(Peer& peer, uint64_t term) {
  std::string path = store_.dir() + "/snapshot-out-" + std::to_string(peer.node) + ".mdb";
  log_->info("replica {}: sending a snapshot to {} (it needs entry {}, the log starts at {})", options_.self,
             peer.address, peer.next, store_.firstSeq());
  // The copy holds at least what is applied now: the log must keep the entries after that until
  // the follower has them, or it would need another snapshot as soon as it is back.
  uint64_t holds = store_.appliedSeq();
  followersCaughtUp_ = false;
  return loop_.offload<bool>([this, path]() {
           Status st = store_.copyTo(path);
           if (!st.isOk()) KJ_FAIL_REQUIRE("snapshot", st.message());
           return true;
         })
      .then([this, &peer, term, path, holds](bool) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        KJ_REQUIRE(fd >= 0, "cannot open the snapshot", path, strerror(errno));
        auto fdOwn = std::shared_ptr<int>(new int(fd), [path](int* f) {
          ::close(*f);
          ::unlink(path.c_str());
          delete f;
        });
        struct Sender {
          static kj::Promise<void> next(Replica& r, Peer& peer, uint64_t term, std::shared_ptr<int> fd, uint64_t offset,
                                        uint64_t holds) {
            if (r.role_ != Role::kLeader || r.state_.term != term) return kj::READY_NOW;
            return r.loop_.offload<std::string>([fd, offset]() {
                       std::string buf(kSnapshotPiece, '\0');
                       ssize_t n = ::pread(*fd, buf.data(), buf.size(), static_cast<off_t>(offset));
                       KJ_REQUIRE(n >= 0, "cannot read the snapshot", strerror(errno));
                       buf.resize(static_cast<size_t>(n));
                       return buf;
                     })
                .then([&r, &peer, term, fd, offset, holds](std::string&& piece) {
                  return r.connect(peer).then([&r, &peer, term, fd, offset, holds, piece = kj::mv(piece)](
                                                  rpc::MetaPeer::Client client) mutable {
                    bool done = piece.size() < kSnapshotPiece;
                    auto req = client.installSnapshotRequest();
                    req.setTerm(term);
                    req.setNode(r.options_.self);
                    req.setOffset(offset);
                    req.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(piece.data()), piece.size()));
                    req.setDone(done);
                    uint64_t nextOffset = offset + piece.size();
                    return r.loop_.timer()
                        .timeoutAfter(r.ms(5 * r.options_.callTimeoutMs), req.send())
                        .then([&r, &peer, term, fd, nextOffset, done, holds](
                                  capnp::Response<rpc::MetaPeer::InstallSnapshotResults>&& res) -> kj::Promise<void> {
                          r.observeTerm(res.getTerm());
                          KJ_REQUIRE(res.getOk(), "the follower refused the snapshot");
                          peer.lastAck = r.loop_.timer().now();
                          if (!done) return next(r, peer, term, fd, nextOffset, holds);
                          // The follower restarts from it; its next answer tells where it is.
                          r.log_->info("replica {}: snapshot of {} bytes sent to {}", r.options_.self, nextOffset,
                                       peer.address);
                          peer.needSnapshot = false;
                          peer.next = holds + 1;  // its answer says where exactly it is
                          peer.lastAck = r.loop_.timer().now();
                          r.followersCaughtUp_ = false;
                          peer.rpc.reset();
                          peer.client = nullptr;
                          return r.loop_.timer().afterDelay(r.ms(r.options_.heartbeatMs));
                        });
                  });
                });
          }
        };
        return Sender::next(*this, peer, term, fdOwn, 0, holds);
      });
}

void Replica::updateCommit() {
  if (role_ != Role::kLeader) return;
  std::vector<uint64_t> matches{store_.lastSeq()};
  for (auto& p : peers_) matches.push_back(p->match);
  std::sort(matches.begin(), matches.end(), std::greater<>());
  uint64_t candidate = matches[majority() - 1];
  // Only an entry of this term is committed by counting replicas (Raft §5.4.2).
  auto t = store_.termAt(candidate);
  if (candidate <= commitSeq_ || !t || *t != state_.term) return;
  commitSeq_ = candidate;
  while (!commitWaiters_.empty() && commitWaiters_.begin()->first <= commitSeq_) {
    for (auto& f : commitWaiters_.begin()->second) f->fulfill();
    commitWaiters_.erase(commitWaiters_.begin());
  }
  while (!workerWaiters_.empty() && workerWaiters_.begin()->first <= commitSeq_) {
    auto w = workerWaiters_.begin()->second;
    {
      std::lock_guard<std::mutex> lock(w->mutex);
      w->result = 1;
    }
    w->cv.notify_one();
    workerWaiters_.erase(workerWaiters_.begin());
  }
  // Entries every follower has are no longer needed in memory.
  uint64_t minMatch = commitSeq_;
  for (auto& p : peers_) minMatch = std::min(minMatch, p->match);
  while (!recent_.empty() && (recent_.begin()->first <= minMatch || recent_.size() > kRecentEntries)) {
    recent_.erase(recent_.begin());
  }
}

kj::Promise<void> Replica::waitCommitted(uint64_t seq) {
  if (seq <= commitSeq_) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  commitWaiters_[seq].push_back(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

void Replica::sendFromWorker(uint64_t seq, uint64_t term, std::string_view record) {
  auto entry = std::make_shared<CommandLogEntry>(CommandLogEntry{seq, term, std::string(record)});
  post_.post([this, entry]() {
    uint64_t seq = entry->seq;
    recent_[seq] = entry;
    sentSeq_ = std::max(sentSeq_, seq);
    for (auto& p : peers_) KJ_IF_MAYBE(w, p->wake) { (*w)->fulfill(); }
    tasks_->add(loop_.timer().afterDelay(ms(options_.commitTimeoutMs)).then([this, seq]() {
      if (commitSeq_ < seq) stepDown("entry " + std::to_string(seq) + " not taken by a majority within " +
                                     std::to_string(options_.commitTimeoutMs) + " ms");
    }));
  });
}

bool Replica::awaitFromWorker(uint64_t seq) {
  auto waiter = std::make_shared<Waiter>();
  post_.post([this, waiter, seq]() {
    if (seq <= commitSeq_) {  // committed already (the followers had it; we counted at our flush)
      std::lock_guard<std::mutex> lock(waiter->mutex);
      waiter->result = 1;
      waiter->cv.notify_one();
      return;
    }
    workerWaiters_[seq] = waiter;
    updateCommit();  // our own copy is on disk now: we count (a cluster of one commits at once)
  });
  std::unique_lock<std::mutex> lock(waiter->mutex);
  // The loop answers, or steps down (the process restarts); it never leaves this waiting.
  waiter->cv.wait(lock, [&]() { return waiter->result != 0; });
  return waiter->result == 1;
}

// ---- following --------------------------------------------------------------------------------

template <typename T>
kj::Promise<T> Replica::onDisk(std::function<T()> work) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  kj::Promise<void> before = kj::mv(diskQueue_);
  diskQueue_ = kj::mv(paf.promise);
  auto done = std::make_shared<kj::Own<kj::PromiseFulfiller<void>>>(kj::mv(paf.fulfiller));
  return before.then([this, work = std::move(work)]() mutable { return loop_.offload<T>(std::move(work)); })
      .then([done](T&& v) {
              (*done)->fulfill();
              return kj::mv(v);
            },
            [done](kj::Exception&& e) -> T {
              (*done)->fulfill();
              kj::throwFatalException(kj::mv(e));
            });
}

kj::Promise<Replica::AppendReply> Replica::appendEntries(uint64_t term, uint32_t node, uint64_t prevSeq,
                                                         uint64_t prevTerm, std::vector<CommandLogEntry> entries,
                                                         uint64_t commitSeq) {
  if (term < state_.term) return AppendReply{state_.term, false, store_.lastSeq(), false};
  observeTerm(term);
  if (role_ == Role::kCandidate) role_ = Role::kFollower;
  if (leader_ != node) log_->info("replica {}: following {} in term {}", options_.self, node, term);
  leader_ = node;
  lastLeaderContact_ = loop_.timer().now();
  uint64_t lastNew = prevSeq + entries.size();
  return onDisk<AppendReply>([this, term, prevSeq, prevTerm, entries = std::move(entries), commitSeq,
                              lastNew]() {
    AppendReply reply;
    reply.term = term;
    auto ok = store_.appendEntries(prevSeq, prevTerm, entries);
    if (!ok.isOk()) KJ_FAIL_REQUIRE("cannot append to the command log", ok.status().message());
    reply.success = *ok;
    reply.lastSeq = store_.lastSeq();
    if (reply.success) {
      uint64_t upTo = std::min(commitSeq, lastNew);
      if (upTo > store_.appliedSeq()) {
        Status st = store_.applyCommitted(upTo, replay_);
        if (!st.isOk()) KJ_FAIL_REQUIRE("cannot apply committed entries", st.message());
      }
      Status st = store_.checkpointIfDue();
      (void)st;  // retried at the next one; the log keeps everything meanwhile
    }
    return reply;
  });
}

kj::Promise<bool> Replica::installSnapshot(uint64_t term, uint32_t node, uint64_t offset, kj::Array<kj::byte> data,
                                           bool done) {
  if (term < state_.term) return false;
  observeTerm(term);
  leader_ = node;
  lastLeaderContact_ = loop_.timer().now();
  std::string part = store_.dir() + "/snapshot.part";
  auto buf = std::make_shared<kj::Array<kj::byte>>(kj::mv(data));
  return onDisk<bool>([this, part, offset, buf, done]() {
           if (offset == 0) {
             if (snapshotFd_ >= 0) ::close(snapshotFd_);
             snapshotFd_ = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
           }
           KJ_REQUIRE(snapshotFd_ >= 0, "cannot open", part, strerror(errno));
           const kj::byte* p = buf->begin();
           size_t n = buf->size();
           uint64_t at = offset;
           while (n > 0) {
             ssize_t w = ::pwrite(snapshotFd_, p, n, static_cast<off_t>(at));
             KJ_REQUIRE(w > 0 || errno == EINTR, "cannot write", part, strerror(errno));
             if (w <= 0) continue;
             p += w, n -= static_cast<size_t>(w), at += static_cast<uint64_t>(w);
           }
           if (done) {
             KJ_REQUIRE(::fsync(snapshotFd_) == 0, "cannot sync", part, strerror(errno));
             ::close(snapshotFd_);
             snapshotFd_ = -1;
             KJ_REQUIRE(::rename(part.c_str(), store_.snapshotPath().c_str()) == 0, "cannot rename", part,
                        strerror(errno));
           }
           return true;
         })
      .then([this, done](bool ok) {
        if (done) {
          // Answer first, then restart: the store opens from the snapshot.
          tasks_->add(loop_.timer().afterDelay(ms(20)).then([this]() { stepDown("installing a snapshot"); }));
        }
        return ok;
      });
}

std::vector<MetaNodeStatus> Replica::nodes() const {
  std::vector<MetaNodeStatus> out;
  const char* role = role_ == Role::kLeader ? "leader" : role_ == Role::kCandidate ? "candidate" : "follower";
  out.push_back({options_.self, options_.peers[options_.self - 1], role, state_.term, store_.lastSeq(),
                 store_.appliedSeq()});
  auto now = loop_.timer().now();
  for (auto& p : peers_) {
    // A follower knows only who leads; the leader knows whom it hears from.
    std::string r = p->node == leader_ ? "leader"
                    : role_ != Role::kLeader ? "?"
                    : now - p->lastAck < ms(options_.electionMs) ? "follower" : "unreachable";
    out.push_back({p->node, p->address, r, state_.term, p->lastSeq, p->match});
  }
  return out;
}

}  // namespace basalt::meta
