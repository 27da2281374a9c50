// flock(2) locks, the persistence codec, and the invariant checker catching corrupted state.
#include <doctest/doctest.h>

#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "meta/locks/lock_table.h"

namespace basalt::meta {
// Reaches into the table to corrupt it on purpose (declared a friend in lock_table.h).
struct LockTableTestAccess {
  static void addHeld(LockTable& t, InodeId ino, const LockOwner& o, HeldRange h) {
    LockTable::Space& s = LockTable::spaceFor(t.inodes_[ino], o);
    s.held[o].push_back(h);
    t.sessionInodes_[o.session].insert(ino);
  }
  static void addWaiter(LockTable& t, InodeId ino, WaiterId id, const LockRequest& r) {
    LockTable::spaceFor(t.inodes_[ino], r.owner).queue.push_back(id);
    t.waiters_[id] = LockTable::Waiter{ino, r};
    t.sessionInodes_[r.owner.session].insert(ino);
  }
  static void forgetSessionIndex(LockTable& t) { t.sessionInodes_.clear(); }
};
}  // namespace basalt::meta

using namespace basalt::meta;

namespace {

constexpr uint64_t kEof = ByteRange::kToEof;
const auto SH = LockType::kRead;
const auto EX = LockType::kWrite;
const auto UN = LockType::kUnlock;
using Ids = std::vector<WaiterId>;

LockOwner fd(uint64_t session, uint64_t id) {
  return LockOwner{session, id, OwnerKind::kFlock};
}
LockOwner posix(uint64_t session, uint64_t id) {
  return LockOwner{session, id, OwnerKind::kPosix};
}

LockOutcome flock(LockTable& t, const LockOwner& o, LockType type, WaiterId waitAs = 0) {
  LockRequest r;
  r.owner = o;
  r.type = type;
  r.wait = waitAs != 0;
  r.waiterId = waitAs;
  LockOutcome out = t.flock(7, r);
  REQUIRE(t.checkInvariants() == "");
  return out;
}

LockRequest rec(LockOwner o, uint64_t start, uint64_t end, LockType type, uint32_t pid = 0) {
  LockRequest r;
  r.owner = o;
  r.range = ByteRange{start, end};
  r.type = type;
  r.pid = pid;
  return r;
}

}  // namespace

TEST_CASE("flock shared locks coexist, an exclusive one excludes, unlock releases") {
  LockTable t;
  LockOwner a = fd(1, 1), b = fd(1, 2), c = fd(2, 1);
  CHECK(flock(t, a, SH).error == 0);
  CHECK(flock(t, b, SH).error == 0);
  CHECK(flock(t, c, EX).error == EAGAIN);
  LockOutcome q = flock(t, c, EX, 5);
  CHECK((q.error == 0 && q.queued));
  CHECK(flock(t, a, UN).wakeups.granted.empty());
  CHECK(flock(t, b, UN).wakeups.granted == Ids{5});
  CHECK(t.locksOf(7) == std::vector<HeldLock>{HeldLock{c, ByteRange{0, kEof}, EX, 0}});
  CHECK(flock(t, a, SH).error == EAGAIN);
  CHECK(t.releaseOwner(7, c).granted.empty());  // last close of c's open file description
  CHECK(t.locksOf(7).empty());
  CHECK(flock(t, a, UN).error == 0);                      // unlocking nothing is fine
  CHECK(t.setLock(7, rec(a, 0, 1, EX)).error == EINVAL);  // a flock owner in the record API
  CHECK(t.flock(7, rec(posix(1, 1), 0, 1, EX)).error == EINVAL);
}

TEST_CASE("flock locks and POSIX record locks live in separate namespaces") {
  LockTable t;
  CHECK(t.setLock(7, rec(posix(1, 1), 0, kEof, EX)).error == 0);
  CHECK(flock(t, fd(2, 1), EX).error == 0);
  CHECK(t.setLock(7, rec(posix(3, 1), 0, 0, SH)).error == EAGAIN);
  CHECK(flock(t, fd(3, 1), SH).error == EAGAIN);
  CHECK(t.releaseOwner(7, posix(1, 1)).granted.empty());
  CHECK(flock(t, fd(3, 1), SH).error == EAGAIN);  // still the flock
  CHECK(t.setLock(7, rec(posix(3, 1), 0, 0, SH)).error == 0);
}

