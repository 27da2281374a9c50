// Blocking requests: FIFO fairness, grants on release, cancellation, deadlock detection, and random
// blocking workloads with the invariant checker after every operation.
#include <doctest/doctest.h>

#include <cerrno>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "meta/locks/lock_table.h"

using namespace basalt::meta;

namespace {

constexpr uint64_t kEof = ByteRange::kToEof;
const auto R = LockType::kRead;
const auto W = LockType::kWrite;
const auto U = LockType::kUnlock;

LockOwner posix(uint64_t session, uint64_t id) {
  return LockOwner{session, id, OwnerKind::kPosix};
}

LockRequest req(LockOwner o, uint64_t start, uint64_t end, LockType type, WaiterId waitAs = 0) {
  LockRequest r;
  r.owner = o;
  r.range = ByteRange{start, end};
  r.type = type;
  r.wait = waitAs != 0;
  r.waiterId = waitAs;
  return r;
}

LockOutcome lock(LockTable& t, InodeId ino, const LockRequest& r) {
  LockOutcome out = t.setLock(ino, r);
  REQUIRE(t.checkInvariants() == "");
  return out;
}

using Ids = std::vector<WaiterId>;

}  // namespace

TEST_CASE("a queued writer is not overtaken by later readers") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 1), c = posix(3, 1);
  CHECK(lock(t, 1, req(a, 0, 9, R)).error == 0);
  LockOutcome wq = lock(t, 1, req(b, 0, 9, W, 100));
  CHECK((wq.error == 0 && wq.queued));
  CHECK(lock(t, 1, req(c, 5, 5, R)).error == EAGAIN);  // would overtake the writer
  CHECK(lock(t, 1, req(c, 20, 29, R)).error == 0);     // elsewhere: no conflict
  LockOutcome rq = lock(t, 1, req(c, 0, 9, R, 101));
  CHECK(rq.queued);
  CHECK(t.waiterCount() == 2);

  LockOutcome un = lock(t, 1, req(a, 0, kEof, U));
  CHECK(un.wakeups.granted == Ids{100});
  CHECK(t.hasWaiter(101));
  un = lock(t, 1, req(b, 0, kEof, U));
  CHECK(un.wakeups.granted == Ids{101});
  CHECK(t.waiterCount() == 0);
  CHECK(t.locksOf(1) == std::vector<HeldLock>{HeldLock{c, ByteRange{0, 9}, R, 0},
                                              HeldLock{c, ByteRange{20, 29}, R, 0}});
}

TEST_CASE("an owner upgrading past a writer that waits for it is not held back") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 1), c = posix(3, 1);
  CHECK(lock(t, 1, req(a, 0, 9, R)).error == 0);
  CHECK(lock(t, 1, req(b, 0, 9, W, 100)).queued);
  CHECK(lock(t, 1, req(c, 0, 9, R, 101)).queued);  // waits behind the writer
  // a holds what b waits for, and c waits behind b: a queuing behind either would deadlock.
  CHECK(lock(t, 1, req(a, 0, 9, W)).error == 0);
  LockOutcome un = lock(t, 1, req(a, 0, 9, U));
  CHECK(un.wakeups.granted == Ids{100});
  CHECK(lock(t, 1, req(b, 0, 9, U)).wakeups.granted == Ids{101});
}

TEST_CASE("readers queued behind a writer are granted together") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 1), c = posix(3, 1), d = posix(4, 1);
  CHECK(lock(t, 1, req(a, 0, 9, W)).error == 0);
  CHECK(lock(t, 1, req(b, 0, 9, R, 1)).queued);
  CHECK(lock(t, 1, req(c, 5, 14, R, 2)).queued);
  CHECK(lock(t, 1, req(d, 0, 0, W, 3)).queued);
  CHECK(lock(t, 1, req(a, 0, 9, U)).wakeups.granted == Ids{1, 2});
  CHECK(t.hasWaiter(3));
}

