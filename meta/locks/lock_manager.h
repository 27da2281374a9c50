// The metadata server's lock service: the LockTable (meta/locks/lock_table.h) of the leader, the
// parked calls of blocked waiters, and the durability of held locks.
//
// Protocol (docs/meta.md, "Locks"):
//  1. A call checks (and extends) its session; an expired one answers ESTALE "session expired; its
//     locks were released".
//  2. The table decides at once: granted, EAGAIN/EDEADLK/EINVAL, or queued (the call is parked
//     under a server-chosen WaiterId; the client's waiter id maps to it for cancelLock).
//  3. Every change to the held locks of an inode is committed (a SetLocks command with the
//     inode's encoded state, encoded when submitted, so commits stay in table order) BEFORE the
//     caller, or any waiter the change granted, hears of it: persist, then reply.
//  4. Waiters end by a grant (after step 3), cancelLock (EINTR at once), the call being dropped
//     (client disconnected: the waiter is cancelled), EDEADLK, or their session or inode going
//     (ESTALE / ENOENT).
//  5. At start, every inode's held locks are restored from the store; locks of sessions that are
//     not in the store any more are released. Locks of sessions that do not come back are released
//     when their lease expires (MetaServer calls releaseSession).
// If a commit fails the in-memory table is ahead of the store; the affected callers get EIO and it
// is logged (the next change of that inode rewrites its whole record).
//
// Lock delegation (lock_delegation.cc; docs/meta.md, "Lock delegation"): when a session that allows
// it asks for a lock on an inode nobody holds or waits for, the inode is delegated to that session
// instead (durably), and the session's mount decides the inode's locks itself, with no RPC, until
// the delegation ends: the mount returns it (returnDelegation, with its locks), another session
// calls about the inode (the delegation is recalled through the mount's CacheWatcher; the caller
// waits for the answer), the session's lease expires (its locks go), or the inode is reclaimed.
// While an inode is delegated, its server-side table is empty and every call about it from another
// session waits for the recall; the delegate's own calls are answered "decide it yourself".
//
// Thread-safety: loop thread only, like MetaServer, which owns it.
#pragma once

#include <kj/async.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "meta/locks/lock_table.h"
#include "meta/store.h"
#include "server/log.h"
#include "server/rpc.h"
#include "server/status.h"

namespace basalt::meta {

class MetaServer;

// What a lock call answers: its status, or (delegation != 0) that the caller holds the inode's
// lock delegation of that generation and must decide the call itself. `conflict`: getLock only.
struct LockAnswer {
  LockAnswer() = default;
  LockAnswer(Status s, uint64_t d = 0) : status(std::move(s)), delegation(d) {}  // NOLINT: implicit
  Status status;
  uint64_t delegation = 0;
  std::optional<HeldLock> conflict;
};

class LockManager {
 public:
  // `server` is used for session checks (touch) and commits (submitInternal); it must outlive this.
  LockManager(MetaServer& server, Logger log);
  ~LockManager();  // parked calls answer ESHUTDOWN
  KJ_DISALLOW_COPY(LockManager);

  // Loads every inode's held locks from `txn`; `liveSessions` are the sessions in the store. Locks of
  // other sessions are released (and that is committed). Requires an empty table. Returns the number
  // of inodes with locks.
  size_t restore(const Txn& txn, const std::set<uint64_t>& liveSessions);

  // F_SETLK(W) / flock(2) for `session`; req.owner.session is set here. Resolves when the outcome is
  // durable (see above). clientWaiter names a blocking request for cancel(). mayDelegate: the
  // caller can take a delegation (see above) instead of an answer.
  kj::Promise<LockAnswer> setLock(uint64_t session, InodeId ino, LockRequest req, uint64_t clientWaiter,
                                  bool mayDelegate = false);
  // F_GETLK: the answer's conflict (nullopt = none).
  kj::Promise<LockAnswer> getLock(uint64_t session, InodeId ino, LockOwner owner, ByteRange range, LockType type);
  // The client's blocked call `clientWaiter` answers EINTR, unless it was granted already (then no-op).
  Status cancel(uint64_t session, uint64_t clientWaiter);
  // Drops the owner's locks on `ino` (close / last close of an open file description).
  kj::Promise<LockAnswer> releaseOwner(uint64_t session, InodeId ino, LockOwner owner);
  // The session gives the delegation of `ino`, generation `gen`, back with its locks there (encoded
  // as LockTable::encodeInode; every owner must be `session`). Resolves when that is durable.
  // ESTALE: no such delegation (any more); EINVAL: a malformed state (the delegation then stays).
  kj::Promise<Status> returnDelegation(uint64_t session, InodeId ino, uint64_t gen, std::string state);

