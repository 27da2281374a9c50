#include <kj/async.h>

#include "meta/committer.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;


TEST_CASE("concurrent mutations from many sessions share one durable commit; a failing one does not poison it") {
  TempDir dir;
  auto store = Store::open(dir.path);
  REQUIRE(store.isOk());
  EventLoop loop;
  Committer committer(loop, **store, makeLogger("test"));
  int afterCommitCalls = 0;
  committer.setAfterCommit([&](rpc::Command::Reader, Applied&) { ++afterCommitCalls; });
  kj::Vector<kj::Promise<Applied>> all;
  uint64_t ino = 100;
  constexpr int kSessions = 20, kPerSession = 10;
  for (int s = 1; s <= kSessions; ++s) {
    for (int i = 1; i <= kPerSession; ++i) {
      all.add(committer.submit(leaderCreate(s, i, ino++, "s" + std::to_string(s) + "-" + std::to_string(i))));
    }
  }
  // Session 1 repeats a name (fails with EEXIST) in the middle of the batch.
  all.add(committer.submit(leaderCreate(1, 99, ino++, "s2-2")));
  auto results = kj::joinPromises(all.releaseAsArray()).wait(loop.waitScope());
  int ok = 0, exists = 0;
  for (auto& r : results) {
    int c = r.reply().getStatus().getCode();
    if (c == 0) ++ok;
    if (c == EEXIST) ++exists;
  }
  CHECK(ok == kSessions * kPerSession);
  CHECK(exists == 1);
  CHECK(committer.commits() == 1);
  CHECK(committer.largestBatch() == kSessions * kPerSession + 1);
  CHECK(committer.commandsCommitted() == kSessions * kPerSession + 1);
  CHECK(afterCommitCalls == kSessions * kPerSession + 1);
  // Resolved means committed: a fresh read transaction sees every file.
  CHECK(store.value()->beginRead().count(Table::kInodes) == 1 + kSessions * kPerSession);
  CHECK(fsck(**store).clean());
}

TEST_CASE("mutations that arrive while a batch commits form the next batch") {
  TempDir dir;
  auto store = Store::open(dir.path);
  REQUIRE(store.isOk());
  EventLoop loop;
  Committer committer(loop, **store, makeLogger("test"));
  auto first = committer.submit(leaderCreate(1, 1, 100, "first"));
  kj::evalLater([]() {}).wait(loop.waitScope());  // the first batch has started
  kj::Vector<kj::Promise<Applied>> later;
  for (int i = 0; i < 30; ++i) later.add(committer.submit(leaderCreate(2, i + 1, 200 + i, "later" + std::to_string(i))));
  CHECK(first.wait(loop.waitScope()).reply().getStatus().getCode() == 0);
  auto results = kj::joinPromises(later.releaseAsArray()).wait(loop.waitScope());
  for (auto& r : results) CHECK(r.reply().getStatus().getCode() == 0);
  CHECK(committer.commits() == 2);
  CHECK(committer.largestBatch() == 30);
  committer.drain().wait(loop.waitScope());
}

TEST_CASE("a retried command in the same batch is applied once") {
  TempDir dir;
  auto store = Store::open(dir.path);
  REQUIRE(store.isOk());
  EventLoop loop;
  Committer committer(loop, **store, makeLogger("test"));
  auto a = committer.submit(leaderCreate(5, 1, 100, "x"));
  auto b = committer.submit(leaderCreate(5, 1, 101, "x"));  // the same request, resent
  auto ra = a.wait(loop.waitScope());
  auto rb = b.wait(loop.waitScope());
  CHECK(ra.reply().getStatus().getCode() == 0);
  CHECK(rb.reply().getStatus().getCode() == 0);
  CHECK(rb.effects.replayed);
  CHECK(rb.reply().getAttr().getIno() == 100);
  CHECK(store.value()->beginRead().count(Table::kInodes) == 2);
}
