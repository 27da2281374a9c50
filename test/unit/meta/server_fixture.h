// A real MetaServer on a real store in a temp dir, with a manual clock and short leases, for the
// tests that drive the server itself (sessions, handles, locks), and a bounded wait on its loop.
#pragma once

#include <kj/async.h>

#include <functional>
#include <memory>
#include <string>

#include "meta/meta_server.h"
#include "test/unit/meta/test_util.h"

namespace basalt::meta::test {

inline constexpr uint32_t kLeaseMs = 200;

// Runs the loop until `pred` holds or `timeoutMs` passes; returns pred().
inline bool waitUntil(EventLoop& loop, const std::function<bool()>& pred, uint32_t timeoutMs = 5000) {
  auto deadline = loop.timer().now() + timeoutMs * kj::MILLISECONDS;
  while (!pred()) {
    if (loop.timer().now() >= deadline) return pred();
    loop.timer().afterDelay(5 * kj::MILLISECONDS).wait(loop.waitScope());
  }
  return true;
}

struct ServerFixture {
  TempDir dir;
  std::unique_ptr<Store> store;
  EventLoop loop;
  ManualClock clock{WallTime{5000, 0}};
  FixedCapacity capacity{Capacity{4096, 1000, 500, 400}};
  std::unique_ptr<MetaServer> server;

  ServerFixture() { restart(); }
  // What a process restart does: memory is gone and the store is opened again (its boot count
  // grows, as handles and delegation generations rely on).
  void restart() {
    server.reset();
    store.reset();
    auto s = Store::open(dir.path);
    REQUIRE(s.isOk());
    store = std::move(s.value());
    server = std::make_unique<MetaServer>(loop, *store, clock, capacity, makeLogger("test"), MetaOptions{kLeaseMs});
    server->start();
  }
  uint64_t session(const std::string& name = "client", uint64_t resume = 0) {
    auto g = server->openSession(name, resume).wait(loop.waitScope());
    REQUIRE(g.isOk());
    return g->id;
  }
};

}  // namespace basalt::meta::test
