// LockManager on a real MetaServer and store: grants, waits, wake-ups after the commit, cancel,
// deadlock, session expiry, and lock state across a restart of the server.
#include "meta/locks/lock_manager.h"

#include <kj/async.h>

#include "meta/meta_server.h"
#include "test/unit/meta/lock_fixture.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;


TEST_CASE("locks of different sessions conflict; a grant is durable when it is answered") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  CHECK(s.set(a, req(1, LockType::kWrite, 0, 99)) == 0);
  REQUIRE(s.stored());
  CHECK(s.stored() == s.locks().table().encodeInode(s.ino));
  // The same lock_owner number in another session is another owner.
  CHECK(s.set(b, req(1, LockType::kRead, 50, 60)) == EAGAIN);
  CHECK(s.set(b, req(1, LockType::kRead, 100, 200)) == 0);
  LockAnswer got =
      s.locks().getLock(b, s.ino, LockOwner{0, 1, OwnerKind::kPosix}, ByteRange{0, 10}, LockType::kRead).wait(s.loop.waitScope());
  REQUIRE(got.status.isOk());
  std::optional<HeldLock> conflict = got.conflict;
  REQUIRE(conflict);
  CHECK(conflict->range == ByteRange{0, 99});
  CHECK(conflict->type == LockType::kWrite);
  CHECK(conflict->pid == 1);
  CHECK(s.set(a, req(1, LockType::kUnlock, 0, 99)) == 0);
  CHECK(s.set(b, req(1, LockType::kUnlock)) == 0);
  CHECK(!s.stored());  // no locks left: no record
}

TEST_CASE("a blocked request waits and is granted, after the commit, when the holder unlocks") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  REQUIRE(s.set(a, req(1, LockType::kWrite)) == 0);
  auto w = s.start(b, req(2, LockType::kWrite, 0, ByteRange::kToEof, true), 77);
  CHECK(!w.done());
  CHECK(s.locks().parkedCount() == 1);
  CHECK(s.set(a, req(1, LockType::kUnlock)) == 0);
  REQUIRE(waitUntil(s.loop, [&] { return w.done(); }));
  CHECK(w.code() == 0);
  // What the waiter was told is on disk: b's lock alone.
  LockTable t;
  REQUIRE(t.restoreInode(s.ino, *s.stored()) == 0);
  REQUIRE(t.locksOf(s.ino).size() == 1);
  CHECK(t.locksOf(s.ino)[0].owner.session == b);
}

TEST_CASE("releasing an owner (close) wakes the waiter; cancel answers EINTR and lets the next one in") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b"), c = s.session("c");
  REQUIRE(s.set(a, req(1, LockType::kRead)) == 0);
  auto wb = s.start(b, req(2, LockType::kWrite, 0, ByteRange::kToEof, true), 1);
  auto wc = s.start(c, req(3, LockType::kRead, 0, ByteRange::kToEof, true), 1);  // FIFO: behind b
  CHECK(!wb.done());
  CHECK(!wc.done());
  CHECK(s.locks().cancel(b, 1).isOk());
  REQUIRE(waitUntil(s.loop, [&] { return wb.done() && wc.done(); }));
  CHECK(wb.code() == EINTR);
  CHECK(wc.code() == 0);
  CHECK(s.locks().cancel(b, 1).isOk());  // unknown by now: not an error
  auto wb2 = s.start(b, req(2, LockType::kWrite, 0, ByteRange::kToEof, true), 2);
  REQUIRE(s.locks().releaseOwner(a, s.ino, LockOwner{0, 1, OwnerKind::kPosix}).wait(s.loop.waitScope()).status.isOk());
  CHECK(!wb2.done());  // c still reads
  REQUIRE(s.locks().releaseOwner(c, s.ino, LockOwner{0, 3, OwnerKind::kPosix}).wait(s.loop.waitScope()).status.isOk());
  REQUIRE(waitUntil(s.loop, [&] { return wb2.done(); }));
  CHECK(wb2.code() == 0);
  CHECK(s.locks().table().checkInvariants() == "");
}

TEST_CASE("a wait that would close a cycle of two owners fails with EDEADLK") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  REQUIRE(s.set(a, req(1, LockType::kWrite, 0, 9)) == 0);
  REQUIRE(s.set(b, req(2, LockType::kWrite, 10, 19)) == 0);
  auto wa = s.start(a, req(1, LockType::kWrite, 10, 19, true), 5);
  CHECK(!wa.done());
  CHECK(s.set(b, req(2, LockType::kWrite, 0, 9, true), 6) == EDEADLK);
  CHECK(s.set(b, req(2, LockType::kUnlock, 10, 19)) == 0);
  REQUIRE(waitUntil(s.loop, [&] { return wa.done(); }));
  CHECK(wa.code() == 0);
}

TEST_CASE("flock locks live apart from record locks and exclude each other across sessions") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  REQUIRE(s.set(a, req(10, LockType::kWrite, 0, ByteRange::kToEof, false, OwnerKind::kFlock)) == 0);
  CHECK(s.set(b, req(20, LockType::kRead, 0, ByteRange::kToEof, false, OwnerKind::kFlock)) == EAGAIN);
  CHECK(s.set(b, req(20, LockType::kWrite)) == 0);  // a POSIX lock does not meet flock
  auto w = s.start(b, req(20, LockType::kWrite, 0, ByteRange::kToEof, true, OwnerKind::kFlock), 3);
  CHECK(!w.done());
  REQUIRE(s.locks().releaseOwner(a, s.ino, LockOwner{0, 10, OwnerKind::kFlock}).wait(s.loop.waitScope()).status.isOk());
  REQUIRE(waitUntil(s.loop, [&] { return w.done(); }));
  CHECK(w.code() == 0);
}

