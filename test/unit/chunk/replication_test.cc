#include <doctest/doctest.h>

#include "cluster.h"
#include "chunk/mem_chunk_store.h"

#include <unistd.h>

using namespace basalt;
using namespace basalt::chunk;
using namespace basalt::chunk::test;

namespace {

constexpr uint64_t kChunk = 0x42;

std::vector<Replica> setOf(Cluster& cl) {
  std::vector<Replica> set;
  for (auto& n : cl.nodes) set.push_back(n->replica());
  return set;
}

// Every replica holds exactly `expected` at `version`, by read and by fetch.
void checkReplicas(Cluster& cl, const std::vector<std::string>& addrs, uint64_t version,
                   const std::vector<uint8_t>& expected) {
  for (const auto& a : addrs) {
    INFO("replica " << a);
    std::vector<uint8_t> got;
    Status st = readChunk(cl, a, kChunk, version, 0, static_cast<uint32_t>(expected.size()) + 100, &got);
    REQUIRE_MESSAGE(st.isOk(), st.toString());
    std::vector<uint8_t> want = expected;
    want.resize(expected.size() + 100, 0);
    CHECK(got == want);
    CHECK(fetchChunk(cl, a, kChunk, version) == expected);
  }
}

// A listener that accepts connections and never answers: a hung peer.
struct BlackHole {
  explicit BlackHole(EventLoop& loop) {
    auto addr = loop.network().parseAddress("127.0.0.1:0").wait(loop.waitScope());
    listener = addr->listen();
    address = "127.0.0.1:" + std::to_string(listener->getPort());
    accepting = acceptLoop().eagerlyEvaluate(nullptr);
  }
  kj::Promise<void> acceptLoop() {
    return listener->accept().then([this](kj::Own<kj::AsyncIoStream>&& s) {
      held.push_back(kj::mv(s));
      return acceptLoop();
    });
  }
  kj::Own<kj::ConnectionReceiver> listener;
  std::vector<kj::Own<kj::AsyncIoStream>> held;
  std::string address;
  kj::Promise<void> accepting = nullptr;
};

// What a replica holds after `d` is written at `off` (as the primary orders writes: as sent).
void writeToModel(std::vector<uint8_t>& model, uint32_t off, const std::vector<uint8_t>& d) {
  if (off + d.size() > model.size()) model.resize(off + d.size(), 0);
  std::copy(d.begin(), d.end(), model.begin() + off);
}

void requireAllOk(Cluster& cl, std::vector<kj::Promise<Status>>& pending) {
  for (auto& p : pending) {
    Status st = p.wait(cl.loop.waitScope());
    REQUIRE_MESSAGE(st.isOk(), st.toString());
  }
}

}  // namespace

TEST_CASE("writes at random offsets, many in flight, land identically on all three replicas") {
  Cluster cl;
  for (int i = 0; i < 3; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0).isOk());
  auto primary = cl.client(set[0].address);
  std::mt19937 rng(1);
  std::vector<uint8_t> model;
  std::vector<kj::Promise<Status>> pending;
  for (int i = 0; i < 60; ++i) {
    uint32_t off = rng() % (3 << 20), len = 1 + rng() % (200 * 1024);
    auto d = randomBytes(rng, len);
    writeToModel(model, off, d);
    pending.push_back(writeRequest(primary, kChunk, 1, off, d).then([](auto resp) {
      return Status::fromWire(resp.getStatus());
    }));
  }
  requireAllOk(cl, pending);
  checkReplicas(cl, {set[0].address, set[1].address, set[2].address}, 1, model);
  // sync reaches every replica
  auto req = primary.syncRequest();
  req.initChunk().setId(kChunk);
  req.getChunk().setVersion(1);
  CHECK(Status::fromWire(req.send().wait(cl.loop.waitScope()).getStatus()).isOk());
  CHECK(cl.registry->reports.empty());
}

