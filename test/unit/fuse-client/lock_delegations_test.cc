#include "fuse-client/lock_delegations.h"

#include <doctest/doctest.h>
#include <kj/async.h>

using namespace basalt;
using namespace basalt::client;

namespace {

const kj::TimePoint kT0 = kj::origin<kj::TimePoint>() + 1000 * kj::SECONDS;

meta::LockRequest lock(uint64_t owner, meta::LockType type, uint64_t start, uint64_t end) {
  meta::LockRequest r;
  r.owner = meta::LockOwner{0, owner, meta::OwnerKind::kPosix};
  r.type = type;
  r.range = meta::ByteRange{start, end};
  r.pid = static_cast<uint32_t>(owner);
  return r;
}

}  // namespace

TEST_CASE("locks decided under a delegation follow the lock table, owned by this mount's session") {
  LockDelegations d;
  d.useSession(7);
  CHECK(!d.holds(5));
  REQUIRE(d.adopt(5, 100, kT0));
  CHECK(d.generationOf(5) == 100);
  Credentials cred;
  cred.uid = 1000;
  CHECK(d.setLock(5, lock(1, meta::LockType::kWrite, 0, 99), cred, kT0).error == 0);
  CHECK(d.setLock(5, lock(2, meta::LockType::kRead, 50, 60), cred, kT0).error == EAGAIN);
  // A blocking request never waits here: it is refused, and the caller gives the delegation back.
  auto blocking = lock(2, meta::LockType::kRead, 50, 60);
  blocking.wait = true;
  auto out = d.setLock(5, blocking, cred, kT0);
  CHECK(out.error == EAGAIN);
  CHECK(!out.queued);
  std::optional<meta::HeldLock> conflict;
  REQUIRE(d.getLock(5, meta::LockOwner{0, 2, meta::OwnerKind::kPosix}, meta::ByteRange{0, 10}, meta::LockType::kRead,
                    &conflict) == 0);
  REQUIRE(conflict);
  CHECK(conflict->owner.session == 7);
  CHECK(conflict->pid == 1);
  CHECK(d.credOf(5).uid == 1000);
  d.releaseOwner(5, meta::LockOwner{0, 1, meta::OwnerKind::kPosix});
  CHECK(!d.hasLocks(5));
  CHECK(d.setLock(5, lock(2, meta::LockType::kRead, 50, 60), cred, kT0).error == 0);
}

TEST_CASE("a delegation is handed over once, with its locks; its generation is never taken again") {
  LockDelegations d;
  d.useSession(7);
  REQUIRE(d.adopt(5, 100, kT0));
  REQUIRE(d.setLock(5, lock(1, meta::LockType::kWrite, 0, 99), Credentials(), kT0).error == 0);
  auto state = d.take(5, 100);
  REQUIRE(state);
  meta::LockTable check;
  REQUIRE(check.restoreInode(5, *state) == 0);
  REQUIRE(check.locksOf(5).size() == 1);
  CHECK(check.locksOf(5)[0].owner.session == 7);
  CHECK(!d.holds(5));
  CHECK(!d.adopt(5, 100, kT0));  // an answer that was on its way: refused, the call goes to the server
  CHECK(d.take(5, 100) == state);  // a server that restarted before committing it asks again: same answer
  // A recall of a generation not seen yet: nothing to hand over, and its late grant is refused.
  CHECK(!d.take(6, 200));
  CHECK(!d.adopt(6, 200, kT0));
  CHECK(d.adopt(6, 201, kT0));
}

TEST_CASE("a new session drops every delegation; idle ones are listed; hand-overs make calls wait") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  LockDelegations d;
  d.useSession(7);
  REQUIRE(d.adopt(5, 100, kT0));
  REQUIRE(d.adopt(6, 101, kT0 + 5 * kj::SECONDS));
  REQUIRE(d.setLock(6, lock(1, meta::LockType::kRead, 0, 0), Credentials(), kT0 + 5 * kj::SECONDS).error == 0);
  REQUIRE(d.adopt(8, 102, kT0 + 20 * kj::SECONDS));
  // 5 unused since kT0; 6 holds a lock; 8 was used recently.
  CHECK(d.idleSince(kT0 + 10 * kj::SECONDS) == std::vector<uint64_t>{5});

  d.beginHandover(5);
  CHECK(d.handingOver(5));
  CHECK(d.idleSince(kT0 + 10 * kj::SECONDS).empty());
  auto settled = d.whenSettled(5);
  CHECK(!settled.poll(ws));
  CHECK(d.whenSettled(6).poll(ws));
  d.endHandover(5);
  CHECK(settled.poll(ws));
  CHECK(!d.handingOver(5));

  d.useSession(8);
  CHECK(d.count() == 0);
  CHECK(!d.holds(6));
  CHECK(d.adopt(6, 101, kT0));  // generations of the old session are forgotten with it
}
