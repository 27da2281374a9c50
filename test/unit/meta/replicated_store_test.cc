// A replicated store (StoreDefaults::replicated): what a follower does with the leader's entries,
// what a restart keeps unapplied, and a snapshot installed at open.
#include <capnp/serialize.h>

#include "meta/committer.h"
#include "meta/replication/raft_state.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {
StoreDefaults replicated() {
  StoreDefaults d;
  d.replicated = true;
  return d;
}
// One batch holding the create of `name` (inode `ino`), as a log entry.
CommandLogEntry createEntry(uint64_t seq, uint64_t term, uint64_t ino, const std::string& name) {
  auto cmd = leaderCreate(0, 0, ino, name);
  return {seq, term, Committer::encodeBatch({cmd.get()})};
}
bool named(Store& store, const std::string& name) {
  Txn txn = store.beginRead();
  return txn.exists(Table::kDirents, direntKey(kRootIno, name));
}
}  // namespace

TEST_CASE("replicated store: entries are appended unapplied and applied once committed") {
  TempDir dir;
  auto store = Store::open(dir.path, false, replicated(), Committer::replayRecord);
  REQUIRE(store.isOk());
  Store& s = **store;
  CHECK(s.lastSeq() == 0);
  auto ok = s.appendEntries(0, 0, {createEntry(1, 1, 10, "a"), createEntry(2, 1, 11, "b")});
  REQUIRE(ok.isOk());
  CHECK(*ok);
  CHECK(s.lastSeq() == 2);
  CHECK(s.appliedSeq() == 0);
  CHECK(!named(s, "a"));
  REQUIRE(s.applyCommitted(1, Committer::replayRecord).isOk());
  CHECK(named(s, "a"));
  CHECK(!named(s, "b"));
  CHECK(s.appliedSeq() == 1);
  CHECK(s.appliedTerm() == 1);
  // A leader whose log differs: entry 2 of term 1 is replaced by its entry 2 of term 2.
  ok = s.appendEntries(1, 1, {createEntry(2, 2, 12, "c")});
  REQUIRE(ok.isOk());
  CHECK(*ok);
  CHECK(s.lastTerm() == 2);
  // A previous entry that does not match: refused, nothing changes.
  ok = s.appendEntries(2, 1, {createEntry(3, 2, 13, "d")});
  REQUIRE(ok.isOk());
  CHECK(!*ok);
  ok = s.appendEntries(5, 2, {});
  CHECK(!*ok);  // beyond the log
  CHECK(s.lastSeq() == 2);
  REQUIRE(s.applyCommitted(2, Committer::replayRecord).isOk());
  CHECK(named(s, "c"));
  CHECK(!named(s, "b"));
}

TEST_CASE("replicated store: a restart rewinds to the checkpoint and keeps the later entries unapplied") {
  TempDir dir;
  {
    auto store = Store::open(dir.path, false, replicated(), Committer::replayRecord);
    REQUIRE(store.isOk());
    REQUIRE((*store)->appendEntries(0, 0, {createEntry(1, 1, 10, "a"), createEntry(2, 1, 11, "b")}).isOk());
    REQUIRE((*store)->applyCommitted(1, Committer::replayRecord).isOk());
    // Closing cannot checkpoint over entry 2 (it would restart the log over it).
  }
  auto store = Store::open(dir.path, false, replicated(), Committer::replayRecord);
  REQUIRE(store.isOk());
  Store& s = **store;
  CHECK(s.lastSeq() == 2);
  CHECK(s.termAt(2) == 1u);
  // Entry 2 was perhaps never committed (a single server would replay it): nothing after the
  // checkpoint is applied until the leader says how far the log is committed.
  CHECK(s.appliedSeq() == 0);
  CHECK(!named(s, "a"));
  CHECK(!named(s, "b"));
  REQUIRE(s.applyCommitted(2, Committer::replayRecord).isOk());
  CHECK(named(s, "a"));
  CHECK(named(s, "b"));
  CHECK(s.checkpoint().isOk());
  CHECK(s.firstSeq() == 3);
  CHECK(s.termAt(2) == 1u);  // the checkpoint's last entry still answers for AppendEntries
}

TEST_CASE("replicated store: a received snapshot replaces the store, checkpoint and log at the next open") {
  TempDir leaderDir, followerDir;
  {
    auto leader = Store::open(leaderDir.path, false, replicated(), Committer::replayRecord);
    REQUIRE(leader.isOk());
    REQUIRE((*leader)->appendEntries(0, 0, {createEntry(1, 3, 10, "from-leader")}).isOk());
    REQUIRE((*leader)->applyCommitted(1, Committer::replayRecord).isOk());
    auto follower = Store::open(followerDir.path, false, replicated(), Committer::replayRecord);
    REQUIRE(follower.isOk());
    REQUIRE((*follower)->appendEntries(0, 0, {createEntry(1, 1, 20, "stale")}).isOk());
    REQUIRE((*leader)->copyTo((*follower)->snapshotPath()).isOk());
  }
  auto follower = Store::open(followerDir.path, false, replicated(), Committer::replayRecord);
  REQUIRE(follower.isOk());
  Store& s = **follower;
  CHECK(named(s, "from-leader"));
  CHECK(!named(s, "stale"));
  CHECK(s.appliedSeq() == 1);
  CHECK(s.appliedTerm() == 3);
  CHECK(s.lastSeq() == 1);
  CHECK(s.termAt(1) == 3u);
  CHECK(access(s.snapshotPath().c_str(), F_OK) != 0);
}

TEST_CASE("replicated store: every replica starts from the same state") {
  TempDir a, b;
  auto sa = Store::open(a.path, false, replicated(), Committer::replayRecord);
  auto sb = Store::open(b.path, false, replicated(), Committer::replayRecord);
  REQUIRE(sa.isOk());
  REQUIRE(sb.isOk());
  Txn ta = (*sa)->beginRead(), tb = (*sb)->beginRead();
  CHECK(*ta.get(Table::kInodes, inoKey(kRootIno)) == *tb.get(Table::kInodes, inoKey(kRootIno)));
}

TEST_CASE("raft state: the term and vote survive; a damaged file is an error, not a guess") {
  TempDir dir;
  auto none = RaftState::load(dir.path);
  REQUIRE(none.isOk());
  CHECK(none->term == 0);
  CHECK(none->vote == 0);
  RaftState st{7, 2};
  REQUIRE(st.save(dir.path).isOk());
  auto back = RaftState::load(dir.path);
  REQUIRE(back.isOk());
  CHECK(back->term == 7);
  CHECK(back->vote == 2);
  int fd = ::open((dir.path + "/raft-state").c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, "x", 1, 3) == 1);
  ::close(fd);
  CHECK(!RaftState::load(dir.path).isOk());
}