TEST_CASE("a batch of writes is one op: applied in order on every replica") {
  Cluster cl;
  for (int i = 0; i < 3; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0).isOk());
  auto primary = cl.client(set[0].address);
  std::mt19937 rng(3);
  std::vector<uint8_t> model;
  std::vector<kj::Promise<Status>> pending;
  for (int b = 0; b < 20; ++b) {
    auto req = primary.updateRequest();
    req.initChunk().setId(kChunk);
    req.getChunk().setVersion(1);
    unsigned n = 1 + rng() % 40;
    auto list = req.initOp().initWrites(n);
    for (unsigned i = 0; i < n; ++i) {
      // Overlaps within a batch are allowed: the later write wins, as in a row of single writes.
      uint32_t off = rng() % (1 << 20), len = 1 + rng() % 9000;
      auto d = randomBytes(rng, len);
      writeToModel(model, off, d);
      list[i].setOffset(off);
      list[i].setData(kj::arrayPtr(d.data(), d.size()));
    }
    pending.push_back(req.send().then([](auto resp) { return Status::fromWire(resp.getStatus()); }));
  }
  requireAllOk(cl, pending);
  checkReplicas(cl, {set[0].address, set[1].address, set[2].address}, 1, model);
  // An empty batch and one reaching past the largest chunk are refused without a change.
  auto empty = primary.updateRequest();
  empty.initChunk().setId(kChunk);
  empty.getChunk().setVersion(1);
  empty.initOp().initWrites(0);
  int code = empty.send().wait(cl.loop.waitScope()).getStatus().getCode();
  CHECK(code == EINVAL);
  auto beyond = primary.updateRequest();
  beyond.initChunk().setId(kChunk);
  beyond.getChunk().setVersion(1);
  auto writes = beyond.initOp().initWrites(2);
  std::vector<uint8_t> ten(10, 7);
  writes[0].setOffset(0);
  writes[0].setData(kj::arrayPtr(ten.data(), ten.size()));
  writes[1].setOffset(static_cast<uint32_t>(kMaxChunkLength - 4));
  writes[1].setData(kj::arrayPtr(ten.data(), ten.size()));
  code = beyond.send().wait(cl.loop.waitScope()).getStatus().getCode();
  CHECK(code == EFBIG);
  checkReplicas(cl, {set[0].address, set[1].address, set[2].address}, 1, model);
}

TEST_CASE("a batch that fails after its first write marks the replica damaged") {
  MemChunkStore s;
  REQUIRE(s.create(7, 1, ChunkState::kOk).isOk());
  std::vector<WriteExtent> batch = {{0, std::vector<uint8_t>(10, 1)},
                                    {static_cast<uint32_t>(kMaxChunkLength - 4), std::vector<uint8_t>(10, 2)}};
  Status st = s.writeMany(7, batch);
  CHECK(st.code() == EFBIG);
  CHECK(bool(s.stat(7)->state == ChunkState::kDamaged));
  // A failure of the first write changes nothing.
  REQUIRE(s.create(8, 1, ChunkState::kOk).isOk());
  s.failMutationsWith(ENOSPC);
  CHECK(s.writeMany(8, {{0, std::vector<uint8_t>(10, 1)}}).code() == ENOSPC);
  s.failMutationsWith(0);
  CHECK(bool(s.stat(8)->state == ChunkState::kOk));
  CHECK(s.stat(8)->length == 0);
}

TEST_CASE("forwards that arrive early are held back and applied in sequence order") {
  Cluster cl;
  Node& b = cl.addNode(std::make_unique<MemChunkStore>());
  auto c = cl.client(b.address);
  {
    auto req = c.installRequest();
    req.initChunk().setId(kChunk);
    req.getChunk().setVersion(5);
    REQUIRE(Status::fromWire(req.send().wait(cl.loop.waitScope()).getStatus()).isOk());
  }
  auto fwd = [&](uint64_t seq, uint32_t off, char ch) {
    auto req = c.forwardRequest();
    req.initChunk().setId(kChunk);
    req.getChunk().setVersion(5);
    req.setSeq(seq);
    std::vector<uint8_t> d(10, static_cast<uint8_t>(ch));
    auto w = req.initOp().initWrite();
    w.setOffset(off);
    w.setData(kj::arrayPtr(d.data(), d.size()));
    return req.send().then([](auto r) { return Status::fromWire(r.getStatus()); }).fork();
  };
  auto s3 = fwd(3, 8, 'C');
  auto s2 = fwd(2, 5, 'B');
  bool done3 = false, done2 = false;
  auto w3 = s3.addBranch().then([&](Status) { done3 = true; }).eagerlyEvaluate(nullptr);
  auto w2 = s2.addBranch().then([&](Status) { done2 = true; }).eagerlyEvaluate(nullptr);
  // Give them time to arrive: neither may be applied before seq 1.
  cl.loop.timer().afterDelay(50 * kj::MILLISECONDS).wait(cl.loop.waitScope());
  CHECK_FALSE(done3);
  CHECK_FALSE(done2);
  auto s1 = fwd(1, 0, 'A');
  CHECK(s1.addBranch().wait(cl.loop.waitScope()).isOk());
  CHECK(s2.addBranch().wait(cl.loop.waitScope()).isOk());
  CHECK(s3.addBranch().wait(cl.loop.waitScope()).isOk());
  std::vector<uint8_t> got;
  REQUIRE(readChunk(cl, b.address, kChunk, 5, 0, 18, &got).isOk());
  CHECK(std::string(got.begin(), got.end()) == "AAAAABBBCCCCCCCCCC");
  // A duplicate is acknowledged without being applied again; an old version is refused.
  CHECK(fwd(2, 0, 'Z').addBranch().wait(cl.loop.waitScope()).isOk());
  REQUIRE(readChunk(cl, b.address, kChunk, 5, 0, 18, &got).isOk());
  CHECK(std::string(got.begin(), got.end()) == "AAAAABBBCCCCCCCCCC");
}

