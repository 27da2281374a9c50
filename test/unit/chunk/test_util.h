// Helpers shared by the chunk tests: temp dirs and waiting on a condition with a deadline.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "server/event_loop.h"

namespace basalt::chunk::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/basalt-chunk-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs the loop until `done()` or `ms` passed; returns done().
inline bool waitUntil(EventLoop& loop, const std::function<bool()>& done, uint32_t ms = 5000) {
  auto deadline = loop.timer().now() + ms * kj::MILLISECONDS;
  while (!done() && loop.timer().now() < deadline) {
    loop.timer().afterDelay(2 * kj::MILLISECONDS).wait(loop.waitScope());
  }
  return done();
}

inline std::vector<uint8_t> randomBytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

}  // namespace basalt::chunk::test