TEST_CASE("closing, session expiry and inode reclaim release locks and wake waiters") {
  LockTable t;
  LockOwner a = posix(1, 1), a2 = posix(1, 2), a3 = posix(1, 3), b = posix(2, 1);
  CHECK(lock(t, 1, req(a, 0, 9, W)).error == 0);
  CHECK(lock(t, 1, req(b, 0, 9, W, 10)).queued);
  CHECK(t.releaseOwner(1, a).granted == Ids{10});
  CHECK(t.checkInvariants() == "");

  CHECK(lock(t, 2, req(a, 0, 0, R)).error == 0);
  CHECK(lock(t, 3, req(a2, 0, 0, W)).error == 0);
  CHECK(lock(t, 2, req(b, 0, 0, W, 11)).queued);
  CHECK(lock(t, 3, req(b, 0, 0, R, 12)).queued);
  CHECK(lock(t, 1, req(a3, 0, 0, R, 13)).queued);  // session 1 also waits on inode 1
  CHECK(t.inodesOfSession(1) == std::vector<InodeId>{1, 2, 3});
  Wakeups w = t.releaseSession(1);
  CHECK(t.checkInvariants() == "");
  CHECK(w.cancelled == Ids{13});
  CHECK(w.granted == Ids{11, 12});
  CHECK(t.inodesOfSession(1).empty());
  CHECK(t.inodesOfSession(2) == std::vector<InodeId>{1, 2, 3});

  CHECK(lock(t, 1, req(a, 0, 0, R, 14)).queued);
  w = t.releaseInode(1);
  CHECK(t.checkInvariants() == "");
  CHECK(w.cancelled == Ids{14});
  CHECK(w.granted.empty());
  CHECK(t.locksOf(1).empty());
  CHECK(t.inodesWithLocks() == std::vector<InodeId>{2, 3});
  CHECK(t.inodesOfSession(1).empty());
}

TEST_CASE("cancelling a waiter removes it and grants those it held back") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 1), c = posix(3, 1);
  CHECK(lock(t, 1, req(a, 0, 9, R)).error == 0);
  CHECK(lock(t, 1, req(b, 0, 9, W, 7)).queued);
  CHECK(lock(t, 1, req(c, 0, 9, R, 8)).queued);
  CHECK(lock(t, 1, req(c, 0, 9, R, 7)).error == EEXIST);
  Wakeups w = t.cancelWaiter(7);
  CHECK(t.checkInvariants() == "");
  CHECK(w.granted == Ids{8});
  CHECK_FALSE(t.hasWaiter(7));
  CHECK(t.cancelWaiter(7).granted.empty());  // unknown id: no-op
  CHECK(t.locksOf(1).size() == 2);
}

TEST_CASE("a two-owner cycle is refused with EDEADLK") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 1);
  CHECK(lock(t, 1, req(a, 0, 0, W)).error == 0);
  CHECK(lock(t, 1, req(b, 10, 10, W)).error == 0);
  CHECK(lock(t, 1, req(a, 10, 10, W, 1)).queued);
  LockOutcome out = lock(t, 1, req(b, 0, 0, R, 2));
  CHECK(out.error == EDEADLK);
  CHECK_FALSE(t.hasWaiter(2));
  CHECK(lock(t, 1, req(b, 0, 0, R)).error == EAGAIN);
  CHECK(t.releaseOwner(1, b).granted == Ids{1});
}

TEST_CASE("a three-owner cycle across two inodes is refused with EDEADLK") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 1), c = posix(3, 1);
  CHECK(lock(t, 1, req(a, 0, 0, W)).error == 0);
  CHECK(lock(t, 2, req(b, 0, 0, W)).error == 0);
  CHECK(lock(t, 1, req(c, 10, 10, R)).error == 0);
  CHECK(lock(t, 2, req(a, 0, 0, W, 1)).queued);            // a waits for b (inode 2)
  CHECK(lock(t, 1, req(b, 10, 10, W, 2)).queued);          // b waits for c (inode 1)
  CHECK(lock(t, 1, req(c, 0, 0, R, 3)).error == EDEADLK);  // c would wait for a
  CHECK(lock(t, 1, req(c, 1, 1, R, 3)).error == 0);
  // Breaking the chain at b lets a through.
  CHECK(t.cancelWaiter(2).granted.empty());
  CHECK(t.releaseOwner(2, b).granted == Ids{1});
  CHECK(t.checkInvariants() == "");
}