TEST_CASE("concurrent updates from two clients leave identical replicas") {
  Cluster cl;
  for (int i = 0; i < 3; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 1).isOk());  // the second node is primary
  auto c1 = cl.client(set[1].address);
  auto c2 = cl.client(set[1].address);
  std::mt19937 rng(2);
  std::vector<kj::Promise<Status>> pending;
  for (int i = 0; i < 40; ++i) {
    uint32_t off = rng() % 300000;  // heavily overlapping ranges
    auto d = randomBytes(rng, 1 + rng() % 100000);
    auto& c = (i % 2) ? c1 : c2;
    pending.push_back(writeRequest(c, kChunk, 1, off, d).then([](auto r) { return Status::fromWire(r.getStatus()); }));
  }
  for (auto& p : pending) REQUIRE(p.wait(cl.loop.waitScope()).isOk());
  auto a = fetchChunk(cl, set[0].address, kChunk, 1);
  CHECK(a.size() > 0);
  CHECK(fetchChunk(cl, set[1].address, kChunk, 1) == a);
  CHECK(fetchChunk(cl, set[2].address, kChunk, 1) == a);
}

TEST_CASE("a stopped backup is reported to the registry, dropped, and the write still acknowledged") {
  Cluster cl(300);
  for (int i = 0; i < 3; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0).isOk());
  auto primary = cl.client(set[0].address);
  std::vector<uint8_t> d1(70000, 1), d2(5000, 2);
  REQUIRE(Status::fromWire(writeRequest(primary, kChunk, 1, 0, d1).wait(cl.loop.waitScope()).getStatus()).isOk());

  cl.nodes[2]->rpc->stop();
  auto start = cl.loop.timer().now();
  auto resp = writeRequest(primary, kChunk, 1, 1000, d2).wait(cl.loop.waitScope());
  auto took = cl.loop.timer().now() - start;
  Status st = Status::fromWire(resp.getStatus());
  REQUIRE_MESSAGE(st.isOk(), st.toString());
  CHECK(resp.getVersion() == 2);
  CHECK(took < 600 * kj::MILLISECONDS);
  REQUIRE(cl.registry->reports.size() == 1);
  CHECK(cl.registry->reports[0].serverId == 3);
  CHECK(cl.registry->reports[0].version == 1);

  std::vector<uint8_t> model = d1;
  std::copy(d2.begin(), d2.end(), model.begin() + 1000);
  checkReplicas(cl, {set[0].address, set[1].address}, 2, model);
  // The remaining backup moved to the new version; the old one is refused.
  CHECK(readChunk(cl, set[1].address, kChunk, 1, 0, 10, nullptr).code() == ESTALE);
  // Later writes go to the remaining replica only, with no further reports.
  REQUIRE(Status::fromWire(writeRequest(primary, kChunk, 2, 0, d2).wait(cl.loop.waitScope()).getStatus()).isOk());
  CHECK(cl.registry->reports.size() == 1);
}

TEST_CASE("a backup that accepts connections but never answers is dropped within the forward deadline") {
  Cluster cl(300);
  cl.addNode();
  cl.addNode();
  BlackHole hole(cl.loop);
  auto set = setOf(cl);
  set.push_back(Replica{77, hole.address});
  auto start = cl.loop.timer().now();
  // The new primary's install to the hung backup times out: the backup is dropped (v1 -> v2).
  Status st = cl.assign(kChunk, 1, set, 0);
  CHECK(st.code() == ESTALE);  // the fake driver then assigns the backups at v1, now stale
  CHECK(cl.loop.timer().now() - start < 1500 * kj::MILLISECONDS);
  REQUIRE(cl.registry->reports.size() == 1);
  CHECK(cl.registry->reports[0].serverId == 77);
  auto primary = cl.client(set[0].address);
  std::vector<uint8_t> d(1000, 9);
  auto resp = writeRequest(primary, kChunk, 2, 0, d).wait(cl.loop.waitScope());
  REQUIRE_MESSAGE(Status::fromWire(resp.getStatus()).isOk(), Status::fromWire(resp.getStatus()).toString());
  checkReplicas(cl, {set[0].address, set[1].address}, 2, d);
}

