// Lock delegation on a real MetaServer and store: the grant and what it answers later, the recall
// through the delegate's watcher (answered, unanswerable until the lease expires, not held), the
// return, and delegations across a restart.
#include <kj/async.h>

#include "meta/keys.h"
#include "test/unit/meta/lock_fixture.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {

// A mount's callback object as the server sees it: answers recalls with what `answer` says.
class FakeWatcher final : public rpc::CacheWatcher::Server {
 public:
  struct Answer {
    bool held = false;
    std::string state;
  };
  explicit FakeWatcher(std::function<Answer(uint64_t ino, uint64_t gen)> answer) : answer_(std::move(answer)) {}
  int recalls = 0;

 protected:
  kj::Promise<void> invalidate(InvalidateContext) override { return kj::READY_NOW; }
  kj::Promise<void> recallLocks(RecallLocksContext context) override {
    ++recalls;
    auto p = context.getParams();
    Answer a = answer_(p.getIno(), p.getDelegation());
    auto r = context.getResults();
    r.setHeld(a.held);
    r.setState(kj::arrayPtr(reinterpret_cast<const kj::byte*>(a.state.data()), a.state.size()));
    return kj::READY_NOW;
  }

 private:
  std::function<Answer(uint64_t, uint64_t)> answer_;
};

// Registers a FakeWatcher for `session`; the returned pointer stays valid while the server holds it.
FakeWatcher* watch(Server& s, uint64_t session, std::function<FakeWatcher::Answer(uint64_t, uint64_t)> answer) {
  auto w = kj::heap<FakeWatcher>(std::move(answer));
  FakeWatcher* raw = w.get();
  REQUIRE(s.server->watch(session, rpc::CacheWatcher::Client(kj::mv(w))).isOk());
  return raw;
}

// What a mount holding the delegation would hand back: one write lock of `session`, owner 1.
std::string oneLock(uint64_t ino, uint64_t session, uint64_t start = 0, uint64_t end = 99) {
  LockTable t;
  LockRequest r = req(1, LockType::kWrite, start, end);
  r.owner.session = session;
  REQUIRE(t.setLock(ino, r).error == 0);
  return t.encodeInode(ino);
}

LockAnswer ask(Server& s, uint64_t session, LockRequest r, bool mayDelegate = true) {
  return s.locks().setLock(session, s.ino, r, 0, mayDelegate).wait(s.loop.waitScope());
}

std::optional<std::string> storedDelegation(Server& s) {
  Txn txn = s.store->beginRead();
  auto v = txn.get(Table::kDelegations, inoKey(s.ino));
  if (!v) return std::nullopt;
  return std::string(*v);
}

}  // namespace

TEST_CASE("a lone locker gets a durable delegation, and its later calls are answered 'decide it yourself'") {
  Server s;
  uint64_t a = s.session("a");
  LockAnswer first = ask(s, a, req(1, LockType::kWrite, 0, 99));
  REQUIRE(first.status.isOk());
  REQUIRE(first.delegation != 0);
  CHECK(s.locks().delegateOf(s.ino) == a);
  CHECK(storedDelegation(s) == be64(a) + be64(first.delegation));
  CHECK(!s.stored());  // the server itself holds nothing for a delegated inode
  CHECK(ask(s, a, req(2, LockType::kRead, 500, 600)).delegation == first.delegation);
  CHECK(s.locks().getLock(a, s.ino, LockOwner{0, 1, OwnerKind::kPosix}, ByteRange{0, 9}, LockType::kRead)
            .wait(s.loop.waitScope())
            .delegation == first.delegation);
  CHECK(s.locks().releaseOwner(a, s.ino, LockOwner{0, 1, OwnerKind::kPosix}).wait(s.loop.waitScope()).delegation ==
        first.delegation);
  // Without mayDelegate (a mount with lock_delegation=0) the server decides as before.
  uint64_t b = s.session("b");
  watch(s, a, [&](uint64_t, uint64_t) { return FakeWatcher::Answer{true, std::string()}; });
  LockAnswer plain = ask(s, b, req(1, LockType::kWrite, 0, 99), false);
  CHECK(plain.status.isOk());
  CHECK(plain.delegation == 0);
}

TEST_CASE("another session's call recalls the delegation and is decided on the locks handed back") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  uint64_t gen = ask(s, a, req(1, LockType::kWrite, 0, 99)).delegation;
  REQUIRE(gen != 0);
  uint64_t recalledGen = 0;
  FakeWatcher* w = watch(s, a, [&](uint64_t ino, uint64_t g) {
    recalledGen = g;
    return FakeWatcher::Answer{true, oneLock(ino, a)};
  });
  CHECK(s.set(b, req(1, LockType::kWrite, 50, 60)) == EAGAIN);
  s.server->committer().drain().wait(s.loop.waitScope());  // the handed-back locks' commit
  CHECK(w->recalls == 1);
  CHECK(recalledGen == gen);
  CHECK(s.locks().delegateOf(s.ino) == 0);
  CHECK(s.locks().recallsDone() == 1);
  CHECK(!storedDelegation(s));
  CHECK(s.stored() == oneLock(s.ino, a));
  LockAnswer got = s.locks()
                       .getLock(b, s.ino, LockOwner{0, 1, OwnerKind::kPosix}, ByteRange{0, 10}, LockType::kRead)
                       .wait(s.loop.waitScope());
  REQUIRE(got.conflict);
  CHECK(got.conflict->range == ByteRange{0, 99});
  CHECK(s.set(b, req(1, LockType::kWrite, 100, 200)) == 0);
  // a's calls are the server's now.
  CHECK(ask(s, a, req(1, LockType::kUnlock, 0, 99)).delegation == 0);
  CHECK(s.locks().table().checkInvariants() == "");
}

