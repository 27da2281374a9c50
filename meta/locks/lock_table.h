// The lock table: POSIX/OFD record locks and flock(2) locks of every inode, with the queue of
// blocked requests, as pure domain logic (no RPC, no storage). The metadata server's lock commands
// call it; it answers which requests are granted, which must wait, and which waiters an operation
// granted or cancelled, so the caller can complete their parked RPCs.
//
// Semantics (Linux, plus FIFO fairness):
//  - Record locks (owner kind kPosix or kOfd): byte ranges, F_RDLCK/F_WRLCK/F_UNLCK. An owner's
//    new lock replaces its own overlapping locks (upgrade/downgrade in place, middle unlock
//    splits); touching ranges of one owner and one type coalesce. Locks of one owner never conflict
//    with each other; locks of different owners conflict when they overlap and one is a write lock.
//    POSIX and OFD owners are different owners even with equal numbers, so they conflict.
//  - flock locks (kind kFlock) cover the whole file in a namespace of their own. A conversion
//    (SH<->EX) that can be granted at once happens in place (on Linux no woken waiter can slip in
//    between either). One that is blocked first drops the owner's old lock, as Linux does: a
//    failed LOCK_NB conversion leaves the owner with no lock, a blocking one waits without it, and
//    the drop may grant waiters. Dropping is what keeps two SH holders that both convert to EX
//    from deadlocking (flock waits are not checked for deadlocks).
//  - Fairness: waiters of an inode form one FIFO queue per namespace. A request (new or queued) is
//    blocked by a conflicting held lock of another owner, and by a conflicting EARLIER waiter of
//    another owner, so later readers never overtake a queued writer. One exception keeps fairness
//    from inventing deadlocks Linux would not have: a request of owner O is not held back by an
//    earlier waiter that is itself waiting, directly or through earlier waiters of the same inode,
//    for O (typically: O holds a read lock, a writer queued behind it, and O upgrades).
//  - Non-blocking requests that are blocked fail with EAGAIN. Blocking ones are queued, except a
//    POSIX request that would close a cycle of POSIX owners waiting for each other (through held
//    locks or the queue, across inodes) fails with EDEADLK. As on Linux, OFD and flock requests
//    are not checked (their owners are not processes). The check runs when a request would queue,
//    and again for the waiters of an inode after every change there: when a grant closes a cycle
//    of POSIX waiters (possible when an owner has several blocked threads), the newest waiter of
//    the cycle fails with EDEADLK (Wakeups::deadlocked). Linux leaves such cycles hanging.
//    Fairness can still turn inconsistent lock ordering across inodes into a wait that Linux would
//    have granted (a reader behind a queued writer that waits for the reader's own lock on another
//    inode): for POSIX owners that is reported as EDEADLK, for OFD/flock owners it waits.
//  - F_GETLK reports only held locks (of other owners), never waiters.
//
// Cost: a lock or unlock on an inode with k held locks and n waiters is O(k + owners log k + n^2)
// (the n^2 is the fairness analysis of the queue, which is short in practice). When the inode has
// blocked POSIX requests, the cycle check adds a walk of the waits-for graph per such waiter,
// O(all waiters + the queues it visits).
//
// State that matters for persistence is the held locks; encodeInode/restoreInode serialise them
// deterministically (lock_codec.cc). Waiters are not persisted: they are in-flight calls.
//
// Thread-safety: none. Owned and used only by the metadata server's loop thread.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "meta/locks/lock_ranges.h"
#include "meta/locks/lock_types.h"

namespace basalt::meta {

class LockTable {
 public:
  // fcntl F_SETLK / F_SETLKW / F_OFD_SETLK(W). Requires req.owner.kind != kFlock (else EINVAL).
  // type kUnlock never blocks and never queues. A blocking request that is blocked is queued as
  // req.waiterId (EEXIST if that id is live) unless it would deadlock (EDEADLK, POSIX only).
  LockOutcome setLock(InodeId ino, const LockRequest& req);

  // flock(2). Requires req.owner.kind == kFlock (else EINVAL); req.range is ignored. LOCK_UN is
  // kUnlock. Asking again for the type already held succeeds without change; a blocked conversion
  // drops the old lock first (see above), so `wakeups` may be non-empty even when error == EAGAIN.
  LockOutcome flock(InodeId ino, const LockRequest& req);

  // fcntl F_GETLK / F_OFD_GETLK: would `owner` be granted `type` over `range`, looking only at held
  // record locks? Returns EINVAL when type is kUnlock or owner is a flock owner, else 0 and sets
  // *conflict to the conflicting lock of another owner with the lowest start (ties: lowest owner),
  // or to nullopt when there is none.
  int getLock(InodeId ino, const LockOwner& owner, ByteRange range, LockType type,
              std::optional<HeldLock>* conflict) const;

  // The caller's blocked call was interrupted (EINTR) or abandoned: forget the waiter. Removing
  // it may let later waiters through; they are returned as granted. Unknown id: no-op.
  Wakeups cancelWaiter(WaiterId id);

  // Drops every lock `owner` holds on `ino` in its namespace: for close(2)/flush (kPosix owner)
  // and for the last close of an open file description (its kFlock and kOfd owners). The owner's
  // waiters stay queued (a thread of the process may still be blocked). Returns waiters granted.
  Wakeups releaseOwner(InodeId ino, const LockOwner& owner);

