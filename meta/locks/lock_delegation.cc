// Lock delegation: while one session alone uses an inode's locks, its mount decides them itself.
//
// A mount that takes a lock and releases it thousands of times a second (sqlite, a build's lock
// files, anything that calls fcntl in a loop) would otherwise pay an RPC and a durable commit per
// call. Here the first lock call on an inode nobody else locks or waits for is answered with a
// delegation instead (one commit), and the mount's own LockTable decides every later call on that
// inode, with no RPC, as long as no other session is interested:
//  - grant: the inode's server-side table is empty; the delegation (session, generation) is
//    committed before the answer, so a restarted server still knows who decides the inode.
//  - recall: a call of another session about the inode waits while the delegate's mount is asked,
//    through its CacheWatcher, to give the delegation back; the mount commits its writes to the
//    file, then answers with its locks there, which become the server's (committed). A mount that
//    cannot be reached is asked again until it answers or its session's lease expires (its locks
//    then go with it, as they would without a delegation). The inode is not delegated again for
//    kRedelegateAfter, so two mounts taking turns do not bounce the delegation on every call.
//  - return: the mount gives it back itself (before a lock call that must wait, so that the wait
//    and its deadlock check happen here; and when it has not used the inode's locks for a while).
//  - the session ends, or the inode is reclaimed: the delegation goes with it.
// Generations start at boots << 32, so a generation is never reused across restarts; a mount uses
// them to tell an old delegation's answers from a new one's.
#include <cerrno>

#include "meta/keys.h"
#include "meta/locks/lock_manager.h"
#include "meta/meta_server.h"

namespace basalt::meta {

namespace {
constexpr auto kRedelegateAfter = 1 * kj::SECONDS;
constexpr auto kRecallTimeout = 5 * kj::SECONDS;  // per attempt; the lease bounds the whole
constexpr auto kRecallRetry = 100 * kj::MILLISECONDS;
constexpr size_t kMaxDelegationsPerSession = 4096;
}  // namespace

uint64_t LockManager::delegateOf(InodeId ino) const {
  auto d = delegations_.find(ino);
  return d == delegations_.end() ? 0 : d->second.session;
}

bool LockManager::mayGrant(uint64_t session, InodeId ino, const LockRequest& req) const {
  if (req.type == LockType::kUnlock || table_.inUse(ino)) return false;
  auto perSession = delegationsOf_.find(session);
  if (perSession != delegationsOf_.end() && perSession->second >= kMaxDelegationsPerSession) return false;
  auto recent = recentRecalls_.find(ino);
  return recent == recentRecalls_.end() || server_.timer().now() - recent->second >= kRedelegateAfter;
}

kj::Promise<LockAnswer> LockManager::grant(uint64_t session, InodeId ino) {
  uint64_t gen = nextGen_++;
  Delegation d;
  d.session = session;
  d.gen = gen;
  delegations_.emplace(ino, kj::mv(d));
  ++delegationsOf_[session];
  ++granted_;
  log_->debug("session {:x}: lock delegation of inode {} granted (generation {:x})", session, ino, gen);
  return commitInode(ino, session, gen).then([this, session, ino, gen](Status st) {
    if (st.isOk()) return LockAnswer{Status::ok(), gen};
    auto d = delegations_.find(ino);
    if (d != delegations_.end() && d->second.gen == gen) endDelegation(ino, std::string(), false);
    return LockAnswer{st};
  });
}

kj::Promise<void> LockManager::recall(InodeId ino) {
  auto it = delegations_.find(ino);
  if (it == delegations_.end()) return kj::READY_NOW;
  Delegation& d = it->second;
  if (!d.recalling()) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    d.ended = paf.promise.fork();
    d.end = kj::mv(paf.fulfiller);
    log_->debug("inode {}: recalling the lock delegation of session {:x}", ino, d.session);
    tasks_.add(recallLoop(ino, d.gen, 0));
  }
  KJ_IF_MAYBE(ended, d.ended) { return ended->addBranch(); }
  KJ_UNREACHABLE;
}