TEST_CASE("waiting behind another lock owner of the same session is not a deadlock") {
  LockTable t;
  LockOwner a = posix(1, 1), a2 = posix(1, 2), b = posix(2, 1);
  CHECK(lock(t, 1, req(a, 0, 0, W)).error == 0);
  CHECK(lock(t, 1, req(a2, 0, 0, R, 1)).queued);  // a2 waits for a, same session
  CHECK(lock(t, 1, req(b, 10, 10, W)).error == 0);
  CHECK(lock(t, 1, req(b, 0, 0, R, 2)).queued);  // b waits for a
  // a2 -> b -> a is a chain, not a cycle, although sessions 1 -> 2 -> 1 would look like one.
  LockOutcome out = lock(t, 1, req(a2, 10, 10, R, 3));
  CHECK(out.error == 0);
  CHECK(out.queued);
  CHECK(t.releaseOwner(1, a).granted == Ids{1, 2});
  CHECK(t.releaseOwner(1, b).granted == Ids{3});
}

TEST_CASE("a cycle closed by a grant fails its newest waiter with EDEADLK") {
  LockTable t;
  LockOwner p = posix(1, 1), q = posix(2, 1), c = posix(3, 1);
  CHECK(lock(t, 1, req(p, 3, 5, R)).error == 0);
  CHECK(lock(t, 1, req(p, 6, 6, W)).error == 0);
  CHECK(lock(t, 1, req(c, 3, 3, R)).error == 0);
  CHECK(lock(t, 1, req(q, 5, 7, R, 1)).queued);  // q waits for p's write lock
  CHECK(lock(t, 1, req(q, 4, 5, W, 2)).queued);  // another thread of q waits for p's read lock
  CHECK(lock(t, 1, req(p, 3, 5, W, 3)).queued);  // p waits for c (q's waiters wait for p)
  // p's downgrade grants q's read lock; now p waits for q and q (waiter 2) waits for p.
  LockOutcome out = lock(t, 1, req(p, 6, 6, R));
  CHECK(out.error == 0);
  CHECK(out.wakeups.granted == Ids{1});
  CHECK(out.wakeups.deadlocked == Ids{3});
  CHECK(t.hasWaiter(2));
}

TEST_CASE("a writer queued behind a waiting writer of the same byte counts in deadlock checks") {
  // b waits for a and, by FIFO order, behind a2's earlier write request; a2 asking for what b
  // holds would wait for ever once a lets go and a2's write is granted ahead of b.
  LockTable t;
  LockOwner a = posix(1, 1), a2 = posix(1, 2), b = posix(2, 1);
  CHECK(lock(t, 1, req(a, 0, 0, W)).error == 0);
  CHECK(lock(t, 1, req(a2, 0, 0, W, 1)).queued);
  CHECK(lock(t, 1, req(b, 10, 10, W)).error == 0);
  CHECK(lock(t, 1, req(b, 0, 0, R, 2)).queued);
  CHECK(lock(t, 1, req(a2, 10, 10, R, 3)).error == EDEADLK);
}

TEST_CASE("OFD and flock waiters take no part in deadlock detection, as on Linux") {
  LockTable t;
  LockOwner a{1, 1, OwnerKind::kOfd}, b{2, 1, OwnerKind::kOfd};
  CHECK(lock(t, 1, req(a, 0, 0, W)).error == 0);
  CHECK(lock(t, 1, req(b, 10, 10, W)).error == 0);
  CHECK(lock(t, 1, req(a, 10, 10, W, 1)).queued);
  CHECK(lock(t, 1, req(b, 0, 0, W, 2)).queued);  // a real cycle, not reported
  CHECK(t.cancelWaiter(2).granted.empty());
  CHECK(t.releaseOwner(1, b).granted == Ids{1});
}

// ---- Random blocking workloads ------------------------------------------------------------------

