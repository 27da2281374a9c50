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
  // durable (see above). clientWaiter names a blocking request for cancel().
  kj::Promise<Status> setLock(uint64_t session, InodeId ino, LockRequest req, uint64_t clientWaiter);
  // F_GETLK: sets *conflict (nullopt = none).
  Status getLock(uint64_t session, InodeId ino, const LockOwner& owner, ByteRange range, LockType type,
                 std::optional<HeldLock>* conflict);
  // The client's blocked call `clientWaiter` answers EINTR, unless it was granted already (then no-op).
  Status cancel(uint64_t session, uint64_t clientWaiter);
  // Drops the owner's locks on `ino` (close / last close of an open file description).
  kj::Promise<Status> releaseOwner(uint64_t session, InodeId ino, LockOwner owner);

  // Called by MetaServer: a session's lease expired (or it closed); its waiters answer ESTALE.
  kj::Promise<void> releaseSession(uint64_t session);
  // Called by MetaServer: the inode was reclaimed (its record is gone with it); waiters answer ENOENT.
  void releaseInode(InodeId ino);

  const LockTable& table() const { return table_; }
  size_t parkedCount() const { return parked_.size(); }

 private:
  struct Parked {
    uint64_t session = 0;
    uint64_t clientWaiter = 0;
    InodeId ino = 0;
    uint64_t call = 0;  // which RPC the fulfiller answers (a retry takes a parked waiter over)
    kj::Own<kj::PromiseFulfiller<Status>> fulfiller;
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

  MetaServer& server_;
  Logger log_;
  LockTable table_;
  std::map<WaiterId, Parked> parked_;
  std::map<std::pair<uint64_t, uint64_t>, WaiterId> byClient_;  // (session, client waiter id)
  WaiterId nextWaiter_ = 1;
  uint64_t nextCall_ = 1;
  std::shared_ptr<LockManager*> self_;  // nulled on destruction: dropped calls must not call back
  TaskLogger taskLogger_;
  kj::TaskSet tasks_;  // commits whose callers are waiters (answered from the task itself)
};

}  // namespace basalt::meta
