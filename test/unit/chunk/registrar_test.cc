#include <doctest/doctest.h>

#include "chunk/registrar.h"
#include "cluster.h"

using namespace basalt;
using namespace basalt::chunk;
using namespace basalt::chunk::test;

namespace {
class FakeMeta final : public rpc::MetaService::Server {
 public:
  explicit FakeMeta(rpc::ChunkRegistry::Client reg) : reg_(kj::mv(reg)) {}
  kj::Promise<void> chunkRegistry(ChunkRegistryContext context) override {
    context.getResults().setRegistry(reg_);
    return kj::READY_NOW;
  }

 private:
  rpc::ChunkRegistry::Client reg_;
};
}  // namespace

TEST_CASE("a chunk server registers, keeps its id for the next start, heartbeats, and waits out a dead metadata server") {
  Cluster cl;
  Node& n = cl.addNode();
  n.server->clearRegistry();
  // A port where nothing listens yet.
  uint port;
  {
    RpcServer probe(cl.loop, cl.registryCap, makeLogger("probe"));
    port = probe.listen("127.0.0.1:0").wait(cl.loop.waitScope());
  }
  std::string metaAddr = "127.0.0.1:" + std::to_string(port);
  RegistrarConfig cfg{metaAddr, n.dir->path(), "zone-a", 1 << 30, 500};
  {
    Registrar r(cl.loop, *n.server, *n.store, n.cap, makeLogger("reg"), cfg);
    r.start();
    cl.loop.timer().afterDelay(300 * kj::MILLISECONDS).wait(cl.loop.waitScope());
    CHECK_FALSE(r.registered());
    rpc::MetaService::Client meta = kj::heap<FakeMeta>(cl.registryCap);
    RpcServer metaServer(cl.loop, meta, makeLogger("meta"));
    metaServer.listen(metaAddr).wait(cl.loop.waitScope());
    REQUIRE(waitUntil(cl.loop, [&] { return r.registered() && r.heartbeats() >= 2; }, 10000));
    CHECK(cl.registry->registeredIds.front() == 100);
    CHECK(Registrar::loadId(n.dir->path()) == 100);
    CHECK(n.server->id() == 100);
    // Restarted: registers again with the kept id.
    Registrar again(cl.loop, *n.server, *n.store, n.cap, makeLogger("reg"), cfg);
    again.start();
    REQUIRE(waitUntil(cl.loop, [&] { return again.registered(); }));
    CHECK(cl.registry->registeredIds.back() == 100);
  }
}
