#include "meta/locks/lock_manager.h"

#include <kj/debug.h>

#include <cerrno>

#include "meta/keys.h"
#include "meta/meta_server.h"

namespace basalt::meta {

namespace {

const char* kindName(OwnerKind k) {
  switch (k) {
    case OwnerKind::kPosix: return "posix";
    case OwnerKind::kOfd: return "ofd";
    case OwnerKind::kFlock: return "flock";
  }
  return "?";
}

const char* typeName(LockType t) {
  switch (t) {
    case LockType::kUnlock: return "unlock";
    case LockType::kRead: return "read";
    case LockType::kWrite: return "write";
  }
  return "?";
}

Status outcomeStatus(int error, InodeId ino, const LockRequest& req) {
  if (error == 0) return Status::ok();
  std::string what = std::string(kindName(req.owner.kind)) + " " + typeName(req.type) + " lock on inode " +
                     std::to_string(ino);
  switch (error) {
    case EAGAIN: return Status::error(EAGAIN, what + ": held by another owner");
    case EDEADLK: return Status::error(EDEADLK, what + ": waiting would deadlock");
    default: return Status::error(error, what + ": " + strerror(error));
  }
}

}  // namespace

LockManager::LockManager(MetaServer& server, Logger log)
    : server_(server),
      log_(std::move(log)),
      self_(std::make_shared<LockManager*>(this)),
      taskLogger_(log_),
      tasks_(taskLogger_) {}

LockManager::~LockManager() {
  *self_ = nullptr;
  for (auto& [id, p] : parked_) {
    if (p.fulfiller->isWaiting()) p.fulfiller->fulfill(Status::error(ESHUTDOWN, "metadata server is shutting down"));
  }
}

Status LockManager::checkSession(uint64_t session) {
  Status st = server_.touch(session);
  if (!st.isOk()) {
    return Status::error(ESTALE, "session " + std::to_string(session) + " expired; its locks were released");
  }
  return st;
}

size_t LockManager::restore(const Txn& txn, const std::set<uint64_t>& liveSessions) {
  size_t n = 0;
  txn.scan(Table::kLocks, "", [&](std::string_view k, std::string_view v) {
    InodeId ino = readBe64(k);
    int err = table_.restoreInode(ino, std::string(v));
    if (err != 0) {
      log_->warn("locks of inode {}: stored state is unreadable ({}); dropped", ino, strerror(err));
    } else {
      ++n;
    }
    return true;
  });
  nextGen_ = (server_.store().boots() << 32) + 1;  // generations never repeat across restarts
  std::vector<InodeId> orphaned;
  txn.scan(Table::kDelegations, "", [&](std::string_view k, std::string_view v) {
    InodeId ino = readBe64(k);
    if (v.size() != 16) {
      log_->warn("lock delegation of inode {}: stored record of {} bytes is unreadable; dropped", ino, v.size());
      orphaned.push_back(ino);
      return true;
    }
    uint64_t session = readBe64(v, 0), gen = readBe64(v, 8);
    nextGen_ = std::max(nextGen_, gen + 1);
    if (!liveSessions.count(session)) {
      log_->info("session {:x} is gone: its lock delegation of inode {} ends", session, ino);
      orphaned.push_back(ino);
      return true;
    }
    Delegation d;
    d.session = session;
    d.gen = gen;
    delegations_.emplace(ino, kj::mv(d));
    ++delegationsOf_[session];
    return true;
  });
  for (InodeId ino : orphaned) tasks_.add(commitInode(ino, 0, 0).ignoreResult());
  std::set<uint64_t> gone;
  for (InodeId ino : table_.inodesWithLocks()) {
    for (const HeldLock& l : table_.locksOf(ino)) {
      if (!liveSessions.count(l.owner.session)) gone.insert(l.owner.session);
    }
  }
  for (uint64_t s : gone) {
    log_->info("session {:x} is gone: releasing its restored locks", s);
    tasks_.add(releaseSession(s));
  }
  return n;
}

void LockManager::settle(const Wakeups& w, int cancelErrno, const char* why, Answers* out) {
  auto take = [&](WaiterId id) -> kj::Maybe<Parked> {
    auto it = parked_.find(id);
    if (it == parked_.end()) return nullptr;
    Parked p = kj::mv(it->second);
    parked_.erase(it);
    byClient_.erase({p.session, p.clientWaiter});
    return kj::mv(p);
  };
  for (WaiterId id : w.granted) {
    KJ_IF_MAYBE(p, take(id)) {
      log_->debug("session {:x}: waiter {} on inode {} granted", p->session, p->clientWaiter, p->ino);
      out->inodes.insert(p->ino);
      out->later.emplace_back(kj::mv(p->fulfiller), Status::ok());
    }
  }
  for (WaiterId id : w.cancelled) {
    KJ_IF_MAYBE(p, take(id)) {
      log_->debug("session {:x}: waiter {} on inode {} cancelled: {}", p->session, p->clientWaiter, p->ino, why);
      p->fulfiller->fulfill(Status::error(cancelErrno, "lock wait on inode " + std::to_string(p->ino) + ": " + why));
    }
  }
  for (WaiterId id : w.deadlocked) {
    KJ_IF_MAYBE(p, take(id)) {
      log_->debug("session {:x}: waiter {} on inode {} fails: deadlock", p->session, p->clientWaiter, p->ino);
      p->fulfiller->fulfill(
          Status::error(EDEADLK, "lock wait on inode " + std::to_string(p->ino) + " would deadlock"));
    }
  }
}

kj::Promise<Status> LockManager::persist(Answers a) {
  if (a.inodes.empty()) {
    for (auto& [f, st] : a.later) f->fulfill(kj::mv(st));
    return Status::ok();
  }
  auto commits = kj::heapArrayBuilder<kj::Promise<Status>>(a.inodes.size());
  for (InodeId ino : a.inodes) commits.add(commitInode(ino, 0, 0));
  return kj::joinPromises(commits.finish())
      .then([later = kj::mv(a.later)](kj::Array<Status> statuses) mutable {
        Status result;
        for (auto& st : statuses) {
          if (!st.isOk() && result.isOk()) result = st;
        }
        for (auto& [f, st] : later) f->fulfill(result.isOk() ? kj::mv(st) : Status(result));
        return result;
      });
}

kj::Promise<Status> LockManager::commitInode(InodeId ino, uint64_t delegate, uint64_t gen) {
  std::string state = table_.locksOf(ino).empty() ? std::string() : table_.encodeInode(ino);
  return server_
      .submitInternal([ino, delegate, gen, state = kj::mv(state)](rpc::Command::Builder c) {
        auto sl = c.initSetLocks();
        sl.setIno(ino);
        sl.setState(kj::arrayPtr(reinterpret_cast<const kj::byte*>(state.data()), state.size()));
        sl.setDelegate(delegate);
        sl.setDelegation(gen);
      })
      .then([this, ino](Applied applied) {
        Status st = Status::fromWire(applied.reply().getStatus());
        if (!st.isOk()) log_->error("committing the lock state of inode {} failed: {}", ino, st.toString());
        return st;
      });
}

kj::Promise<Status> LockManager::parkedPromise(WaiterId id, uint64_t call, kj::Promise<Status> p) {
  auto self = self_;
  return p.attach(kj::defer([self, id, call]() {
    if (*self != nullptr) (*self)->abandoned(id, call);
  }));
}

void LockManager::abandoned(WaiterId id, uint64_t call) {
  auto it = parked_.find(id);
  if (it == parked_.end() || it->second.call != call) return;  // answered already, or taken over
  log_->info("session {:x}: blocked lock call {} on inode {} dropped by the client; cancelling it",
             it->second.session, it->second.clientWaiter, it->second.ino);
  byClient_.erase({it->second.session, it->second.clientWaiter});
  parked_.erase(it);
  Answers a;
  settle(table_.cancelWaiter(id), ESTALE, "cancelled", &a);
  tasks_.add(persist(kj::mv(a)).ignoreResult());
}

template <typename Retry>
kj::Maybe<kj::Promise<LockAnswer>> LockManager::whileDelegated(uint64_t session, InodeId ino, Retry&& retry) {
  auto d = delegations_.find(ino);
  if (d == delegations_.end()) return nullptr;
  if (d->second.session == session && !d->second.recalling()) {
    return kj::Promise<LockAnswer>(LockAnswer{Status::ok(), d->second.gen});
  }
  return recall(ino).then(kj::fwd<Retry>(retry));
}

kj::Promise<LockAnswer> LockManager::setLock(uint64_t session, InodeId ino, LockRequest req, uint64_t clientWaiter,
                                              bool mayDelegate) {
  Status st = checkSession(session);
  if (!st.isOk()) return LockAnswer{st};
  KJ_IF_MAYBE(answer, whileDelegated(session, ino, [this, session, ino, req, clientWaiter, mayDelegate]() {
                return setLock(session, ino, req, clientWaiter, mayDelegate);
              })) {
    return kj::mv(*answer);
  }
  req.owner.session = session;
  if (req.type != LockType::kUnlock && !server_.store().beginRead().exists(Table::kInodes, inoKey(ino))) {
    // SetLocks would refuse it: never let the table get ahead of the store.
    return LockAnswer{Status::error(ENOENT, "lock on inode " + std::to_string(ino) + ", which does not exist")};
  }
  log_->debug("session {:x}: {} {} lock on inode {} [{}, {}] owner {:x}{}", session, kindName(req.owner.kind),
              typeName(req.type), ino, req.range.start, req.range.end, req.owner.id, req.wait ? " (wait)" : "");
  if (mayDelegate && mayGrant(session, ino, req)) return grant(session, ino);
  auto answer = [](kj::Promise<Status> p) { return p.then([](Status st) { return LockAnswer{st}; }); };
  if (req.wait) {
    auto known = byClient_.find({session, clientWaiter});
    if (known != byClient_.end()) {
      // A retry of a call that is still parked (the client reconnected): the new call takes over.
      auto& p = parked_.at(known->second);
      auto paf = kj::newPromiseAndFulfiller<Status>();
      p.fulfiller->fulfill(Status::error(EINTR, "superseded by a retry"));
      p.fulfiller = kj::mv(paf.fulfiller);
      p.call = nextCall_++;
      return answer(parkedPromise(known->second, p.call, kj::mv(paf.promise)));
    }
  }
  WaiterId id = nextWaiter_++;
  req.waiterId = id;
  std::string before = table_.encodeInode(ino);
  LockOutcome out = req.owner.kind == OwnerKind::kFlock ? table_.flock(ino, req) : table_.setLock(ino, req);
  Answers a;
  settle(out.wakeups, ESTALE, "cancelled", &a);
  if (table_.encodeInode(ino) != before) a.inodes.insert(ino);
  if (out.queued) {
    log_->debug("session {:x}: lock on inode {} owner {:x} waits as {}", session, ino, req.owner.id, clientWaiter);
    auto paf = kj::newPromiseAndFulfiller<Status>();
    uint64_t call = nextCall_++;
    parked_[id] = Parked{session, clientWaiter, ino, call, kj::mv(paf.fulfiller)};
    byClient_[{session, clientWaiter}] = id;
    tasks_.add(persist(kj::mv(a)).ignoreResult());
    return answer(parkedPromise(id, call, kj::mv(paf.promise)));
  }
  Status result = outcomeStatus(out.error, ino, req);
  return answer(persist(kj::mv(a)).then([result](Status committed) { return committed.isOk() ? result : committed; }));
}

kj::Promise<LockAnswer> LockManager::getLock(uint64_t session, InodeId ino, LockOwner owner, ByteRange range,
                                             LockType type) {
  Status st = checkSession(session);
  if (!st.isOk()) return LockAnswer{st};
  KJ_IF_MAYBE(answer, whileDelegated(session, ino, [this, session, ino, owner, range, type]() {
                return getLock(session, ino, owner, range, type);
              })) {
    return kj::mv(*answer);
  }
  owner.session = session;
  LockAnswer a;
  int err = table_.getLock(ino, owner, range, type, &a.conflict);
  if (err != 0) a.status = Status::error(err, "F_GETLK on inode " + std::to_string(ino) + ": " + strerror(err));
  return a;
}

Status LockManager::cancel(uint64_t session, uint64_t clientWaiter) {
  Status st = checkSession(session);
  if (!st.isOk()) return st;
  auto known = byClient_.find({session, clientWaiter});
  if (known == byClient_.end()) return Status::ok();  // granted or failed already
  WaiterId id = known->second;
  Parked p = kj::mv(parked_.at(id));
  parked_.erase(id);
  byClient_.erase(known);
  log_->debug("session {:x}: lock wait {} on inode {} interrupted", session, clientWaiter, p.ino);
  Answers a;
  settle(table_.cancelWaiter(id), ESTALE, "cancelled", &a);
  p.fulfiller->fulfill(Status::error(EINTR, "lock wait on inode " + std::to_string(p.ino) + " interrupted"));
  tasks_.add(persist(kj::mv(a)).ignoreResult());
  return Status::ok();
}

kj::Promise<LockAnswer> LockManager::releaseOwner(uint64_t session, InodeId ino, LockOwner owner) {
  Status st = checkSession(session);
  if (!st.isOk()) return LockAnswer{st};
  auto d = delegations_.find(ino);
  // Another session's delegation: this one holds nothing there.
  if (d != delegations_.end() && d->second.session != session) return LockAnswer{Status::ok()};
  KJ_IF_MAYBE(answer, whileDelegated(session, ino, [this, session, ino, owner]() {
                return releaseOwner(session, ino, owner);
              })) {
    return kj::mv(*answer);
  }
  owner.session = session;
  std::string before = table_.encodeInode(ino);
  Answers a;
  settle(table_.releaseOwner(ino, owner), ESTALE, "cancelled", &a);
  if (table_.encodeInode(ino) != before) a.inodes.insert(ino);
  if (!a.inodes.empty()) {
    log_->debug("session {:x}: {} owner {:x} released its locks on inode {}", session, kindName(owner.kind), owner.id,
                ino);
  }
  return persist(kj::mv(a)).then([](Status st) { return LockAnswer{st}; });
}

kj::Promise<void> LockManager::releaseSession(uint64_t session) {
  std::vector<InodeId> delegated;
  for (auto& [ino, d] : delegations_) {
    if (d.session == session) delegated.push_back(ino);
  }
  auto ends = kj::heapArrayBuilder<kj::Promise<Status>>(delegated.size());
  for (InodeId ino : delegated) ends.add(endDelegation(ino, std::string(), false));
  if (!delegated.empty()) {
    log_->info("session {:x}: its lock delegations of {} inodes ended with it", session, delegated.size());
  }
  kj::Promise<void> ended = kj::joinPromises(ends.finish()).ignoreResult();
  std::vector<InodeId> inodes = table_.inodesOfSession(session);
  if (inodes.empty()) return ended;
  Answers a;
  Wakeups w = table_.releaseSession(session);
  settle(w, ESTALE, "session expired; its locks were released", &a);
  a.inodes.insert(inodes.begin(), inodes.end());
  log_->info("session {:x}: released its locks on {} inodes; {} waiters of other sessions granted", session,
             inodes.size(), w.granted.size());
  return persist(kj::mv(a)).ignoreResult().then([ended = kj::mv(ended)]() mutable { return kj::mv(ended); });
}

void LockManager::releaseInode(InodeId ino) {
  if (delegations_.count(ino) != 0) {
    // The Reclaim deleted the stored delegation with the inode; calls waiting for it go on (ENOENT).
    Delegation d = dropDelegation(ino);
    if (d.end.get() != nullptr) d.end->fulfill();
  }
  Answers a;
  settle(table_.releaseInode(ino), ENOENT, "the file was removed", &a);
  tasks_.add(persist(kj::mv(a)).ignoreResult());
}

}  // namespace basalt::meta