TEST_CASE("a flock conversion drops the old lock first, as Linux does") {
  LockTable t;
  LockOwner a = fd(1, 1), b = fd(2, 1);
  CHECK(flock(t, a, SH).error == 0);
  CHECK(flock(t, a, SH).error == 0);  // already held: no change
  CHECK(flock(t, b, SH).error == 0);
  // A failed non-blocking conversion leaves the owner without its shared lock.
  CHECK(flock(t, a, EX).error == EAGAIN);
  CHECK(t.locksOf(7) == std::vector<HeldLock>{HeldLock{b, ByteRange{0, kEof}, SH, 0}});

  // Two shared holders converting to exclusive do not deadlock: the first one's blocked
  // conversion drops its shared lock, so the second converts at once (as on Linux).
  CHECK(flock(t, a, SH).error == 0);
  CHECK(flock(t, a, EX, 1).queued);
  LockOutcome second = flock(t, b, EX, 2);
  CHECK((second.error == 0 && !second.queued));
  CHECK(second.wakeups.granted.empty());
  CHECK(flock(t, b, UN).wakeups.granted == Ids{1});

  // A conversion that can be granted happens in place: the downgrade keeps a shared lock although
  // an exclusive request waits for it.
  CHECK(flock(t, b, EX, 2).queued);
  LockOutcome down = flock(t, a, SH);
  CHECK((down.error == 0 && down.wakeups.granted.empty()));
  CHECK(t.locksOf(7) == std::vector<HeldLock>{HeldLock{a, ByteRange{0, kEof}, SH, 0}});
  CHECK(flock(t, a, UN).wakeups.granted == Ids{2});

  // A downgrade lets queued shared requests in.
  LockOwner c = fd(3, 1);
  CHECK(flock(t, c, SH, 3).queued);
  CHECK(flock(t, b, SH).wakeups.granted == Ids{3});
}

TEST_CASE("encode and decode round-trip every state exactly") {
  std::mt19937_64 rng(99);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const std::vector<LockOwner> owners = {
      posix(1, 1), posix(1, 2), posix(2, 1), LockOwner{2, 1, OwnerKind::kOfd}, fd(1, 1), fd(3, 3)};
  LockTable t;
  for (int op = 0; op < 3000; ++op) {
    const LockOwner& o = owners[static_cast<size_t>(pick(static_cast<int>(owners.size())))];
    InodeId ino = 1 + static_cast<InodeId>(pick(3));
    uint64_t start = static_cast<uint64_t>(pick(40));
    LockRequest r = rec(o, start, pick(5) == 0 ? kEof : start + static_cast<uint64_t>(pick(10)),
                        static_cast<LockType>(pick(3)), static_cast<uint32_t>(pick(1000)));
    if (o.isRecord()) {
      t.setLock(ino, r);
    } else {
      t.flock(ino, r);
    }
    if (op % 100 != 99) continue;
    LockTable copy;
    for (InodeId i : t.inodesWithLocks()) REQUIRE(copy.restoreInode(i, t.encodeInode(i)) == 0);
    REQUIRE(copy.checkInvariants() == "");
    REQUIRE(copy.inodesWithLocks() == t.inodesWithLocks());
    for (InodeId i : t.inodesWithLocks()) {
      REQUIRE(copy.locksOf(i) == t.locksOf(i));
      REQUIRE(copy.encodeInode(i) == t.encodeInode(i));
    }
    for (uint64_t s = 1; s <= 3; ++s) REQUIRE(copy.inodesOfSession(s) == t.inodesOfSession(s));
  }
  CHECK(t.inodesWithLocks().size() == 3);
}

TEST_CASE("the encoding is the documented version 1 layout") {
  LockTable t;
  REQUIRE(t.setLock(5, rec(posix(0x0102, 0x03), 0x10, kEof, EX, 0x0a0b)).error == 0);
  std::string bytes = t.encodeInode(5);
  std::string expected("\x01\x01\x00\x00\x00", 5);
  expected += std::string("\x02\x01\x00\x00\x00\x00\x00\x00", 8);  // session
  expected += std::string("\x03\x00\x00\x00\x00\x00\x00\x00", 8);  // owner id
  expected += std::string("\x00\x02", 2);                          // POSIX, write
  expected += std::string("\x10\x00\x00\x00\x00\x00\x00\x00", 8);  // start
  expected += std::string(8, '\xff');                              // end: to EOF
  expected += std::string("\x0b\x0a\x00\x00", 4);                  // pid
  CHECK(bytes == expected);
  CHECK(LockTable().encodeInode(5) == std::string("\x01\x00\x00\x00\x00", 5));
}