TEST_CASE("when the registry cannot drop a failed backup the write fails with EIO naming both") {
  Cluster cl(300);
  for (int i = 0; i < 2; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0).isOk());
  cl.nodes[1]->rpc->stop();
  cl.registry->refuse = true;
  auto primary = cl.client(set[0].address);
  std::vector<uint8_t> d(100, 1);
  Status st = Status::fromWire(writeRequest(primary, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus());
  CHECK(st.code() == EIO);
  CHECK(st.message().find(set[1].address) != std::string::npos);
  CHECK(st.message().find("fake-meta") != std::string::npos);
  // Without any registry at all, likewise.
  cl.registry->refuse = false;
  cl.nodes[0]->server->clearRegistry();
  st = Status::fromWire(writeRequest(primary, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus());
  CHECK(st.code() == EIO);
}

TEST_CASE("a stale version is refused with ESTALE by the primary and by replicas") {
  Cluster cl;
  for (int i = 0; i < 2; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 3, set, 0).isOk());
  auto primary = cl.client(set[0].address);
  std::vector<uint8_t> d(10, 1);
  Status st = Status::fromWire(writeRequest(primary, kChunk, 2, 0, d).wait(cl.loop.waitScope()).getStatus());
  CHECK(st.code() == ESTALE);
  CHECK(st.message().find("v3") != std::string::npos);
  CHECK(readChunk(cl, set[1].address, kChunk, 4, 0, 10, nullptr).code() == ESTALE);
  // A write sent to a backup is refused: it is not the primary.
  auto backup = cl.client(set[1].address);
  CHECK(Status::fromWire(writeRequest(backup, kChunk, 3, 0, d).wait(cl.loop.waitScope()).getStatus()).code() == ESTALE);
  // An assign of an older version is refused too.
  CHECK(cl.assign(kChunk, 2, set, 0).code() == ESTALE);
}

TEST_CASE("a primary whose lease expired refuses writes until it is assigned again") {
  Cluster cl;
  for (int i = 0; i < 2; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0, 150).isOk());
  auto primary = cl.client(set[0].address);
  std::vector<uint8_t> d(10, 1);
  CHECK(Status::fromWire(writeRequest(primary, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus()).isOk());
  cl.loop.timer().afterDelay(200 * kj::MILLISECONDS).wait(cl.loop.waitScope());  // the lease runs out
  Status st = Status::fromWire(writeRequest(primary, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus());
  CHECK(st.code() == ESTALE);
  CHECK(st.message().find("lease") != std::string::npos);
  REQUIRE(cl.assign(kChunk, 1, set, 0, 60000).isOk());  // renewed at the same version
  CHECK(Status::fromWire(writeRequest(primary, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus()).isOk());
}

TEST_CASE("a new primary brings a lagging backup to its state before taking writes") {
  Cluster cl;
  for (int i = 0; i < 3; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, {set[0], set[1]}, 0).isOk());
  auto p0 = cl.client(set[0].address);
  std::vector<uint8_t> d(200000, 7);
  REQUIRE(Status::fromWire(writeRequest(p0, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus()).isOk());
  // The metadata server moves the primary to node 2 and adds node 3 (empty) at v2.
  REQUIRE(cl.assign(kChunk, 2, set, 1).isOk());
  checkReplicas(cl, {set[0].address, set[1].address, set[2].address}, 2, d);
  auto p1 = cl.client(set[1].address);
  std::vector<uint8_t> e(10, 8);
  REQUIRE(Status::fromWire(writeRequest(p1, kChunk, 2, 5, e).wait(cl.loop.waitScope()).getStatus()).isOk());
  std::copy(e.begin(), e.end(), d.begin() + 5);
  checkReplicas(cl, {set[0].address, set[1].address, set[2].address}, 2, d);
  // The old primary no longer takes writes.
  CHECK(Status::fromWire(writeRequest(p0, kChunk, 2, 0, e).wait(cl.loop.waitScope()).getStatus()).code() == ESTALE);
}

TEST_CASE("a full disk on the primary fails the write with ENOSPC; on a backup the backup is dropped") {
  Cluster cl;
  auto* memP = new MemChunkStore;
  auto* memB = new MemChunkStore;
  cl.addNode(std::unique_ptr<ChunkStore>(memP));
  cl.addNode(std::unique_ptr<ChunkStore>(memB));
  cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0).isOk());
  auto primary = cl.client(set[0].address);
  std::vector<uint8_t> a(1000, 'a'), b(1000, 'b');
  REQUIRE(Status::fromWire(writeRequest(primary, kChunk, 1, 0, a).wait(cl.loop.waitScope()).getStatus()).isOk());
  memP->failMutationsWith(ENOSPC);
  CHECK(Status::fromWire(writeRequest(primary, kChunk, 1, 0, b).wait(cl.loop.waitScope()).getStatus()).code() == ENOSPC);
  memP->failMutationsWith(0);
  checkReplicas(cl, {set[0].address, set[1].address, set[2].address}, 1, a);  // nothing diverged

  memB->failMutationsWith(ENOSPC);
  auto resp = writeRequest(primary, kChunk, 1, 0, b).wait(cl.loop.waitScope());
  REQUIRE(Status::fromWire(resp.getStatus()).isOk());
  CHECK(resp.getVersion() == 2);
  REQUIRE(cl.registry->reports.size() == 1);
  CHECK(cl.registry->reports[0].serverId == 2);
  CHECK(cl.registry->reports[0].reason.find("No space") != std::string::npos);
  checkReplicas(cl, {set[0].address, set[2].address}, 2, b);
}