kj::Promise<void> LockManager::recallLoop(InodeId ino, uint64_t gen, unsigned attempt) {
  auto it = delegations_.find(ino);
  if (it == delegations_.end() || it->second.gen != gen) return kj::READY_NOW;  // ended another way
  uint64_t session = it->second.session;
  auto again = [this, ino, gen, attempt]() {
    return server_.timer().afterDelay(kRecallRetry).then(
        [this, ino, gen, attempt]() { return recallLoop(ino, gen, attempt + 1); });
  };
  KJ_IF_MAYBE(watcher, server_.watcherOf(session)) {
    auto req = watcher->recallLocksRequest();
    req.setIno(ino);
    req.setDelegation(gen);
    return server_.timer().timeoutAfter(kRecallTimeout, req.send()).then(
        [this, ino, gen](capnp::Response<rpc::CacheWatcher::RecallLocksResults>&& r) -> kj::Promise<void> {
          auto state = r.getState();
          recallAnswered(ino, gen, r.getHeld(), std::string(reinterpret_cast<const char*>(state.begin()), state.size()));
          return kj::READY_NOW;
        },
        [this, ino, session, attempt, again](kj::Exception&& e) -> kj::Promise<void> {
          if (attempt % 50 == 0) {
            log_->warn("inode {}: recalling the lock delegation of session {:x} failed ({}); asking again until it "
                       "answers or its lease expires",
                       ino, session, e.getDescription().cStr());
          }
          return again();
        });
  }
  if (attempt % 50 == 0) {
    log_->info("inode {}: the lock delegation of session {:x} is wanted, but its mount is not connected; waiting "
               "for it to come back or for its lease to expire",
               ino, session);
  }
  return again();
}

void LockManager::recallAnswered(InodeId ino, uint64_t gen, bool held, std::string state) {
  auto it = delegations_.find(ino);
  if (it == delegations_.end() || it->second.gen != gen) return;  // returned meanwhile, or its session ended
  uint64_t session = it->second.session;
  if (!held) state.clear();  // the mount never used it (or returned it; then it is gone already)
  std::string bad = state.empty() ? std::string() : badReturnedState(session, ino, state);
  if (!bad.empty()) {
    log_->error("inode {}: session {:x} answered the recall of its lock delegation with {}; its locks there are "
                "dropped",
                ino, session, bad);
    state.clear();
  }
  ++recalls_;
  tasks_.add(endDelegation(ino, state, true).ignoreResult());
}

std::string LockManager::badReturnedState(uint64_t session, InodeId ino, const std::string& state) const {
  LockTable scratch;
  if (scratch.restoreInode(ino, state) != 0) return "a malformed lock state";
  for (const HeldLock& l : scratch.locksOf(ino)) {
    if (l.owner.session != session) return "a lock of another session";
  }
  return std::string();
}

kj::Promise<Status> LockManager::endDelegation(InodeId ino, const std::string& state, bool recalled) {
  Delegation d = dropDelegation(ino);
  if (!state.empty()) {
    int err = table_.restoreInode(ino, state);  // validated by the caller; the table is empty here
    if (err != 0) log_->error("inode {}: installing the returned locks failed: {}", ino, strerror(err));
  }
  if (recalled) {
    auto now = server_.timer().now();
    if (recentRecalls_.size() >= 4096) {
      for (auto r = recentRecalls_.begin(); r != recentRecalls_.end();) {
        r = now - r->second >= kRedelegateAfter ? recentRecalls_.erase(r) : std::next(r);
      }
    }
    recentRecalls_.insert_or_assign(ino, now);
  }
  log_->debug("inode {}: lock delegation of session {:x} ended ({}), {} locks", ino, d.session,
              recalled ? "recalled" : "returned", table_.locksOf(ino).size());
  auto committed = commitInode(ino, 0, 0);
  // Calls waiting for the end go on now: their own commits follow this one.
  if (d.end.get() != nullptr) d.end->fulfill();
  return committed;
}

LockManager::Delegation LockManager::dropDelegation(InodeId ino) {
  auto it = delegations_.find(ino);
  KJ_REQUIRE(it != delegations_.end());
  Delegation d = kj::mv(it->second);
  delegations_.erase(it);
  if (--delegationsOf_[d.session] == 0) delegationsOf_.erase(d.session);
  return d;
}

kj::Promise<Status> LockManager::returnDelegation(uint64_t session, InodeId ino, uint64_t gen, std::string state) {
  Status st = checkSession(session);
  if (!st.isOk()) return st;
  auto it = delegations_.find(ino);
  if (it == delegations_.end() || it->second.session != session || it->second.gen != gen) {
    return Status::error(ESTALE, "inode " + std::to_string(ino) + ": this session holds no lock delegation of "
                                     "generation " + std::to_string(gen) + " there (recalled or expired)");
  }
  std::string bad = state.empty() ? std::string() : badReturnedState(session, ino, state);
  if (!bad.empty()) {
    return Status::error(EINVAL, "inode " + std::to_string(ino) + ": returned lock delegation carries " + bad);
  }
  // A recall under way ends here too: the mount answers it "not held" once this has left.
  return endDelegation(ino, state, false);
}

}  // namespace basalt::meta