  // The session's lease expired: its waiters are cancelled (returned in `cancelled`, by id) and all
  // locks of all its owners dropped; returns the waiters of other sessions granted as a result.
  Wakeups releaseSession(uint64_t session);

  // The inode was reclaimed: all its locks go and all its waiters are cancelled.
  Wakeups releaseInode(InodeId ino);

  // Observable state. Held locks of `ino` (both namespaces), sorted by (owner, start).
  std::vector<HeldLock> locksOf(InodeId ino) const;
  // Inodes with at least one held lock or waiter, ascending.
  std::vector<InodeId> inodesWithLocks() const;
  // Inodes where the session holds a lock or has a waiter, ascending (what releaseSession will
  // touch; the caller persists those inodes afterwards).
  std::vector<InodeId> inodesOfSession(uint64_t session) const;
  bool hasWaiter(WaiterId id) const { return waiters_.count(id) != 0; }
  // Whether `ino` has any held lock or waiter.
  bool inUse(InodeId ino) const { return inodes_.count(ino) != 0; }
  size_t waiterCount() const { return waiters_.size(); }

  // Serialisation of one inode's held locks (format in lock_codec.cc). Deterministic: equal states
  // give equal bytes. An inode without locks encodes to a valid empty record.
  std::string encodeInode(InodeId ino) const;
  // Replaces the held locks of `ino` by the decoded ones. Returns EINVAL if `bytes` is malformed or
  // describes an impossible state (overlapping or uncoalesced ranges of one owner, conflicting
  // owners, partial flock ranges), EBUSY if the inode has waiters; the table is then unchanged.
  int restoreInode(InodeId ino, const std::string& bytes);

  // Verifies every invariant: per owner, ranges sorted, disjoint, coalesced; flock locks
  // whole-file; no two owners' held locks conflict; queues and the waiter index agree; every waiter
  // is really blocked (nothing that could be granted is left waiting); no cycle among POSIX
  // waiters; the session index is exact; no empty inode entry. Returns "" or a description of the
  // first violation. O(everything); meant for tests.
  std::string checkInvariants() const;

 private:
  friend struct LockTableTestAccess;  // tests corrupt state on purpose to test checkInvariants

  // One namespace (record or flock) of one inode.
  struct Space {
    std::map<LockOwner, OwnerRanges> held;  // no empty vectors
    std::vector<WaiterId> queue;            // FIFO
    bool empty() const { return held.empty() && queue.empty(); }
  };
  struct InodeLocks {
    Space record;
    Space flock;
    bool empty() const { return record.empty() && flock.empty(); }
  };
  struct Waiter {
    InodeId ino = 0;
    LockRequest req;
  };

  static Space& spaceFor(InodeLocks& locks, const LockOwner& owner) {
    return owner.isRecord() ? locks.record : locks.flock;
  }
  static const Space& spaceFor(const InodeLocks& locks, const LockOwner& owner) {
    return owner.isRecord() ? locks.record : locks.flock;
  }

  // For each request of `queue` (in order), the owners that directly block it: holders of
  // conflicting locks and owners of non-exempt conflicting earlier requests (see the fairness rule
  // above). Empty set = grantable.
  static std::vector<std::set<LockOwner>> blockersOf(const Space& space,
                                                     const std::vector<const LockRequest*>& queue);
  // One step of blockersOf: the blockers of `r` given the earlier requests still waiting and
  // their dependency sets (owners each waits for, directly or through earlier waiters); sets
  // *dep to r's dependency set.
  static std::set<LockOwner> blockersAfter(const Space& space,
                                           const std::vector<const LockRequest*>& earlier,
                                           const std::vector<std::set<LockOwner>>& earlierDeps,
                                           const LockRequest& r, std::set<LockOwner>* dep);
  std::vector<const LockRequest*> queuedRequests(const Space& space) const;
  // Owners that block `req` if it were appended to the queue of `space`.
  std::set<LockOwner> blockersOfNew(const Space& space, const LockRequest& req) const;
  bool wouldDeadlock(const LockRequest& req, const std::set<LockOwner>& blockers) const;
  // Grants every waiter of `space` that is no longer blocked, in FIFO order, until none is left.
  void grantWaiters(Space& space, Wakeups* out);
  // Fails POSIX waiters of `ino` that sit on a cycle, newest first, until no cycle is left
  // (granting what their removal unblocks). Every cycle a change of `ino` can close passes
  // through a waiter of `ino`, so calling this after each change keeps the table cycle-free.
  void breakCycles(InodeId ino, Wakeups* out);
  // Common path of setLock and flock once the request is validated.
  LockOutcome acquire(InodeId ino, const LockRequest& req, Wakeups wakeups);
  // Drops the inode entry if empty and recomputes whether `session` still appears on `ino`.
  void tidy(InodeId ino, uint64_t session);
  void tidy(InodeId ino, const std::set<uint64_t>& sessions);
  static std::set<uint64_t> sessionsOn(const InodeLocks& locks,
                                       const std::map<WaiterId, Waiter>& waiters);
  // "" when the held locks of `space` are well-formed (see checkInvariants) and no two owners'
  // locks conflict; `flock` says which namespace the space is.
  static std::string heldViolation(const Space& space, bool flock);

  std::map<InodeId, InodeLocks> inodes_;                 // no empty entries
  std::map<WaiterId, Waiter> waiters_;                   // every queued waiter
  std::map<uint64_t, std::set<InodeId>> sessionInodes_;  // session -> inodes it appears on
};

}  // namespace basalt::meta
