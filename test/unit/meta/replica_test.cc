// Three replicas of a metadata cluster in one process, on one event loop, talking real Cap'n Proto
// over 127.0.0.1: one leader is elected, its commits reach every store, and when it is gone (its
// server, replica and store destroyed, as a crash would) the others elect a new leader that holds
// every acknowledged commit and goes on committing.
#include <kj/async.h>

#include "meta/committer.h"
#include "meta/replication/replica.h"
#include "meta/service.h"
#include "server/rpc.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {

int freePort(EventLoop& loop) {
  auto addr = loop.network().parseAddress("127.0.0.1:0").wait(loop.waitScope());
  return static_cast<int>(addr->listen()->getPort());
}

struct Node {
  TempDir dir;
  std::unique_ptr<Store> store;
  kj::Own<Replica> replica;
  kj::Own<RpcServer> rpc;
  kj::Own<Committer> committer;
  std::string steppedDown;  // why, once the replica asked to restart
};

struct Cluster {
  EventLoop loop;
  std::vector<std::string> peers;
  std::vector<std::unique_ptr<Node>> nodes;

  Cluster() {
    for (int i = 0; i < 3; ++i) peers.push_back("127.0.0.1:" + std::to_string(freePort(loop)));
    for (uint32_t i = 0; i < 3; ++i) {
      auto n = std::make_unique<Node>();
      StoreDefaults d;
      d.replicated = true;
      auto s = Store::open(n->dir.path, false, d, Committer::replayRecord);
      REQUIRE(s.isOk());
      n->store = std::move(*s);
      ReplicaOptions o;
      o.peers = peers;
      o.self = i + 1;
      o.electionMs = 150;
      o.heartbeatMs = 20;
      Node* raw = n.get();
      n->replica = kj::heap<Replica>(loop, *n->store, Committer::replayRecord, makeLogger("replica"), o,
                                     [raw](const std::string& why) { raw->steppedDown = why; });
      n->rpc = kj::heap<RpcServer>(loop, kj::heap<MetaServiceImpl>(*n->replica, peers[i]), makeLogger("rpc"));
      n->rpc->listen(peers[i]).wait(loop.waitScope());
      REQUIRE(n->replica->start().isOk());
      nodes.push_back(std::move(n));
    }
  }
  // Runs the loop until `done` or `seconds` pass.
  bool waitFor(const std::function<bool()>& done, int seconds = 10) {
    for (int i = 0; i < seconds * 100 && !done(); ++i) loop.timer().afterDelay(10 * kj::MILLISECONDS).wait(loop.waitScope());
    return done();
  }
  // The one node that leads with its log applied, or -1.
  int leader() {
    int found = -1;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i] && nodes[i]->replica->isLeader()) found = found == -1 ? static_cast<int>(i) : -2;
    }
    return found;
  }
  Committer& committerOf(int i) {
    auto& n = *nodes[i];
    if (!n.committer) n.committer = kj::heap<Committer>(loop, *n.store, makeLogger("committer"));
    return *n.committer;
  }
  void crash(int i) {
    nodes[i]->committer = nullptr;
    nodes[i]->rpc = nullptr;
    nodes[i]->replica = nullptr;
    nodes[i] = nullptr;
  }
};

bool named(Store& store, const std::string& name) {
  Txn txn = store.beginRead();
  return txn.exists(Table::kDirents, direntKey(kRootIno, name));
}

}  // namespace

TEST_CASE("replicas: one leader; its commits reach every store; a new leader after it crashes keeps them") {
  Cluster c;
  REQUIRE(c.waitFor([&] { return c.leader() >= 0; }));
  int first = c.leader();
  uint64_t term = c.nodes[first]->replica->term();
  CHECK(term >= 1);

  // Commits through the leader's committer are replicated before they resolve.
  Committer& committer = c.committerOf(first);
  kj::Vector<kj::Promise<Applied>> all;
  for (int i = 0; i < 20; ++i) all.add(committer.submit(leaderCreate(1, i + 1, 100 + i, "f" + std::to_string(i))));
  auto results = kj::joinPromises(all.releaseAsArray()).wait(c.loop.waitScope());
  for (auto& r : results) CHECK(r.reply().getStatus().getCode() == 0);
  uint64_t last = c.nodes[first]->store->lastSeq();
  // A majority has every entry on disk; every follower applies them once it hears the commit.
  REQUIRE(c.waitFor([&] {
    for (auto& n : c.nodes) {
      if (n->store->appliedSeq() < last) return false;
    }
    return true;
  }));
  for (auto& n : c.nodes) CHECK(named(*n->store, "f19"));
  for (auto& n : c.nodes) CHECK(n->steppedDown.empty());

  c.crash(first);
  REQUIRE(c.waitFor([&] { return c.leader() >= 0; }));
  int second = c.leader();
  CHECK(second != first);
  CHECK(c.nodes[second]->replica->term() > term);
  CHECK(named(*c.nodes[second]->store, "f0"));
  CHECK(named(*c.nodes[second]->store, "f19"));
  // Two of three still commit.
  auto more = c.committerOf(second).submit(leaderCreate(2, 1, 500, "after")).wait(c.loop.waitScope());
  CHECK(more.reply().getStatus().getCode() == 0);
  int other = 3 - first - second;
  REQUIRE(c.waitFor([&] { return named(*c.nodes[other]->store, "after"); }));
}

TEST_CASE("replicas: a vote goes only to a candidate whose log is as complete as the voter's") {
  Cluster c;
  REQUIRE(c.waitFor([&] { return c.leader() >= 0; }));
  int l = c.leader();
  int f = (l + 1) % 3;
  Replica& follower = *c.nodes[f]->replica;
  uint64_t t = follower.term();
  // While it hears from the leader, a follower votes for nobody, however high the term, and says
  // so to a pre-vote: a server cut off for a while cannot depose the leader.
  CHECK(!follower.requestVote(t + 5, 9, 1000, t).granted);
  CHECK(!follower.requestVote(t + 1, 9, 1000, t, true).granted);
  CHECK(follower.term() == t);
  // Alone (the others crashed): a stale log gets no vote, though its term is adopted, and an
  // up-to-date one does, once per term.
  c.crash(l);
  c.crash(3 - l - f);
  Store& store = *c.nodes[f]->store;
  // Once it has not heard from a leader for an election timeout, it would vote (a pre-vote says
  // so and changes nothing: no term, no vote), but not for a log less complete than its own.
  REQUIRE(c.waitFor([&] {
    return follower.requestVote(follower.term() + 1, 7, store.lastSeq(), store.lastTerm(), true).granted;
  }));
  uint64_t now = follower.term();
  CHECK(now == t);  // alone, its own pre-votes fail: it never stood
  CHECK(!follower.requestVote(now + 1, 7, 0, 0, true).granted);
  auto stale = follower.requestVote(now + 10, 9, 0, 0);
  CHECK(!stale.granted);
  CHECK(follower.term() == now + 10);
  CHECK(follower.requestVote(now + 11, 9, store.lastSeq(), store.lastTerm()).granted);
  CHECK(!follower.requestVote(now + 11, 8, store.lastSeq(), store.lastTerm()).granted);  // one vote a term
}
