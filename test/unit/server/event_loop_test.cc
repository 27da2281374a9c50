#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "server/event_loop.h"
#include <kj/debug.h>

using basalt::EventLoop;

TEST_CASE("offload runs work on a worker thread and resolves on the loop thread") {
  EventLoop loop;
  auto loopThread = std::this_thread::get_id();
  std::atomic<bool> ranElsewhere{false};
  auto result = loop.offload<int>([&]() {
                      ranElsewhere = std::this_thread::get_id() != loopThread;
                      return 41 + 1;
                    })
                    .wait(loop.waitScope());
  CHECK(result == 42);
  CHECK(ranElsewhere);
}

TEST_CASE("an exception thrown by offloaded work rejects the promise") {
  EventLoop loop;
  auto p = loop.offload<int>([]() -> int { KJ_FAIL_REQUIRE("disk on fire"); });
  CHECK_THROWS_WITH(p.wait(loop.waitScope()), doctest::Contains("disk on fire"));
}

TEST_CASE("many offloaded items all complete") {
  EventLoop loop;
  kj::Vector<kj::Promise<int>> all;
  for (int i = 0; i < 200; ++i) all.add(loop.offload<int>([i]() { return i; }));
  auto results = kj::joinPromises(all.releaseAsArray()).wait(loop.waitScope());
  int sum = 0;
  for (int r : results) sum += r;
  CHECK(sum == 199 * 200 / 2);
}

TEST_CASE("kj timers fire while libuv is embedded") {
  EventLoop loop;
  auto start = loop.timer().now();
  loop.timer().afterDelay(20 * kj::MILLISECONDS).wait(loop.waitScope());
  CHECK(loop.timer().now() - start >= 20 * kj::MILLISECONDS);
}

TEST_CASE("a signal is delivered through libuv to a kj promise") {
  EventLoop loop;
  auto sig = loop.onSignal({SIGUSR2});
  loop.timer().afterDelay(5 * kj::MILLISECONDS).wait(loop.waitScope());
  raise(SIGUSR2);
  auto got = loop.timer()
                 .timeoutAfter(5 * kj::SECONDS, kj::mv(sig))
                 .wait(loop.waitScope());
  CHECK(got == SIGUSR2);
}