TEST_CASE("when a session's lease expires its locks go, its waiters fail and others' waiters are granted") {
  Server s;
  s.loop.timer().afterDelay((kLeaseMs + 20) * kj::MILLISECONDS).wait(s.loop.waitScope());  // grace
  uint64_t a = s.session("a"), b = s.session("b"), c = s.session("c");
  REQUIRE(s.set(a, req(1, LockType::kWrite)) == 0);
  auto wb = s.start(b, req(2, LockType::kWrite, 0, ByteRange::kToEof, true), 1);
  REQUIRE(s.set(c, req(3, LockType::kWrite, 0, 0)) == EAGAIN);
  auto wa = s.start(a, req(4, LockType::kWrite, 0, ByteRange::kToEof, true), 9);  // a second owner of a waits too
  CHECK(!wb.done());
  // Only b stays alive.
  REQUIRE(s.waitKeeping({b}, [&] { return wb.done() && wa.done(); }));
  CHECK(wb.code() == 0);
  CHECK(wa.code() == ESTALE);
  CHECK(s.set(a, req(1, LockType::kRead, 0, 0)) == ESTALE);
  REQUIRE(s.waitKeeping({b}, [&] {
    auto st = s.stored();
    LockTable t;
    return st && t.restoreInode(s.ino, *st) == 0 && t.locksOf(s.ino).size() == 1 && t.locksOf(s.ino)[0].owner.session == b;
  }));
}

TEST_CASE("a blocked call that is dropped (its client went away) stops waiting") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b"), c = s.session("c");
  REQUIRE(s.set(a, req(1, LockType::kRead)) == 0);
  {
    auto wb = s.start(b, req(2, LockType::kWrite, 0, ByteRange::kToEof, true), 1);
    auto wc = s.start(c, req(3, LockType::kRead, 0, ByteRange::kToEof, true), 1);
    CHECK(s.locks().parkedCount() == 2);
    wb.promise = nullptr;  // the RPC is cancelled
    REQUIRE(waitUntil(s.loop, [&] { return wc.done(); }));
    CHECK(wc.code() == 0);
  }
  CHECK(s.locks().parkedCount() == 0);
  CHECK(s.locks().table().waiterCount() == 0);
}

TEST_CASE("locks survive a restart of the server; those of a session that does not come back expire") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  REQUIRE(s.set(a, req(1, LockType::kWrite, 0, 99)) == 0);
  REQUIRE(s.set(b, req(2, LockType::kRead, 100, 199)) == 0);
  s.server->committer().drain().wait(s.loop.waitScope());
  s.restart();
  CHECK(s.locks().table().locksOf(s.ino).size() == 2);
  CHECK(s.session("a", a) == a);  // a resumes; b never comes back
  uint64_t c = s.session("c");
  CHECK(s.set(c, req(3, LockType::kRead, 0, 0)) == EAGAIN);
  CHECK(s.set(c, req(3, LockType::kWrite, 150, 150)) == EAGAIN);
  auto w = s.start(c, req(3, LockType::kWrite, 150, 150, true), 1);
  REQUIRE(s.waitKeeping({a, c}, [&] { return w.done(); }));
  CHECK(w.code() == 0);
  CHECK(s.set(c, req(3, LockType::kRead, 0, 0)) == EAGAIN);  // a's lock stayed
  CHECK(s.locks().table().checkInvariants() == "");
}

TEST_CASE("restored locks of a session that closed before the restart are released at start") {
  Server s;
  uint64_t a = s.session("a");
  REQUIRE(s.set(a, req(1, LockType::kWrite)) == 0);
  s.server->committer().drain().wait(s.loop.waitScope());
  s.server.reset();
  {  // the session closed, but the server died before the release of its locks was committed
    Txn txn = s.store->beginWrite();
    txn.del(Table::kSessions, be64(a));
    txn.commit();
  }
  s.restart();
  CHECK(s.locks().table().locksOf(s.ino).empty());
  REQUIRE(waitUntil(s.loop, [&] { return !s.stored(); }));
}

TEST_CASE("a lock on an inode that does not exist fails and leaves no trace") {
  Server s;
  uint64_t a = s.session("a");
  CHECK(s.locks().setLock(a, 999, req(1, LockType::kWrite), 0).wait(s.loop.waitScope()).status.code() == ENOENT);
  CHECK(s.locks().table().locksOf(999).empty());
  CHECK(s.locks().setLock(a, 999, req(1, LockType::kUnlock), 0).wait(s.loop.waitScope()).status.code() == 0);
}

TEST_CASE("a client cannot send the server-internal SetLocks command") {
  Server s;
  uint64_t a = s.session("a");
  capnp::MallocMessageBuilder msg;
  auto cmd = msg.initRoot<rpc::Command>();
  cmd.initSetLocks().setIno(s.ino);
  CHECK(code(s.server->mutate(a, cmd.asReader()).wait(s.loop.waitScope())) == EPERM);
}