TEST_CASE("truncate and zero ops replicate, and delete removes the chunk everywhere it is asked (unless newer than asked)") {
  Cluster cl;
  for (int i = 0; i < 2; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0).isOk());
  auto primary = cl.client(set[0].address);
  std::vector<uint8_t> d(300000, 5);
  REQUIRE(Status::fromWire(writeRequest(primary, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus()).isOk());
  {
    auto req = primary.updateRequest();
    req.initChunk().setId(kChunk);
    req.getChunk().setVersion(1);
    req.initOp().initTruncate().setLength(200000);
    REQUIRE(Status::fromWire(req.send().wait(cl.loop.waitScope()).getStatus()).isOk());
  }
  {
    auto req = primary.updateRequest();
    req.initChunk().setId(kChunk);
    req.getChunk().setVersion(1);
    auto z = req.initOp().initZero();
    z.setOffset(1000);
    z.setLength(70000);
    REQUIRE(Status::fromWire(req.send().wait(cl.loop.waitScope()).getStatus()).isOk());
  }
  d.resize(200000);
  std::fill(d.begin() + 1000, d.begin() + 71000, 0);
  checkReplicas(cl, {set[0].address, set[1].address}, 1, d);
  for (auto& r : set) {
    auto c = cl.client(r.address);
    {
      // A delete of versions below v1 (a stale replica elsewhere in time) keeps this v1 replica.
      auto keep = c.deleteRequest();
      keep.setChunkId(kChunk);
      keep.setBelowVersion(1);
      REQUIRE(Status::fromWire(keep.send().wait(cl.loop.waitScope()).getStatus()).isOk());
      CHECK(c.listRequest().send().wait(cl.loop.waitScope()).getChunks().size() == 1);
    }
    auto req = c.deleteRequest();
    req.setChunkId(kChunk);
    req.setBelowVersion(r.id % 2 ? 2 : 0);  // older than v2, or every version
    REQUIRE(Status::fromWire(req.send().wait(cl.loop.waitScope()).getStatus()).isOk());
    auto l = c.listRequest().send().wait(cl.loop.waitScope());
    CHECK(l.getChunks().size() == 0);
    CHECK(readChunk(cl, r.address, kChunk, 1, 0, 10, nullptr).code() == ENOENT);
  }
}