TEST_CASE("random blocking workloads keep every invariant and account for every waiter") {
  std::mt19937_64 rng(777);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const std::vector<LockOwner> owners = {posix(1, 1),
                                         posix(1, 2),
                                         posix(2, 1),
                                         posix(3, 1),
                                         LockOwner{2, 5, OwnerKind::kOfd},
                                         LockOwner{1, 9, OwnerKind::kFlock},
                                         LockOwner{3, 9, OwnerKind::kFlock}};
  LockTable t;
  std::map<WaiterId, LockRequest> live;  // what the test believes is queued
  std::map<WaiterId, InodeId> liveIno;
  WaiterId nextId = 1;
  int queued = 0, deadlocks = 0, grantedCount = 0, cancelledCount = 0, lateDeadlocks = 0;

  auto account = [&](const Wakeups& w, const LockOwner* actor) {
    std::map<LockOwner, int> perOwner;
    for (WaiterId id : w.granted) perOwner[live.at(id).owner]++;
    for (WaiterId id : w.granted) {
      REQUIRE(live.count(id) == 1);
      REQUIRE_FALSE(t.hasWaiter(id));
      const LockRequest& r = live.at(id);
      // The grant is visible: the owner holds the requested type over the whole range (unless the
      // same operation changed that owner's locks again).
      if (perOwner[r.owner] == 1 && (actor == nullptr || *actor != r.owner)) {
        uint64_t covered = 0;
        for (const HeldLock& h : t.locksOf(liveIno.at(id))) {
          if (h.owner == r.owner && h.type == r.type && h.range.overlaps(r.range)) {
            uint64_t lo = std::max(h.range.start, r.range.start);
            uint64_t hi = std::min(h.range.end, r.range.end);
            covered += hi - lo + 1;
          }
        }
        REQUIRE(covered == r.range.end - r.range.start + 1);
      }
      live.erase(id);
      ++grantedCount;
    }
    for (WaiterId id : w.cancelled) {
      REQUIRE(live.erase(id) == 1);
      REQUIRE_FALSE(t.hasWaiter(id));
      ++cancelledCount;
    }
    for (WaiterId id : w.deadlocked) {
      REQUIRE(live.at(id).owner.kind == OwnerKind::kPosix);
      REQUIRE(live.erase(id) == 1);
      REQUIRE_FALSE(t.hasWaiter(id));
      ++lateDeadlocks;
    }
  };

  for (int op = 0; op < 6000; ++op) {
    CAPTURE(op);
    const LockOwner& o = owners[static_cast<size_t>(pick(static_cast<int>(owners.size())))];
    InodeId ino = 1 + static_cast<InodeId>(pick(2));
    uint64_t start = static_cast<uint64_t>(pick(8));
    uint64_t end = pick(4) == 0 ? kEof : start + static_cast<uint64_t>(pick(3));
    int kind = pick(100);
    if (kind < 70) {
      LockType type = kind < 10 ? U : (pick(2) == 0 ? R : W);
      bool wait = pick(3) != 0;
      LockRequest r = req(o, start, end, type, wait ? nextId : 0);
      LockOutcome out = o.isRecord() ? t.setLock(ino, r) : t.flock(ino, r);
      if (!o.isRecord()) r.range = ByteRange{0, kEof};
      account(out.wakeups, &o);
      if (out.queued) {
        REQUIRE(out.error == 0);
        REQUIRE(t.hasWaiter(nextId));
        live[nextId] = r;
        liveIno[nextId] = ino;
        ++queued;
      } else {
        REQUIRE_FALSE(t.hasWaiter(nextId));
        if (out.error == EDEADLK) {
          REQUIRE(o.kind == OwnerKind::kPosix);
          ++deadlocks;
        } else {
          REQUIRE((out.error == 0 || (out.error == EAGAIN && !wait)));
        }
      }
      ++nextId;
    } else if (kind < 82 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, pick(static_cast<int>(live.size())));
      WaiterId id = it->first;
      Wakeups w = t.cancelWaiter(id);
      live.erase(id);
      REQUIRE_FALSE(t.hasWaiter(id));
      account(w, nullptr);
    } else if (kind < 97) {
      account(t.releaseOwner(ino, o), &o);
    } else {
      account(t.releaseSession(o.session), nullptr);
    }
    REQUIRE(t.checkInvariants() == "");
    REQUIRE(t.waiterCount() == live.size());
    for (const auto& entry : live) REQUIRE(t.hasWaiter(entry.first));
  }
  CHECK(queued > 500);
  CHECK(grantedCount > 200);
  CHECK(cancelledCount > 20);
  CHECK(deadlocks > 5);
  MESSAGE("queued ", queued, ", granted ", grantedCount, ", cancelled ", cancelledCount,
          ", EDEADLK at request ", deadlocks, ", EDEADLK after a grant ", lateDeadlocks);
}