TEST_CASE("malformed or impossible encodings are refused and change nothing") {
  LockTable src;
  REQUIRE(src.setLock(5, rec(posix(1, 1), 0, 9, EX)).error == 0);
  REQUIRE(src.setLock(5, rec(posix(2, 1), 20, 29, SH)).error == 0);
  const std::string good = src.encodeInode(5);
  const size_t rec0 = 5, rec1 = 5 + 38;

  LockTable t;
  REQUIRE(t.setLock(5, rec(posix(9, 9), 100, 100, SH)).error == 0);
  const auto before = t.locksOf(5);
  auto refused = [&](std::string bytes) {
    CHECK(t.restoreInode(5, bytes) == EINVAL);
    CHECK(t.locksOf(5) == before);
  };
  refused("");
  refused(good.substr(0, good.size() - 1));
  refused(good + "x");
  std::string v = good;
  v[0] = 2;
  refused(v);  // unknown version
  std::string kind = good;
  kind[rec0 + 16] = 3;
  refused(kind);
  std::string type = good;
  type[rec0 + 17] = 0;
  refused(type);
  std::string conflict = good;  // second owner's range moved onto the first's write lock
  conflict[rec1 + 18] = 5;
  refused(conflict);
  std::string backwards = good;  // start > end
  backwards[rec0 + 18] = 50;
  refused(backwards);
  std::string unsorted = good.substr(0, 5) + good.substr(rec1, 38) + good.substr(rec0, 38);
  refused(unsorted);

  // Overlapping or uncoalesced ranges of one owner.
  LockTable one;
  REQUIRE(one.setLock(5, rec(posix(1, 1), 0, 9, EX)).error == 0);
  REQUIRE(one.setLock(5, rec(posix(1, 1), 11, 19, EX)).error == 0);
  std::string touching = one.encodeInode(5);
  touching[rec1 + 18] = 10;  // second starts right after the first: should have been merged
  refused(touching);
  touching[rec1 + 18] = 9;
  refused(touching);  // overlapping

  CHECK(t.restoreInode(5, good) == 0);
  CHECK(t.locksOf(5) == src.locksOf(5));
  CHECK(t.inodesOfSession(9).empty());
  CHECK(t.inodesOfSession(1) == std::vector<InodeId>{5});

  LockRequest w = rec(posix(3, 3), 0, 0, SH);
  w.wait = true;
  w.waiterId = 1;
  REQUIRE(t.setLock(5, w).queued);
  CHECK(t.restoreInode(5, good) == EBUSY);
  CHECK(t.checkInvariants() == "");
}

TEST_CASE("the invariant checker notices corrupted state") {
  SUBCASE("overlapping ranges of one owner") {
    LockTable t;
    LockTableTestAccess::addHeld(t, 1, posix(1, 1), HeldRange{0, 9, EX, 0});
    LockTableTestAccess::addHeld(t, 1, posix(1, 1), HeldRange{5, 15, SH, 0});
    CHECK(t.checkInvariants().find("overlapping") != std::string::npos);
  }
  SUBCASE("touching ranges of one type left unmerged") {
    LockTable t;
    LockTableTestAccess::addHeld(t, 1, posix(1, 1), HeldRange{0, 9, SH, 0});
    LockTableTestAccess::addHeld(t, 1, posix(1, 1), HeldRange{10, 15, SH, 0});
    CHECK(t.checkInvariants().find("not coalesced") != std::string::npos);
  }
  SUBCASE("two owners holding conflicting locks") {
    LockTable t;
    LockTableTestAccess::addHeld(t, 1, posix(1, 1), HeldRange{0, 9, SH, 0});
    LockTableTestAccess::addHeld(t, 1, posix(2, 1), HeldRange{9, 9, EX, 0});
    CHECK(t.checkInvariants().find("conflicting locks") != std::string::npos);
  }
  SUBCASE("a partial flock") {
    LockTable t;
    LockTableTestAccess::addHeld(t, 1, fd(1, 1), HeldRange{0, 9, SH, 0});
    CHECK(t.checkInvariants().find("whole file") != std::string::npos);
  }
  SUBCASE("a waiter that could be granted") {
    LockTable t;
    LockTableTestAccess::addHeld(t, 1, posix(1, 1), HeldRange{0, 9, SH, 0});
    LockTableTestAccess::addWaiter(t, 1, 3, rec(posix(2, 1), 0, 9, SH));
    CHECK(t.checkInvariants().find("could be granted") != std::string::npos);
  }
  SUBCASE("a cycle of waiting POSIX owners") {
    LockTable t;
    LockTableTestAccess::addHeld(t, 1, posix(1, 1), HeldRange{0, 0, EX, 0});
    LockTableTestAccess::addHeld(t, 1, posix(2, 1), HeldRange{5, 5, EX, 0});
    LockTableTestAccess::addWaiter(t, 1, 3, rec(posix(1, 1), 5, 5, EX));
    LockTableTestAccess::addWaiter(t, 1, 4, rec(posix(2, 1), 0, 0, EX));
    CHECK(t.checkInvariants().find("cycle") != std::string::npos);
  }
  SUBCASE("a stale session index") {
    LockTable t;
    REQUIRE(t.setLock(1, rec(posix(1, 1), 0, 0, EX)).error == 0);
    REQUIRE(t.checkInvariants() == "");
    LockTableTestAccess::forgetSessionIndex(t);
    CHECK(t.checkInvariants().find("session index") != std::string::npos);
  }
}
