#include <doctest/doctest.h>

#include <kj/async.h>
#include <kj/debug.h>

#include <vector>

#include "fuse-client/readahead.h"

using namespace basalt::client;

namespace {

constexpr uint64_t kMiB = 1u << 20;

// A file whose byte at offset i is (i * 7) % 251, and a log of every fetch.
struct FakeFile {
  uint64_t size;
  std::vector<std::pair<uint64_t, size_t>> fetches;
  bool fail = false;
  ReadAhead::Fetch fetcher() {
    return [this](uint64_t, uint64_t offset, size_t len) -> kj::Promise<kj::Array<kj::byte>> {
      fetches.emplace_back(offset, len);
      if (fail) return KJ_EXCEPTION(DISCONNECTED, "chunk server gone");
      uint64_t end = std::min<uint64_t>(offset + len, size);
      auto out = kj::heapArray<kj::byte>(end > offset ? end - offset : 0);
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<kj::byte>(((offset + i) * 7) % 251);
      return kj::mv(out);
    };
  }
};

bool matches(const kj::Array<kj::byte>& data, uint64_t offset) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != static_cast<kj::byte>(((offset + i) * 7) % 251)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("sequential reads start readahead, and later reads are served from it, byte-exact") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f{64 * kMiB, {}};
  ReadAhead ra(32 * kMiB, f.fetcher());
  const size_t kRead = 128 * 1024;
  size_t servedCount = 0;
  for (uint64_t off = 0; off < 16 * kMiB; off += kRead) {
    KJ_IF_MAYBE(p, ra.read(7, off, kRead, f.size)) {
      auto data = p->wait(ws);
      CHECK(data.size() == kRead);
      CHECK(matches(data, off));
      ++servedCount;
    }
  }
  // Only the first reads (before the stream counts as sequential) miss.
  CHECK(servedCount >= 16 * kMiB / kRead - 8);
  CHECK(ra.bytesHeld() <= 32 * kMiB);
  for (auto& [o, len] : f.fetches) CHECK(len <= ReadAhead::kSegmentBytes);
}

TEST_CASE("readahead stops at the end of the file and serves the short last read") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f{3 * kMiB + 1000, {}};
  ReadAhead ra(32 * kMiB, f.fetcher());
  uint64_t off = 0;
  uint64_t total = 0;
  while (off < f.size) {
    size_t want = 256 * 1024;
    kj::Array<kj::byte> data;
    KJ_IF_MAYBE(p, ra.read(1, off, want, f.size)) {
      data = p->wait(ws);
    } else {
      data = f.fetcher()(1, off, want).wait(ws);
    }
    CHECK(matches(data, off));
    total += data.size();
    if (data.size() < want) break;
    off += data.size();
  }
  CHECK(total == f.size);
  for (auto& [o, len] : f.fetches) CHECK(o < f.size);
}

TEST_CASE("a seek drops the window; a changed file drops its segments") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f{64 * kMiB, {}};
  ReadAhead ra(16 * kMiB, f.fetcher());
  for (uint64_t off = 0; off < 4 * kMiB; off += kMiB) {
    KJ_IF_MAYBE(p, ra.read(1, off, kMiB, f.size)) { p->wait(ws); }
  }
  CHECK(ra.bytesHeld() > 0);
  CHECK(ra.read(1, 40 * kMiB, 4096, f.size) == nullptr);  // random access: not served
  CHECK(ra.bytesHeld() == 0);
  for (uint64_t off = 0; off < 4 * kMiB; off += kMiB) {
    KJ_IF_MAYBE(p, ra.read(1, off, kMiB, f.size)) { p->wait(ws); }
  }
  ra.drop(1);
  CHECK(ra.bytesHeld() == 0);
}

TEST_CASE("a failed prefetch is not served: the read falls back to the real fetch and its error") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f{64 * kMiB, {}};
  ReadAhead ra(16 * kMiB, f.fetcher());
  f.fail = true;
  int errors = 0;
  for (uint64_t off = 0; off < 6 * kMiB; off += kMiB) {
    KJ_IF_MAYBE(p, ra.read(1, off, kMiB, f.size)) {
      p->then([](kj::Array<kj::byte>&&) {}, [&errors](kj::Exception&&) { ++errors; }).wait(ws);
    }
  }
  CHECK(errors > 0);  // the fallback fetch failed too, and said so
}

TEST_CASE("no budget, no readahead") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  FakeFile f{64 * kMiB, {}};
  ReadAhead ra(0, f.fetcher());
  for (uint64_t off = 0; off < 8 * kMiB; off += kMiB) CHECK(ra.read(1, off, kMiB, f.size) == nullptr);
  CHECK(f.fetches.empty());
}