TEST_CASE("two new versions assigned back to back: the primary catches its backups up to the newer one") {
  // Seen in data_tools: v2 and v3 reached the primary 1 ms apart; the end of the v2 catch-up marked
  // the chunk caught up at v3, so it forwarded at v2 forever and every write failed.
  Cluster cl;
  for (int i = 0; i < 2; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0).isOk());
  auto p0 = cl.client(set[0].address);
  std::vector<uint8_t> d(100000, 3);
  REQUIRE(Status::fromWire(writeRequest(p0, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus()).isOk());
  auto assignReq = [&](uint64_t version) {
    auto req = p0.assignRequest();
    req.initChunk().setId(kChunk);
    req.getChunk().setVersion(version);
    auto list = req.initReplicas(static_cast<unsigned>(set.size()));
    for (unsigned j = 0; j < set.size(); ++j) {
      list[j].setId(set[j].id);
      list[j].setAddress(set[j].address);
    }
    req.setPrimary(0);
    req.setLeaseMs(60000);
    return req.send();
  };
  auto v2 = assignReq(2);
  auto v3 = assignReq(3);
  CHECK(Status::fromWire(v2.wait(cl.loop.waitScope()).getStatus()).isOk());
  REQUIRE(Status::fromWire(v3.wait(cl.loop.waitScope()).getStatus()).isOk());
  REQUIRE(cl.assign(kChunk, 3, set, 0).isOk());  // the backup learns v3 (as the metadata server does)
  std::vector<uint8_t> e(10, 9);
  Status st = Status::fromWire(writeRequest(p0, kChunk, 3, 7, e).wait(cl.loop.waitScope()).getStatus());
  REQUIRE_MESSAGE(st.isOk(), st.toString());
  std::copy(e.begin(), e.end(), d.begin() + 7);
  checkReplicas(cl, {set[0].address, set[1].address}, 3, d);
}

TEST_CASE("compressible forwards and installs travel compressed; random bytes and a server told not to travel raw") {
  for (bool compress : {true, false}) {
    CAPTURE(compress);
    Cluster cl;
    cl.compressPeers = compress;
    for (int i = 0; i < 3; ++i) cl.addNode();
    auto set = setOf(cl);
    REQUIRE(cl.assign(kChunk, 1, {set[0], set[1]}, 0).isOk());
    auto p0 = cl.client(set[0].address);
    std::vector<uint8_t> model;
    std::vector<uint8_t> text(300000);
    for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>("basalt chunk "[i % 13]);
    std::mt19937 rng(11);
    auto noise = randomBytes(rng, 300000);
    for (auto* d : {&text, &noise}) {
      uint32_t off = static_cast<uint32_t>(model.size());
      writeToModel(model, off, *d);
      REQUIRE(Status::fromWire(writeRequest(p0, kChunk, 1, off, *d).wait(cl.loop.waitScope()).getStatus()).isOk());
    }
    const PeerTraffic& t0 = cl.nodes[0]->server->peerTraffic();
    CHECK(t0.rawBytes == 600000);
    if (compress) {
      CHECK(t0.wireBytes < 300000 + 300000 / 20);  // the text shrank; the noise went as it was
      CHECK(t0.wireBytes >= 300000);
    } else {
      CHECK(t0.wireBytes == t0.rawBytes);
    }
    // A new version with node 3 (empty) as a backup: the primary installs the whole chunk.
    REQUIRE(cl.assign(kChunk, 2, set, 0).isOk());
    checkReplicas(cl, {set[0].address, set[1].address, set[2].address}, 2, model);
    const PeerTraffic& t1 = cl.nodes[0]->server->peerTraffic();
    CHECK(t1.rawBytes == 600000 + 2 * 600000);
    if (compress) {
      CHECK(t1.wireBytes - t0.wireBytes < 2 * 600000 - 2 * 200000);
    } else {
      CHECK(t1.wireBytes == t1.rawBytes);
    }
  }
}

TEST_CASE("a fresh chunk's files are made on every replica at its assign, before any write") {
  Cluster cl;
  for (int i = 0; i < 2; ++i) cl.addNode();
  auto set = setOf(cl);
  REQUIRE(cl.assign(kChunk, 1, set, 0, 60000, /*fresh=*/true).isOk());
  for (auto& n : cl.nodes) {
    auto* disk = dynamic_cast<DiskChunkStore*>(n->store.get());
    REQUIRE(disk != nullptr);
    // Made in the chunk's queue after the assign answered (the data file, then the CRC file): wait
    // for both (bounded).
    CHECK(waitUntil(cl.loop, [&]() {
      return ::access(disk->dataPath(kChunk).c_str(), F_OK) == 0 && ::access(disk->crcPath(kChunk).c_str(), F_OK) == 0;
    }, 10000));
  }
  std::vector<uint8_t> d(4096, 3);
  auto p0 = cl.client(set[0].address);
  REQUIRE(Status::fromWire(writeRequest(p0, kChunk, 1, 0, d).wait(cl.loop.waitScope()).getStatus()).isOk());
  checkReplicas(cl, {set[0].address, set[1].address}, 1, d);
}