  // Called by MetaServer: a session's lease expired (or it closed); its waiters answer ESTALE.
  kj::Promise<void> releaseSession(uint64_t session);
  // Called by MetaServer: the inode was reclaimed (its record is gone with it); waiters answer ENOENT.
  void releaseInode(InodeId ino);

  const LockTable& table() const { return table_; }
  size_t parkedCount() const { return parked_.size(); }
  // The session holding the delegation of `ino` (0 = none), and counters for tests and status.
  uint64_t delegateOf(InodeId ino) const;
  size_t delegationCount() const { return delegations_.size(); }
  uint64_t delegationsGranted() const { return granted_; }
  uint64_t recallsDone() const { return recalls_; }

 private:
  struct Parked {
    uint64_t session = 0;
    uint64_t clientWaiter = 0;
    InodeId ino = 0;
    uint64_t call = 0;  // which RPC the fulfiller answers (a retry takes a parked waiter over)
    kj::Own<kj::PromiseFulfiller<Status>> fulfiller;
  };
  struct Delegation {
    uint64_t session = 0;
    uint64_t gen = 0;
    kj::Maybe<kj::ForkedPromise<void>> ended;           // set by a recall: resolves when it ends
    kj::Own<kj::PromiseFulfiller<void>> end;            // resolves `ended`
    bool recalling() const { return ended != nullptr; }
  };
  // Answers for waiters whose fate a table operation decided, to send after a commit.
  struct Answers {
    std::vector<std::pair<kj::Own<kj::PromiseFulfiller<Status>>, Status>> later;  // granted
    std::set<InodeId> inodes;  // whose held locks changed
  };

  Status checkSession(uint64_t session);
  // Takes the waiters named by `w` out of parked_: cancelled/deadlocked answer now, granted go to
  // `out` (with their inode, whose state changed).
  void settle(const Wakeups& w, int cancelErrno, const char* why, Answers* out);
  // Commits the state of every inode in `a.inodes`, then answers the granted waiters. Resolves with
  // the commit's status.
  kj::Promise<Status> persist(Answers a);
  void abandoned(WaiterId id, uint64_t call);
  // The promise of a parked call; dropping it (the client went away) cancels the waiter.
  kj::Promise<Status> parkedPromise(WaiterId id, uint64_t call, kj::Promise<Status> p);

  // A call of `session` on a delegated `ino`: the delegation's generation when `session` holds it
  // (the call is that mount's to decide), else `retry` once a recall has ended the delegation.
  // Nothing when `ino` is not delegated.
  template <typename Retry>
  kj::Maybe<kj::Promise<LockAnswer>> whileDelegated(uint64_t session, InodeId ino, Retry&& retry);

  // Delegation (lock_delegation.cc).
  // Whether a lock call of `session` on `ino` may be answered with a new delegation.
  bool mayGrant(uint64_t session, InodeId ino, const LockRequest& req) const;
  kj::Promise<LockAnswer> grant(uint64_t session, InodeId ino);
  // Resolves when the delegation of `ino` has ended, recalling it if that is not under way.
  kj::Promise<void> recall(InodeId ino);
  kj::Promise<void> recallLoop(InodeId ino, uint64_t gen, unsigned attempt);
  void recallAnswered(InodeId ino, uint64_t gen, bool held, std::string state);
  // "" when `state` is a valid encoded lock state whose every owner is `session`.
  std::string badReturnedState(uint64_t session, InodeId ino, const std::string& state) const;
  // Ends the delegation of `ino`: installs `state` (validated) as its held locks, commits that, and
  // lets the calls waiting for the delegation's end go on. Resolves with the commit's status.
  kj::Promise<Status> endDelegation(InodeId ino, const std::string& state, bool recalled);
  // Takes the delegation of `ino` out of the books (it must exist); the caller fulfils its `end`.
  Delegation dropDelegation(InodeId ino);
  // Commits the inode's held locks and delegation (SetLocks).
  kj::Promise<Status> commitInode(InodeId ino, uint64_t delegate, uint64_t gen);

  MetaServer& server_;
  Logger log_;
  LockTable table_;
  std::map<InodeId, Delegation> delegations_;
  std::map<uint64_t, size_t> delegationsOf_;             // session -> how many it holds
  std::map<InodeId, kj::TimePoint> recentRecalls_;       // not delegated again for a while
  uint64_t nextGen_ = 1;
  uint64_t granted_ = 0;
  uint64_t recalls_ = 0;
  std::map<WaiterId, Parked> parked_;
  std::map<std::pair<uint64_t, uint64_t>, WaiterId> byClient_;  // (session, client waiter id)
  WaiterId nextWaiter_ = 1;
  uint64_t nextCall_ = 1;
  std::shared_ptr<LockManager*> self_;  // nulled on destruction: dropped calls must not call back
  TaskLogger taskLogger_;
  kj::TaskSet tasks_;  // commits whose callers are waiters (answered from the task itself)
};

}  // namespace basalt::meta