TEST_CASE("a recalled inode is not delegated again at once, and an unused delegation comes back empty") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  REQUIRE(ask(s, a, req(1, LockType::kWrite)).delegation != 0);
  watch(s, a, [&](uint64_t, uint64_t) { return FakeWatcher::Answer{false, std::string()}; });
  // a's mount never used it (held = false): b is granted at once.
  CHECK(ask(s, b, req(1, LockType::kWrite), false).status.code() == 0);
  CHECK(s.set(b, req(1, LockType::kUnlock)) == 0);
  // The inode is free again but was just recalled: a is answered by the server for a while.
  LockAnswer again = ask(s, a, req(1, LockType::kWrite));
  CHECK(again.status.isOk());
  CHECK(again.delegation == 0);
  CHECK(s.set(a, req(1, LockType::kUnlock)) == 0);
}

TEST_CASE("a recall the delegate cannot answer waits until its lease expires, then the call goes on") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  REQUIRE(ask(s, a, req(1, LockType::kWrite)).delegation != 0);
  // No watcher for a: its mount is not connected.
  auto w = s.start(b, req(2, LockType::kWrite, 0, 0, true), 7);
  CHECK(!s.waitKeeping({a, b}, [&] { return w.done(); }, 300));
  CHECK(s.locks().delegateOf(s.ino) == a);
  // a stops renewing: its lease expires, its delegation (and the locks it decided) go.
  REQUIRE(s.waitKeeping({b}, [&] { return w.done(); }, 3000));
  CHECK(w.code() == 0);
  CHECK(s.locks().delegateOf(s.ino) == 0);
  CHECK(!storedDelegation(s));
}

TEST_CASE("a returned delegation installs its locks; a wrong generation or a foreign lock is refused") {
  Server s;
  uint64_t a = s.session("a"), b = s.session("b");
  uint64_t gen = ask(s, a, req(1, LockType::kWrite)).delegation;
  REQUIRE(gen != 0);
  CHECK(s.locks().returnDelegation(a, s.ino, gen + 1, "").wait(s.loop.waitScope()).code() == ESTALE);
  CHECK(s.locks().returnDelegation(b, s.ino, gen, "").wait(s.loop.waitScope()).code() == ESTALE);
  CHECK(s.locks().returnDelegation(a, s.ino, gen, oneLock(s.ino, b)).wait(s.loop.waitScope()).code() == EINVAL);
  CHECK(s.locks().returnDelegation(a, s.ino, gen, "junk").wait(s.loop.waitScope()).code() == EINVAL);
  CHECK(s.locks().delegateOf(s.ino) == a);
  REQUIRE(s.locks().returnDelegation(a, s.ino, gen, oneLock(s.ino, a)).wait(s.loop.waitScope()).isOk());
  CHECK(s.locks().delegateOf(s.ino) == 0);
  CHECK(s.stored() == oneLock(s.ino, a));
  CHECK(!storedDelegation(s));
  CHECK(s.set(b, req(1, LockType::kWrite, 0, 0)) == EAGAIN);  // no recall needed: the server knows
  CHECK(s.locks().returnDelegation(a, s.ino, gen, "").wait(s.loop.waitScope()).code() == ESTALE);  // once only
}

TEST_CASE("a delegation survives a restart of the server and ends with its session") {
  Server s;
  uint64_t a = s.session("a");
  uint64_t gen = ask(s, a, req(1, LockType::kWrite)).delegation;
  REQUIRE(gen != 0);
  s.server->committer().drain().wait(s.loop.waitScope());
  s.restart();
  CHECK(s.locks().delegateOf(s.ino) == a);
  CHECK(s.session("a", a) == a);
  CHECK(ask(s, a, req(1, LockType::kRead, 0, 0)).delegation == gen);
  // A new delegation after the restart never reuses a generation.
  uint64_t b = s.session("b");
  REQUIRE(s.locks().returnDelegation(a, s.ino, gen, "").wait(s.loop.waitScope()).isOk());
  uint64_t genB = ask(s, b, req(1, LockType::kWrite)).delegation;
  CHECK(genB > gen);
  // b never renews: its delegation goes with its lease.
  REQUIRE(s.waitKeeping({a}, [&] { return s.locks().delegateOf(s.ino) == 0; }, 3000));
  CHECK(s.waitKeeping({a}, [&] { return !storedDelegation(s); }, 1000));
}

TEST_CASE("a delegation returned before a restart does not lend its generation to one granted after") {
  Server s;
  uint64_t a = s.session("a");
  uint64_t gen = ask(s, a, req(1, LockType::kWrite)).delegation;
  REQUIRE(gen != 0);
  REQUIRE(s.locks().returnDelegation(a, s.ino, gen, "").wait(s.loop.waitScope()).isOk());
  s.server->committer().drain().wait(s.loop.waitScope());
  REQUIRE(!storedDelegation(s));  // nothing stored remembers `gen`: only the boot count can
  s.restart();
  uint64_t b = s.session("b");
  uint64_t genB = ask(s, b, req(2, LockType::kWrite, 0, 0)).delegation;
  REQUIRE(genB != 0);
  CHECK(genB > gen);
}
