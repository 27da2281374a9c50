#include <doctest/doctest.h>

#include "rpc-schema/meta.capnp.h"
#include "server/rpc.h"

using namespace basalt;

namespace {
// A minimal MetaService that only answers clusterInfo, to exercise the plumbing.
class FakeMeta final : public rpc::MetaService::Server {
 public:
  int calls = 0;
  kj::Promise<void> clusterInfo(ClusterInfoContext context) override {
    ++calls;
    context.getResults().initInfo().setMetaAddress("fake");
    return kj::READY_NOW;
  }
};
}  // namespace

TEST_CASE("a client reaches a server on an ephemeral port and survives its restart") {
  EventLoop loop;
  auto log = makeLogger("test");
  auto fake = kj::heap<FakeMeta>();
  auto& fakeRef = *fake;
  rpc::MetaService::Client cap = kj::mv(fake);
  auto server = kj::heap<RpcServer>(loop, cap, log);
  uint port = server->listen("127.0.0.1:0").wait(loop.waitScope());
  REQUIRE(port != 0);

  RpcClient client(loop, "127.0.0.1:" + std::to_string(port));
  auto meta = client.bootstrap().wait(loop.waitScope()).castAs<rpc::MetaService>();
  auto resp = meta.clusterInfoRequest().send().wait(loop.waitScope());
  CHECK(resp.getInfo().getMetaAddress() == "fake");

  // The server goes away: the call fails as a disconnect, and so does connecting.
  server->stop();
  auto failed = meta.clusterInfoRequest().send().then(
      [](auto&&) { return false; },
      [](kj::Exception&& e) { return isDisconnect(e); });
  CHECK(failed.wait(loop.waitScope()));
  client.reset();
  auto refused = client.bootstrap(1000).then([](auto&&) { return false; },
                                             [](kj::Exception&& e) { return isDisconnect(e); });
  CHECK(refused.wait(loop.waitScope()));

  // It comes back on the same port: the same client object reconnects.
  server = kj::heap<RpcServer>(loop, cap, log);
  server->listen("127.0.0.1:" + std::to_string(port)).wait(loop.waitScope());
  client.reset();
  meta = client.bootstrap().wait(loop.waitScope()).castAs<rpc::MetaService>();
  meta.clusterInfoRequest().send().wait(loop.waitScope());
  CHECK(fakeRef.calls == 2);
}

TEST_CASE("listening on a port already taken fails with an error, not a crash") {
  EventLoop loop;
  rpc::MetaService::Client cap = kj::heap<FakeMeta>();
  RpcServer first(loop, cap, makeLogger("test"));
  uint port = first.listen("127.0.0.1:0").wait(loop.waitScope());
  RpcServer second(loop, cap, makeLogger("test"));
  auto p = second.listen("127.0.0.1:" + std::to_string(port))
               .then([](uint) { return true; }, [](kj::Exception&&) { return false; });
  CHECK_FALSE(p.wait(loop.waitScope()));
}
