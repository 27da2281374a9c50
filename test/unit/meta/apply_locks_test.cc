// The SetLocks command: the durable copy of one inode's held locks.
#include "meta/locks/lock_table.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {

std::string stateWithOneLock(uint64_t ino, uint64_t session = 9) {
  LockTable t;
  LockRequest r;
  r.owner = LockOwner{session, 42, OwnerKind::kPosix};
  r.range = ByteRange{0, 99};
  r.type = LockType::kWrite;
  r.pid = 7;
  REQUIRE(t.setLock(ino, r).error == 0);
  return t.encodeInode(ino);
}

Applied setLocks(Fixture& f, uint64_t ino, const std::string& state, uint64_t session = 0, uint64_t seq = 0,
                 uint64_t delegate = 0, uint64_t gen = 0) {
  return f.run(
      [&](rpc::Command::Builder c) {
        auto sl = c.initSetLocks();
        sl.setIno(ino);
        sl.setState(kj::arrayPtr(reinterpret_cast<const kj::byte*>(state.data()), state.size()));
        sl.setDelegate(delegate);
        sl.setDelegation(gen);
      },
      kRoot, session, seq);
}

std::optional<std::string> storedDelegation(Fixture& f, uint64_t ino) {
  Txn txn = f.store->beginRead();
  auto v = txn.get(Table::kDelegations, inoKey(ino));
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::string> stored(Fixture& f, uint64_t ino) {
  Txn txn = f.store->beginRead();
  auto v = txn.get(Table::kLocks, inoKey(ino));
  if (!v) return std::nullopt;
  return std::string(*v);
}

}  // namespace

TEST_CASE("SetLocks stores an inode's encoded locks, which restore into an equal table") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  std::string state = stateWithOneLock(ino);
  REQUIRE(code(setLocks(f, ino, state)) == 0);
  REQUIRE(stored(f, ino) == state);
  LockTable t;
  REQUIRE(t.restoreInode(ino, *stored(f, ino)) == 0);
  REQUIRE(t.locksOf(ino).size() == 1);
  CHECK(t.locksOf(ino)[0].pid == 7);
  CHECK(t.locksOf(ino)[0].range == ByteRange{0, 99});
}

TEST_CASE("SetLocks with an empty state, or a state without locks, deletes the record") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  REQUIRE(code(setLocks(f, ino, stateWithOneLock(ino))) == 0);
  REQUIRE(code(setLocks(f, ino, "")) == 0);
  CHECK(!stored(f, ino));
  REQUIRE(code(setLocks(f, ino, stateWithOneLock(ino))) == 0);
  REQUIRE(code(setLocks(f, ino, LockTable().encodeInode(ino))) == 0);
  CHECK(!stored(f, ino));
  CHECK(code(setLocks(f, ino, "")) == 0);  // deleting what is gone is fine
}

TEST_CASE("a retried SetLocks is answered from the dedup table and leaves the same bytes") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  std::string state = stateWithOneLock(ino);
  auto first = setLocks(f, ino, state, 5, 1);
  REQUIRE(code(first) == 0);
  auto again = setLocks(f, ino, state, 5, 1);
  CHECK(code(again) == 0);
  CHECK(again.effects.replayed);
  CHECK(stored(f, ino) == state);
  // Without a seq (as the leader sends it), applying twice is the same as once.
  REQUIRE(code(setLocks(f, ino, state)) == 0);
  REQUIRE(code(setLocks(f, ino, state)) == 0);
  CHECK(stored(f, ino) == state);
}

TEST_CASE("SetLocks rejects a malformed state and locks on a missing inode, storing nothing") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  CHECK(code(setLocks(f, ino, "garbage")) == EINVAL);
  CHECK(!stored(f, ino));
  CHECK(code(setLocks(f, 12345, stateWithOneLock(12345))) == ENOENT);
  CHECK(!stored(f, 12345));
}

TEST_CASE("reclaiming an inode deletes its locks record, and fsck flags records of missing inodes") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  REQUIRE(code(setLocks(f, ino, stateWithOneLock(ino))) == 0);
  REQUIRE(code(f.remove(kRootIno, "f", false)) == 0);
  REQUIRE(code(f.reclaim(ino)) == 0);
  CHECK(!stored(f, ino));
  CHECK(fsck(*f.store).clean());
  {
    Txn txn = f.store->beginWrite();
    txn.put(Table::kLocks, inoKey(999), stateWithOneLock(999));
    txn.commit();
  }
  CHECK(!fsck(*f.store).clean());
}

TEST_CASE("SetLocks stores a lock delegation beside an empty lock state, and the next SetLocks ends it") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  REQUIRE(code(setLocks(f, ino, "", 0, 0, 77, 5)) == 0);
  CHECK(storedDelegation(f, ino) == be64(77) + be64(5));
  CHECK(!stored(f, ino));
  CHECK(fsck(*f.store).clean());
  // The delegate hands its locks back: they are stored and the delegation is gone, in one commit.
  REQUIRE(code(setLocks(f, ino, stateWithOneLock(ino, 77))) == 0);
  CHECK(!storedDelegation(f, ino));
  CHECK(stored(f, ino) == stateWithOneLock(ino, 77));
}

TEST_CASE("SetLocks refuses a delegation with server-side locks, without a generation, or of a missing inode") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  CHECK(code(setLocks(f, ino, stateWithOneLock(ino), 0, 0, 77, 5)) == EINVAL);
  CHECK(code(setLocks(f, ino, "", 0, 0, 77, 0)) == EINVAL);
  CHECK(code(setLocks(f, 12345, "", 0, 0, 77, 5)) == ENOENT);
  CHECK(!storedDelegation(f, ino));
  CHECK(!storedDelegation(f, 12345));
  CHECK(!stored(f, ino));
}

TEST_CASE("reclaiming an inode deletes its lock delegation, and fsck flags delegations of missing inodes") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  REQUIRE(code(setLocks(f, ino, "", 0, 0, 77, 5)) == 0);
  REQUIRE(code(f.remove(kRootIno, "f", false)) == 0);
  REQUIRE(code(f.reclaim(ino)) == 0);
  CHECK(!storedDelegation(f, ino));
  CHECK(fsck(*f.store).clean());
  {
    Txn txn = f.store->beginWrite();
    txn.put(Table::kDelegations, inoKey(999), be64(77) + be64(5));
    txn.commit();
  }
  CHECK(!fsck(*f.store).clean());
}
