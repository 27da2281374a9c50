#include <doctest/doctest.h>

#include <kj/async.h>
#include <kj/debug.h>

#include <vector>

#include "fuse-client/block_cache.h"

using namespace basalt::client;

namespace {
struct FakeFile {
  explicit FakeFile(uint64_t s, uint8_t salt_ = 0) : size(s), salt(salt_) {}
  uint64_t size;
  uint8_t salt = 0;
  std::vector<std::pair<uint64_t, size_t>> fetches;
  BlockCache::Fetch fetcher() {
    return [this](uint64_t, uint64_t offset, size_t len) -> kj::Promise<kj::Array<kj::byte>> {
      fetches.emplace_back(offset, len);
      uint64_t end = std::min<uint64_t>(offset + len, size);
      auto out = kj::heapArray<kj::byte>(end > offset ? end - offset : 0);
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<kj::byte>((offset + i) * 13 + salt);
      return kj::mv(out);
    };
  }
};
bool matches(const kj::Array<kj::byte>& d, uint64_t offset, uint8_t salt) {
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] != static_cast<kj::byte>((offset + i) * 13 + salt)) return false;
  }
  return true;
}
constexpr uint64_t kB = BlockCache::kBlockBytes;
}  // namespace

TEST_CASE("a small read fetches its whole block once; later reads in it are hits") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f(10 * kB);
  BlockCache c(1 << 20, f.fetcher());
  for (uint64_t off : {kB + 100, kB + 4096, kB + 60000}) {
    KJ_IF_MAYBE(p, c.read(1, off, 4096, f.size)) {
      auto d = p->wait(ws);
      CHECK(d.size() == 4096);
      CHECK(matches(d, off, 0));
    } else {
      FAIL("not taken");
    }
  }
  REQUIRE(f.fetches.size() == 1);
  CHECK(f.fetches[0] == std::make_pair(kB, size_t(kB)));
  CHECK(c.hits() == 2);
  CHECK(c.read(1, kB - 10, 100, f.size) == nullptr);  // across blocks: not taken
  CHECK(c.read(1, 0, kB, f.size) == nullptr);         // a whole block or more: not taken
}

TEST_CASE("the last block is clamped at the end of file, and reads past it are short") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f(2 * kB + 1000);
  BlockCache c(1 << 20, f.fetcher());
  KJ_IF_MAYBE(p, c.read(1, 2 * kB + 500, 4096, f.size)) {
    auto d = p->wait(ws);
    CHECK(d.size() == 500);
    CHECK(matches(d, 2 * kB + 500, 0));
  } else {
    FAIL("not taken");
  }
  CHECK(f.fetches.back().second == 1000);
  CHECK(c.read(1, 3 * kB, 10, f.size) == nullptr);  // at or past the end
}

TEST_CASE("drop forgets a file's blocks; a fetch in flight during a drop is not kept") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f(8 * kB);
  BlockCache c(1 << 20, f.fetcher());
  KJ_IF_MAYBE(p, c.read(1, 0, 10, f.size)) { p->wait(ws); }
  c.drop(1);
  f.salt = 7;  // the file changed
  KJ_IF_MAYBE(p, c.read(1, 0, 10, f.size)) {
    CHECK(matches(p->wait(ws), 0, 7));
  }
  CHECK(f.fetches.size() == 2);
  // In flight across a drop: answered, not kept.
  auto inflight = c.read(1, 3 * kB, 10, f.size);
  c.drop(1);
  KJ_IF_MAYBE(p, inflight) { p->wait(ws); }
  CHECK(c.bytesHeld() == 0);
}

TEST_CASE("the budget holds: least recently used blocks go first") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f(100 * kB);
  BlockCache c(4 * kB, f.fetcher());
  for (uint64_t b = 0; b < 10; ++b) {
    KJ_IF_MAYBE(p, c.read(1, b * kB, 10, f.size)) { p->wait(ws); }
    CHECK(c.bytesHeld() <= 4 * kB);
  }
  size_t before = f.fetches.size();
  KJ_IF_MAYBE(p, c.read(1, 9 * kB, 10, f.size)) { p->wait(ws); }  // recent: a hit
  CHECK(f.fetches.size() == before);
  KJ_IF_MAYBE(p, c.read(1, 0, 10, f.size)) { p->wait(ws); }  // evicted: fetched again
  CHECK(f.fetches.size() == before + 1);
}

TEST_CASE("no per-inode state outlives the fetches: dropping many inodes keeps nothing") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f(10 * kB);
  BlockCache c(1 << 20, f.fetcher());
  for (uint64_t ino = 1; ino <= 10000; ++ino) c.drop(ino);  // every write drops its file
  CHECK(c.inodesFetching() == 0);
  auto inflight = c.read(7, 0, 10, f.size);
  CHECK(c.inodesFetching() == 1);
  KJ_IF_MAYBE(p, inflight) { p->wait(ws); }
  CHECK(c.inodesFetching() == 0);
  BlockCache failing(1 << 20, [](uint64_t, uint64_t, size_t) -> kj::Promise<kj::Array<kj::byte>> {
    return KJ_EXCEPTION(FAILED, "chunk server down");
  });
  auto bad = failing.read(7, 0, 10, f.size);
  REQUIRE(bad != nullptr);
  CHECK(failing.inodesFetching() == 1);
  KJ_IF_MAYBE(p, bad) { CHECK_THROWS(p->wait(ws)); }
  CHECK(failing.inodesFetching() == 0);
}
